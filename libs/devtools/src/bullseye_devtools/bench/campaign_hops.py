"""Where a triggered message's time went, hop by hop, read after the run from what the chain
keeps anyway (nothing watches while it runs, so measuring costs it no CPU):

- accepted -> resolved: ingestion's append and identity's resolution, until identity's outbox
  relay stored the order's record on RESOLVED (JetStream's stored time);
- resolved -> decided: campaign's fold of RESOLVED (the trigger's job row) and the wait for a
  decision pass (the delivery's `created_at` is that pass's clock, from `ListDeliveries`);
- decided -> handed over: the decision pass, its commit and the wait for a handoff pass (the
  delivery's `sent_at` is that pass's clock);
- handed over -> received: the handoff pass (contacts, rendering) and the POST to the sink.

Each hop's p50 and p99 is over the orders matched end to end; percentiles do not add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import nats
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import campaign_pb2_grpc as apb_grpc
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye_platform.auth import TokenMinter
from bullseye_platform.grpc import client

from bullseye_devtools.bench import stored
from bullseye_devtools.bench.loadgen import percentile

RESOLVED = "RESOLVED"
HOPS = ("accepted_to_resolved", "resolved_to_decided", "decided_to_handed_over", "handed_over_to_received")
PAGE = 500  # ListDeliveries' largest page


@dataclass(frozen=True)
class Order:
    """One triggering order as the client saw it: its event, when ingestion accepted it, when
    the sink received its message (epoch seconds)."""

    event_id: str
    accepted: float
    received: float


async def resolved_seq(nats_url: str) -> int:
    """RESOLVED's last sequence now: a run's records come after it."""
    connection = await nats.connect(nats_url)
    try:
        return await stored.last_seq(connection.jetstream(), RESOLVED)
    finally:
        await connection.close()


@dataclass(frozen=True)
class Hops:
    figures: dict[str, dict[str, float]]  # hop -> its p50 and p99 in ms
    matched: int  # orders followed end to end


async def hops(nats_url: str, campaign_address: str, operator: TokenMinter, *, campaign_id: str, after_seq: int,
               orders: Sequence[Order]) -> Hops:  # fmt: skip
    """Each hop's p50 and p99 in ms over the orders followed end to end."""
    wanted = {order.event_id for order in orders}
    resolved = await _resolved_times(nats_url, after_seq, wanted)
    decisions = await _delivery_times(campaign_address, operator, campaign_id, wanted)
    spans: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for order in orders:
        if order.event_id not in resolved or order.event_id not in decisions:
            continue
        decided, handed_over = decisions[order.event_id]
        stamps = (order.accepted, resolved[order.event_id], decided, handed_over, order.received)
        for hop, (start, end) in zip(HOPS, pairwise(stamps), strict=True):
            spans[hop].append(end - start)
    figures = {hop: _percentiles(values) for hop, values in spans.items() if values}
    return Hops(figures, len(spans[HOPS[0]]))


def shown(figures: Mapping[str, Mapping[str, float]]) -> str:
    """One line: `hop p50 / p99 ms` for each hop."""
    return "; ".join(f"{hop.replace('_', ' ')} {f['p50']:,.0f} / {f['p99']:,.0f} ms" for hop, f in figures.items())


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50": round(percentile(ordered, 50) * 1000, 1), "p99": round(percentile(ordered, 99) * 1000, 1)}


async def _resolved_times(nats_url: str, after_seq: int, wanted: set[str]) -> dict[str, float]:
    """event id -> when its RESOLVED record was stored, for the wanted events."""
    found: dict[str, float] = {}

    def on_record(subject: str, data: bytes, at: float) -> None:
        record = rs.ResolvedRecord.FromString(data)
        if record.WhichOneof("kind") == "event" and (event_id := record.event.event.event_id) in wanted:
            found.setdefault(event_id, at)

    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        await stored.read_stored(js, RESOLVED, after_seq + 1, await stored.last_seq(js, RESOLVED), on_record)
    finally:
        await connection.close()
    return found


async def _delivery_times(address: str, operator: TokenMinter, campaign_id: str,
                          wanted: set[str]) -> dict[str, tuple[float, float]]:  # fmt: skip
    """occurrence (the triggering event's id) -> its delivery's decision and handoff pass times."""
    found: dict[str, tuple[float, float]] = {}
    async with client.channel(address, credentials=operator, deadline=None) as channel:
        api, token = apb_grpc.CampaignServiceStub(channel), ""
        while True:
            page = await api.ListDeliveries(apb.ListDeliveriesRequest(campaign_id=campaign_id, page_size=PAGE,
                                                                      page_token=token))  # fmt: skip
            for d in page.deliveries:
                if d.occurrence_id in wanted and d.HasField("sent_at"):
                    found[d.occurrence_id] = (d.created_at.ToMicroseconds() / 1e6, d.sent_at.ToMicroseconds() / 1e6)
            token = page.next_page_token
            if not token:
                return found
