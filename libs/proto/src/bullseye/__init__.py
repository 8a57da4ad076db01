"""Code generated from protos/ by `make protos` (libs/proto/generate.py); never edited by hand."""
