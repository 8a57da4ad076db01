"""What profile made of the demo's traffic, read through its public surfaces only: the
RESOLVED consumers' positions in JetStream, the gRPC API and the PROFILE stream.

`collect` waits until profile applied all of RESOLVED, recomputes RFM, defines the demo's
audiences and tallies every resolved person's profile; the report and the checks read the
`ProfileFigures` it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye.profile.v1 import profile_pb2_grpc as pb_grpc
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_platform.auth import TokenMinter
from bullseye_platform.grpc import client
from nats.js import JetStreamContext

from bullseye_devtools.demo.audiences import AUDIENCES, Audience

RESOLVED, PROFILE = "RESOLVED", "PROFILE"
BATCH = 100  # BatchGetProfiles' limit


@dataclass(frozen=True)
class SegmentFigures:
    audience: Audience
    estimate: int
    population: int  # profiles Estimate looked at
    members: frozenset[str]
    member_count: int  # GetSegment's
    facts: frozenset[str]  # persons whose last fact on PROFILE for this segment is an entry
    entered: int
    exited: int


@dataclass
class ProfileFigures:
    persons: int = 0  # persons identity resolved the traffic to
    missing: list[str] = field(default_factory=list)  # resolved persons without a profile
    catch_up_s: float = 0.0
    purchasers: int = 0  # RecomputeRfm's population
    rfm: Counter[str] = field(default_factory=Counter)
    lifecycle: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    orders: int = 0
    revenue: float = 0.0
    segments: list[SegmentFigures] = field(default_factory=list)

    @property
    def population(self) -> int:
        """Profiles, as Estimate counts them."""
        return self.segments[0].population if self.segments else 0


def _enum_label(enum: object, number: int, prefix: str) -> str:
    name: str = enum.Name(number)  # type: ignore[attr-defined]
    return name.removeprefix(prefix).lower().replace("_", " ")


async def _pending(js: JetStreamContext, consumer: str) -> int | None:
    """Records of RESOLVED profile has not committed yet (None: its consumers are not there yet).
    Profile acks a batch only after committing it, so nothing pending or unacked = applied.
    Its durable consumers are `<consumer>-p<partitions...>`, one per reader (the demo's stack
    is fresh, so no other ones are left over)."""
    infos = [i for i in await js.consumers_info(RESOLVED) if (i.name or "").startswith(f"{consumer}-p")]
    if not infos:
        return None
    return sum((i.num_pending or 0) + (i.num_ack_pending or 0) for i in infos)


async def wait_caught_up(js: JetStreamContext, *, consumer: str = "profile", stall: float = 60.0) -> float:
    """Seconds until profile's RESOLVED consumers have nothing pending or unacknowledged.

    Raises:
        TimeoutError: no progress for `stall` seconds; the message says how much was left.
    """
    started = last_progress = time.monotonic()
    best: int | None = None
    while (left := await _pending(js, consumer)) != 0:
        if left is not None and (best is None or left < best):
            best, last_progress = left, time.monotonic()
        if time.monotonic() - last_progress > stall:
            raise TimeoutError(f"profile stopped applying {RESOLVED}: {left} records left after {stall:.0f}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def _ready(
    api: pb_grpc.ProfileServiceAsyncStub, segment_id: str, *, within: float = 120.0
) -> sg.GetSegmentResponse:
    deadline = time.monotonic() + within
    while True:
        reply: sg.GetSegmentResponse = await api.GetSegment(sg.GetSegmentRequest(segment_id=segment_id))
        if reply.segment.membership_state == sg.MEMBERSHIP_STATE_READY:
            return reply
        if time.monotonic() > deadline:
            raise TimeoutError(f"segment {segment_id} still recomputing after {within:.0f}s")
        await asyncio.sleep(0.2)


async def _members(api: pb_grpc.ProfileServiceAsyncStub, segment_id: str) -> frozenset[str]:
    found: set[str] = set()
    async for page in api.ListMembers(sg.ListMembersRequest(segment_id=segment_id, page_size=5000)):
        found.update(member.person_id for member in page.members)
    return frozenset(found)


Facts = dict[str, list[tuple[str, bool]]]


def inside(facts: list[tuple[str, bool]]) -> frozenset[str]:
    """Who is in after (person, entered) facts in stream order."""
    last = dict(facts)
    return frozenset(person for person, entered in last.items() if entered)


async def _facts(js: JetStreamContext) -> Facts:
    """segment -> its segment.entered / segment.exited facts on PROFILE, as (person, entered), in order."""
    state: Facts = {}
    info = await js.stream_info(PROFILE)
    sub = await js.subscribe(f"{PROFILE.lower()}.>", stream=PROFILE, ordered_consumer=True)
    try:
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=10)
            if msg.subject.endswith((".segment.entered", ".segment.exited")):  # not a definition's fact
                fact = sg.SegmentMembershipChanged.FromString(msg.data)
                state.setdefault(fact.segment_id, []).append((fact.person_id, fact.entered))
    finally:
        await sub.unsubscribe()
    return state


async def _settled_facts(js: JetStreamContext, members: dict[str, frozenset[str]], *, within: float = 30.0) -> Facts:
    """The facts once they account for every member, or as they are after `within` seconds:
    the outbox relay publishes them a moment after the membership commits."""
    deadline = time.monotonic() + within
    while True:
        facts = await _facts(js)
        if {sid: inside(facts.get(sid, [])) for sid in members} == members or time.monotonic() > deadline:
            return facts
        await asyncio.sleep(0.5)


async def _define(api: pb_grpc.ProfileServiceAsyncStub, audience: Audience) -> None:
    """Create the segment; on a database kept from an earlier run (DATABASE_URL) it exists
    already: its rule is then set again, which recomputes its members."""
    try:
        await api.CreateSegment(sg.CreateSegmentRequest(segment=audience.segment()))
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        await api.UpdateSegment(sg.UpdateSegmentRequest(segment=audience.segment()))


async def segment_figures(api: pb_grpc.ProfileServiceAsyncStub, js: JetStreamContext) -> list[SegmentFigures]:
    """Create every audience, wait for its first full computation, then size it three ways:
    Estimate of its rule, its members (ListMembers, GetSegment) and its facts on PROFILE."""
    for audience in AUDIENCES:
        await _define(api, audience)
    counts = {a.segment_id: (await _ready(api, a.segment_id)).member_count for a in AUDIENCES}
    members = {a.segment_id: await _members(api, a.segment_id) for a in AUDIENCES}
    facts = await _settled_facts(js, members)
    found = []
    for audience in AUDIENCES:
        estimate = await api.Estimate(sg.EstimateRequest(rule=audience.rule))
        ours = facts.get(audience.segment_id, [])
        entered = sum(verb for _, verb in ours)
        found.append(SegmentFigures(
            audience, estimate.matching, estimate.population, members[audience.segment_id],
            counts[audience.segment_id], inside(ours), entered=entered, exited=len(ours) - entered,
        ))  # fmt: skip
    return found


def _tally(figures: ProfileFigures, profile: pb.Profile) -> None:
    value = profile.value
    if value.orders:
        figures.rfm[_enum_label(pb.RfmSegment, value.rfm.segment, "RFM_SEGMENT_")] += 1
    figures.lifecycle[_enum_label(pb.LifecycleStage, profile.lifecycle_stage, "LIFECYCLE_STAGE_")] += 1
    figures.tags.update(tag.name for tag in profile.tags)
    figures.orders += value.orders
    figures.revenue += value.revenue


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    return (items[start : start + size] for start in range(0, len(items), size))


async def tally_profiles(api: pb_grpc.ProfileServiceAsyncStub, persons: Iterable[str], figures: ProfileFigures) -> None:
    """Every person's profile (BatchGetProfiles, 100 at a time): RFM segments, lifecycle, tags, value."""
    everyone = sorted(set(persons))
    figures.persons = len(everyone)
    for chunk in _chunks(everyone, BATCH):
        reply = await api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=chunk))
        figures.missing += reply.missing_person_ids
        for profile in reply.profiles:
            _tally(figures, profile)


async def collect(
    address: str, js: JetStreamContext, persons: Iterable[str], *, operator: TokenMinter
) -> ProfileFigures:
    """Everything the report says about profiles, once profile applied all of RESOLVED (asked as
    the stack's operator)."""
    figures = ProfileFigures(catch_up_s=await wait_caught_up(js))
    async with client.channel(address, credentials=operator, deadline=None) as channel:
        api = pb_grpc.ProfileServiceStub(channel)
        figures.purchasers = (await api.RecomputeRfm(pb.RecomputeRfmRequest())).purchasers
        await tally_profiles(api, persons, figures)
        figures.segments = await segment_figures(api, js)
    return figures
