"""What a ranking call asks for, once its request is checked (api/validation.py), and what
it gets: a request's fields without protobuf, so the ranking code does not depend on it."""

from __future__ import annotations

from dataclasses import dataclass

from bullseye_recommendation.domain.blend import Part
from bullseye_recommendation.serving.snapshot import Item

COLD_START = "cold_start"  # a reason beside the blend's parts: a new (or not personalized) person


@dataclass(frozen=True)
class Filters:
    exclude_purchased: bool = True
    exclude_out_of_stock: bool = True
    items: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ask:
    k: int
    placement: str = ""
    channel: int = 0  # bullseye.events.v1.ContactChannel
    current_item: str = ""
    category: str = ""
    session: tuple[str, ...] = ()  # most recent first
    filters: Filters = Filters()
    candidates: tuple[str, ...] = ()

    @property
    def context_items(self) -> tuple[str, ...]:
        """The item on screen, then the session's, most recent first, each once."""
        return tuple(dict.fromkeys(i for i in (self.current_item, *self.session) if i))


@dataclass(frozen=True)
class Pick:
    item: Item
    score: float
    reason: Part | str  # a blend part, or COLD_START


@dataclass(frozen=True)
class Answer:
    picks: tuple[Pick, ...]
    model_version: str
    path: str  # how it was made: model, no_model, cold_start, not_personalized, similar, popular
    person_id: str = ""  # whom it was made for (the survivor of the person asked for)


class UnknownItems(Exception):
    """Items the request names that the catalog does not have (deleted, or never published)."""

    def __init__(self, field: str, item_ids: tuple[str, ...]) -> None:
        super().__init__(f"{field}: unknown items {', '.join(item_ids[:5])}")
        self.field, self.item_ids = field, item_ids


class UnknownCategory(Exception):
    """A category no catalog item is in."""
