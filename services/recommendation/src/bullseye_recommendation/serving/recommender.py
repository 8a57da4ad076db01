"""Recommend, SimilarItems and Popular over the process's snapshot and model.

Recommend takes one of four paths (an answer carries the model version only when the model
scored it):
- *model*: a person with a history and personalization allowed: the placement's (or the
  variant's) blend of the model's scores for their history with the current context first,
  content similarity to their affinities, popularity, and the session part (what follows the
  context's items alone);
- *no_model*: the same without the model part while no model is published (the blend's
  other parts; popularity when the blend had only the model);
- *cold_start*: a person without a history: popular items in their interests (the context's
  category and items, the categories they browsed), then popular items overall;
- *not_personalized*: a person who did not allow personalization (README, Recommendation
  API): only the call's context counts (popularity, similarity to the item on screen), never
  anything the person did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

import numpy as np
from bullseye_platform.consent import CHANNELS

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain.blend import Blend, Part
from bullseye_recommendation.domain.feedback import FeedbackWeights, Signal
from bullseye_recommendation.domain.ranking import rank
from bullseye_recommendation.serving import parts
from bullseye_recommendation.serving.asks import COLD_START, Answer, Ask, Filters, Pick, UnknownCategory
from bullseye_recommendation.serving.models import ModelHolder
from bullseye_recommendation.serving.parts import Trail
from bullseye_recommendation.serving.people import Person
from bullseye_recommendation.serving.pool import filtered, pool, require
from bullseye_recommendation.serving.snapshot import Snapshot, SnapshotKeeper

POPULAR_ONLY = Blend(MappingProxyType({Part.POPULAR: 1.0}))
ON_SCREEN = Blend(MappingProxyType({Part.CONTENT: 0.5, Part.POPULAR: 0.5}))  # not personalized, an item shown
SIMILAR = Blend(MappingProxyType({Part.COLLABORATIVE: 0.5, Part.CONTENT: 0.5}))
CONTENT_ONLY = Blend(MappingProxyType({Part.CONTENT: 1.0}))
DISPLAY_CHANNEL = "in_app"  # whose consent counts when the call names no channel: an on-site or in-app slot


class Recommender:
    def __init__(
        self, *, snapshots: SnapshotKeeper, models: ModelHolder, weights: FeedbackWeights, consent_required: bool
    ) -> None:  # fmt: skip
        self._snapshots, self._models, self._weights = snapshots, models, weights
        self._consent_required = consent_required

    def personalizes(self, person: Person, channel: int) -> bool:
        """Whether `person` allows personalization on `channel` (nothing said: the configured default)."""
        choice = person.consent.choice("personalization", CHANNELS.get(channel, DISPLAY_CHANNEL))
        return choice.granted if choice is not None else not self._consent_required

    def basis(self) -> tuple[int, str]:
        """What an answer made now is made from: the snapshot's generation, the model's version."""
        model = self._models.current
        return self._snapshots.current.generation, model.version if model is not None else ""

    def recommend(self, person: Person, ask: Ask, blend: Blend) -> Answer:
        """Raises: UnknownItems (the current item or a candidate)."""
        return replace(self._recommend(person, ask, blend), person_id=person.person_id)

    def _recommend(self, person: Person, ask: Ask, blend: Blend) -> Answer:
        snapshot = self._snapshots.current
        require(snapshot, "context.current_item_id", [ask.current_item] if ask.current_item else [])
        require(snapshot, "candidate_item_ids", ask.candidates)
        if not self.personalizes(person, ask.channel):
            return self._not_personalized(snapshot, ask)
        bought = person.purchased if ask.filters.exclude_purchased else frozenset()
        shown = pool(snapshot, ask, purchased=bought)
        if not person.known:
            return self._cold_start(snapshot, ask, person, shown)
        return self._personal(snapshot, ask, person, shown, blend)

    def similar(self, item_id: str, k: int, filters: Filters) -> Answer:
        """Raises: UnknownItems."""
        snapshot = self._snapshots.current
        require(snapshot, "item_id", [item_id])
        shown = filtered(snapshot, filters, leave_out=[item_id])
        trail = Trail.of(snapshot, [item_id], [self._weights.view])
        scored = {Part.CONTENT: parts.content_scores(snapshot, trail, shown)}
        model = self._models.current
        if model is not None and item_id in model.index:
            alignment = self._models.alignment(snapshot, model)
            scored[Part.COLLABORATIVE] = parts.model_scores(model, alignment, [trail], shown)[0]
        blend = SIMILAR if Part.COLLABORATIVE in scored else CONTENT_ONLY
        return _answer(snapshot, shown, scored, blend, k, model.version if model else "", "similar")

    def popular(self, category: str, k: int, filters: Filters) -> Answer:
        """Raises: UnknownCategory."""
        snapshot = self._snapshots.current
        shown = filtered(snapshot, filters)
        if category:
            members = snapshot.in_category(category)
            if len(members) == 0:
                raise UnknownCategory(category)
            shown = shown[np.isin(shown, members)]
        return _answer(snapshot, shown, {Part.POPULAR: parts.popularity(snapshot, shown)}, POPULAR_ONLY, k, "",
                       "popular")  # fmt: skip

    def _personal(self, snapshot: Snapshot, ask: Ask, person: Person, shown: IntArray, blend: Blend) -> Answer:
        context = Trail.of(snapshot, ask.context_items, [self._weights.of(Signal.VIEW)] * len(ask.context_items))
        trail = context.then(Trail.of(snapshot, person.history, person.weights))
        model = self._models.current
        used = blend if model is not None else (blend.without(Part.COLLABORATIVE) or POPULAR_ONLY)
        scored = {Part.POPULAR: parts.popularity(snapshot, shown)}  # also what an unscorable blend falls back on
        if used.weight(Part.CONTENT) > 0:
            scored[Part.CONTENT] = parts.content_scores(snapshot, trail, shown)
        if model is None:
            if len(context) and used.weight(Part.SESSION) > 0:
                scored[Part.SESSION] = parts.content_scores(snapshot, context, shown)
            return _answer(snapshot, shown, scored, used, ask.k, "", "no_model")
        alignment = self._models.alignment(snapshot, model)
        wanted = [trail, context] if len(context) and blend.weight(Part.SESSION) > 0 else [trail]
        if blend.weight(Part.COLLABORATIVE) > 0 or len(wanted) > 1:
            scores = parts.model_scores(model, alignment, wanted, shown)
            scored[Part.COLLABORATIVE] = scores[0]
            if len(scores) > 1:
                scored[Part.SESSION] = scores[1]
        return _answer(snapshot, shown, scored, blend, ask.k, model.version, "model")

    def _cold_start(self, snapshot: Snapshot, ask: Ask, person: Person, shown: IntArray) -> Answer:
        interests = [ask.category, *person.interests]
        interests += [
            snapshot.items[p].category_path[-1] for p in _context(snapshot, ask) if snapshot.items[p].category_path
        ]
        scores = _interest_first(snapshot, shown, [c for c in interests if c])
        answer = _answer(snapshot, shown, {Part.POPULAR: scores}, POPULAR_ONLY, ask.k, "", "cold_start")
        return Answer(tuple(Pick(p.item, p.score, COLD_START) for p in answer.picks), answer.model_version, answer.path)

    def _not_personalized(self, snapshot: Snapshot, ask: Ask) -> Answer:
        on_screen = Ask(ask.k, category=ask.category, current_item=ask.current_item, filters=ask.filters,
                        candidates=ask.candidates)  # fmt: skip
        shown = pool(snapshot, on_screen)
        scored = {Part.POPULAR: parts.popularity(snapshot, shown)}
        if ask.current_item:
            trail = Trail.of(snapshot, [ask.current_item], [self._weights.of(Signal.VIEW)])
            scored[Part.CONTENT] = parts.content_scores(snapshot, trail, shown)
        blend = ON_SCREEN if Part.CONTENT in scored else POPULAR_ONLY
        return _answer(snapshot, shown, scored, blend, ask.k, "", "not_personalized")


def _context(snapshot: Snapshot, ask: Ask) -> list[int]:
    return [snapshot.index[i] for i in ask.context_items if i in snapshot.index]


def _interest_first(snapshot: Snapshot, shown: IntArray, categories: list[str]) -> FloatArray:
    """Popularity, lifted above every item outside them for the items in `categories`."""
    scores = parts.popularity(snapshot, shown).copy()
    members = [snapshot.in_category(c) for c in categories]
    inside = np.isin(shown, np.concatenate(members)) if members else np.zeros(len(shown), np.bool_)
    scores[inside] += float(scores.max(initial=0.0)) + 1.0
    return scores


def _answer(
    snapshot: Snapshot, shown: IntArray, scored: Mapping[Part, FloatArray], blend: Blend, k: int, version: str,
    path: str,
) -> Answer:  # fmt: skip
    if not any(blend.weight(part) > 0 for part in scored):
        blend = POPULAR_ONLY  # e.g. a session-only blend and no session: what is popular
    ranked = rank(scored, blend, k, len(shown))
    picks = tuple(
        Pick(snapshot.items[shown[p]], float(s), reason)
        for p, s, reason in zip(ranked.positions, ranked.scores, ranked.reasons, strict=True)
    )
    return Answer(picks, version, path)
