"""`make up` / `make status` / `make down`: a background stack that outlives the command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import psutil
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as idpb
from bullseye.identity.v1.identity_pb2_grpc import IdentityServiceStub
from bullseye.profile.v1 import profile_pb2 as ppb
from bullseye.profile.v1.profile_pb2_grpc import ProfileServiceStub
from bullseye.recommendation.v1 import recommendation_pb2 as rpb
from bullseye.recommendation.v1.recommendation_pb2_grpc import RecommendationServiceStub
from bullseye_devtools.stack import secrets
from bullseye_devtools.stack.background import parts, read_env
from bullseye_devtools.stack.nats import store_dir
from bullseye_devtools.stack.staging import memory_folder
from bullseye_devtools.traffic import generate, send
from bullseye_platform.auth.operator import operator_credentials

from tests import channels


def stack(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    """The CLI run from the folder above `root` with a relative --dir, as `make up` does."""
    argv = [sys.executable, "-m", "bullseye_devtools.stack", *args, "--dir", root.name]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, env={**os.environ}, cwd=root.parent)


def ports() -> list[str]:
    """Port 0 everywhere: each process binds what the kernel gives it (PostgreSQL: a Unix socket
    only), and the env file says where they are."""
    flags = (
        "--nats-port", "--postgres-port", "--ingestion-port", "--identity-port", "--profile-port",
        "--campaign-port", "--smtp-port", "--http-port", "--recommendation-port",
    )  # fmt: skip
    return [item for flag in flags for item in (flag, "0")]


def identified(email: str) -> ev.Event:
    event = ev.Event(event_id=str(uuid.uuid4()), identifiers=ev.Identifiers(anonymous_id=f"anon-{uuid.uuid4()}"))
    event.occurred_at.GetCurrentTime()
    event.identified.personal.email = email
    return event


async def person_of(env: dict[str, str], email: str, *, wait: float = 30.0) -> str:
    """Identity's person for `email` (a lookup by keyed hash), once it has resolved the event."""
    ref = idpb.IdentifierRef(type=idpb.IDENTIFIER_TYPE_EMAIL, value=email)
    deadline = time.monotonic() + wait
    async with channels.channel(env["IDENTITY_ADDRESS"], caller=operator_credentials(env)) as channel:
        while True:
            try:
                reply = await IdentityServiceStub(channel).Resolve(idpb.ResolveRequest(identifiers=[ref]), timeout=5)
                return str(reply.person_id)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)


async def profile_of(env: dict[str, str], email: str, *, wait: float = 30.0) -> ppb.Profile:
    """Profile's answer for `email`: it asks identity (PROFILE_IDENTITY_ADDRESS) who that is."""
    ref = idpb.IdentifierRef(type=idpb.IDENTIFIER_TYPE_EMAIL, value=email)
    deadline = time.monotonic() + wait
    async with channels.channel(env["PROFILE_ADDRESS"], caller=operator_credentials(env)) as channel:
        while True:
            try:
                reply = await ProfileServiceStub(channel).GetProfile(ppb.GetProfileRequest(identifier=ref), timeout=5)
                return reply.profile
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)


async def recommended_for(env: dict[str, str], email: str) -> str:
    """The person recommendation answers for `email` (asking identity, RECOMMENDATION_IDENTITY_ADDRESS)."""
    ref = idpb.IdentifierRef(type=idpb.IDENTIFIER_TYPE_EMAIL, value=email)
    async with channels.channel(env["RECOMMENDATION_ADDRESS"], caller=operator_credentials(env)) as channel:
        request = rpb.RecommendRequest(identifier=ref, k=3)
        reply = await RecommendationServiceStub(channel).Recommend(request, timeout=5)
    return str(reply.person_id)


async def test_up_leaves_a_working_stack_that_down_stops_and_up_again_keeps_its_secrets(tmp_path: Path) -> None:
    """Identity, profile, ingestion, recommendation and campaign run with generated keys; profile
    and recommendation answer by email through identity; a second `up` reuses the keys, so the
    person found by email (matched by a hash keyed with them) is still found after the restart."""
    root, pids = tmp_path / "local", list[int | None]()
    try:
        started = stack("up", *ports(), root=root)
        assert started.returncode == 0, started.stderr[-2000:]
        env = read_env(root)
        addresses = {"INGESTION_ADDRESS", "IDENTITY_ADDRESS", "PROFILE_ADDRESS", "CAMPAIGN_ADDRESS",
                     "RECOMMENDATION_ADDRESS"}  # fmt: skip
        assert {"NATS_URL", "DATABASE_URL", "BULLSEYE_API_KEY", *addresses} <= set(env)
        assert set(secrets.NAMES) <= set(env)
        assert stack("status", root=root).stdout.count("gRPC health SERVING") == len(addresses)
        events = [*generate(3, 77), identified("restart@example.com")]
        stats = await send(events, address=env["INGESTION_ADDRESS"], api_key=env["BULLSEYE_API_KEY"])
        assert stats.accepted > 0 and stats.rejected == 0
        person = await person_of(env, "restart@example.com")
        profile = await profile_of(env, "restart@example.com")
        assert profile.person_id == person and profile.behaviour.counts_lifetime.identified == 1
        assert await recommended_for(env, "restart@example.com") == person  # through identity too
        assert stack("down", root=root).returncode == 0
        assert stack("up", *ports(), root=root).returncode == 0
        again = read_env(root)
        assert {name: again[name] for name in secrets.NAMES} == {name: env[name] for name in secrets.NAMES}
        assert await person_of(again, "restart@example.com", wait=0) == person
        pids = [part.pid for part in parts(root)]
        assert all(pids)
    finally:
        assert stack("down", root=root).returncode == 0
    assert not any(part.alive for part in parts(root))
    memory = memory_folder(store_dir(root / "nats"))
    assert memory is None or not memory.exists(), "down frees nats-server's tmpfs staging"
    assert not any(pid and psutil.pid_exists(pid) for pid in pids)
