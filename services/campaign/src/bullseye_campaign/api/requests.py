"""Checks of request fields that are not a campaign's definition: ids, page sizes and tokens."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.grpc import InvalidArgument, NotFound, violation

from bullseye_campaign.domain.validation.ids import id_problem

MAX_PERSON_ID, MAX_REASON = 256, 500


def invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {description}", [violation(field, description)])


def campaign_id(value: str, field: str = "campaign_id") -> str:
    if problem := id_problem(value, field):
        raise invalid(field, problem)
    return value


def person_id(value: str, field: str = "person_id") -> str:
    if not 0 < len(value) <= MAX_PERSON_ID:
        raise invalid(field, f"a person id of 1 to {MAX_PERSON_ID} characters")
    return value


def reason(value: str) -> str:
    if len(value) > MAX_REASON:
        raise invalid("reason", f"at most {MAX_REASON} characters")
    return value


def states(values: list[int], field: str = "states") -> list[int]:
    """States to list by: each one of the contract's (an unknown number reached the database
    as an out-of-range smallint, an INTERNAL error the fuzzed-request test found)."""
    known = [v for v in cpb.CampaignState.values() if v != cpb.CAMPAIGN_STATE_UNSPECIFIED]
    for index, value in enumerate(values):
        if value not in known:
            names = ", ".join(cpb.CampaignState.Name(v) for v in known)
            raise invalid(f"{field}[{index}]", f"unknown state {value}: one of {names}")
    return values


def page_size(value: int, *, default: int, most: int, field: str = "page_size") -> int:
    if value == 0:
        return default
    if not 1 <= value <= most:
        raise invalid(field, f"1 to {most} (0 means {default})")
    return value


def token(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def untoken(value: str, count: int, field: str = "page_token") -> list[str]:
    """The parts of a page token this service made (empty: the first page)."""
    if not value:
        return [""] * count
    try:
        parts = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (binascii.Error, ValueError):
        parts = None
    if not isinstance(parts, list) or len(parts) != count or not all(isinstance(p, str) for p in parts):
        raise invalid(field, "not a token this service gave: pass next_page_token as it came")
    return parts


def moment(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def not_found(campaign: str) -> NotFound:
    return NotFound(f"no campaign {campaign!r}", reason="CAMPAIGN_NOT_FOUND", metadata={"campaign_id": campaign})
