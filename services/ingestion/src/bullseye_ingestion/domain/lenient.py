"""Lenient fields, strict events: a contact point nobody can read is dropped, the event kept.

An email that is no address (`{{email}}`) or a phone that does not parse (a national number
sent with no country nor locale to read it in) says nothing about who the shopper is, and
rejecting the event for it lost everything else it carried: the good email beside the bad
phone, the order (issue 17). So these fields alone are dropped with a warning in the event's
outcome (index, field, reason) and the event is stored without them; every other violation
still rejects the whole event, and a rejected event's outcome lists these too.
"""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev

from bullseye_ingestion.domain.validation import Violation

# The fields that are dropped rather than rejecting the event (paths as validation names them).
DROPPABLE = frozenset(
    f"{kind}.personal.{field}" for kind in ("identified", "signed_up") for field in ("email", "phone")
)


def split(found: list[Violation]) -> tuple[list[Violation], list[Violation]]:
    """(the violations that reject the event, those of fields to drop with a warning)."""
    return [v for v in found if v.field not in DROPPABLE], [v for v in found if v.field in DROPPABLE]


def drop(event: ev.Event, warnings: list[Violation]) -> None:
    """Clear the fields `warnings` name, in place (before the event is normalized and sealed)."""
    for warning in warnings:
        kind, _, field = warning.field.partition(".personal.")
        getattr(event, kind).personal.ClearField(field)
