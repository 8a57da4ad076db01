"""Local channel sinks for tests, the demo and benchmarks: a real SMTP server (aiosmtpd) and an HTTP
receiver (aiohttp) that record every message handed to them, with its idempotency key.

They stand where a mail relay and a push/SMS/webhook provider would: campaign hands messages
over exactly as it would in production. Each records every handoff, repeats included, so a test
counts both the distinct messages a person got (by key, as a provider deduplicates) and the raw
handoffs (a repeat after a crash). The HTTP receiver can refuse the first attempts of each
message (503) to exercise retries.
"""

from bullseye_devtools.sinks.sinks import ChannelSinks, Received

__all__ = ["ChannelSinks", "Received"]
