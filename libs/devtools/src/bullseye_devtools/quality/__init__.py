"""Identity resolution quality: ground truth from labelled journeys, pairwise scoring, and the
RESOLVED stream folded into each event's final person.

truth = label(journeys.events, journeys.person_of)
resolution = await read_resolved(nc, expect_events=len(journeys.events))
quality = score(truth, resolution.final())   # precision, recall, unscorable, ...
"""

from bullseye_devtools.quality.resolved import Resolution, read_resolved
from bullseye_devtools.quality.scoring import Quality, pairs, score
from bullseye_devtools.quality.truth import Truth, label

__all__ = ["Quality", "Resolution", "Truth", "label", "pairs", "read_resolved", "score"]
