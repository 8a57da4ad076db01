"""Offline training: interaction sources, model families, evaluation, the pipeline."""
