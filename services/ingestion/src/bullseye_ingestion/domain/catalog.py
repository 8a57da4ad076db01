"""Validation of one catalog change: every violation, each naming its field and what to fix.

Pure, like `validation.py` for events. Paths are relative to the change (`upsert.price`);
the caller prefixes them (`changes[3].`). Lengths and characters are the input rules of
the contract (`bullseye.catalog.v1`: a title of 512 characters, labels of 128), checked here
per change (`checked_per_item`) so that a bad change is rejected alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye_platform import inputs
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_ingestion.domain.validation import Violation, Violations, _money, v, valid_timestamp

KINDS = ("upsert", "delete")
MAX_DEPTH = 8
MAX_TAGS = 32


def validate_change(change: cat.CatalogChange, *, now: float, future_tolerance: float) -> list[Violation]:
    """Every violation of `change` (`now` in seconds since the epoch); empty means it may be stored."""
    kind = change.WhichOneof("change")
    if kind is None:
        return [v("change", "is required; set exactly one of upsert, delete")]
    if kind == "upsert":
        found = list(_upsert(change.upsert, now=now, future_tolerance=future_tolerance))
    else:
        found = list(_text("delete.item_id", change.delete.item_id))
        found += _time("delete.deleted_at", change.delete.deleted_at, now=now, future_tolerance=future_tolerance)
    if flagged := inputs.violations(change):
        fields = {f.field for f in flagged}
        return flagged + [f for f in found if f.field not in fields]
    return found


def _upsert(item: cat.CatalogItem, *, now: float, future_tolerance: float) -> Violations:
    yield from _text("upsert.item_id", item.item_id)
    yield from _text("upsert.title", item.title)
    yield from _labels("upsert.category_path", item.category_path, MAX_DEPTH, "levels")
    if item.brand:
        yield from _text("upsert.brand", item.brand)
    yield from _money("upsert.price", item.price)
    yield from _labels("upsert.tags", item.tags, MAX_TAGS, "tags")
    if not item.HasField("in_stock"):
        yield v("upsert.in_stock", "is required (true when it can be bought now, false otherwise)")
    if not item.HasField("published"):
        yield v("upsert.published", "is required (true shows it to shoppers, false hides it)")
    yield from _time("upsert.updated_at", item.updated_at, now=now, future_tolerance=future_tolerance)


def _text(path: str, value: str) -> Violations:
    if not value.strip():
        yield v(path, "is required")


def _labels(path: str, values: Sequence[str], most: int, what: str) -> Violations:
    if len(values) > most:
        yield v(path, f"has {len(values)} {what}; at most {most}")
        return
    for index, value in enumerate(values):
        yield from _text(f"{path}[{index}]", value)


def _time(path: str, ts: Timestamp, *, now: float, future_tolerance: float) -> list[Violation]:
    """Required (it names the version), valid, and not further ahead than clocks drift."""
    if ts.seconds == 0 and ts.nanos == 0:
        return [v(path, "is required: it identifies this version of the item (a retry sends the same)")]
    if not valid_timestamp(ts):
        return [v(path, "is not a valid timestamp")]
    ahead = ts.seconds + ts.nanos / 1e9 - now
    if ahead > future_tolerance:
        return [v(path, f"is {ahead:.0f}s in the future; at most {future_tolerance:.0f}s of clock drift is accepted")]
    return []


def message_id(change: cat.CatalogChange) -> str:
    """`<upsert|delete>:<item_id>@<time>`: the same version of an item is stored once."""
    if change.WhichOneof("change") == "upsert":
        return f"upsert:{change.upsert.item_id}@{change.upsert.updated_at.ToJsonString()}"
    return f"delete:{change.delete.item_id}@{change.delete.deleted_at.ToJsonString()}"


def item_id(change: cat.CatalogChange) -> str:
    return change.upsert.item_id if change.WhichOneof("change") == "upsert" else change.delete.item_id
