"""What a correction must respect, and the errors that say which rule it broke.

The errors are the RPC's answers: the resolver records them as the correction's outcome,
and the Merge or Split that asked answers with them (`FAILED_PRECONDITION` naming the
limit, `NOT_FOUND`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

from bullseye_platform.grpc import FailedPrecondition
from google.protobuf import any_pb2
from google.rpc.error_details_pb2 import PreconditionFailure

from bullseye_identity.domain.decide import PersonView
from bullseye_identity.domain.policy import Key, Policy

SAME_PERSON = "is the same person as person_id (after earlier merges): nothing to merge"


class LimitBlocks(FailedPrecondition):
    """FAILED_PRECONDITION naming the identifier limit, as google.rpc.PreconditionFailure."""

    def __init__(self, message: str, *, rule: str, subject: str) -> None:
        super().__init__(message, reason="IDENTITY_LIMIT", metadata={"rule": rule})
        self.rule, self.subject = rule, subject

    def details(self) -> list[any_pb2.Any]:
        broken = PreconditionFailure.Violation(type="IDENTITY_LIMIT", subject=self.subject, description=self.rule)
        packed = any_pb2.Any()
        packed.Pack(PreconditionFailure(violations=[broken]))
        return [*super().details(), packed]


def check_limits(policy: Policy, a: PersonView, b: PersonView) -> None:
    """Raises LimitBlocks when one person with the identifiers of both would break a limit."""
    union = {t: a.counts.get(t, 0) + b.counts.get(t, 0) for t in policy.priority}
    broken = policy.broken_limit(union)
    if broken is not None:
        raise LimitBlocks(
            f"merging {a.person_id} and {b.person_id} would break the identifier limit {broken}",
            rule=broken,
            subject=f"persons/{a.person_id}+{b.person_id}",
        )


def check_movable(owned: set[Key], keys: Sequence[Key], person: str) -> None:
    """Raises FailedPrecondition unless `keys` are some, not all, of `owned`."""
    strangers = [i for i, k in enumerate(keys) if k not in owned]
    if strangers:
        raise FailedPrecondition(
            f"identifiers{strangers} are not identifiers of person {person}; see GetIdentities",
            reason="NOT_THE_PERSONS_IDENTIFIERS",
            metadata={"indexes": ",".join(map(str, strangers))},
        )
    if not owned - set(keys):
        raise FailedPrecondition(
            f"the split would move every identifier of person {person}; leave at least one",
            reason="SPLIT_MOVES_EVERYTHING",
        )
