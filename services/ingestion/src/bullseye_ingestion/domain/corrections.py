"""Validation of identity's corrections before they are appended to EVENTS.

Ingestion checks the shape only: whether the persons exist or a merge breaks a limit is for
the resolver to decide when it reaches the record. What it must refuse is anything that
would put personal data in the clear into EVENTS: a split names emails and phones by their
keyed hash only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.identity.v1 import identity_pb2 as idpb
from bullseye_platform.inputs.rules import DEFAULT_MAX_LENGTH as MAX_ID

from bullseye_ingestion.domain.validation import EVENT_ID, Violation, Violations, v, valid_timestamp

MAX_CORRECTIONS = 100
MAX_IDENTIFIERS = 100
MAX_REASON = 500
HASHED = (idpb.IDENTIFIER_TYPE_EMAIL, idpb.IDENTIFIER_TYPE_PHONE)
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")


def validate_corrections(
    corrections: Sequence[cpb.IdentityCorrection], *, now: float, future_tolerance: float
) -> list[Violation]:
    """Every violation, paths prefixed `corrections[i].`; empty means all may be appended."""
    if not corrections:
        return [v("corrections", "needs at least one correction")]
    if len(corrections) > MAX_CORRECTIONS:
        return [v("corrections", f"has {len(corrections)} corrections; at most {MAX_CORRECTIONS}")]
    found: list[Violation] = []
    for index, correction in enumerate(corrections):
        for problem in _correction(correction, latest=now + future_tolerance):
            found.append(v(f"corrections[{index}].{problem.field}", problem.description))
    return found


def _correction(c: cpb.IdentityCorrection, *, latest: float) -> Violations:
    if not EVENT_ID.fullmatch(c.command_id):
        yield v("command_id", "is required: 8-128 characters of [A-Za-z0-9._:-] (identity derives a UUID)")
    if not c.HasField("occurred_at") or not valid_timestamp(c.occurred_at):
        yield v("occurred_at", "is required: when the operator asked")
    elif c.occurred_at.seconds > latest:
        yield v("occurred_at", "is in the future (identity's clock or ours is off)")
    if not c.reason.strip() or len(c.reason) > MAX_REASON:
        yield v("reason", f"needs why (1 to {MAX_REASON} characters)")
    command = c.WhichOneof("command")
    if command == "merge":
        yield from _person("merge.person_id", c.merge.person_id)
        yield from _person("merge.other_person_id", c.merge.other_person_id)
    elif command == "split":
        yield from _person("split.person_id", c.split.person_id)
        yield from _identifiers("split.identifiers", c.split.identifiers)
    else:
        yield v("command", "is required; set exactly one of merge, split")


def _person(path: str, person_id: str) -> Violations:
    if not person_id.strip() or len(person_id) > MAX_ID:
        yield v(path, f"needs a person id (1 to {MAX_ID} characters)")


def _identifiers(path: str, refs: Sequence[idpb.IdentifierRef]) -> Violations:
    if not 0 < len(refs) <= MAX_IDENTIFIERS:
        yield v(path, f"needs 1 to {MAX_IDENTIFIERS} identifiers")
        return
    for index, ref in enumerate(refs):
        at = f"{path}[{index}]"
        if ref.type not in idpb.IdentifierType.values() or ref.type == idpb.IDENTIFIER_TYPE_UNSPECIFIED:
            yield v(f"{at}.type", "must be one of USER_ID, LOYALTY_ID, EMAIL, PHONE, DEVICE_ID, ANONYMOUS_ID")
        elif ref.type in HASHED:
            if ref.value or not _HEX_HASH.match(ref.keyed_hash):
                yield v(at, "an email or phone goes into EVENTS as its keyed_hash only (64 hex digits), never in clear")
        elif ref.keyed_hash or not ref.value.strip() or len(ref.value) > MAX_ID:
            yield v(f"{at}.value", f"needs the identifier (1 to {MAX_ID} characters) and no keyed_hash")
