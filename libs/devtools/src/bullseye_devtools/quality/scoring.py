"""Pairwise precision and recall of predicted person clusters against the ground truth.

Counted from contingency tables (sum of C(n, 2) per cell), never by enumerating pairs, so a
benchmark of a million events scores in a second. Precision compares with true persons (a
pair of one person in two linkable groups is still right); recall compares with linkable
groups (what the rules can link).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bullseye_devtools.quality.truth import Truth


def pairs(counts: Iterable[int]) -> int:
    """Pairs inside groups of these sizes: sum of C(n, 2)."""
    return sum(n * (n - 1) // 2 for n in counts)


@dataclass(frozen=True)
class Pairs:
    """Pair counts: `predicted` put together, of which `correct` (same true person);
    `linkable` (same linkable group), of which `found` (put together)."""

    predicted: int
    correct: int
    linkable: int
    found: int

    @property
    def precision(self) -> float:
        return _ratio(self.correct, self.predicted)

    @property
    def recall(self) -> float:
        return _ratio(self.found, self.linkable)

    @property
    def wrong(self) -> int:
        return self.predicted - self.correct

    @property
    def missed(self) -> int:
        return self.linkable - self.found

    def __sub__(self, other: Pairs) -> Pairs:
        return Pairs(
            self.predicted - other.predicted,
            self.correct - other.correct,
            self.linkable - other.linkable,
            self.found - other.found,
        )


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    scorable: int
    unscorable: int
    unresolved: int  # scorable events the prediction does not know (each counts as alone)
    true_persons: int
    linkable_groups: int
    predicted_persons: int
    predicted_pairs: int
    correct_pairs: int
    linkable_pairs: int
    found_pairs: int


def _ratio(part: int, whole: int) -> float:
    """1.0 when there is nothing to get wrong (no pair predicted, or none to find)."""
    return part / whole if whole else 1.0


def _guess(truth: Truth, predicted: Mapping[str, str]) -> dict[str, str]:
    """Each scorable event's predicted person; an unresolved event stands alone."""
    return {e: predicted.get(e) or f"unresolved:{e}" for e in truth.person}


def count_pairs(truth: Truth, guess: Mapping[str, str], events: Iterable[str]) -> Pairs:
    """The pairs among `events` (scorable ones, with their `_guess`)."""
    chosen = list(events)
    return Pairs(
        predicted=pairs(Counter(guess[e] for e in chosen).values()),
        correct=pairs(Counter((guess[e], truth.person[e]) for e in chosen).values()),
        linkable=pairs(Counter(truth.group[e] for e in chosen).values()),
        found=pairs(Counter((guess[e], truth.group[e]) for e in chosen).values()),
    )


def score(truth: Truth, predicted: Mapping[str, str]) -> Quality:
    """Quality of `predicted` (event id -> person id) over the scorable events of `truth`."""
    guess = _guess(truth, predicted)
    counted = count_pairs(truth, guess, truth.person)
    return Quality(
        precision=counted.precision,
        recall=counted.recall,
        scorable=len(guess),
        unscorable=len(truth.why),
        unresolved=sum(1 for e in truth.person if not predicted.get(e)),
        true_persons=len(set(truth.person.values())),
        linkable_groups=len(set(truth.group.values())),
        predicted_persons=len(set(guess.values())),
        predicted_pairs=counted.predicted,
        correct_pairs=counted.correct,
        linkable_pairs=counted.linkable,
        found_pairs=counted.found,
    )


def pairs_involving(truth: Truth, predicted: Mapping[str, str], part_of: Mapping[str, str]) -> dict[str, Pairs]:
    """For each part (a trap, say) of the scorable events (`part_of[event_id]`), the pairs
    with at least one event in it: all pairs less those among the other events' alone.

    A pair across two parts counts in both, so the parts' counts add up to more than the whole.
    """
    guess = _guess(truth, predicted)
    whole = count_pairs(truth, guess, truth.person)
    names = sorted(set(part_of[e] for e in truth.person))
    return {name: whole - count_pairs(truth, guess, (e for e in truth.person if part_of[e] != name)) for name in names}


def strangers_merged(truth: Truth, predicted: Mapping[str, str]) -> dict[str, Counter[int]]:
    """Predicted persons holding scorable events of several true persons: person id -> events
    per true person. Empty when precision is 1; otherwise what to look at first."""
    members: dict[str, Counter[int]] = {}
    for event_id, person in truth.person.items():
        if guess := predicted.get(event_id):
            members.setdefault(guess, Counter())[person] += 1
    return {guess: persons for guess, persons in members.items() if len(persons) > 1}


def links_missed(truth: Truth, predicted: Mapping[str, str]) -> dict[int, Counter[str]]:
    """Linkable groups spread over several predicted persons: group -> events per person.
    Empty when recall is 1; otherwise the links the rules allowed and identity did not make."""
    spread: dict[int, Counter[str]] = {}
    for event_id, group in truth.group.items():
        spread.setdefault(group, Counter())[predicted.get(event_id) or f"unresolved:{event_id}"] += 1
    return {group: persons for group, persons in spread.items() if len(persons) > 1}
