"""Checking the graph RPCs' requests, and converting identifiers between the API and the graph.

Every problem becomes a field violation that names the field and what to send instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bullseye.identity.v1 import identity_pb2 as pb
from bullseye_platform.grpc import InvalidArgument, violation
from bullseye_platform.normalize import normalize_email, normalize_phone
from google.rpc.error_details_pb2 import BadRequest

from bullseye_identity.domain.policy import EMAIL, HASHED_TYPES, Key
from bullseye_identity.graph.refs import TYPE_NAMES
from bullseye_identity.vault.keyring import KeyRing

MAX_ID_LENGTH = 256
MAX_IDENTIFIERS = 100
MAX_REASON_LENGTH = 500
MAX_REQUEST_ID_LENGTH = 128
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")

Violations = list[BadRequest.FieldViolation]


def person_violations(person_id: str, field: str) -> Violations:
    if not person_id.strip() or len(person_id) > MAX_ID_LENGTH:
        return [violation(field, f"needs a person id (1 to {MAX_ID_LENGTH} characters), as Resolve returns it")]
    return []


def reason_violations(reason: str) -> Violations:
    if not reason.strip() or len(reason) > MAX_REASON_LENGTH:
        return [violation("reason", f"needs why (1 to {MAX_REASON_LENGTH} characters): it goes into the history")]
    return []


def request_id_violations(request_id: str) -> Violations:
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        return [violation("request_id", f"is {len(request_id)} characters; at most {MAX_REQUEST_ID_LENGTH}")]
    return []


def check(found: Violations, what: str) -> None:
    """Raises InvalidArgument with every violation, if any."""
    if found:
        raise InvalidArgument(f"invalid {what}: " + "; ".join(f"{v.field} {v.description}" for v in found), found)


def identifier_keys(
    refs: Sequence[pb.IdentifierRef], keyring: KeyRing, *, field: str = "identifiers"
) -> tuple[list[Key], Violations]:
    """The graph keys of `refs` and the violations of the bad ones."""
    if not refs:
        return [], [violation(field, "needs at least one identifier, e.g. {type: IDENTIFIER_TYPE_USER_ID, value: ...}")]
    if len(refs) > MAX_IDENTIFIERS:
        return [], [violation(field, f"has {len(refs)} identifiers; at most {MAX_IDENTIFIERS}")]
    keys: list[Key] = []
    found: Violations = []
    for index, ref in enumerate(refs):
        key, problem = _key_of(ref, keyring, f"{field}[{index}]")
        if problem is not None:
            found.append(problem)
        elif key is not None:
            keys.append(key)
    return keys, found


def _key_of(ref: pb.IdentifierRef, keyring: KeyRing, field: str) -> tuple[Key | None, BadRequest.FieldViolation | None]:
    id_type = TYPE_NAMES.get(ref.type)
    if id_type is None:
        names = ", ".join(pb.IdentifierType.Name(number).removeprefix("IDENTIFIER_TYPE_") for number in TYPE_NAMES)
        return None, violation(f"{field}.type", f"must be one of {names}")
    if id_type in HASHED_TYPES and ref.keyed_hash:
        if not _HEX_HASH.match(ref.keyed_hash):
            return None, violation(f"{field}.keyed_hash", "must be 64 lower-case hex digits, as GetIdentities shows")
        return (id_type, ref.keyed_hash), None
    if ref.keyed_hash:
        return None, violation(f"{field}.keyed_hash", "is only for EMAIL and PHONE; give the value instead")
    if not ref.value.strip() or len(ref.value) > MAX_ID_LENGTH:
        return None, violation(f"{field}.value", f"needs the identifier (1 to {MAX_ID_LENGTH} characters)")
    if id_type not in HASHED_TYPES:
        return (id_type, ref.value), None
    try:
        normal = normalize_email(ref.value) if id_type == EMAIL else normalize_phone(ref.value, region=None)
    except ValueError as exc:
        hint = "" if id_type == EMAIL else " in E.164 form, e.g. +33612345678"
        return None, violation(f"{field}.value", f"{exc}{hint}")
    return (id_type, keyring.hash_identifier(id_type, normal)), None
