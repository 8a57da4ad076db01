"""Train a model family on a dataset and measure it honestly.

- The validation split (each person's latest interaction held out, 99 sampled negatives)
  chooses the blend weight and is never the figure reported when the data bring their own
  test (MovieLens-1M's original held-out items).
- Without a test of their own, the figures are the validation split's, from a model that
  did not see the held-out items; the served model is then refit on everything (`refit`),
  since a person's latest items are the most telling ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from bullseye_recommendation.arrays import FloatArray
from bullseye_recommendation.model.linear import LinearItemModel
from bullseye_recommendation.training.blend import BlendSettings, blended, choose, unit
from bullseye_recommendation.training.ease import EaseSettings, fit_ease
from bullseye_recommendation.training.evaluation import Cases, Metrics, case_scores, metrics, sampled_cases
from bullseye_recommendation.training.factor import factored
from bullseye_recommendation.training.interactions import Interactions
from bullseye_recommendation.training.sequence import SequenceSettings, fit_sequence
from bullseye_recommendation.training.sources import Dataset

HOLDOUT = "latest item per person held out, 99 sampled negatives"

Family = Literal["blend", "sequence", "ease"]
FAMILIES: tuple[Family, ...] = ("blend", "sequence", "ease")


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    family: Family = "blend"
    sequence: SequenceSettings = field(default_factory=SequenceSettings)
    ease: EaseSettings = field(default_factory=EaseSettings)
    blend: BlendSettings = field(default_factory=BlendSettings)
    refit: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Trained:
    model: LinearItemModel
    family: Family
    metrics: Metrics
    protocol: str  # which cases `metrics` are on
    seconds: float  # fit and evaluation, the whole call, wall clock
    cpu_seconds: float  # the same in CPU time of this process (all threads): what neighbours cannot inflate
    details: dict[str, Any]


def train(dataset: Dataset, settings: TrainSettings) -> Trained:
    """Fit `settings.family`, choose the blend on validation if needed, evaluate, refit."""
    started, cpu_started = time.monotonic(), time.process_time()
    data, details = dataset.interactions, dict[str, Any]()
    if dataset.cases is None:
        validated, result = _validate(data, settings, details)
        model = (_fit(data, settings, details.get("taste")) if settings.refit else validated).served()
        protocol = HOLDOUT
    else:
        if _tunes_blend(settings):
            _validate(data, settings, details)
        model = _fit(data, settings, details.get("taste")).served()
        result, protocol = evaluate(model, data, dataset.cases), "dataset test cases"
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    return Trained(model, settings.family, result, protocol, seconds, cpu_seconds, details)


def evaluate(model: LinearItemModel, data: Interactions, cases: Cases) -> Metrics:
    return metrics(cases, _case_scores(model, data, cases))


def _case_scores(model: LinearItemModel, data: Interactions, cases: Cases) -> list[FloatArray]:
    return case_scores(cases, data, lambda _, history, items: model.candidate_scores(history, items))


def _tunes_blend(settings: TrainSettings) -> bool:
    return settings.family == "blend" and settings.blend.taste is None


def _validate(data: Interactions, settings: TrainSettings, details: dict[str, Any]) -> tuple[LinearItemModel, Metrics]:
    """Fit without each person's latest item and measure on it; for the blend, choose its
    weight there (into `details`)."""
    held, targets = data.without_last()
    return _fit_validated(held, sampled_cases(held, targets, seed=settings.seed), settings, details)


def _fit_validated(
    data: Interactions, cases: Cases, settings: TrainSettings, details: dict[str, Any]
) -> tuple[LinearItemModel, Metrics]:
    if settings.family != "blend":
        model = _fit(data, settings, None)
        return model, evaluate(model, data, cases)
    sample = settings.blend.spread_sample
    sequence = unit(fit_sequence(data, settings.sequence), data, sample=sample)
    taste = unit(_taste(data, settings), data, sample=sample)
    choice = choose(cases, _case_scores(sequence, data, cases), _case_scores(taste, data, cases), settings.blend)
    details.update(taste=choice.taste, validation=choice.validation.as_dict(), tried=choice.tried)
    model = sequence if choice.taste == 0 else sequence.joined(taste.scaled(choice.taste))
    return model, choice.validation


def _fit(data: Interactions, settings: TrainSettings, taste: float | None) -> LinearItemModel:
    if settings.family == "sequence":
        return fit_sequence(data, settings.sequence)
    if settings.family == "ease":
        return fit_ease(data, settings.ease)
    weight = taste if taste is not None else settings.blend.taste
    if weight is None:
        raise ValueError("the blend's taste weight is neither given nor chosen on validation")
    sequence = fit_sequence(data, settings.sequence)
    if weight == 0:
        return unit(sequence, data, sample=settings.blend.spread_sample)
    return blended(sequence, _taste(data, settings), weight, data, sample=settings.blend.spread_sample)


def _taste(data: Interactions, settings: TrainSettings) -> LinearItemModel:
    """The blend's taste channel: EASE, factored when `taste_rank` says so."""
    ease = fit_ease(data, settings.ease)
    if settings.blend.taste_rank is None:
        return ease
    return LinearItemModel(tuple(factored(c, settings.blend.taste_rank, seed=settings.seed) for c in ease.channels))
