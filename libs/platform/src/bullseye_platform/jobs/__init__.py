"""Durable work claimed from PostgreSQL: scheduled jobs and the claim/wake/poll loop."""

from bullseye_platform.jobs.queue import (
    BatchHandler,
    Handler,
    Job,
    JobWorker,
    Queue,
    hold,
    schedule,
    schedule_many,
    set_due,
)
from bullseye_platform.jobs.wake import Backoff, Pass, WakeLoop, listening

__all__ = ["Backoff", "BatchHandler", "Handler", "Job", "JobWorker", "Pass", "Queue", "WakeLoop", "hold", "listening",
           "schedule", "schedule_many", "set_due"]  # fmt: skip
