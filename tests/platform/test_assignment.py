"""Stable-hash assignment: stable, spread as weighted, monotone in rollouts, and reproducible
in another language (PostgreSQL computes the same points from the documented algorithm)."""

from __future__ import annotations

import itertools
from collections import Counter

import asyncpg
import pytest
from bullseye_platform.assignment import Sha256Hash, arm, point, within

UNITS = [f"person-{n}" for n in range(20_000)]

# The module's algorithm, written in SQL: the bits of the first 8 bytes of SHA-256 over
# namespace, 0x1F, subject, shifted right by 11, over 2^53.
SQL_POSITION = """
SELECT (('x' || encode(substring(sha256(convert_to($1 || chr(31) || s, 'UTF8')) FROM 1 FOR 8), 'hex'))::bit(64)
        >> 11)::bigint::numeric / 9007199254740992 AS p
FROM unnest($2::text[]) WITH ORDINALITY AS u(s, n) ORDER BY n
"""


async def test_another_language_computes_the_same_points(pool: asyncpg.Pool) -> None:
    units = [*UNITS[:500], "é-ünïcode", "", "a\x1fb"]
    rows = await pool.fetch(SQL_POSITION, "spring-sale/arms", units)
    assert [float(r["p"]) for r in rows] == [point("spring-sale/arms", s) for s in units]


def test_a_key_of_parts_is_hashed_as_they_read_joined() -> None:
    """campaign's StableHash port: (namespace, subject) is the point; more parts join the same way."""
    hashed = Sha256Hash()
    assert [hashed.unit("spring-sale/arms", s) for s in UNITS[:100]] == [
        point("spring-sale/arms", s) for s in UNITS[:100]
    ]
    assert hashed.unit("spring", "p1", "arm") == point("spring\x1fp1", "arm") != hashed.unit("spring", "p1", "rollout")


def test_a_subject_always_lands_in_the_same_arm_and_namespaces_decide_independently() -> None:
    arms = [("control", 1), ("variant", 1)]
    first = [arm("exp-1", s, arms) for s in UNITS[:2000]]
    assert first == [arm("exp-1", s, arms) for s in UNITS[:2000]]
    other = [arm("exp-2", s, arms) for s in UNITS[:2000]]
    agree = sum(a == b for a, b in zip(first, other, strict=True)) / 2000
    assert 0.45 < agree < 0.55, "another namespace is a fresh coin, not the same split"


def test_arms_are_filled_in_proportion_to_their_weights() -> None:
    arms = [("a", 70), ("b", 20), ("c", 10)]
    shares = Counter(arm("weights", s, arms) for s in UNITS)
    for name, weight in arms:
        assert abs(shares[name] / len(UNITS) - weight / 100) < 0.015


def test_a_growing_rollout_only_ever_adds_subjects() -> None:
    stages = [0.0, 0.01, 0.1, 0.5, 1.0]
    cohorts = [{s for s in UNITS if within("rollout", s, f)} for f in stages]
    assert cohorts[0] == set() and cohorts[-1] == set(UNITS)
    assert all(a <= b for a, b in itertools.pairwise(cohorts))
    assert abs(len(cohorts[2]) / len(UNITS) - 0.1) < 0.01


@pytest.mark.parametrize("arms", [[], [("a", 0)], [("a", 1), ("b", -2)], [("a", 0.5)]])
def test_arms_without_positive_integer_weights_are_refused(arms: list[tuple[str, int]]) -> None:
    with pytest.raises(ValueError, match="arm"):
        arm("x", "p", arms)


def test_a_fraction_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        within("x", "p", 1.5)
