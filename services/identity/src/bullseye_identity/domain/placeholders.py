"""Values that are not identifiers: what forms, SDKs and templates send when they have none.

A placeholder typed or sent by many shoppers would glue every one of them into one person
(issue 17: `noemail@shop.example` by a dozen guests, `[object Object]` as a user id), so it
never links anyone. The list is Segment's blocked values grown from what the realistic
journeys showed: defaults of forms (`noemail@…`, `test@test.com`, `n/a`), a JavaScript
object printed as text, unrendered template markers (`{{user.id}}`, `${email}`,
`*|EMAIL|*`), and one character repeated (the zero UUID, `xxxx`, a phone number of one digit
repeated). Operators add exact values or `*` patterns (`IDENTITY_BLOCKED_VALUES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bullseye_identity.domain.kinds import PHONE

DEFAULT_VALUES = frozenset(
    {"", "0", "-1", "null", "none", "nil", "undefined", "anonymous", "unknown", "guest", "test", "nan", "n/a", "na",
     "-", "?", "false", "true", "test@test.com", "test@example.com", "email@example.com", "user@example.com"}
)  # fmt: skip
DEFAULT_PATTERNS = (
    "no-email@*", "noemail@*", "no.email@*", "no_email@*", "nomail@*", "none@*", "null@*", "undefined@*",
    "noreply@*", "no-reply@*", "[object *]",
)  # fmt: skip
# Template markers nobody rendered: {{x}}, {x}, ${x}, %x%, <%= x %>, Mailchimp's *|X|*.
_TEMPLATE = r"(?:\{\{.*\}\}|\{[^{}]*\}|\$\{.*\}|%[^%\s]+%|<%.*%>|\*\|.*\|\*)\Z"
# A phone (E.164) whose number after a country code of 1 to 3 digits is one digit repeated.
_REPEATED_PHONE = re.compile(r"\+\d{1,3}(\d)\1{5,}\Z")


@dataclass(frozen=True)
class Placeholders:
    """Exact values (lower case) and `*` patterns never used to link; matching is case-insensitive."""

    values: frozenset[str] = DEFAULT_VALUES
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    _matcher: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One compiled expression for every pattern: this runs for every identifier of every event.
        expressions = [_TEMPLATE, *(_glob(p.lower()) for p in self.patterns)]
        object.__setattr__(self, "_matcher", re.compile("|".join(f"(?:{e})" for e in expressions), re.DOTALL))

    @classmethod
    def with_extra(cls, extra: Iterable[str]) -> Placeholders:
        """The defaults plus an operator's values; an entry with `*` is a pattern."""
        given = [e.strip().lower() for e in extra]
        return cls(
            values=DEFAULT_VALUES | {e for e in given if "*" not in e},
            patterns=(*DEFAULT_PATTERNS, *(e for e in given if "*" in e)),
        )

    def holds(self, id_type: str, value: str) -> bool:
        """True when `value`, sent as an identifier of `id_type`, is a placeholder, not an id
        (a phone is in E.164, as ingestion normalizes it)."""
        text = value.strip().lower()
        if text in self.values or self._matcher.match(text):
            return True
        compact = text.replace("-", "")
        if len(compact) >= 2 and len(set(compact)) == 1:
            return True
        return id_type == PHONE and _REPEATED_PHONE.match(compact) is not None


def _glob(pattern: str) -> str:
    """A pattern whose only wildcard is `*` (any text), as an expression matching the whole
    value: brackets and the rest stand for themselves (`[object *]`), unlike fnmatch's."""
    return ".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z"
