"""Segment rules compiled once into a tree of closures over a Profile message.

`compile_rule` checks the whole rule (every problem is reported, each with the path of the
offending field inside the request, e.g. "segment.rule.all_of.rules[1].compare.field") and
returns a predicate `(profile, now_ns) -> bool`. Evaluation is in memory; no part of a rule
ever reaches SQL.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable
from typing import Any

from bullseye.profile.v1.profile_pb2 import Profile
from bullseye.profile.v1.segments_pb2 import (
    Compare,
    EventCount,
    Exists,
    In,
    NotFollowedBy,
    Operator,
    Rule,
    RuleList,
    TagCondition,
)
from bullseye_platform.grpc import violation
from google.rpc.error_details_pb2 import BadRequest

from bullseye_profile.domain import tags as tag_rules
from bullseye_profile.segments import events
from bullseye_profile.segments.fields import FieldRef, Kind, PathError, resolve
from bullseye_profile.segments.literals import Ago, LiteralError, Operand, typed

Predicate = Callable[[Profile, int], bool]
MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_IN_VALUES = 1000
TAG_NAMES = tuple(rule.name for rule in tag_rules.RULES)

_OPS: dict[int, Callable[[Any, Any], bool]] = {
    Operator.OPERATOR_EQ: operator.eq,
    Operator.OPERATOR_NE: operator.ne,
    Operator.OPERATOR_LT: operator.lt,
    Operator.OPERATOR_LE: operator.le,
    Operator.OPERATOR_GT: operator.gt,
    Operator.OPERATOR_GE: operator.ge,
}
_EQUALITY_ONLY = {Kind.STRING, Kind.ENUM, Kind.BOOL}
_IN_KINDS = {Kind.STRING, Kind.ENUM, Kind.INT, Kind.DOUBLE}


class RuleError(ValueError):
    """The rule is invalid; `violations` say where and what to fix."""

    def __init__(self, violations: list[BadRequest.FieldViolation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


def compile_rule(rule: Rule, *, at: str = "rule") -> Predicate:
    """The predicate of `rule`; `at` is the rule's path in the request, for error paths.

    Raises:
        RuleError: with one violation per problem found.
    """
    compiler = _Compiler()
    predicate = compiler.rule(rule, at, depth=1)
    if compiler.conditions > MAX_CONDITIONS:
        compiler.fail(at, f"has {compiler.conditions} conditions; at most {MAX_CONDITIONS}")
    if compiler.violations:
        raise RuleError(compiler.violations)
    return predicate


def _never(_: Profile, __: int) -> bool:
    return False


class _Compiler:
    def __init__(self) -> None:
        self.violations: list[BadRequest.FieldViolation] = []
        self.conditions = 0

    def fail(self, field: str, description: str) -> Predicate:
        self.violations.append(violation(field, description))
        return _never

    def rule(self, rule: Rule, at: str, *, depth: int) -> Predicate:
        kind = rule.WhichOneof("kind")
        if kind is None:
            return self.fail(at, "set one condition: all_of, any_of, none_of, compare, in, exists, tag, "
                             "event_count or not_followed_by")  # fmt: skip
        if depth > MAX_DEPTH:
            return self.fail(at, f"nested too deep; at most {MAX_DEPTH} levels")
        self.conditions += 1
        here = f"{at}.{kind}"
        if kind in ("all_of", "any_of", "none_of"):
            return self.combine(kind, getattr(rule, kind), here, depth)
        # `in` is a Python keyword: the oneof member "in" is built by the method "in_".
        build: Callable[[Any, str], Predicate] = getattr(self, "in_" if kind == "in" else kind)
        return build(getattr(rule, kind), here)

    def combine(self, kind: str, rules: RuleList, at: str, depth: int) -> Predicate:
        if not rules.rules:
            return self.fail(f"{at}.rules", f"{kind} needs at least one rule")
        parts = tuple(self.rule(r, f"{at}.rules[{i}]", depth=depth + 1) for i, r in enumerate(rules.rules))
        if kind == "all_of":
            return lambda p, now: all(part(p, now) for part in parts)
        if kind == "any_of":
            return lambda p, now: any(part(p, now) for part in parts)
        return lambda p, now: not any(part(p, now) for part in parts)

    def field(self, path: str, at: str) -> FieldRef | None:
        try:
            return resolve(path)
        except PathError as exc:
            self.fail(at, str(exc))
            return None

    def operand(self, literal: Any, ref: FieldRef, at: str) -> Operand | None:
        try:
            return typed(literal, ref)
        except LiteralError as exc:
            self.fail(at, str(exc))
            return None

    def op(self, op: int, ref: FieldRef | None, at: str) -> Callable[[Any, Any], bool] | None:
        if op not in _OPS:
            self.fail(at, "set an operator: EQ, NE, LT, LE, GT or GE")
            return None
        if ref is not None and ref.kind in _EQUALITY_ONLY and op not in (Operator.OPERATOR_EQ, Operator.OPERATOR_NE):
            self.fail(at, f"{ref.path} is {ref.kind.value}: only EQ and NE apply (use `in` for several values)")
            return None
        return _OPS[op]

    def compare(self, condition: Compare, at: str) -> Predicate:
        ref = self.field(condition.field, f"{at}.field")
        if ref is not None and ref.kind is Kind.MESSAGE:
            self.fail(f"{at}.field", f"{ref.path} is a group of fields; compare one of: {', '.join(ref.children)}")
            ref = None
        test = self.op(condition.op, ref, f"{at}.op")
        if ref is None or test is None:
            return _never
        right = self.operand(condition.value, ref, f"{at}.value")
        if right is None:
            return _never
        return _comparison(ref, test, right)

    def in_(self, condition: In, at: str) -> Predicate:
        ref = self.field(condition.field, f"{at}.field")
        if ref is not None and ref.kind not in _IN_KINDS:
            self.fail(f"{at}.field", f"{ref.path} is {ref.kind.value}; `in` takes strings, enums and numbers")
            ref = None
        if not 1 <= len(condition.values) <= MAX_IN_VALUES:
            return self.fail(f"{at}.values", f"has {len(condition.values)} values; give 1 to {MAX_IN_VALUES}")
        if ref is None:
            return _never
        values = [self.operand(v, ref, f"{at}.values[{i}]") for i, v in enumerate(condition.values)]
        allowed = frozenset(v for v in values if v is not None)
        get = ref.get
        return lambda p, now: get(p) in allowed

    def exists(self, condition: Exists, at: str) -> Predicate:
        ref = self.field(condition.field, f"{at}.field")
        if ref is None:
            return _never
        get = ref.get
        return lambda p, now: bool(get(p))

    def tag(self, condition: TagCondition, at: str) -> Predicate:
        name = condition.name
        if name not in TAG_NAMES:
            close = difflib.get_close_matches(name, TAG_NAMES, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"declared tags: {', '.join(TAG_NAMES)}"
            return self.fail(f"{at}.name", f"unknown tag {name[:60]!r}; {hint}")
        return lambda p, now: any(t.name == name for t in p.tags)

    def event_count(self, condition: EventCount, at: str) -> Predicate:
        test = self.op(condition.op, None, f"{at}.op")
        if condition.count < 0:
            self.fail(f"{at}.count", "must be 0 or more")
        window = condition.window if condition.HasField("window") else None
        try:
            get = events.count_getter(condition.event_type, window, at)
        except events.ConditionError as exc:
            return self.fail(exc.field, str(exc))
        if test is None:
            return _never
        count = int(condition.count)
        return lambda p, now: test(get(p), count)

    def not_followed_by(self, condition: NotFollowedBy, at: str) -> Predicate:
        try:
            return events.not_followed(condition, at)
        except events.ConditionError as exc:
            return self.fail(exc.field, str(exc))


def _comparison(ref: FieldRef, test: Callable[[Any, Any], bool], right: Operand) -> Predicate:
    """An absent field (None) never compares, NE included: use exists for presence."""
    get = ref.get
    if isinstance(right, Ago):
        nanos = right.nanos

        def relative(p: Profile, now: int) -> bool:
            left = get(p)
            return left is not None and test(left, now - nanos)

        return relative

    def absolute(p: Profile, now: int) -> bool:
        left = get(p)
        return left is not None and test(left, right)

    return absolute
