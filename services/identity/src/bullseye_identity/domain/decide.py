"""Which person an event belongs to, and what it changes in the graph. Pure: no I/O.

The rules, for an event whose identifiers (blocked values dropped) are ordered by priority:

1. None is known: the event starts a new person that gets all of them.
2. The known ones belong to several persons: they are merged into the oldest (smallest
   creating sequence, then id), unless the union would hold more identifiers of a type than
   its limit (two user ids, too many devices): then nothing merges, the conflict is
   recorded, and the event goes to the *anchor*, the person of its highest-priority known
   identifier.
3. Unknown identifiers attach to that person where its limits allow; one that does not fit
   is not attached and is recorded as a conflict ...
4. ... unless it outranks every known identifier of the event (a user id u2 arriving on a
   browser whose anonymous id belongs to the person of user id u1): then the event is not
   that person's at all. It starts a new person holding the event's unknown identifiers,
   nothing merges, and the shared lower-priority identifiers stay where they were (claimed
   by both persons, which is how a value shared by too many persons gets blocked).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bullseye_identity.domain.policy import Key, Policy


@dataclass(frozen=True)
class PersonView:
    """What the rules need to know of a person: its age and its identifier counts by type."""

    person_id: str
    created_seq: int
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Merge:
    survivor: str
    merged: str
    # The identifier type through which the event reached the other person.
    rule: str


@dataclass(frozen=True)
class Conflict:
    """A link the limits refused. `other_person_id` is empty when an identifier was refused."""

    person_id: str
    other_person_id: str
    rule: str
    # Identifiers now claimed by these persons (how "seen on too many persons" is counted).
    claims: tuple[tuple[Key, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Decision:
    person_id: str
    created: bool
    attach: tuple[Key, ...] = ()
    merges: tuple[Merge, ...] = ()
    conflicts: tuple[Conflict, ...] = field(default=())


def decide(
    keys: Sequence[Key],
    owner: Mapping[Key, str],
    persons: Mapping[str, PersonView],
    policy: Policy,
    *,
    new_person_id: str,
) -> Decision:
    """Apply the module's rules. `keys` in priority order; `owner` maps known keys to persons."""
    known = [k for k in keys if k in owner]
    unknown = [k for k in keys if k not in owner]
    if not known:
        return Decision(new_person_id, created=True, attach=tuple(unknown))
    group = list(dict.fromkeys(owner[k] for k in known))
    anchor = group[0]
    target, merges, conflicts = _link(group, known, owner, persons, policy)
    counts = _union_counts([persons[p] for p in ([target] if not merges else group)])
    attach, refused = _fit(unknown, counts, policy)
    outranking = [k for k in refused if policy.rank(k[0]) < policy.rank(known[0][0])]
    if outranking:
        claims = tuple((k, (owner[k], new_person_id)) for k in known)
        redirect = Conflict(anchor, new_person_id, policy.limit_rule(outranking[0][0]), claims)
        return Decision(new_person_id, created=True, attach=tuple(unknown), conflicts=(redirect,))
    refusals = tuple(Conflict(target, "", policy.limit_rule(k[0]), ((k, (target,)),)) for k in refused)
    return Decision(target, created=False, attach=tuple(attach), merges=merges, conflicts=conflicts + refusals)


def _link(
    group: list[str], known: list[Key], owner: Mapping[Key, str], persons: Mapping[str, PersonView], policy: Policy
) -> tuple[str, tuple[Merge, ...], tuple[Conflict, ...]]:
    """Rule 2: (the event's person, merges, refused merges) for the persons it reached."""
    anchor = group[0]
    if len(group) == 1:
        return anchor, (), ()
    via = {p: next(k for k in known if owner[k] == p) for p in group}
    broken = policy.broken_limit(_union_counts([persons[p] for p in group]))
    if broken is None:
        survivor = min(group, key=lambda p: (persons[p].created_seq, p))
        linked = {p: (p if p != anchor else survivor) for p in group}
        merges = tuple(Merge(survivor, p, via[linked[p]][0]) for p in group if p != survivor)
        return survivor, merges, ()
    conflicts = tuple(
        Conflict(anchor, p, broken, tuple((k, (p, anchor)) for k in known if owner[k] == p)) for p in group[1:]
    )
    return anchor, (), conflicts


def _union_counts(views: Sequence[PersonView]) -> Counter[str]:
    total: Counter[str] = Counter()
    for view in views:
        total.update(view.counts)
    return total


def _fit(unknown: Sequence[Key], counts: Counter[str], policy: Policy) -> tuple[list[Key], list[Key]]:
    """Rule 3: the unknown identifiers that fit the person's limits, and those that do not."""
    attach, refused = [], []
    for key in unknown:
        if counts[key[0]] + 1 > policy.limits[key[0]]:
            refused.append(key)
        else:
            attach.append(key)
            counts[key[0]] += 1
    return attach, refused
