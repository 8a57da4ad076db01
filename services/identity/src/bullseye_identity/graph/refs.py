"""Identifiers between the API's `IdentifierRef` and the graph's keys.

In the graph an email or phone is its keyed hash; an `IdentifierRef` that leaves identity
(an answer, a correction in EVENTS, a RESOLVED fact) names it the same way, never in the clear.
"""

from __future__ import annotations

from bullseye.identity.v1 import identity_pb2 as pb

from bullseye_identity.domain.kinds import ANONYMOUS_ID, DEVICE_ID, EMAIL, HASHED_TYPES, LOYALTY_ID, PHONE, USER_ID, Key

TYPE_NAMES = {
    pb.IDENTIFIER_TYPE_USER_ID: USER_ID,
    pb.IDENTIFIER_TYPE_EMAIL: EMAIL,
    pb.IDENTIFIER_TYPE_PHONE: PHONE,
    pb.IDENTIFIER_TYPE_DEVICE_ID: DEVICE_ID,
    pb.IDENTIFIER_TYPE_ANONYMOUS_ID: ANONYMOUS_ID,
    pb.IDENTIFIER_TYPE_LOYALTY_ID: LOYALTY_ID,
}
TYPE_ENUMS = {name: number for number, name in TYPE_NAMES.items()}
# A link's strength as the graph writes it (graph/changes.py) and as it leaves identity.
STRENGTHS = {"strong": pb.LINK_STRENGTH_STRONG, "weak": pb.LINK_STRENGTH_WEAK, "manual": pb.LINK_STRENGTH_MANUAL}


def ref_of(key: Key) -> pb.IdentifierRef:
    """An identifier as it leaves identity: emails and phones only as their keyed hash
    (none: an empty ref)."""
    if not key[0]:
        return pb.IdentifierRef()
    if key[0] in HASHED_TYPES:
        return pb.IdentifierRef(type=TYPE_ENUMS[key[0]], keyed_hash=key[1])  # type: ignore[arg-type]
    return pb.IdentifierRef(type=TYPE_ENUMS[key[0]], value=key[1])  # type: ignore[arg-type]


def key_of(ref: pb.IdentifierRef) -> Key:
    """The graph key of an identifier named as `ref_of` names it."""
    return TYPE_NAMES[ref.type], ref.keyed_hash or ref.value
