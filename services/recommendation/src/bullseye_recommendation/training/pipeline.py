"""Train a model family on a dataset and measure it honestly.

- The validation split (each person's latest interaction held out, 99 sampled negatives)
  chooses the blend's weights and is never the figure reported when the data bring their own
  test (MovieLens-1M's original held-out items).
- Without a test of their own, the figures are the validation split's, from a model that
  did not see the held-out items; the served model is then refit on everything (`refit`),
  since a person's latest items are the most telling ones.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from bullseye_recommendation.arrays import FloatArray
from bullseye_recommendation.model.linear import LinearItemModel
from bullseye_recommendation.training.blend import (
    BlendSettings,
    Choice,
    blended,
    choose,
    combine,
    mass_reference,
    relative_masses,
    unit,
)
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
    data, choice, validation = dataset.interactions, None, None
    if dataset.cases is None:
        validated, validation, choice = _validate(data, settings)
        model = (_fit(data, settings, choice) if settings.refit else validated).served()
        result, protocol = validation, HOLDOUT
    else:
        if _tunes_blend(settings):
            _, validation, choice = _validate(data, settings)
        model = _fit(data, settings, choice).served()
        result, protocol = evaluate(model, data, dataset.cases), "dataset test cases"
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    return Trained(model, settings.family, result, protocol, seconds, cpu_seconds, _details(choice, validation))


def describe(trained: Trained, settings: TrainSettings, dataset: Dataset) -> dict[str, Any]:
    """What a model folder's metadata says of its training (model/files.py writes it beside the model)."""
    return {
        "family": trained.family,
        "metrics": {**trained.metrics.as_dict(), "protocol": trained.protocol},
        "training": {
            "seconds": trained.seconds,
            "cpu_seconds": trained.cpu_seconds,
            "settings": dataclasses.asdict(settings),
            **trained.details,
        },
        "data_window": dataset.window,
    }


def evaluate(model: LinearItemModel, data: Interactions, cases: Cases) -> Metrics:
    return metrics(cases, _case_scores(model, data, cases))


def _case_scores(model: LinearItemModel, data: Interactions, cases: Cases) -> list[FloatArray]:
    return case_scores(cases, data, lambda _, history, items: model.candidate_scores(history, items))


def _tunes_blend(settings: TrainSettings) -> bool:
    return settings.family == "blend" and (settings.blend.taste is None or settings.blend.mass is None)


def _details(choice: Choice | None, validation: Metrics | None) -> dict[str, Any]:
    """What the metadata says of the blend's choice (nothing for the other families)."""
    if choice is None:
        return {}
    measured = validation.as_dict() if validation else None
    return {"taste": choice.taste, "mass": choice.mass, "validation": measured, "tried": choice.tried}


def _validate(data: Interactions, settings: TrainSettings) -> tuple[LinearItemModel, Metrics, Choice | None]:
    """Fit without each person's latest item and measure on it; the blend's weights are
    chosen there."""
    held, targets = data.without_last()
    cases = sampled_cases(held, targets, seed=settings.seed)
    if settings.family != "blend":
        model = _fit(held, settings, None)
        return model, evaluate(model, held, cases), None
    sample = settings.blend.spread_sample
    sequence = unit(fit_sequence(held, settings.sequence), held, sample=sample)
    taste = unit(_taste(held, settings), held, sample=sample)
    masses = relative_masses(held)[cases.persons]
    scores = _case_scores(sequence, held, cases), _case_scores(taste, held, cases)
    choice, measured = choose(cases, *scores, masses, settings.blend)
    return combine(sequence, taste, choice, mass_reference(held)), measured, choice


def _fit(data: Interactions, settings: TrainSettings, choice: Choice | None) -> LinearItemModel:
    if settings.family == "sequence":
        return fit_sequence(data, settings.sequence)
    if settings.family == "ease":
        return fit_ease(data, settings.ease)
    if choice is None:
        fixed = settings.blend
        if fixed.taste is None or fixed.mass is None:
            raise ValueError("the blend's weights are neither given nor chosen on validation")
        choice = Choice(taste=fixed.taste, mass=fixed.mass)
    sample = settings.blend.spread_sample
    return blended(fit_sequence(data, settings.sequence), _taste(data, settings), choice, data, sample=sample)


def _taste(data: Interactions, settings: TrainSettings) -> LinearItemModel:
    """The blend's taste channel: EASE, factored when `taste_rank` says so."""
    ease = fit_ease(data, settings.ease)
    if settings.blend.taste_rank is None:
        return ease
    return LinearItemModel(tuple(factored(c, settings.blend.taste_rank, seed=settings.seed) for c in ease.channels))
