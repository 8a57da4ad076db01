"""Durable work claimed from PostgreSQL: scheduled jobs and the claim/wake/poll loop."""

from bullseye_platform.jobs.queue import Handler, Job, JobWorker, Queue, hold, schedule, set_due
from bullseye_platform.jobs.wake import Backoff, Pass, WakeLoop, listening

__all__ = ["Backoff", "Handler", "Job", "JobWorker", "Pass", "Queue", "WakeLoop", "hold", "listening", "schedule",
           "set_due"]  # fmt: skip
