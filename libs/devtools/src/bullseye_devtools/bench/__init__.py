"""`make bench`: throughput, latency and memory of the services, measured against baselines
taken in the same run (raw nats-py publishing) on the same machine."""
