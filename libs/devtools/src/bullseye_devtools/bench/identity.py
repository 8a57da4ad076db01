"""Identity on one node: resolution quality against ground truth (the throughput benchmark,
in `identity_throughput`, shares the stack started here).

Both run on their own stack (PostgreSQL, a strict nats-server, identity, ingestion: the
`make up` stack, `LocalStack`), separate from the ingestion benchmarks' stack so that
identity's work never competes with ingestion's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

import nats

from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.quality.run import Pipeline, QualityRun, send_and_score
from bullseye_devtools.quality.scoring import links_missed, strangers_merged
from bullseye_devtools.quality.traps import TrapQuality
from bullseye_devtools.stack.local import LocalStack, create_api_key
from bullseye_devtools.traffic.journeys import generate_journeys

SEED = 20261123
RESOLVED = "RESOLVED"


@contextlib.contextmanager
def identity_stack(session: Session) -> Iterator[LocalStack]:
    session.step("starting PostgreSQL, a strict nats-server, identity and ingestion")
    stack = LocalStack(session.workdir / "identity", database_url=None)
    try:
        yield stack.start()
    finally:
        stack.stop()


def pipeline(stack: LocalStack, source: str) -> Pipeline:
    key = create_api_key(stack.env, source=source, rate=1_000_000, burst=1_000_000, backfill=True)
    return Pipeline(
        ingestion_address=stack.ingestion_address,
        api_key=key,
        nats_url=stack.env["NATS_URL"],
        identity_metrics_url=stack.identity_metrics_url,
    )


EXAMPLES = 5


def _missed_example(run: QualityRun, group: int, spread: Counter[str]) -> dict[str, object]:
    person = next(run.truth.person[e] for e, g in run.truth.group.items() if g == group)
    events = sorted(spread.values(), reverse=True)
    return {"person": person, "trap": run.journeys.trap_of.get(person, ""), "events_per_resolved_person": events}


def _diagnostics(run: QualityRun) -> dict[str, object]:
    """What to look at when a target is missed: the persons whose events identity put together
    (precision), the groups it left apart (recall), each true person with their trap."""
    final, trap_of = run.resolution.final(), run.journeys.trap_of
    merged = strangers_merged(run.truth, final)
    missed = links_missed(run.truth, final)
    merged_examples = [
        {str(person): {"events": n, "trap": trap_of.get(person, "")} for person, n in members.items()}
        for members in list(merged.values())[:EXAMPLES]
    ]
    missed_examples = [_missed_example(run, group, spread) for group, spread in list(missed.items())[:EXAMPLES]]
    return {
        "strangers_merged": len(merged),
        "strangers_merged_examples": merged_examples,
        "links_missed": len(missed),
        "links_missed_examples": missed_examples,
    }


def trap_detail(figures: TrapQuality) -> dict[str, object]:
    p = figures.pairs
    return {
        "persons": figures.persons,
        "events": figures.events,
        "unscorable": figures.unscorable,
        "not_resolved": figures.not_resolved,
        "precision": round(p.precision, 6),
        "recall": round(p.recall, 6),
        "pairs": {"predicted": p.predicted, "wrong": p.wrong, "linkable": p.linkable, "missed": p.missed},
    }


def quality_detail(run: QualityRun) -> dict[str, object]:
    """Counts, pairs, merges and conflicts, per trap, and what to look at when a target is missed."""
    q = run.quality
    return {
        "persons_generated": run.journeys.persons,
        "events": len(run.journeys.events),
        "accepted": run.sent.accepted,
        "traps": dict(run.journeys.traps),
        "scorable": q.scorable,
        "unscorable": dict(run.truth.unscorable),
        "unresolved": q.unresolved,
        "true_persons": q.true_persons,
        "linkable_groups": q.linkable_groups,
        "predicted_persons": q.predicted_persons,
        "pairs": {"predicted": q.predicted_pairs, "correct": q.correct_pairs, "linkable": q.linkable_pairs,
                  "found": q.found_pairs},
        "merges_by_rule": dict(run.resolution.merge_rules),
        "conflicts_by_rule": dict(run.conflicts),
        "by_trap": {trap: trap_detail(figures) for trap, figures in run.by_trap().items()},
        **_diagnostics(run),
    }  # fmt: skip


@benchmark(
    "identity.quality",
    provides=[
        "identity.quality.precision", "identity.quality.recall", "identity.quality.persons",
        "identity.quality.merges", "identity.quality.conflicts",
    ],
)  # fmt: skip
def quality(session: Session) -> Iterator[Result]:
    """Journeys full of traps sent through ingestion; pairwise precision and recall of the
    persons identity resolves them to, over the events some rule can attribute."""
    stack: LocalStack = session.resource("identity", identity_stack)
    persons = 60 if session.quick else 3000
    journeys = generate_journeys(persons, SEED)
    session.step(f"{persons:,} persons' journeys: {len(journeys.events):,} events, traps {dict(journeys.traps)}")
    before = asyncio.run(resolved_events(stack.env["NATS_URL"]))
    run = asyncio.run(send_and_score(journeys, pipeline(stack, "bench-journeys"), resolved_before=before))
    q, detail = run.quality, quality_detail(run)
    session.step(
        f"precision {q.precision:.4f}, recall {q.recall:.4f}; {q.scorable:,} scorable, {q.unscorable:,} unscorable "
        f"events; {run.persons:,} persons for {journeys.persons:,} true; merges {run.resolution.merges:,}, "
        f"conflicts {sum(run.conflicts.values()):,.0f}"
    )
    yield Result("identity.quality.precision", q.precision, "ratio", target=Target(">=", 1.0), detail=detail)
    yield Result("identity.quality.recall", q.recall, "ratio", target=Target(">=", 0.99), detail=detail)
    yield Result("identity.quality.persons", float(run.persons), "persons", detail={"true": journeys.persons})
    yield Result(
        "identity.quality.merges", float(run.resolution.merges), "merges", detail=dict(run.resolution.merge_rules)
    )
    yield Result(
        "identity.quality.conflicts", float(sum(run.conflicts.values())), "conflicts", detail=dict(run.conflicts)
    )


async def resolved_events(nats_url: str) -> int:
    """ResolvedEvent records in RESOLVED (facts excluded), from the server's per-subject counts."""
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info(RESOLVED, subjects_filter="resolved.>")
    except nats.js.errors.NotFoundError:
        return 0
    finally:
        await client.close()
    return sum(n for subject, n in (info.state.subjects or {}).items() if ".identity." not in subject)
