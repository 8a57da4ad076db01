"""What a refused link says about the identifiers that led the event to the refused person. Pure.

decide() refuses to merge a person the event reached (two user ids, a second email by a
logged-out event, a limit). The identifiers through which the event reached that person
tell a story, and each is cut from it at once, before the event is decided again:

- *shared*: the identifier links nobody from now on (it stays where it is, inert). It had
  strong evidence on that person (seen in an event with its user id) and now meets another
  person's: a family tablet's device id seen logged in by a second account, an address a
  second account confirms, a kiosk's ids. Or the event that reached it was weak itself: no
  side is stronger, and a value in a conflict stops carrying links (issue 17).
- *contradicted*: it joined that person only through weak evidence (logged-out sightings:
  the device id of a family app brought the next member's fresh anonymous id), and now a
  login says it is someone else's. Strong overrides weak: it leaves that person.

Either way, whatever joined the person only through the cut identifiers leaves it too
(domain/parting.py); user ids are never cut (one account is one person).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from bullseye_identity.domain.decide import Decision
from bullseye_identity.domain.kinds import USER_ID, Key

# Why a value links nobody any more, besides the rule of the refused link that showed it.
MANY_PERSONS = "many-persons"


@dataclass(frozen=True)
class Cut:
    """The identifiers to cut from one person, and why (`rule`: the refused link's, or
    `MANY_PERSONS`): `shared` ones stay on it and never link again; `contradicted` leave it."""

    person_id: str
    rule: str
    shared: frozenset[Key] = frozenset()
    contradicted: frozenset[Key] = frozenset()

    @property
    def keys(self) -> frozenset[Key]:
        return self.shared | self.contradicted


def cuts(
    decision: Decision, keys: Sequence[Key], owner: Mapping[Key, str], *, strong: bool, strong_keys: Collection[Key],
    user_id_rule: str,
) -> list[Cut]:  # fmt: skip
    """The cuts a decision's refused persons call for. `owner`: the persons of the known
    `keys`; `strong_keys`: those ever seen in an event with a user id on their person;
    `user_id_rule`: how a refusal for a second user id is named ("limit:user_id=1")."""
    found = []
    for conflict in decision.conflicts:
        refused = conflict.other_person_id
        reached = [k for k in keys if refused and owner.get(k) == refused and k[0] != USER_ID]
        overruled = strong and conflict.rule == user_id_rule
        contradicted = frozenset(k for k in reached if overruled and k not in strong_keys)
        if reached:
            found.append(Cut(refused, conflict.rule, frozenset(reached) - contradicted, contradicted))
    return found
