"""Which person an event belongs to, and what it changes in the graph. Pure: no I/O.

The event's identifiers (blocked values dropped) are *claims*: a known identifier claims
its person, an unknown one claims a place on the event's person. Claims are taken in
priority order (user_id first), each kept only if, with every claim kept before it, no
person would hold more identifiers of a type than its limit:

1. Nothing known: the event starts a new person holding its identifiers.
2. The kept persons merge into the oldest (smallest creating sequence, then id); the event
   goes to it, and the kept unknown identifiers attach to it.
3. A refused person is not merged (a second user id, too many devices): the conflict is
   recorded on both, and the identifier that reached it stays where it was, now claimed by
   both (how a value shared by too many persons gets blocked). A refused unknown identifier
   is not attached and the conflict is recorded.
4. When no known person is kept (a user id u2 arriving on a browser whose anonymous id
   belongs to the person of u1), the event starts a new person with its kept identifiers.
5. A *weak* event (no user id: a logged-out sighting) never brings together two identifiers
   of a `weak_single` type (email, phone): a guest's address typed on a device whose person
   has another address is refused like a limit ("weak:email"). A second address joins a
   person only through a login; on a device several persons use, it would glue them.

Taking the highest-priority evidence first means a weak shared identifier (a family
tablet's device id) can never veto a strong link (an email) nor glue two user ids together:
what breaks a limit is what the lower-priority claim would have added. What a refusal says
about the identifiers involved (shared, or linked by mistake) is domain/sharing.py's.
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
    # That identifier (the merge's evidence, with the event and its strength).
    key: Key = ("", "")


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
    strong: bool = True,
) -> Decision:
    """Apply the module's rules. `keys` in priority order; `owner` maps known keys to persons;
    `strong`: the event carries a user id (else rule 5 applies)."""
    kept = _Kept(policy, single=frozenset() if strong else policy.weak_single)
    via: dict[str, Key] = {}  # kept person -> the identifier that reached it first
    refused: dict[str, str] = {}  # refused person -> the limit it would break
    refused_keys: list[tuple[Key, str]] = []  # and the rule that refused each
    for key in keys:
        person = owner.get(key)
        if person is None:
            if (broken := kept.take(Counter({key[0]: 1}))) is None:
                kept.keys.append(key)
            else:
                refused_keys.append((key, broken))
        elif person not in via and person not in refused:
            broken = kept.take(Counter(persons[person].counts))
            if broken is None:
                via[person] = key
            else:
                refused[person] = broken
    target = min(via, key=lambda p: (persons[p].created_seq, p)) if via else new_person_id
    conflicts = tuple(
        Conflict(target, p, rule, tuple((k, (p, target)) for k in keys if owner.get(k) == p))
        for p, rule in refused.items()
    ) + tuple(Conflict(target, "", rule, ((k, (target,)),)) for k, rule in refused_keys)
    return Decision(target, created=not via, attach=tuple(kept.keys), merges=_merges(target, via), conflicts=conflicts)


class _Kept:
    """The claims kept so far: the unknown identifiers, and the counts of everything kept."""

    def __init__(self, policy: Policy, *, single: frozenset[str]) -> None:
        self.policy, self.single = policy, single
        self.keys: list[Key] = []
        self.counts: Counter[str] = Counter()

    def take(self, more: Counter[str]) -> str | None:
        """Add `more` if no rule breaks; else the rule it would break (nothing added)."""
        broken = self.policy.broken_limit(self.counts + more)
        if broken is None:
            broken = self._joins(more)
        if broken is None:
            self.counts.update(more)
        return broken

    def _joins(self, more: Counter[str]) -> str | None:
        """Rule 5: the first `single` type that both the kept claims and `more` hold."""
        both = (t for t in self.policy.priority if t in self.single and self.counts[t] and more[t])
        return next((f"weak:{t}" for t in both), None)


def _merges(survivor: str, via: Mapping[str, Key]) -> tuple[Merge, ...]:
    """Each kept person but the survivor merges into it. The rule is the identifier type that
    reached the *other* side: the merged person's own, or, for the event's first person
    merging into an older one, the type that reached the older one."""
    if len(via) < 2:
        return ()
    anchor = next(iter(via))
    return tuple(Merge(survivor, p, (key := via[survivor if p == anchor else p])[0], key) for p in via if p != survivor)
