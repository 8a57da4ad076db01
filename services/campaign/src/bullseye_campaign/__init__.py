"""Bullseye campaign: the right message, to the right person, at the right moment, measured honestly."""
