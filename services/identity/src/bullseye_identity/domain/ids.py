"""Ids the graph creates, derived from what caused them: the same in every replay.

A person is created by an event (its first one) or by an operator's split; either way its
id is a UUIDv5 of the cause, never a random one, so that replaying EVENTS from empty gives
every person, and every RESOLVED record that names it, the id it had live.
"""

from __future__ import annotations

import uuid

PERSON_NAMESPACE = uuid.UUID("6f1d3b0e-5a4c-4e8b-9d7a-1c2b3a4d5e6f")


def person_id_for(event_id: str) -> str:
    """The id of the person an event creates."""
    return str(uuid.uuid5(PERSON_NAMESPACE, f"person:{event_id}"))


def split_person_id(command_id: str) -> str:
    """The id of the person a split creates (the correction's command id decides it)."""
    return str(uuid.uuid5(PERSON_NAMESPACE, f"split:{command_id}"))


def healed_person_id(event_id: str, round_: int, first_key: str) -> str:
    """The id of a person a healing split creates: the event that showed a value shared
    decides it, with the healing round within the event and the part's first identifier."""
    return str(uuid.uuid5(PERSON_NAMESPACE, f"heal:{event_id}:{round_}:{first_key}"))
