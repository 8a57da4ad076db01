"""Grafana dashboards for Bullseye, written as data (`catalog.py`) and generated as JSON.

`python -m bullseye_devtools.dashboards` writes deploy/grafana/*.json; `--check` fails when
one is stale. Generating keeps the five dashboards consistent (one datasource and namespace
variable, one layout, one way to write a rate or a percentile) instead of five hand-edited
copies, and lets tests/deploy read every expression they use.
"""
