"""Stream declarations: each service declares the stream it owns and verifies it at start."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError


class Durability(enum.Enum):
    """How much an acknowledged write survives; see README "Durability".

    STRICT: one node, the server fsyncs before every ack (`sync_interval: always`).
    REPLICATED: three replicas, the default lazy fsync; a write survives a node's loss.
    """

    STRICT = "strict"
    REPLICATED = "replicated"

    @property
    def replicas(self) -> int:
        return 1 if self is Durability.STRICT else 3


@dataclass(frozen=True, kw_only=True)
class StreamSpec:
    """What a stream must look like.

    `duplicate_window` is the time (seconds) inside which a repeated Nats-Msg-Id is
    dropped by the server; consumers drop what is older.
    """

    name: str
    subject_prefix: str
    replicas: int = 1
    duplicate_window: float = 600.0
    max_age: float = 0.0
    max_bytes: int = -1
    max_msg_size: int = 64 * 1024

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject_prefix}.>"]

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=self.subjects,
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window,
            max_age=self.max_age,
            max_bytes=self.max_bytes,
            max_msg_size=self.max_msg_size,
            allow_atomic=True,
        )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> StreamInfo:
    """Create the stream, or bring an existing one to `spec` (idempotent, safe at every start)."""
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        return await js.add_stream(spec.config())
    return await js.update_stream(spec.config())
