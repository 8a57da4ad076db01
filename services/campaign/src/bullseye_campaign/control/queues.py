"""The job queues campaign runs on (bullseye_platform.jobs), named once."""

from __future__ import annotations

START = "campaign-start"  # key: campaign id; due at start_time
END = "campaign-end"  # key: campaign id; due at end_time
COMPLETE = "campaign-complete"  # key: campaign id; a one-off broadcast looks whether it is done
BROADCAST = "campaign-broadcast"  # key: campaign id@run time@stage; enters the audience page by page
GUARDRAILS = "campaign-guardrails"  # key: campaign id; recurring while a rollout runs
CLEANUP = "segment-cleanup"  # key: segment id; deletes a campaign's own segment at its end
WAIT = "campaign-wait"  # key: campaign|person|wait; "after an event, unless another"
SEND = "campaign-send"  # key: SendKey.job_key(); the decision at the last moment
HANDOFF = "campaign-handoff"  # key: message id; the message to its channel
