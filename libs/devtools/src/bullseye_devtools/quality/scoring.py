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


def score(truth: Truth, predicted: Mapping[str, str]) -> Quality:
    """Quality of `predicted` (event id -> person id) over the scorable events of `truth`."""
    events = list(truth.person)
    guess = {e: predicted.get(e) or f"unresolved:{e}" for e in events}
    predicted_pairs = pairs(Counter(guess.values()).values())
    correct_pairs = pairs(Counter((guess[e], truth.person[e]) for e in events).values())
    linkable_pairs = pairs(Counter(truth.group.values()).values())
    found_pairs = pairs(Counter((guess[e], truth.group[e]) for e in events).values())
    return Quality(
        precision=_ratio(correct_pairs, predicted_pairs),
        recall=_ratio(found_pairs, linkable_pairs),
        scorable=len(events),
        unscorable=sum(truth.unscorable.values()),
        unresolved=sum(1 for e in events if not predicted.get(e)),
        true_persons=len(set(truth.person.values())),
        linkable_groups=len(set(truth.group.values())),
        predicted_persons=len(set(guess.values())),
        predicted_pairs=predicted_pairs,
        correct_pairs=correct_pairs,
        linkable_pairs=linkable_pairs,
        found_pairs=found_pairs,
    )


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
