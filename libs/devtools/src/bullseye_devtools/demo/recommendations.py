"""What recommendation made of the demo's traffic, through its public surfaces: a model trained
on it by the service's own `train` command, published, and the recommendations (with their
reasons) of three shoppers: a new one (an identifier identity never saw), a loyal one (the
shopper with the most orders, by account) and one mid-session (on a product page, after the
last products they viewed).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as idpb
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as pb_grpc
from bullseye_platform.grpc import client

from bullseye_devtools.demo.context import Check, Section
from bullseye_devtools.demo.profiles import wait_caught_up
from bullseye_devtools.stack.local import LocalStack

K = 5


@dataclass(frozen=True)
class Shopper:
    label: str  # who they are in the report
    request: pb.RecommendRequest
    response: pb.RecommendResponse


@dataclass
class RecommendationFigures:
    trained: dict[str, object] = field(default_factory=dict)  # the train command's outcome
    train_seconds: float = 0.0
    catch_up_s: float = 0.0
    shoppers: list[Shopper] = field(default_factory=list)


def _train(stack: LocalStack) -> tuple[dict[str, object], float]:
    assert stack.recommendation is not None
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bullseye_recommendation", "train", "--publish"],
                          env={**os.environ, **stack.recommendation.env}, capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"recommendation's train command failed: {done.stderr[-2000:]}")
    outcome: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome, time.perf_counter() - started


def _personalized(events: list[ev.Event]) -> set[str]:
    """Identifiers (accounts and devices) of visits that granted personalization and never refused it:
    the shoppers whose answers the model may make (a refusal makes them non-personalized)."""
    said: dict[str, set[bool]] = {}
    for e in events:
        choice = e.consent_changed
        if e.HasField("consent_changed") and choice.purpose == ev.CONSENT_PURPOSE_PERSONALIZATION:
            for value in (e.identifiers.user_id, e.identifiers.anonymous_id):
                said.setdefault(value, set()).add(choice.granted)
    return {value for value, choices in said.items() if value and choices == {True}}


def _requests(events: list[ev.Event]) -> list[tuple[str, pb.RecommendRequest]]:
    """The three shoppers' requests, from the traffic sent: identifiers and products as the shop knows them."""
    allowed = _personalized(events)
    orders = Counter(e.identifiers.user_id for e in events
                     if e.identifiers.user_id in allowed and e.HasField("order_completed"))  # fmt: skip
    loyal = orders.most_common(1)[0][0]
    views: dict[str, list[str]] = {}
    for e in events:
        if e.HasField("product_viewed") and e.identifiers.anonymous_id in allowed:
            views.setdefault(e.identifiers.anonymous_id, []).append(e.product_viewed.product_id)
    device, seen = max(views.items(), key=lambda pair: len(pair[1]))
    latest = list(dict.fromkeys(reversed(seen)))[:3]  # most recent first, each once
    by = idpb.IdentifierRef
    return [
        ("new shopper (a device never seen)", pb.RecommendRequest(
            k=K, identifier=by(type=idpb.IDENTIFIER_TYPE_ANONYMOUS_ID, value="demo-first-visit"),
            context=pb.Context(placement="home"))),
        (f"loyal shopper ({orders[loyal]} orders)", pb.RecommendRequest(
            k=K, identifier=by(type=idpb.IDENTIFIER_TYPE_USER_ID, value=loyal), context=pb.Context(placement="home"))),
        ("mid-session shopper (on a product page)", pb.RecommendRequest(
            k=K, identifier=by(type=idpb.IDENTIFIER_TYPE_ANONYMOUS_ID, value=device),
            context=pb.Context(placement="product-page", current_item_id=latest[0], session_item_ids=latest[1:]))),
    ]  # fmt: skip


async def _serving(api: pb_grpc.RecommendationServiceAsyncStub, probe: pb.RecommendRequest, version: str,
                   *, within: float = 60.0) -> None:  # fmt: skip
    """Until `probe` (a shopper with a history who allows personalization) is scored by `version`."""
    deadline = time.monotonic() + within
    while (await api.Recommend(probe)).model_version != version:
        if time.monotonic() > deadline:
            raise TimeoutError(f"recommendation did not serve {version} within {within:.0f}s")
        await asyncio.sleep(0.2)


async def collect(stack: LocalStack, js: object, events: list[ev.Event]) -> RecommendationFigures:
    """Wait for the projection, train and publish, then ask for the three shoppers."""
    figures = RecommendationFigures()
    figures.catch_up_s = await wait_caught_up(js, consumer="recommendation")  # type: ignore[arg-type]
    figures.trained, figures.train_seconds = await asyncio.to_thread(_train, stack)
    channel = client.channel(stack.recommendation_address, credentials=stack.operator(), deadline=30)
    try:
        api = pb_grpc.RecommendationServiceStub(channel)
        asked = _requests(events)
        await _serving(api, asked[1][1], str(figures.trained["version"]))  # the loyal shopper
        for label, request in asked:
            figures.shoppers.append(Shopper(label, request, await api.Recommend(request)))
    finally:
        await channel.close(None)
    return figures


def _reason(number: pb.Reason.ValueType) -> str:
    return pb.Reason.Name(number).removeprefix("REASON_").lower().replace("_", " ")


def sections(figures: RecommendationFigures) -> list[Section]:
    metrics = figures.trained.get("metrics", {})
    assert isinstance(metrics, dict)
    model = Section(
        "Recommendation model (trained on the demo's traffic)",
        [
            ("version", str(figures.trained.get("version"))),
            ("items", f"{figures.trained.get('items')}"),
            ("validation HR@10 / NDCG@10", f"{metrics.get('hr_at_10', 0):.4f} / {metrics.get('ndcg_at_10', 0):.4f}"
             f" ({int(metrics.get('cases', 0)):,} persons' latest item held out)"),
            ("train + publish", f"{figures.train_seconds:.1f} s (the service's `train --publish`)"),
            ("RESOLVED applied", f"{figures.catch_up_s:.1f} s after profile's"),
        ],
        "the blend: a sequence model and a taste (EASE) part, exported to ONNX and served by every process",
    )  # fmt: skip
    return [model, *(_shown(shopper) for shopper in figures.shoppers)]


def _shown(shopper: Shopper) -> Section:
    response = shopper.response
    rows = [(str(n), item.title, " > ".join(item.category_path), _reason(item.reason), f"{item.score:.3f}")
            for n, item in enumerate(response.items, 1)]  # fmt: skip
    note = (f"variant {response.variant}, model {response.model_version or 'none (no model scored it)'}, "
            f"placement {shopper.request.context.placement}")  # fmt: skip
    header = ("#", "item", "category", "reason", "score")
    return Section(f"Recommendations for a {shopper.label}", rows, note, header=header)


def checks(figures: RecommendationFigures) -> list[Check]:
    version = str(figures.trained.get("version"))
    served = [s for s in figures.shoppers if s.response.model_version == version]
    new = figures.shoppers[0].response
    return [
        Check("a model trained on the demo traffic is published and served", bool(figures.trained.get("published"))
              and len(served) == 2, f"{version}, scoring {len(served)} of the 2 known shoppers"),
        Check("every shopper gets recommendations with reasons",
              all(len(s.response.items) == K and all(i.reason for i in s.response.items) for s in figures.shoppers),
              f"{K} items each"),
        Check("a new shopper gets a cold start", {i.reason for i in new.items} == {pb.REASON_COLD_START},
              ", ".join(sorted({_reason(i.reason) for i in new.items}))),
    ]  # fmt: skip
