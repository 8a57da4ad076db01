"""Subjects carry a partition token derived from the event's primary identifier.

`<prefix>.<partition>.<kind>`, e.g. `events.5.order_completed`: a consuming service runs
several workers that split the partitions, and keeps its position per partition.
"""

from __future__ import annotations

import hashlib

# A reader that needs ONE total order over every partition (identity's graph: an event's
# outcome depends on all earlier events, whatever their partition) reads them as one.
ALL_PARTITIONS = -1

# EVENTS holds two kinds of record: what shoppers did (`bullseye.events.v1.Event`, the kind
# token being its payload's name) and operators' corrections of identity
# (`bullseye.identity.v1.IdentityCorrection`, this kind), in one order (docs/design.md D1).
CORRECTION_KIND = "identity_correction"


def partition_of(key: str, partitions: int) -> int:
    """Stable partition of `key` in [0, partitions): the same key always lands in the same one."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def subject_for(prefix: str, partition: int, kind: str) -> str:
    return f"{prefix}.{partition}.{kind}"


def partition_filter(prefix: str, partition: int) -> str:
    """The filter subject of one partition (of every one for ALL_PARTITIONS)."""
    return f"{prefix}.>" if partition == ALL_PARTITIONS else f"{prefix}.{partition}.>"


def kind_of(subject: str) -> str:
    """The kind token of `<prefix>.<partition>.<kind>`: what the record is."""
    return subject.rsplit(".", 1)[-1]
