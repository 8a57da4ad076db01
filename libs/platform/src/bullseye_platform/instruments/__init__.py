"""What the shared machinery reports for Prometheus, kept apart from the machinery itself.

Each module here owns the instruments of one mechanism (a projection runner, the outbox
relay, leadership, the streams a service writes or reads); the mechanism calls one method
per event it reports, so its own code stays about what it does. Names follow Prometheus's
conventions as OpenTelemetry's exporter writes them: a unit suffix (`_seconds`), `_total`
on counters. `deploy/grafana` and the alert rules in the Helm charts use these names, and
tests/deploy checks that every name they use is exported by the running services.
"""
