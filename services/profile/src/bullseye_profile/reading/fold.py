"""Folds one Profile message from the readings of its journal (see queries.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from bullseye.events.v1 import event_pb2
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_platform.consent import Statement
from bullseye_platform.consent import fold as fold_consent
from bullseye_platform.timestamps import to_datetime, to_timestamp

from bullseye_profile.domain import lifecycle
from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.domain.tags import Population, tags_for
from bullseye_profile.reading.queries import WINDOWS, Readings

NIGHT_HOURS = frozenset({22, 23, 0, 1, 2, 3, 4, 5})
TOP_AFFINITIES = 5
TRAIT_FIELDS = ("gender", "birth_year", "city", "country", "membership_tier")
AGE_BANDS = ((18, "under-18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))
COUNTED_TYPES = frozenset(f.name for f in pb.EventCounts.DESCRIPTOR.fields) - {"total"}
WINDOW_COLUMNS = (*(f"c{days}" for days in WINDOWS), "lifetime")  # queries._BY_TYPE


@dataclass(frozen=True)
class Standing:
    """What a profile takes from the periodic RFM computation: the person's scores and the
    population figures tag rules compare against (read live, never kept in a snapshot)."""

    rfm: asyncpg.Record | Mapping[str, Any] | None = None
    population: Population = field(default_factory=Population)


def build_profile(person_id: str, readings: Readings, now: datetime, policy: ProfilePolicy) -> pb.Profile:
    base = build_base(person_id, readings, policy)
    return finish(base, now, Standing(readings.rfm.get(person_id), readings.population), policy)


def build_base(person_id: str, readings: Readings, policy: ProfilePolicy) -> pb.Profile:
    """The part of the profile that only changes when the journal does or a window edge passes.

    Affinity scores are kept relative to the person's last event (`finish` decays them to
    `now`); everything that moves with the clock alone is left to `finish`, so a base can
    be stored (bases.py) and finished at any later time with the very same arithmetic.
    """
    types = {r["event_type"]: r for r in readings.types[person_id]}
    profile = pb.Profile(person_id=person_id, merged_person_ids=readings.merged.get(person_id, []))
    _traits(profile.traits, readings.details.get(person_id, []))
    _consent(profile.consent, readings.details.get(person_id, []))
    _behaviour(profile.behaviour, person_id, types, readings, policy.price_bands)
    _value(profile.value, types)
    return profile


def finish(profile: pb.Profile, now: datetime, standing: Standing, policy: ProfilePolicy) -> pb.Profile:
    """Complete a base profile as of `now`: the clock-driven fields, RFM standing and tags."""
    profile.as_of.CopyFrom(to_timestamp(now))
    birth_year = profile.traits.birth_year
    profile.traits.age_band = age_band(now.year - birth_year) if birth_year else ""
    b = profile.behaviour
    decay = 0.5 ** ((now - to_datetime(b.last_seen)).total_seconds() / policy.affinity_half_life)
    for affinity in [*b.top_categories, *b.top_brands]:
        affinity.score *= decay
    b.cart_abandoned = _cart_abandoned(b, now, policy)
    _lifecycle(profile, now, policy)
    _rfm(profile.value, standing.rfm)
    del profile.tags[:]
    profile.tags.extend(tags_for(profile, standing.population))
    return profile


def _lifecycle(profile: pb.Profile, now: datetime, policy: ProfilePolicy) -> None:
    """Lifecycle stage and churn risk: they depend on the clock, so they are never stored."""
    b, v = profile.behaviour, profile.value
    purchased, last_seen = v.HasField("first_purchase_at"), to_datetime(b.last_seen)
    profile.lifecycle_stage = lifecycle.stage(
        first_seen=to_datetime(b.first_seen), last_seen=last_seen, orders=v.orders, now=now, policy=policy
    )
    v.churn_risk = lifecycle.churn_risk(
        last_seen=last_seen, first_purchase=to_datetime(v.first_purchase_at) if purchased else None,
        last_purchase=to_datetime(v.last_purchase_at) if purchased else None, orders=v.orders, now=now, policy=policy,
    )  # fmt: skip


def _traits(traits: pb.Traits, details: Sequence[asyncpg.Record]) -> None:
    """Latest statement per trait wins; an identify event only sets what it carries."""
    for row in details:
        if row["event_type"] != "identified":
            continue
        detail: dict[str, Any] = json.loads(row["detail"])
        for name in TRAIT_FIELDS:
            if name in detail:
                setattr(traits, name, detail[name])
        traits.custom.update(detail.get("custom", {}))
        traits.updated_at.CopyFrom(to_timestamp(row["occurred_at"]))


def age_band(age: int) -> str:
    for limit, band in AGE_BANDS:
        if age < limit:
            return band
    return "65+"


def _consent(consent: pb.Consent, details: Sequence[asyncpg.Record]) -> None:
    """The consent fold shared by every service (bullseye_platform.consent), written into the message."""
    statements = [_statement(row) for row in details if row["event_type"] == "consent_changed"]
    for (purpose, channel), choice in fold_consent(statements):
        state: pb.ConsentState = getattr(getattr(consent, purpose), channel)
        state.granted, state.source = choice.granted, choice.source
        state.updated_at.CopyFrom(to_timestamp(choice.occurred_at))


def _statement(row: asyncpg.Record) -> Statement:
    detail = json.loads(row["detail"])
    return Statement(
        purpose=detail["purpose"], channel=detail["channel"], granted=bool(detail["granted"]),
        source=detail.get("source", ""), occurred_at=row["occurred_at"], event_id=row["event_id"],
    )  # fmt: skip


def _behaviour(
    b: pb.Behaviour, person_id: str, types: dict[str, asyncpg.Record], readings: Readings, price_bands: Sequence[float]
) -> None:
    b.first_seen.CopyFrom(to_timestamp(min(r["first_at"] for r in types.values())))
    b.last_seen.CopyFrom(to_timestamp(max(r["last_at"] for r in types.values())))
    b.sessions = readings.sessions.get(person_id, 0)
    context = readings.context.get(person_id)
    if context is not None:
        b.last_channel = event_pb2.Channel.ValueType(context["channel"] or 0)
        b.last_device_type = context["device_type"] or ""
        b.timezone = context["timezone"] or ""
    _counts(b, types)
    _active_hours(b.active_hours, readings.hours.get(person_id, {}))
    affinities = readings.affinities.get(person_id, {})
    b.top_categories.extend(_top(affinities.get("category", [])))
    b.top_brands.extend(_top(affinities.get("brand", [])))
    b.price_band = _price_band(types, price_bands)


def _counts(b: pb.Behaviour, types: dict[str, asyncpg.Record]) -> None:
    windows = (b.counts_1d, b.counts_7d, b.counts_30d, b.counts_90d, b.counts_lifetime)
    totals = [0] * len(windows)
    for event_type, row in types.items():
        if event_type not in COUNTED_TYPES:
            continue
        for index, (counts, column) in enumerate(zip(windows, WINDOW_COLUMNS, strict=True)):
            count = row[column]
            setattr(counts, event_type, count)
            totals[index] += count
        getattr(b.last_at, event_type).CopyFrom(to_timestamp(row["last_at"]))
    for counts, total in zip(windows, totals, strict=True):
        counts.total = total


def _active_hours(hours: pb.ActiveHours, histogram: dict[int, int]) -> None:
    counts = [histogram.get(h, 0) for h in range(24)]
    hours.hours.extend(counts)
    total = sum(counts)
    hours.peak_hour = counts.index(max(counts)) if total else -1
    hours.night_share = sum(counts[h] for h in NIGHT_HOURS) / total if total else 0.0


def _top(scores: list[tuple[str, float]]) -> list[pb.Affinity]:
    best = sorted(scores, key=lambda item: (-item[1], item[0]))[:TOP_AFFINITIES]
    return [pb.Affinity(name=name, score=score) for name, score in best]


def _price_band(types: dict[str, asyncpg.Record], limits: Sequence[float]) -> pb.PriceBand.ValueType:
    """From the mean unit price of orders, else of product views and cart adds."""
    source = ["order_completed"] if _mean_price(types, ["order_completed"]) is not None else []
    price = _mean_price(types, source or ["product_viewed", "cart_item_added"])
    if price is None:
        return pb.PRICE_BAND_UNSPECIFIED
    bands = (pb.PRICE_BAND_LOW, pb.PRICE_BAND_MID, pb.PRICE_BAND_HIGH)
    for limit, band in zip(limits, bands, strict=False):
        if price < limit:
            return band
    return pb.PRICE_BAND_PREMIUM


def _mean_price(types: dict[str, asyncpg.Record], names: Sequence[str]) -> float | None:
    prices = [float(types[n]["mean_price"]) for n in names if n in types and types[n]["mean_price"] is not None]
    return sum(prices) / len(prices) if prices else None


def _cart_abandoned(b: pb.Behaviour, now: datetime, policy: ProfilePolicy) -> bool:
    """A cart add with no order at or after it, idle for cart_abandon_after."""
    if not b.last_at.HasField("cart_item_added"):
        return False
    cart = to_datetime(b.last_at.cart_item_added)
    if b.last_at.HasField("order_completed") and to_datetime(b.last_at.order_completed) >= cart:
        return False
    idle: float = (now - cart).total_seconds()
    return idle >= policy.cart_abandon_after


def _value(v: pb.Value, types: dict[str, asyncpg.Record]) -> None:
    orders, refunds = types.get("order_completed"), types.get("order_refunded")
    if orders is not None:
        v.orders, v.revenue = orders["lifetime"], float(orders["amount"])
        v.average_order_value = v.revenue / v.orders
        v.first_purchase_at.CopyFrom(to_timestamp(orders["first_at"]))
        v.last_purchase_at.CopyFrom(to_timestamp(orders["last_at"]))
        v.currency = orders["currency"] or ""
        v.revenue_90d = float(orders["amount_90d"])
        v.discounted_orders = orders["discounted"]
    if refunds is not None:
        v.refunds, v.refunded_amount = refunds["lifetime"], float(refunds["amount"])
        v.currency = v.currency or refunds["currency"] or ""


def _rfm(v: pb.Value, rfm: asyncpg.Record | Mapping[str, Any] | None) -> None:
    v.ClearField("rfm")
    if rfm is not None:
        v.rfm.recency_days, v.rfm.frequency, v.rfm.monetary = (
            rfm["recency_days"],
            rfm["frequency"],
            float(rfm["monetary"]),
        )
        v.rfm.r, v.rfm.f, v.rfm.m, v.rfm.segment = rfm["r"], rfm["f"], rfm["m"], rfm["segment"]
        v.rfm.computed_at.CopyFrom(to_timestamp(rfm["computed_at"]))
