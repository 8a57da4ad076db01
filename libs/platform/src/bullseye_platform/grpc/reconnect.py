"""Channel options for a service that calls another one which may restart at any time."""

from __future__ import annotations

# Reconnect within a second of the other side coming back: a fail-fast call on a channel
# that is still backing off (gRPC's default grows to 120 s) would fail for that long.
FAST_RECONNECT = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
