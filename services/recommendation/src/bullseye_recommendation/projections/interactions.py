"""RESOLVED folded into what recommendations are made of, per person and per item.

Each resolved event becomes rows keyed by its event id (so a redelivered or repeated event
adds nothing, a merge re-points a person's rows and a split moves exactly the listed
events, bullseye_platform.persons): item signals with their configured weights
(`interactions`), browsed categories (`interests`), personalization consent statements and
the clicks and orders that carry a recommendation id (`attributions`). In the same
statement, only the rows actually inserted are folded into the per-person feedback
(`person_items`: net weight, purchases, latest touch) and into time-decayed popularity. A
merge or split re-folds `person_items` of the persons it touched from their rows, which
gives exactly what the increments gave (numeric sums are exact).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.persons import apply_resolved
from bullseye_platform.store import bulk_upsert
from bullseye_platform.store.pool import Connection

from bullseye_recommendation.domain import signals
from bullseye_recommendation.domain.feedback import FeedbackWeights
from bullseye_recommendation.projections.changes import notify, notify_persons
from bullseye_recommendation.projections.popularity import EPOCH

# Rows given, and the refunds' rows (each refund takes back its order's purchases, found in
# the table or in this very batch), inserted once; what was new is folded in.
FOLD = """
WITH given AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::timestamptz[],
                         $7::bigint[], $8::text[])
        AS g(event_id, item_id, signal, person_id, weight, occurred_at, sequence, order_id)
), bought AS (
    SELECT DISTINCT item_id, order_id FROM (
        SELECT item_id, order_id FROM interactions WHERE signal = 'purchase' AND order_id = ANY($13::text[])
        UNION ALL SELECT item_id, order_id FROM given WHERE signal = 'purchase'
    ) b
), refunds AS (
    SELECT r.event_id, b.item_id, 'refund', r.person_id, $14::numeric, r.occurred_at, r.sequence, r.order_id
    FROM unnest($9::text[], $10::text[], $11::timestamptz[], $12::bigint[], $13::text[])
        AS r(event_id, person_id, occurred_at, sequence, order_id)
    JOIN bought b ON b.order_id = r.order_id
), new AS (
    INSERT INTO interactions (event_id, item_id, signal, person_id, weight, occurred_at, sequence, order_id)
    SELECT * FROM given UNION ALL SELECT * FROM refunds
    ON CONFLICT DO NOTHING
    RETURNING *
), folded AS (
    INSERT INTO person_items AS p (person_id, item_id, weight, purchases, last_at, last_sequence)
    SELECT person_id, item_id, sum(weight), sum(CASE signal WHEN 'purchase' THEN 1 WHEN 'refund' THEN -1 ELSE 0 END),
           (array_agg(occurred_at ORDER BY occurred_at DESC, sequence DESC))[1],
           (array_agg(sequence ORDER BY occurred_at DESC, sequence DESC))[1]
    FROM new GROUP BY person_id, item_id ORDER BY person_id, item_id
    ON CONFLICT (person_id, item_id) DO UPDATE SET
        weight = p.weight + EXCLUDED.weight,
        purchases = p.purchases + EXCLUDED.purchases,
        last_sequence = CASE WHEN (EXCLUDED.last_at, EXCLUDED.last_sequence) > (p.last_at, p.last_sequence)
                        THEN EXCLUDED.last_sequence ELSE p.last_sequence END,
        last_at = greatest(p.last_at, EXCLUDED.last_at)
), popular AS (
    INSERT INTO item_popularity AS ip (item_id, score)
    SELECT item_id, sum(weight * power(2::numeric, (extract(epoch FROM occurred_at) - $15) / $16))
    FROM new GROUP BY item_id ORDER BY item_id
    ON CONFLICT (item_id) DO UPDATE SET score = ip.score + EXCLUDED.score
)
SELECT count(*) FROM new
"""

# person_items of some persons folded again from their rows (after a merge or split).
REFOLD = """
INSERT INTO person_items (person_id, item_id, weight, purchases, last_at, last_sequence)
SELECT person_id, item_id, sum(weight), sum(CASE signal WHEN 'purchase' THEN 1 WHEN 'refund' THEN -1 ELSE 0 END),
       (array_agg(occurred_at ORDER BY occurred_at DESC, sequence DESC))[1],
       (array_agg(sequence ORDER BY occurred_at DESC, sequence DESC))[1]
FROM interactions WHERE person_id = ANY($1::text[]) GROUP BY person_id, item_id
"""
INTERESTS = (("event_id", "text"), ("category", "text"), ("person_id", "text"))
CONSENT = (
    ("event_id", "text"), ("person_id", "text"), ("channel", "integer"), ("granted", "boolean"), ("source", "text"),
    ("occurred_at", "timestamptz"),
)  # fmt: skip
ATTRIBUTIONS = (
    ("event_id", "text"),
    ("recommendation_id", "text"),
    ("outcome", "text"),
    ("occurred_at", "timestamptz"),
)
PERSON_TABLES = ("interactions", "interests", "consent_statements")
OWNED_TABLES = (*PERSON_TABLES, "person_items", "item_popularity", "person_aliases", "attributions")


def _nobody(persons: Collection[str]) -> None:
    """No ranking cache to tell (the rebuild command)."""


@dataclass
class _Batch:
    """The rows of a batch of events, column by column as the statements take them."""

    signals: list[tuple[Any, ...]] = field(default_factory=list)
    refunds: list[tuple[Any, ...]] = field(default_factory=list)
    interests: list[tuple[Any, ...]] = field(default_factory=list)
    consent: list[tuple[Any, ...]] = field(default_factory=list)
    attributions: list[tuple[Any, ...]] = field(default_factory=list)


class InteractionRows:
    """The per-person rows, as `bullseye_platform.persons.PersonRows`."""

    def __init__(
        self, *, weights: FeedbackWeights, half_life: float, hold: Callable[[Collection[str]], None] = _nobody
    ) -> None:  # fmt: skip
        self._weights, self._half_life, self._hold = weights, half_life, hold

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Fold the batch; tell this process's ranking cache of the persons it changes before the
        commit (`hold`), and every process at the commit (the notification)."""
        changed = await apply_resolved(conn, records, self)
        if changed:
            self._hold(changed)
            await notify_persons(conn, changed)

    async def add(self, conn: Connection, events: Sequence[tuple[str, resolved_pb2.ResolvedEvent]]) -> set[str]:
        batch = _Batch()
        for owner, resolved in events:
            self._collect(batch, owner, resolved)
        new = await conn.fetchval(FOLD, *_columns(batch.signals, 8), *_columns(batch.refunds, 5),
                                  self._weights.refund, EPOCH, self._half_life)  # fmt: skip
        if new:
            await notify(conn, "popularity")
        await _insert(conn, "interests", INTERESTS, batch.interests, key=("event_id", "category"))
        await _insert(conn, "consent_statements", CONSENT, batch.consent)
        await _insert(conn, "attributions", ATTRIBUTIONS, batch.attributions)
        return {owner for owner, _ in events}

    def _collect(self, batch: _Batch, owner: str, resolved: resolved_pb2.ResolvedEvent) -> None:
        event = resolved.event
        if not owner or not event.event_id:
            return  # nothing to key it by (identity never sends such events)
        when, sequence = _occurred_at(event), resolved.events_sequence
        for s in signals.item_signals(event):
            weight = self._weights.of(s.signal)
            batch.signals.append((event.event_id, s.item_id, s.signal.value, owner, weight, when, sequence, s.order_id))
        if order := signals.refunded_order(event):
            batch.refunds.append((event.event_id, owner, when, sequence, order))
        batch.interests += [(event.event_id, category, owner) for category in dict.fromkeys(signals.interests(event))]
        if event.WhichOneof("payload") == "consent_changed":
            consent = event.consent_changed
            if consent.purpose == ev.CONSENT_PURPOSE_PERSONALIZATION:
                batch.consent.append((event.event_id, owner, consent.channel, consent.granted, consent.source, when))
        if tied := signals.attribution(event):
            batch.attributions.append((event.event_id, tied[0], tied[1], when))

    async def repoint(self, conn: Connection, merged: str, survivor: str) -> None:
        for table in PERSON_TABLES:
            await conn.execute(f"UPDATE {table} SET person_id = $1 WHERE person_id = $2", survivor, merged)
        await refold(conn, [merged, survivor])

    async def move(self, conn: Connection, target: str, event_ids: Sequence[str]) -> set[str]:
        held: set[str] = set()
        for table in PERSON_TABLES:
            rows = await conn.fetch(
                f"UPDATE {table} t SET person_id = $1 FROM {table} old "
                f"WHERE t.event_id = ANY($2::text[]) AND old.event_id = t.event_id "
                f"AND old.person_id <> $1 RETURNING old.person_id",
                target, list(event_ids),
            )  # fmt: skip
            held |= {r["person_id"] for r in rows}
        await refold(conn, [*held, target])
        return held


async def refold(conn: Connection, persons: Sequence[str]) -> None:
    """`person_items` of `persons` folded again from their interactions."""
    await conn.execute("DELETE FROM person_items WHERE person_id = ANY($1::text[])", list(persons))
    await conn.execute(REFOLD, list(persons))


def _occurred_at(event: ev.Event) -> datetime:
    stamp = event.occurred_at if event.HasField("occurred_at") else event.receipt.received_at
    value: datetime = stamp.ToDatetime(tzinfo=UTC)
    return value


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column (`width` empty lists when there are none)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def _insert(
    conn: Connection, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[tuple[Any, ...]],
    *, key: Sequence[str] = ("event_id",),
) -> None:  # fmt: skip
    """New rows only: an event seen again (after the log's duplicate window) adds nothing."""
    await bulk_upsert(conn, table=table, columns=columns, rows=rows, key=key, update=[])
