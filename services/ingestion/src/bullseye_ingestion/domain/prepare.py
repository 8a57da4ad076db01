"""Turn a client's event into the stored one: receipt stamped, clock skew corrected,
personal data normalized, IP masked. Pure; runs before validation of the result."""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_ingestion.domain.normalize import mask_ip, normalize_email, normalize_phone
from bullseye_ingestion.domain.validation import region_of, valid_timestamp


def stamp(event: ev.Event, *, received_at: Timestamp, source: str) -> ev.Event:
    """A copy of `event` with its receipt, occurred_at corrected for the client's clock skew.

    The correction is Segment's: the client's clock is off by (received_at - sent_at),
    network time being negligible, so occurred_at moves by the same amount.
    """
    stored = ev.Event()
    stored.CopyFrom(event)
    stored.ClearField("receipt")
    stored.receipt.received_at.CopyFrom(received_at)
    stored.receipt.source = source
    if event.HasField("occurred_at"):
        stored.receipt.client_occurred_at.CopyFrom(event.occurred_at)
    if event.HasField("sent_at") and event.HasField("occurred_at"):
        _correct_skew(stored, event)
    return stored


def _correct_skew(stored: ev.Event, event: ev.Event) -> None:
    """Integer nanoseconds, not datetimes: a skew that moves occurred_at out of range must
    reach validation as an invalid timestamp, not fail the whole call."""
    if not (valid_timestamp(event.sent_at) and valid_timestamp(event.occurred_at)):
        return  # validation rejects the event
    skew = stored.receipt.received_at.ToNanoseconds() - event.sent_at.ToNanoseconds()
    stored.receipt.clock_skew_ms = skew // 1_000_000
    corrected = event.occurred_at.ToNanoseconds() + skew
    stored.occurred_at.seconds, stored.occurred_at.nanos = divmod(corrected, 1_000_000_000)


def normalize(stored: ev.Event, *, live_window: float) -> None:
    """Mask the IP, canonicalize emails and phones, flag history (valid events only)."""
    if stored.context.ip:
        stored.context.ip = mask_ip(stored.context.ip)
    kind = stored.WhichOneof("payload")
    if kind in ("identified", "signed_up"):
        data = getattr(stored, kind).personal
        region = region_of(stored)
        if data.email:
            data.email = normalize_email(data.email)
        if data.phone:
            data.phone = normalize_phone(data.phone, region=region)
    age = stored.receipt.received_at.ToSeconds() - stored.occurred_at.ToSeconds()
    stored.receipt.backfill = age > live_window
