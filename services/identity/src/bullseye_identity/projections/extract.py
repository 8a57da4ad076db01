"""The identifiers of an event: its ids, and the emails and phones sealed in it (its personal
data's, and those it is identified by)."""

from __future__ import annotations

from dataclasses import dataclass

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import sealing
from bullseye_platform.store.pool import Connection

from bullseye_identity.domain.policy import ANONYMOUS_ID, DEVICE_ID, EMAIL, LOYALTY_ID, PHONE, USER_ID, Key, Policy
from bullseye_identity.vault.keyring import KeyRing


@dataclass(frozen=True)
class Extracted:
    """An event's usable identifiers (priority order, placeholders dropped), its personal data,
    and the email and phone it is identified by (opened)."""

    keys: list[Key]
    personal: ev.PersonalData | None
    contact: ev.PersonalData | None = None


async def extract(conn: Connection, keyring: KeyRing, event: ev.Event, policy: Policy) -> Extracted:
    ids = event.identifiers
    raw = [(USER_ID, ids.user_id), (LOYALTY_ID, ids.loyalty_id), (DEVICE_ID, ids.device_id),
           (ANONYMOUS_ID, ids.anonymous_id)]  # fmt: skip
    personal = await personal_data(conn, keyring, event)
    contact = await contact_data(conn, keyring, event)
    for data in (personal, contact):
        if data is not None:
            raw += [(EMAIL, data.email), (PHONE, data.phone)]
    keys = dict.fromkeys((t, v) for t, v in raw if policy.usable(t, v))
    hashed = [(t, keyring.hash_identifier(t, v) if t in (EMAIL, PHONE) else v) for t, v in keys]
    return Extracted(policy.ordered(hashed), personal, contact)


async def personal_data(conn: Connection, keyring: KeyRing, event: ev.Event) -> ev.PersonalData | None:
    """Opened from `sealed_personal` (None once the subject's key is shredded); events
    appended before ingestion sealed anything may still carry it in the clear."""
    sealed = sealing.sealed_of(event)
    if sealed is not None:
        return await keyring.open_personal(conn, sealed, event.event_id)
    return sealing.personal_of(event)


async def contact_data(conn: Connection, keyring: KeyRing, event: ev.Event) -> ev.PersonalData | None:
    """The email and phone the event is identified by, opened from `identifiers.sealed` (None
    without any, or once the subject's key is shredded)."""
    sealed = sealing.sealed_contact_of(event)
    return None if sealed is None else await keyring.open_contact(conn, sealed, event.event_id)
