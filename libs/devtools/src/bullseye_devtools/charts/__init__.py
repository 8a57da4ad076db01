"""The Helm charts' generated parts: each service chart's values.schema.json.

`python -m bullseye_devtools.charts` writes them; `--check` fails when one is stale (a test
runs it), so a new or changed config variable reaches the chart's schema in the same change.
"""
