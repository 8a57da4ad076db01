"""Identity processes of a test's own (schema, consumer, RESOLVED stream) reading an EVENTS
stream of the test's own, and a deterministic workload to feed them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from bullseye.events.v1 import event_pb2 as ev
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.eventlog import LogMessage, LogWriter, StreamSpec, partition_of, subject_for
from nats.aio.client import Client as NATS

from tests.conftest import service_env
from tests.platform.waiting import wait_until

PERSONS = 500  # six events each: 3,000 events, plus re-stored copies


def workload(tag: str) -> list[ev.Event]:
    """Shoppers who browse on two devices and log in on both (merges), share family devices
    (merges of anonymous activity, undone when the next member logs in: healing splits) and
    store kiosks used by a dozen logged-in persons each (shared at the second), interleaved."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    journeys = []
    for i in range(PERSONS):
        phone, laptop, user = f"{tag}-p{i}", f"{tag}-l{i}", f"{tag}-u{i}"
        device, kiosk = f"{tag}-d{i % 113}", f"{tag}-k{i % 40}"
        journeys.append(
            [({"anonymous_id": phone}, "page_viewed"), ({"anonymous_id": phone, "device_id": device}, "page_viewed"),
             ({"anonymous_id": laptop}, "page_viewed"), ({"anonymous_id": phone, "user_id": user}, "logged_in"),
             ({"anonymous_id": laptop, "user_id": user}, "logged_in"),
             ({"user_id": user, "device_id": kiosk}, "page_viewed")]
        )  # fmt: skip
    rng, events = random.Random(3), list[ev.Event]()
    while journeys:
        journey = journeys[rng.randrange(len(journeys))]
        ids, kind = journey.pop(0)
        if not journey:
            journeys.remove(journey)
        one = ev.Event(event_id=f"{tag}-e{len(events)}", identifiers=ev.Identifiers(**ids))
        one.occurred_at.FromDatetime(start + timedelta(seconds=len(events)))
        one.receipt.source = "kill-test"
        getattr(one, kind).SetInParent()
        events.append(one)
    return events


async def publish(nc: NATS, spec: StreamSpec, events: list[ev.Event]) -> int:
    """Append as ingestion would, then store 50 of them again under new message ids (as a
    repeat after the duplicate window is); returns the last sequence."""

    def message(one: ev.Event, msg_id: str) -> LogMessage:
        key = one.identifiers.anonymous_id or one.identifiers.user_id
        subject = subject_for(spec.subject_prefix, partition_of(key, 4), one.WhichOneof("payload") or "")
        return LogMessage(subject=subject, payload=one.SerializeToString(), msg_id=msg_id)

    writer = LogWriter(nc)
    try:
        await writer.append([message(e, e.event_id) for e in events])
        appended = await writer.append([message(e, f"again:{e.event_id}") for e in events[::60]])
    finally:
        await writer.close()
    return appended[-1].seq


@dataclass
class Resolver:
    """One identity process of this test and where it keeps things."""

    env: dict[str, str]
    log_dir: Path
    proc: ServiceProcess | None = None
    socket: Path | None = None  # also served on, across restarts (callers keep its address)

    @property
    def schema(self) -> str:
        return self.env["IDENTITY_SCHEMA"]

    def start(self) -> None:
        self.proc = ServiceProcess("identity", "bullseye_identity", self.env, self.log_dir, socket=self.socket).start()

    async def position(self, pg: asyncpg.Connection) -> int:
        try:
            value = await pg.fetchval(f'SELECT max(stream_seq) FROM "{self.schema}".projection_positions')
        except asyncpg.UndefinedTableError:
            return 0
        return int(value or 0)

    async def done(self, pg: asyncpg.Connection, last: int) -> bool:
        pending = await pg.fetchval(f'SELECT count(*) FROM "{self.schema}".outbox')
        return await self.position(pg) >= last and pending == 0


async def resolved_by_one(
    nats_server: NatsServer, postgres: PostgresServer, spec: StreamSpec, tag: str, log_dir: Path,
    pg: asyncpg.Connection, last: int, **env: str,
) -> Resolver:  # fmt: skip
    """One identity process (batches of 256) that has resolved up to `last` and relayed
    everything: the undisturbed reference. Still running: the caller stops it."""
    calm = resolver(nats_server, postgres, spec, tag, log_dir, batch=256)
    calm.env.update(env)
    calm.start()
    await wait_until(lambda: calm.done(pg, last), within=120)
    return calm


def resolver(nats_server: NatsServer, postgres: PostgresServer, spec: StreamSpec, tag: str, log_dir: Path, *,
             batch: int) -> Resolver:  # fmt: skip
    env = service_env(
        nats_server, postgres, IDENTITY_SCHEMA=f"identity_t_{tag}", IDENTITY_CONSUMER=f"identity-{tag}",
        IDENTITY_EVENTS_STREAM=spec.name, IDENTITY_EVENTS_SUBJECT_PREFIX=spec.subject_prefix,
        IDENTITY_STREAM=f"RESOLVED_{tag.upper()}", IDENTITY_SUBJECT_PREFIX=f"resolved{tag}",
        IDENTITY_BATCH_SIZE=str(batch),
    )  # fmt: skip
    return Resolver(env, log_dir / tag)


# What identity derives from EVENTS (its OWNED_TABLES), compared row by row by the kill and
# rebuild tests. A contact's nonce and ciphertext are fresh at every sealing (AES-GCM), so
# its content is compared through GetContact; history's serial id, as the rank per person.
GRAPH_TABLES = {
    "persons": ("person_id", "created_seq", "created_at", "merged_into"),
    "identifiers": ("id_type", "id_value", "person_id", "first_seen", "last_seen", "source", "strong", "cause_event_id",
                    "via"),
    "resolutions": ("event_id", "person_id", "events_seq", "primary_type", "primary_value", "keys"),
    "history": ("person_id", "kind", "other_person_id", "survivor", "reason", "rule", "cause_event_id", "occurred_at",
                "identifier", "strength", "row_number() OVER (PARTITION BY person_id ORDER BY id)"),
    "value_claims": ("id_type", "id_value", "person_id"),
    "shared_values": ("id_type", "id_value", "persons", "cause_event_id", "reason"),
    "merge_links": ("id_type", "id_value", "command_id"),
    "conflict_pairs": ("person_id", "other", "rule"),
    "contacts": ("subject", "channel", "address_hash", "key_id", "occurred_at", "event_id"),
    "corrections": ("command_id", "kind", "events_seq", "occurred_at", "outcome"),
}  # fmt: skip


async def graph_of(pg: asyncpg.Connection, schema: str) -> dict[str, list[tuple[object, ...]]]:
    tables = {}
    for table, columns in GRAPH_TABLES.items():
        every = ", ".join(str(n) for n in range(1, len(columns) + 1))
        rows = await pg.fetch(f'SELECT {", ".join(columns)} FROM "{schema}".{table} ORDER BY {every}')
        tables[table] = [tuple(r) for r in rows]
    return tables


async def stream_of(nc: NATS, process: Resolver) -> list[tuple[str, str, bytes]]:
    """(subject without the prefix, message id, payload) of every RESOLVED message, in order."""
    js, name, prefix = nc.jetstream(), process.env["IDENTITY_STREAM"], process.env["IDENTITY_SUBJECT_PREFIX"]
    sub = await js.subscribe(f"{prefix}.>", stream=name, ordered_consumer=True)
    total = int((await js.stream_info(name)).state.messages)
    found = []
    try:
        for _ in range(total):
            msg = await sub.next_msg(timeout=10)
            found.append((msg.subject.removeprefix(prefix), (msg.headers or {}).get("Nats-Msg-Id", ""), msg.data))
    finally:
        await sub.unsubscribe()
    return found
