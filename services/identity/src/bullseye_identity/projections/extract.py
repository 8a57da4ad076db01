"""The identifiers of an event: its ids, and the email and phone sealed in its personal data."""

from __future__ import annotations

from dataclasses import dataclass

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import sealing
from bullseye_platform.store.pool import Connection

from bullseye_identity.domain.policy import ANONYMOUS_ID, DEVICE_ID, EMAIL, PHONE, USER_ID, Key, Policy
from bullseye_identity.vault.keyring import KeyRing


@dataclass(frozen=True)
class Extracted:
    """An event's usable identifiers (priority order, placeholders dropped) and its personal data."""

    keys: list[Key]
    personal: ev.PersonalData | None


async def extract(conn: Connection, keyring: KeyRing, event: ev.Event, policy: Policy) -> Extracted:
    ids = event.identifiers
    raw = [(USER_ID, ids.user_id), (DEVICE_ID, ids.device_id), (ANONYMOUS_ID, ids.anonymous_id)]
    personal = await personal_data(conn, keyring, event)
    if personal is not None:
        raw += [(EMAIL, personal.email), (PHONE, personal.phone)]
    keys = [(t, v) for t, v in raw if policy.usable(t, v)]
    hashed = [(t, keyring.hash_identifier(t, v) if t in (EMAIL, PHONE) else v) for t, v in keys]
    return Extracted(policy.ordered(hashed), personal)


async def personal_data(conn: Connection, keyring: KeyRing, event: ev.Event) -> ev.PersonalData | None:
    """Opened from `sealed_personal` (None once the subject's key is shredded); events
    appended before ingestion sealed anything may still carry it in the clear."""
    sealed = sealing.sealed_of(event)
    if sealed is not None:
        return await keyring.open_personal(conn, sealed, event.event_id)
    return sealing.personal_of(event)
