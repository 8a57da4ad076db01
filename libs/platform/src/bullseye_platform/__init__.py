"""Shared machinery for every Bullseye service; never imports a service."""
