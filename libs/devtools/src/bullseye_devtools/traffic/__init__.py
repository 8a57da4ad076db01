"""A realistic, seeded e-commerce traffic generator and an ingestion sender.

events = list(generate(shoppers=2000, seed=7))
truth = summarize(events)                  # funnel, revenue, counts by type
stats = await send(events, address=..., api_key=...)
"""

from bullseye_devtools.traffic.generator import batched, generate
from bullseye_devtools.traffic.sender import SendOptions, SendStats, send
from bullseye_devtools.traffic.truth import GroundTruth, summarize

__all__ = ["GroundTruth", "SendOptions", "SendStats", "batched", "generate", "send", "summarize"]
