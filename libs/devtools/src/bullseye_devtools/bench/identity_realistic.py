"""Identity's quality on realistic journeys it was not built for (issue 17): households with
rotating anonymous ids, shop kiosks, placeholders, shared mailboxes, national phone numbers,
a CRM export backfilled last, app queues delivered out of order. Overall and per situation,
beside `identity.quality` (the project's own journeys), on the same stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from bullseye_devtools.bench.identity import (
    SEED,
    identity_stack,
    pipeline,
    quality_detail,
    resolved_events,
    trap_detail,
)
from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.quality.run import QualityRun, send_and_score
from bullseye_devtools.quality.traps import ORDINARY, bridges, strangers_together, wrong_pairs_by_traps
from bullseye_devtools.stack.local import LocalStack
from bullseye_devtools.traffic.realistic import SITUATIONS, generate_realistic

# After `identity.quality`'s persons (numbers 0-2999), so that no phone or email is in both.
FIRST = 3000
TRAPS = (*SITUATIONS, ORDINARY)
FIGURES = [f"identity.quality.{trap}.{figure}" for trap in TRAPS for figure in ("precision", "recall")]
WORST = 8  # kinds of wrong pairs and of what glued them, in the detail


def _glue(run: QualityRun) -> dict[str, object]:
    """Which wrong pairs dominate (by the two strangers' traps) and what glued them."""
    final = run.resolution.final()
    wrong = wrong_pairs_by_traps(run.truth, final, run.journeys.trap_of)
    glued = bridges(run.journeys.events, run.journeys.person_of, final)
    return {
        "wrong_pairs_by_traps": dict(wrong.most_common(WORST)),
        "strangers_together": strangers_together(run.truth, final),
        "resolved_persons_glued_through": dict(glued.most_common(WORST)),
        "rejected_by_ingestion": run.sent.rejected,
        "rejections": run.sent.rejections[:3],
    }


@benchmark("identity.quality.realistic", provides=["identity.quality.realistic.precision",
                                                   "identity.quality.realistic.recall", *FIGURES])  # fmt: skip
def realistic(session: Session) -> Iterator[Result]:
    """About 500 persons' realistic journeys (9,000 events) through ingestion; pairwise
    precision and recall overall and for the persons of each situation."""
    stack: LocalStack = session.resource("identity", identity_stack)
    persons = 60 if session.quick else 500
    journeys = generate_realistic(persons, SEED, first=FIRST)
    session.step(f"{persons:,} persons' realistic journeys: {len(journeys.events):,} events, {dict(journeys.traps)}")
    before = asyncio.run(resolved_events(stack.env["NATS_URL"]))
    run = asyncio.run(send_and_score(journeys, pipeline(stack, "bench-realistic"), resolved_before=before))
    q, detail = run.quality, {**quality_detail(run), **_glue(run)}
    session.step(
        f"precision {q.precision:.4f}, recall {q.recall:.4f}; {q.predicted_pairs - q.correct_pairs:,} wrong pairs, "
        f"{q.linkable_pairs - q.found_pairs:,} missed; {run.sent.rejected:,} events rejected by ingestion"
    )
    yield Result("identity.quality.realistic.precision", q.precision, "ratio", target=Target(">=", 0.99), detail=detail)
    yield Result("identity.quality.realistic.recall", q.recall, "ratio", target=Target(">=", 0.97), detail=detail)
    for trap, figures in run.by_trap().items():
        yield Result(
            f"identity.quality.{trap}.precision", figures.pairs.precision, "ratio", detail=trap_detail(figures)
        )
        yield Result(f"identity.quality.{trap}.recall", figures.pairs.recall, "ratio", detail=trap_detail(figures))
