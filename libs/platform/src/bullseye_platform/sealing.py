"""Personal data of events, sealed per subject: the one place that knows where it lives.

Ingestion seals an event's `PersonalData` (Identified, SignedUp) into `sealed_personal`
before the event reaches the log; identity opens it. Both must agree on three things,
hence one module: which subject's key seals it (`subject_of`), what the associated data
is (the event id, so a ciphertext cannot be moved to another event), and which payloads
carry personal data.
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

# What a subject may look like: identity validates requests by the same rule.
SUBJECT_PREFIXES = (USER_PREFIX, ANON_PREFIX)


def subject_of(identifiers: ev.Identifiers) -> str:
    """Whose key seals an event's personal data: the user id when known, else the device's
    anonymous id. Erasing a person shreds the keys of all of their subjects."""
    if identifiers.user_id:
        return USER_PREFIX + identifiers.user_id
    return ANON_PREFIX + identifiers.anonymous_id


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


def clear_sealed(event: ev.Event) -> None:
    """Drop a client-sent `sealed_personal`: only ingestion may set it."""
    payload = _payload(event)
    if payload is not None:
        payload.ClearField("sealed_personal")


def seal_personal(event: ev.Event, key: DataKey) -> None:
    """Move the event's personal data into `sealed_personal`, in place; a no-op without any.

    AES-256-GCM under the subject's data key, with the event id as associated data.
    """
    payload = _payload(event)
    if payload is None or payload.personal.ByteSize() == 0:
        return
    sealed = seal(key, payload.personal.SerializeToString(), associated_data=event.event_id.encode())
    payload.sealed_personal.CopyFrom(
        ev.SealedData(key_id=sealed.key_id, nonce=sealed.nonce, ciphertext=sealed.ciphertext)
    )
    payload.ClearField("personal")


def open_personal(sealed: ev.SealedData, key: DataKey, event_id: str) -> ev.PersonalData:
    """The personal data sealed in `sealed` for event `event_id`.

    Raises:
        SealError: wrong key, another event's ciphertext, or tampered bytes.
    """
    box = Sealed(sealed.key_id, sealed.nonce, sealed.ciphertext)
    return ev.PersonalData.FromString(open_sealed(key, box, associated_data=event_id.encode()))


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
