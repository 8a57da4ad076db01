"""Which parts of a person leave it when identifiers are cut from it, and where its events go. Pure.

A person's identifiers hold together through evidence: each event resolved to it joins the
identifiers it carried, and an operator's merge joins the identifiers of both persons. Cut
some identifiers (domain/sharing.py) and drop the evidence through them: the identifiers that
still hold to the person's *core* stay (the part with its user id; without one, the part of
the event that created it, if any), every other part leaves for a person of its own, and so
does each contradicted identifier. Shared identifiers stay, inert.

Each event then belongs to the first identifier it carries (priority order) that is not
shared: it follows that identifier wherever it now is, also to another, existing person (a
guest checkout with a shared mailbox and the guest's own browser follows the browser). An
event carrying only shared identifiers stays. Everything here depends only on its inputs,
in a fixed order, so a replay parts the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bullseye_identity.domain.kinds import USER_ID, Key


@dataclass(frozen=True)
class Evidence:
    """One event of the person (or an operator's merge: `seq` 0), with its identifiers in priority order."""

    event_id: str
    seq: int
    keys: tuple[Key, ...]


@dataclass(frozen=True)
class Part:
    """Identifiers that leave the person together, and the cut identifier that held them to it."""

    keys: tuple[Key, ...]
    cause: Key


def parts(identifiers: Sequence[Key], evidence: Sequence[Evidence], *, cut: Collection[Key],
          contradicted: Collection[Key]) -> list[Part]:  # fmt: skip
    """What leaves a person whose `identifiers` are held by `evidence`, once `cut` (the
    shared and the contradicted identifiers, with every shared one it holds) are cut."""
    kept = [k for k in identifiers if k not in cut]
    groups = _Groups(kept)
    for item in evidence:
        groups.join(item.keys)
    core = _core(kept, evidence, groups)
    leaving: dict[Key, list[Key]] = {}
    for key in kept:
        if (root := groups.find(key)) != core:
            leaving.setdefault(root, []).append(key)
    found = [Part(tuple(keys), _cause(keys, evidence, cut)) for keys in leaving.values()]
    found += [Part((key,), key) for key in sorted(contradicted) if key in identifiers]
    return sorted(found, key=lambda part: min(part.keys))


def destinations(evidence: Iterable[Evidence], owner: Mapping[Key, str], *, shared: Collection[Key],
                 person_id: str) -> dict[str, Key]:  # fmt: skip
    """The events that leave `person_id`, each with the identifier it follows now. `owner`:
    where each identifier of the evidence is after the parts left (unknown ones are absent)."""
    moves = {}
    for item in evidence:
        first = next((k for k in item.keys if k not in shared and k in owner), None)
        if item.seq and first is not None and owner[first] != person_id:
            moves[item.event_id] = first
    return moves


def _core(kept: Sequence[Key], evidence: Sequence[Evidence], groups: _Groups) -> Key | None:
    """The root of the part that stays: the user id's; else that of the event that created
    the person (its earliest), unless that event carried only cut identifiers: then the
    person is what they stand for (a kiosk's cash payments), and every part leaves it."""
    user = next((k for k in kept if k[0] == USER_ID), None)
    if user is not None:
        return groups.find(user)
    first = min((e for e in evidence if e.seq), key=lambda e: e.seq, default=None)
    found = next((k for k in first.keys if groups.has(k)), None) if first is not None else None
    return None if found is None else groups.find(found)


def _cause(keys: Sequence[Key], evidence: Sequence[Evidence], cut: Collection[Key]) -> Key:
    """The highest-priority cut identifier seen with the part (evidence lists keys by priority)."""
    mine = set(keys)
    for item in evidence:
        if mine.intersection(item.keys):
            found = next((k for k in item.keys if k in cut), None)
            if found is not None:
                return found
    return min(cut) if cut else keys[0]


class _Groups:
    """Union-find over the kept identifiers: evidence joins the ones it names."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self._parent = {k: k for k in keys}

    def has(self, key: Key) -> bool:
        return key in self._parent

    def find(self, key: Key) -> Key:
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:
            self._parent[key], key = root, self._parent[key]
        return root

    def join(self, keys: Iterable[Key]) -> None:
        mine = [k for k in keys if k in self._parent]
        for key in mine[1:]:
            first, other = self.find(mine[0]), self.find(key)
            if first != other:
                # The smaller root wins: the groups' roots do not depend on the evidence's order.
                self._parent[max(first, other)] = min(first, other)
