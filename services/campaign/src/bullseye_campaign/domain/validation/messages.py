"""What is sent: channels, variants with weights, the holdout, and each channel's templates."""

from __future__ import annotations

import re

from bullseye.campaign.v1 import definition_pb2 as cpb

from bullseye_campaign.domain.templates import Templates
from bullseye_campaign.domain.violations import Violations

C = cpb.Channel
CONTROL = "control"  # the holdout's arm name, reserved
VARIANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MAX_VARIANTS, MAX_HOLDOUT, MAX_SHORT = 10, 50, 1_000
# Which template fields each channel uses: required, and allowed but optional.
_REQUIRED = {
    C.CHANNEL_EMAIL: ("subject", "body"),
    C.CHANNEL_PUSH: ("title", "body"),
    C.CHANNEL_IN_APP: ("title", "body"),
    C.CHANNEL_SMS: ("body",),
    C.CHANNEL_WEBHOOK: ("body",),
}
_OPTIONAL = {C.CHANNEL_EMAIL: ("url",), C.CHANNEL_PUSH: ("url",), C.CHANNEL_IN_APP: ("url",)}
_TEMPLATE_FIELDS = ("subject", "title", "body", "url")


def channel_name(channel: int) -> str:
    """The contract's name of `channel`, or what to call a number it does not know (a newer or
    a garbled client's): a message about it must not fail itself."""
    return C.Name(channel) if channel in C.values() else f"channel {channel} (not in the contract)"  # type: ignore[arg-type]


def check(problems: Violations, campaign: cpb.Campaign, *, templates: Templates, launch: bool) -> None:
    channels = _channels(problems, campaign, launch=launch)
    _variants(problems, campaign, launch=launch)
    for i, variant in enumerate(campaign.variants):
        _contents(problems.at(f"variants[{i}]"), variant, channels, templates=templates, launch=launch)
    if not 0 <= campaign.holdout_percent <= MAX_HOLDOUT:
        problems.add("holdout_percent", f"0 to {MAX_HOLDOUT} (percent of the audience held out as the control)")


def _channels(problems: Violations, campaign: cpb.Campaign, *, launch: bool) -> set[int]:
    if not campaign.channels and launch:
        problems.required("channels", "at least one channel (push, sms, email, in_app, webhook)")
    seen: set[int] = set()
    for i, channel in enumerate(campaign.channels):
        if channel == C.CHANNEL_UNSPECIFIED:
            problems.add(f"channels[{i}]", "CHANNEL_UNSPECIFIED is not a channel")
        elif channel not in C.values():
            problems.add(f"channels[{i}]", f"{channel_name(channel)}: one of push, sms, email, in_app, webhook")
            continue  # not a channel of the campaign: no content is asked for it
        elif channel in seen:
            problems.add(f"channels[{i}]", f"{channel_name(channel)} is listed twice")
        seen.add(channel)
    return seen


def _variants(problems: Violations, campaign: cpb.Campaign, *, launch: bool) -> None:
    variants = campaign.variants
    if not variants:
        if launch:
            problems.required("variants", "at least one variant (weight 100 when alone)")
        return
    if len(variants) > MAX_VARIANTS:
        problems.add("variants", f"at most {MAX_VARIANTS} variants")
    seen: set[str] = set()
    for i, variant in enumerate(variants):
        _variant_identity(problems.at(f"variants[{i}]"), variant, seen)
    total = sum(v.weight for v in variants)
    if total != 100 and all(1 <= v.weight <= 100 for v in variants):
        listed = " + ".join(str(v.weight) for v in variants)
        problems.add("variants", f"weights must sum to 100, got {listed} = {total}")


def _variant_identity(problems: Violations, variant: cpb.Variant, seen: set[str]) -> None:
    if not VARIANT_ID.fullmatch(variant.variant_id):
        problems.add("variant_id", "1-32 of [a-z0-9-], starting with a letter or digit")
    elif variant.variant_id == CONTROL:
        problems.add("variant_id", "'control' is reserved for the holdout")
    elif variant.variant_id in seen:
        problems.add("variant_id", f"{variant.variant_id!r} is used by another variant")
    seen.add(variant.variant_id)
    if len(variant.name) > 200:
        problems.add("name", "at most 200 characters")
    if not 1 <= variant.weight <= 100:
        problems.add("weight", f"1 to 100 (percent of the messaged audience), got {variant.weight}")


def _contents(
    problems: Violations, variant: cpb.Variant, channels: set[int], *, templates: Templates, launch: bool
) -> None:
    covered: set[int] = set()
    for i, content in enumerate(variant.contents):
        where = problems.at(f"contents[{i}]")
        if content.channel not in channels:
            where.add("channel", f"{channel_name(content.channel)} is not one of the campaign's channels")
        elif content.channel in covered:
            where.add("channel", f"{channel_name(content.channel)} has two contents in this variant")
        else:
            _templates(where, content, templates)
        covered.add(content.channel)
    for channel in sorted(channels - covered) if launch else ():
        if channel != C.CHANNEL_UNSPECIFIED:
            problems.required("contents", f"a content for {channel_name(channel)}")


def _templates(problems: Violations, content: cpb.Content, templates: Templates) -> None:
    required = _REQUIRED[content.channel]
    allowed = required + _OPTIONAL.get(content.channel, ())
    for name in _TEMPLATE_FIELDS:
        source: str = getattr(content, name)
        if not source:
            if name in required:
                problems.add(name, f"required for {channel_name(content.channel)}")
            continue
        if name not in allowed:
            problems.add(name, f"not used by {channel_name(content.channel)}: leave it empty")
        elif name != "body" and len(source) > MAX_SHORT:
            problems.add(name, f"at most {MAX_SHORT} characters")
        elif problem := templates.check(source):
            problems.add(name, str(problem))
