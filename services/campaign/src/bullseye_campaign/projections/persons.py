"""Campaign's rows per person, as `bullseye_platform.persons.PersonRows`: consent statements and
time zones are kept from events; a merge moves everything campaign keeps about the merged
person to the survivor (its sends count toward the survivor's caps), a split moves the rows
made from the events it lists.

An instance lives for one batch and collects the batch's events under their owners (the
persons they belong to now), which the projection then reads for triggers and activity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2
from bullseye_platform.store.pool import Connection

# Tables whose rows a merge re-points (those of one row per person: _KEEP_ONE below).
_REPOINTED = ("consent_statements", "conversions", "deliveries", "decisions")


class BatchPersons:
    def __init__(self) -> None:
        self.events: list[tuple[str, ev.Event]] = []  # (owner, event), in stream order

    async def add(self, conn: Connection, events: Sequence[tuple[str, resolved_pb2.ResolvedEvent]]) -> set[str]:
        owned = [(owner, resolved.event) for owner, resolved in events]
        self.events.extend(owned)
        consent = [(o, e) for o, e in owned if e.WhichOneof("payload") == "consent_changed"]
        if consent:
            await conn.execute(
                "INSERT INTO consent_statements (event_id, person_id, purpose, channel, granted, source, occurred_at) "
                "SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::smallint[], $5::boolean[], "
                "$6::text[], $7::timestamptz[]) ON CONFLICT (event_id) DO NOTHING",
                [e.event_id for _, e in consent], [o for o, _ in consent],
                [e.consent_changed.purpose for _, e in consent], [e.consent_changed.channel for _, e in consent],
                [e.consent_changed.granted for _, e in consent], [e.consent_changed.source for _, e in consent],
                [e.occurred_at.ToDatetime(tzinfo=UTC) for _, e in consent],
            )  # fmt: skip
        zoned = [(o, e) for o, e in owned if e.context.timezone]
        if zoned:
            await conn.execute(
                "INSERT INTO person_zones (person_id, timezone, occurred_at, event_id) "
                "SELECT DISTINCT ON (p) p, z, t, e FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) "
                "AS u(p, z, t, e) ORDER BY p, t DESC "
                "ON CONFLICT (person_id) DO UPDATE SET timezone = EXCLUDED.timezone, "
                "occurred_at = EXCLUDED.occurred_at, event_id = EXCLUDED.event_id "
                "WHERE person_zones.occurred_at < EXCLUDED.occurred_at",
                [o for o, _ in zoned], [e.context.timezone for _, e in zoned],
                [e.occurred_at.ToDatetime(tzinfo=UTC) for _, e in zoned], [e.event_id for _, e in zoned],
            )  # fmt: skip
        return {owner for owner, _ in owned}

    async def repoint(self, conn: Connection, merged: str, survivor: str) -> None:
        for table in _REPOINTED:
            await conn.execute(f"UPDATE {table} SET person_id = $1 WHERE person_id = $2", survivor, merged)
        for statement in _KEEP_ONE:
            await conn.execute(statement, survivor, merged)

    async def move(self, conn: Connection, target: str, event_ids: Sequence[str]) -> set[str]:
        held: set[str] = set()
        for table, key in _MOVED:
            rows = await conn.fetch(
                f"UPDATE {table} t SET person_id = $1 FROM {table} old WHERE {key} "
                "AND t.event_id = ANY($2::text[]) RETURNING old.person_id",
                target, list(event_ids),
            )  # fmt: skip
            held.update(r["person_id"] for r in rows)
        return held


# Tables of one row per person (and campaign): the survivor keeps its participation (its arm),
# and the newer of the two zones and exits. ($1 = survivor, $2 = merged.)
_KEEP_ONE = (
    "UPDATE participants m SET person_id = $1 WHERE m.person_id = $2 AND NOT EXISTS "
    "(SELECT 1 FROM participants s WHERE s.campaign_id = m.campaign_id AND s.person_id = $1)",
    "DELETE FROM participants WHERE person_id = $2 AND person_id <> $1",
    "DELETE FROM person_zones s WHERE s.person_id = $1 AND EXISTS "
    "(SELECT 1 FROM person_zones m WHERE m.person_id = $2 AND m.occurred_at > s.occurred_at)",
    "UPDATE person_zones SET person_id = $1 WHERE person_id = $2 AND NOT EXISTS "
    "(SELECT 1 FROM person_zones WHERE person_id = $1)",
    "DELETE FROM person_zones WHERE person_id = $2 AND person_id <> $1",
    "DELETE FROM exits s WHERE s.person_id = $1 AND EXISTS (SELECT 1 FROM exits m WHERE "
    "m.campaign_id = s.campaign_id AND m.person_id = $2 AND m.exited_at > s.exited_at)",
    "UPDATE exits m SET person_id = $1 WHERE m.person_id = $2 AND NOT EXISTS "
    "(SELECT 1 FROM exits s WHERE s.campaign_id = m.campaign_id AND s.person_id = $1)",
    "DELETE FROM exits WHERE person_id = $2 AND person_id <> $1",
)  # every statement names both, so each parameter's type is known ($1 <> $2 always)
# Rows made from one event, and how a row is matched with itself before the update.
_MOVED = (
    ("consent_statements", "t.event_id = old.event_id"),
    ("conversions", "t.campaign_id = old.campaign_id AND t.event_id = old.event_id"),
)
