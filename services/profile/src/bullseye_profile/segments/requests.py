"""Checks of segment requests: ids, names, page sizes and tokens, with precise violations."""

from __future__ import annotations

import base64
import binascii
import re
import uuid

from bullseye.profile.v1 import segments_pb2 as pb
from bullseye_platform.grpc import InvalidArgument, violation
from google.rpc.error_details_pb2 import BadRequest

from bullseye_profile.segments.rules import RuleError, compile_rule

SEGMENT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_PERSON_ID = 200
Violations = list[BadRequest.FieldViolation]


def raise_if(violations: Violations, what: str) -> None:
    """Raises InvalidArgument listing `violations`, if any."""
    if violations:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations[:3])
        more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
        raise InvalidArgument(f"{what} is invalid: {summary}{more}", violations)


def segment_id_problems(value: str, field: str) -> Violations:
    if not value:
        return [violation(field, "set a segment id")]
    if not SEGMENT_ID.fullmatch(value):
        return [violation(field, "must be 1-63 of a-z, 0-9 and '-', starting with a letter or digit")]
    return []


def check_segment_id(value: str, field: str = "segment_id") -> str:
    raise_if(segment_id_problems(value, field), field)
    return value


def check_person_id(value: str, field: str = "person_id") -> str:
    if not value or len(value) > MAX_PERSON_ID:
        raise_if([violation(field, f"set a person id of 1 to {MAX_PERSON_ID} characters")], field)
    return value


def rule_problems(rule: pb.Rule, has_rule: bool, at: str) -> Violations:
    if not has_rule:
        return [violation(at, "set a rule")]
    try:
        compile_rule(rule, at=at)
    except RuleError as exc:
        return exc.violations
    return []


def checked_segment(request_segment: pb.Segment, present: bool, *, creating: bool) -> pb.Segment:
    """The writable part of a Segment (id, name, description, rule), checked.

    On create an empty id is replaced by a generated one.
    """
    if not present:
        raise_if([violation("segment", "set the segment")], "segment")
    s = request_segment
    problems: Violations = []
    segment_id = s.segment_id if s.segment_id or not creating else str(uuid.uuid4())
    problems += segment_id_problems(segment_id, "segment.segment_id")
    if not 1 <= len(s.name) <= MAX_NAME:
        problems.append(violation("segment.name", f"set a name of 1 to {MAX_NAME} characters"))
    if len(s.description) > MAX_DESCRIPTION:
        problems.append(violation("segment.description", f"at most {MAX_DESCRIPTION} characters"))
    problems += rule_problems(s.rule, s.HasField("rule"), "segment.rule")
    raise_if(problems, "segment")
    return pb.Segment(segment_id=segment_id, name=s.name, description=s.description, rule=s.rule)


def page_size(value: int, *, default: int, most: int, field: str = "page_size") -> int:
    if value == 0:
        return default
    if not 1 <= value <= most:
        raise_if([violation(field, f"must be 1 to {most} (0 means {default})")], field)
    return value


def page_token(value: str) -> str:
    return base64.urlsafe_b64encode(f"after:{value}".encode()).decode() if value else ""


def after(token: str, field: str = "page_token") -> str:
    """The key a page token resumes after ('' for the first page)."""
    if not token:
        return ""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("after:"):
        raise_if([violation(field, "not a page token from this API; pass next_page_token as given")], field)
    return text.removeprefix("after:")
