"""Personal data of events, sealed per subject: the one place that knows where it lives.

Ingestion seals an event's `PersonalData` (Identified, SignedUp) into `sealed_personal`,
and the email and phone an event is identified by (`identifiers.email`/`.phone`, a till's
or a call centre's customer) into `identifiers.sealed`, before the event reaches the log;
identity opens them. Both must agree on three things, hence one module: which subject's
key seals them (`subject_of`), what the associated data is (the event id, and for the
identifiers' part a tag, so a ciphertext cannot be moved to another event or place), and
where personal data sits.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from bullseye.events.v1 import event_pb2 as ev

from bullseye_platform.crypto import DataKey, Sealed, open_sealed, seal

PERSONAL_KINDS = ("identified", "signed_up")
USER_PREFIX = "user:"
ANON_PREFIX = "anon:"
LOYALTY_PREFIX = "loyalty:"
# Subjects of events identified only by a contact point. Ingestion names them with the
# normalized address (it holds it in the clear anyway); identity stores them under the
# address's keyed hash (`KeyRing.stored_subject`), so no table holds the address.
EMAIL_PREFIX = "email:"
PHONE_PREFIX = "phone:"

# What a subject may look like: identity validates requests by the same rule.
SUBJECT_PREFIXES = (USER_PREFIX, ANON_PREFIX, LOYALTY_PREFIX, EMAIL_PREFIX, PHONE_PREFIX)
_IDENTIFIERS_TAG = b"\x00identifiers"


def subject_of(identifiers: ev.Identifiers, contact: ev.PersonalData | None = None) -> str:
    """Whose key seals an event's personal data: the user id when known, else the device's
    anonymous id, else the loyalty card, else the email, else the phone the event is
    identified by. `contact` is that email and phone once opened (identity); ingestion, which
    seals them, reads them from `identifiers`. Erasing a person shreds the keys of all of
    their subjects."""
    if identifiers.user_id:
        return USER_PREFIX + identifiers.user_id
    if identifiers.anonymous_id:
        return ANON_PREFIX + identifiers.anonymous_id
    if identifiers.loyalty_id:
        return LOYALTY_PREFIX + identifiers.loyalty_id
    given: ev.Identifiers | ev.PersonalData = identifiers if contact is None else contact
    return EMAIL_PREFIX + given.email if given.email else PHONE_PREFIX + given.phone


def contact_of(identifiers: ev.Identifiers) -> ev.PersonalData | None:
    """The email and phone an event is identified by, in the clear (before sealing), or None."""
    if not identifiers.email and not identifiers.phone:
        return None
    return ev.PersonalData(email=identifiers.email, phone=identifiers.phone)


def needs_sealing(event: ev.Event) -> bool:
    """Whether the event carries personal data in the clear."""
    ids = event.identifiers
    return bool(ids.email or ids.phone) or personal_of(event) is not None


def _payload(event: ev.Event) -> ev.Identified | ev.SignedUp | None:
    kind = event.WhichOneof("payload")
    if kind in PERSONAL_KINDS:
        payload: ev.Identified | ev.SignedUp = getattr(event, kind)
        return payload
    return None


def personal_of(event: ev.Event) -> ev.PersonalData | None:
    """The event's personal data in the clear, or None when it carries none."""
    payload = _payload(event)
    if payload is None or payload.personal.ByteSize() == 0:
        return None
    return payload.personal


def sealed_of(event: ev.Event) -> ev.SealedData | None:
    """The event's sealed personal data, or None when it carries none."""
    payload = _payload(event)
    if payload is None or not payload.HasField("sealed_personal"):
        return None
    return payload.sealed_personal


def sealed_contact_of(event: ev.Event) -> ev.SealedData | None:
    """The sealed email and phone the event is identified by, or None."""
    ids = event.identifiers
    return ids.sealed if ids.HasField("sealed") else None


def clear_sealed(event: ev.Event) -> None:
    """Drop a client-sent `sealed_personal` and `identifiers.sealed`: only ingestion seals."""
    payload = _payload(event)
    if payload is not None:
        payload.ClearField("sealed_personal")
    event.identifiers.ClearField("sealed")


def _sealed(key: DataKey, data: ev.PersonalData, associated_data: bytes) -> ev.SealedData:
    box = seal(key, data.SerializeToString(), associated_data=associated_data)
    return ev.SealedData(key_id=box.key_id, nonce=box.nonce, ciphertext=box.ciphertext)


def seal_personal(event: ev.Event, key: DataKey) -> None:
    """Move the event's personal data into `sealed_personal` and its identifying email and
    phone into `identifiers.sealed`, in place; a no-op without any.

    AES-256-GCM under the subject's data key, with the event id as associated data (tagged
    for the identifiers' part).
    """
    payload = _payload(event)
    if payload is not None and payload.personal.ByteSize():
        payload.sealed_personal.CopyFrom(_sealed(key, payload.personal, event.event_id.encode()))
        payload.ClearField("personal")
    ids = event.identifiers
    contact = contact_of(ids)
    if contact is not None:
        ids.sealed.CopyFrom(_sealed(key, contact, event.event_id.encode() + _IDENTIFIERS_TAG))
        ids.ClearField("email")
        ids.ClearField("phone")


def open_personal(sealed: ev.SealedData, key: DataKey, event_id: str) -> ev.PersonalData:
    """The personal data sealed in `sealed` for event `event_id`.

    Raises:
        SealError: wrong key, another event's ciphertext, or tampered bytes.
    """
    box = Sealed(sealed.key_id, sealed.nonce, sealed.ciphertext)
    return ev.PersonalData.FromString(open_sealed(key, box, associated_data=event_id.encode()))


def open_contact(sealed: ev.SealedData, key: DataKey, event_id: str) -> ev.PersonalData:
    """The email and phone sealed in `identifiers.sealed` of event `event_id`.

    Raises:
        SealError: wrong key, another event's (or place's) ciphertext, or tampered bytes.
    """
    box = Sealed(sealed.key_id, sealed.nonce, sealed.ciphertext)
    return ev.PersonalData.FromString(open_sealed(key, box, associated_data=event_id.encode() + _IDENTIFIERS_TAG))


class DataKeyCache:
    """Data keys in memory, by name (a subject or a key id): bounded in size and in age.

    The age bound is what limits how long a process keeps using a key after it was
    shredded elsewhere; the size bound keeps memory flat under many one-off subjects.
    """

    def __init__(self, *, ttl: float, max_size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._max, self._clock = ttl, max_size, clock
        self._entries: OrderedDict[str, tuple[float, DataKey]] = OrderedDict()

    def get(self, name: str) -> DataKey | None:
        hit = self._entries.get(name)
        if hit is None:
            return None
        if self._clock() - hit[0] >= self._ttl:
            del self._entries[name]
            return None
        self._entries.move_to_end(name)
        return hit[1]

    def put(self, name: str, key: DataKey) -> None:
        if self._max <= 0 or self._ttl <= 0:
            return
        self._entries[name] = (self._clock(), key)
        self._entries.move_to_end(name)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, name: str) -> None:
        self._entries.pop(name, None)

    def __len__(self) -> int:
        return len(self._entries)
