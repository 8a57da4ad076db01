"""Deterministic assignment: the same (namespace, unit) always lands in the same place.

A/B arms, holdouts and rollout stages are a stable hash of the unit assigned (a person id) in a
namespace (a campaign and what is being decided in it, e.g. "spring-sale/arms",
"spring-sale/holdout"): no table to keep, the same answer in every process and after every
replay, and one decision independent of the next when their namespaces differ.

The algorithm, to reproduce it in another language (a test checks it against PostgreSQL's
`sha256`):

1. key = the UTF-8 bytes of `namespace`, one 0x1F byte (unit separator), the UTF-8 bytes of
   `unit`;
2. h = the first 8 bytes of SHA-256(key) as an unsigned big-endian integer; u = h >> 11, the
   top 53 bits (0 <= u < 2**53);
3. the point is u / 2**53, exactly representable as a double, in [0, 1);
4. a rollout or holdout of fraction f holds the unit when point < f: growing f only ever
   adds units (a person in the 10% stage stays in at 20%);
5. arms with integer weights w_1..w_n (W = their sum) give the first arm i with
   u * W < (w_1 + ... + w_i) * 2**53, in integers, so no rounding decides a border case.

A key of more parts (`Sha256Hash.unit`, what campaign's `StableHash` port asks for) joins
them all with 0x1F the same way, so `unit(namespace, subject) == point(namespace, subject)`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SEPARATOR = b"\x1f"
SCALE = 1 << 53


def _bits(*parts: str) -> int:
    digest = hashlib.sha256(SEPARATOR.join(part.encode() for part in parts)).digest()
    return int.from_bytes(digest[:8], "big") >> 11


def point(namespace: str, unit: str) -> float:
    """The unit's place in [0, 1) for this namespace."""
    return _bits(namespace, unit) / SCALE


class Sha256Hash:
    """This algorithm behind a service's own port (campaign's `StableHash`): `unit(*parts)` is
    the place in [0, 1) of the key made of all the parts, e.g. (campaign, person, salt)."""

    def unit(self, *parts: str) -> float:
        return _bits(*parts) / SCALE


def within(namespace: str, unit: str, fraction: float) -> bool:
    """Whether the unit is in the first `fraction` of the namespace (a rollout stage, a holdout).

    Raises:
        ValueError: `fraction` is outside [0, 1].
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    return point(namespace, unit) < fraction


def arm(namespace: str, unit: str, arms: Sequence[tuple[str, int]]) -> str:
    """The arm the unit is in, among `(name, weight)` arms in the order given.

    Keep the order and the weights of a running experiment: they decide who is where.

    Raises:
        ValueError: no arm, or a weight that is not a positive integer.
    """
    if not arms:
        raise ValueError("at least one arm is needed")
    if any(not isinstance(weight, int) or weight <= 0 for _, weight in arms):
        raise ValueError(f"arm weights must be positive integers: {list(arms)}")
    scaled = _bits(namespace, unit) * sum(weight for _, weight in arms)
    reached = 0
    for name, weight in arms:
        reached += weight
        if scaled < reached * SCALE:
            return name
    raise AssertionError("unreachable: u < 2**53 makes the last arm hold")
