"""The person vault: the contact points each subject gave, sealed, and the deliverable one.

A contact row belongs to a subject ("user:<id>", "anon:<id>", "loyalty:<id>", or the
"email:"/"phone:" keyed hash of an event identified only by a contact point), not to a
person: persons merge and split, subjects do not. The person's contacts are those of the
subjects that resolve to it, found at send time through the graph's `identifiers` table.
Addresses and first names are sealed with the subject's data key (associated data:
subject, channel and address hash, so a row cannot be swapped with another), so shredding
the subject's key makes them unreadable; the keyed hash finds the same address given by
someone else.

Who an address belongs to when two persons gave it (a shared mailbox, a recycled number)
depends on the trust of the sources that said so (receipt.trust, README "Trust"): a
verified source's later claim takes the address from everyone who gave it earlier, and
from every unverified claimant whenever they gave it; an unverified claim takes it from
no one. So a key anyone can read out of a web page cannot make a person's address
undeliverable, and a till that saw a member's card can still move a recycled number to
its new owner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.crypto import Sealed, open_sealed, seal
from bullseye_platform.sealing import ANON_PREFIX, EMAIL_PREFIX, LOYALTY_PREFIX, PHONE_PREFIX, USER_PREFIX
from bullseye_platform.store.pool import Connection

from bullseye_identity.vault.keyring import KeyRing

EMAIL, SMS = "email", "sms"
_HASH_KIND = {EMAIL: "email", SMS: "phone"}

# The newest statement of a subject's address wins; once a verified source gave it, the
# subject's claim to it stays verified.
_UPSERT = """
INSERT INTO contacts AS c (subject, channel, address_hash, key_id, nonce, ciphertext, occurred_at, event_id, verified)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (subject, channel, address_hash) DO UPDATE
SET key_id = CASE WHEN c.occurred_at < excluded.occurred_at THEN excluded.key_id ELSE c.key_id END,
    nonce = CASE WHEN c.occurred_at < excluded.occurred_at THEN excluded.nonce ELSE c.nonce END,
    ciphertext = CASE WHEN c.occurred_at < excluded.occurred_at THEN excluded.ciphertext ELSE c.ciphertext END,
    event_id = CASE WHEN c.occurred_at < excluded.occurred_at THEN excluded.event_id ELSE c.event_id END,
    occurred_at = greatest(c.occurred_at, excluded.occurred_at),
    verified = c.verified OR excluded.verified
WHERE c.occurred_at < excluded.occurred_at OR (excluded.verified AND NOT c.verified)
"""

# The person each asked id is now (merges may chain): (asked, current).
_CURRENT = """
WITH RECURSIVE chain(asked, person_id, merged_into, depth) AS (
    SELECT p.person_id, p.person_id, p.merged_into, 0 FROM persons p WHERE p.person_id = ANY($1::text[])
    UNION ALL SELECT c.asked, p.person_id, p.merged_into, c.depth + 1
    FROM persons p JOIN chain c ON p.person_id = c.merged_into WHERE c.depth < 64
)
SELECT asked, person_id FROM chain WHERE merged_into IS NULL
"""

# Every person folded into each of `$1` (merges may chain), then their identifiers that are
# subjects (an identifier's type names the subject's prefix, $2: {type: prefix}; an email or
# phone subject is its keyed hash, which is what the identifier holds) or app devices, newest
# first. A device marked shared (a family tablet, seen logged in with several user ids:
# graph/healing.py) is left out: a push there may be read by someone else.
_IDENTIFIERS = """
WITH RECURSIVE members(owner, person_id) AS (
    SELECT s, s FROM unnest($1::text[]) AS s
    UNION SELECT m.owner, p.person_id FROM persons p JOIN members m ON p.merged_into = m.person_id
)
SELECT m.owner, i.id_type, i.id_value, ($2::jsonb ->> i.id_type) || i.id_value AS subject
FROM identifiers i JOIN members m ON i.person_id = m.person_id
WHERE $2::jsonb ? i.id_type
   OR (i.id_type = 'device_id' AND NOT EXISTS (
       SELECT 1 FROM shared_values s WHERE s.id_type = i.id_type AND s.id_value = i.id_value))
ORDER BY m.owner, i.last_seen DESC, i.id_value
"""

# Per (owner, channel) the newest contact of the owner's subjects; a contact is not
# deliverable when a subject of ANOTHER person took its address (a recycled phone number, a
# shared mailbox): a verified claim given later, or any verified claim against an unverified
# contact (see the module). Shredded keys make a contact unreadable.
_CANDIDATES = """
SELECT DISTINCT ON (s.owner, c.channel) s.owner, c.channel, c.subject, c.address_hash, c.key_id, c.nonce,
       c.ciphertext, c.occurred_at, k.wrapped
FROM unnest($1::text[], $2::text[]) AS s(owner, subject)
JOIN contacts c ON c.subject = s.subject AND c.channel = ANY($3::text[])
JOIN data_keys k ON k.key_id = c.key_id AND k.wrapped IS NOT NULL
WHERE NOT EXISTS (
    SELECT 1 FROM contacts o
    WHERE o.channel = c.channel AND o.address_hash = c.address_hash AND o.verified
      AND (o.occurred_at > c.occurred_at OR NOT c.verified)
      AND NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS t(owner, subject)
                      WHERE t.owner = s.owner AND t.subject = o.subject)
)
ORDER BY s.owner, c.channel, c.occurred_at DESC, c.event_id DESC
"""
# The subject prefix of each identifier type that names a subject (see sealing.subject_of).
_SUBJECT_PREFIXES = json.dumps(
    {"user_id": USER_PREFIX, "anonymous_id": ANON_PREFIX, "loyalty_id": LOYALTY_PREFIX, "email": EMAIL_PREFIX,
     "phone": PHONE_PREFIX}
)  # fmt: skip


@dataclass(frozen=True)
class Contact:
    """A deliverable address, in the clear: hand it to the caller, never store or log it."""

    address: str
    first_name: str
    updated_at: datetime


def _context(subject: str, channel: str, address_hash: str) -> bytes:
    return f"contact\x00{subject}\x00{channel}\x00{address_hash}".encode()


def _addresses(personal: ev.PersonalData) -> list[tuple[str, str]]:
    found = [(EMAIL, personal.email), (SMS, personal.phone)]
    return [(channel, address) for channel, address in found if address]


async def record(
    conn: Connection, keyring: KeyRing, *, subject: str, personal: ev.PersonalData, event: ev.Event, verified: bool
) -> None:
    """Keep the email and phone of `personal` as contacts of `subject` (its stored name; newest
    wins), `verified` when the event's source is.

    Called by the resolution projection, in its transaction, once per event that carries
    personal data; replays are harmless. Nothing is kept once the subject's key is shredded.
    """
    key = await keyring.subject_key(conn, subject)
    if key is None:
        return
    for channel, address in _addresses(personal):
        address_hash = keyring.hash_identifier(_HASH_KIND[channel], address)
        plain = ev.PersonalData(first_name=personal.first_name)
        setattr(plain, "email" if channel == EMAIL else "phone", address)
        sealed = seal(key, plain.SerializeToString(), associated_data=_context(subject, channel, address_hash))
        occurred_at = event.occurred_at.ToDatetime(tzinfo=None).replace(tzinfo=UTC)
        row = (subject, channel, address_hash, sealed.key_id, sealed.nonce, sealed.ciphertext)
        await conn.execute(_UPSERT, *row, occurred_at, event.event_id, verified)


@dataclass(frozen=True)
class Reach:
    """Where one person can be reached: subjects (for contacts) and app devices, newest first."""

    subjects: list[str]
    device_ids: list[str]


async def current_persons(conn: Connection, person_ids: list[str]) -> dict[str, str]:
    """asked id -> the person it is now (following merges); unknown ids are left out."""
    rows = await conn.fetch(_CURRENT, person_ids)
    return {r["asked"]: r["person_id"] for r in rows}


async def current_person(conn: Connection, person_id: str) -> str | None:
    """The person that `person_id` is now (following merges); None when it is unknown."""
    return (await current_persons(conn, [person_id])).get(person_id)


async def reach_of(conn: Connection, person_ids: list[str]) -> dict[str, Reach]:
    """Per person (a survivor of merges), the subjects and devices of it and of every person merged into it."""
    reach = {person_id: Reach([], []) for person_id in person_ids}
    for r in await conn.fetch(_IDENTIFIERS, person_ids, _SUBJECT_PREFIXES):
        found = reach[r["owner"]]
        if r["subject"] is None:  # a device
            found.device_ids.append(r["id_value"])
        else:
            found.subjects.append(r["subject"])
    return reach


async def subjects_of(conn: Connection, person_id: str) -> list[str]:
    """The subjects of a person (the survivor of merges) and of every person merged into it."""
    return (await reach_of(conn, [person_id]))[person_id].subjects


async def deliverable_many(
    conn: Connection, keyring: KeyRing, *, subjects: dict[str, list[str]], channels: tuple[str, ...] = (EMAIL, SMS)
) -> dict[tuple[str, str], Contact]:
    """(owner, channel) -> the newest contact of the owner's subjects that no one else took
    (see the module); pairs without one are left out. One query for every owner and channel."""
    owners = [owner for owner, owned in subjects.items() for _ in owned]
    flat = [subject for owned in subjects.values() for subject in owned]
    found = {}
    for row in await conn.fetch(_CANDIDATES, owners, flat, list(channels)):
        key = keyring.unwrap(row["key_id"], row["wrapped"])
        sealed = Sealed(row["key_id"], row["nonce"], row["ciphertext"])
        context = _context(row["subject"], row["channel"], row["address_hash"])
        plain = ev.PersonalData.FromString(open_sealed(key, sealed, associated_data=context))
        address = plain.email if row["channel"] == EMAIL else plain.phone
        found[(row["owner"], row["channel"])] = Contact(address, plain.first_name, row["occurred_at"])
    return found


async def deliverable(conn: Connection, keyring: KeyRing, *, subjects: list[str], channel: str) -> Contact | None:
    """The newest contact of `subjects` on `channel` that no one else took, or None."""
    found = await deliverable_many(conn, keyring, subjects={"": subjects}, channels=(channel,))
    return found.get(("", channel))


async def forget(conn: Connection, subjects: list[str]) -> int:
    """Purge the contacts of `subjects` (erasure: their keys are shredded as well)."""
    status = await conn.execute("DELETE FROM contacts WHERE subject = ANY($1::text[])", subjects)
    return int(status.split()[-1])
