"""Several profile processes split RESOLVED's partitions (PROFILE_WORKER_PARTITIONS, or their
ordinals among PROFILE_WORKER_COUNT as a StatefulSet's pods): together they fold what one
process folds, a serving-only process (PROFILE_PROJECTION=false) answers from what they fold,
and a rebuild's replay ends (marker cleared, sweep and RFM due) only when every partition of
every process has reached its end, not when the first does.

The workload and the comparison are test_profile_rebuild's: the same events, merges and
splits; a hash of the projected tables plus every profile read through gRPC.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import asyncpg
import pytest
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.config import ConfigError, load
from bullseye_profile.config import PREFIX, ProfileConfig
from nats.aio.client import Client as NATS

from tests import credentials
from tests.platform.waiting import wait_until
from tests.profile.support import REPLAYING, ProfileUnderTest, rebuild, start_profile, stop_profile
from tests.profile.test_profile_rebuild import Workload, new_workload, run_to_end, snapshot

FIRST, SECOND = "0-1", "2,3"  # support.PARTITIONS = 4
REQUIRED = {"NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "postgresql://u@h/db", **credentials.service_keys()}


@pytest.fixture(scope="module")
async def split_workload(nc: NATS) -> Workload:
    return await new_workload(nc, "workers", 11)


@pytest.fixture(scope="module")
async def one_process(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, split_workload: Workload
) -> tuple[str, dict[str, bytes]]:
    """What a single process (all partitions) folds: the reference."""
    started = await run_to_end(nc, nats_server, postgres, stack_dir, split_workload)
    try:
        return await snapshot(started, split_workload)
    finally:
        await stop_profile(started)


async def reached(pool: asyncpg.Pool, ends: Mapping[int, int], partitions: Sequence[int]) -> bool:
    rows = await pool.fetch("SELECT partition, stream_seq FROM projection_positions WHERE projection = 'profile'")
    at = {r["partition"]: r["stream_seq"] for r in rows}
    return all(at.get(p, 0) >= ends[p] for p in partitions if p in ends)


async def start_worker(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, workload: Workload,
    *, schema: str, partitions: str = "", **extra: str,
) -> ProfileUnderTest:  # fmt: skip
    if partitions:
        extra["PROFILE_WORKER_PARTITIONS"] = partitions
    started = await start_profile(
        nc, nats_server, postgres, stack_dir / "logs", stream=workload.stream, schema=schema, **extra
    )  # fmt: skip
    started.feed.ends.update(workload.ends)
    return started


async def test_two_processes_splitting_the_partitions_fold_what_one_folds(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, split_workload: Workload,
    one_process: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    schema = f"profile_split{random.randrange(10**6)}"
    first = await start_worker(nc, nats_server, postgres, stack_dir, split_workload, schema=schema, partitions=FIRST)
    second = await start_worker(nc, nats_server, postgres, stack_dir, split_workload, schema=schema, partitions=SECOND)
    try:
        await first.caught_up()  # positions are per partition in the shared schema: both halves
        assert await snapshot(first, split_workload) == one_process
    finally:
        await stop_profile(first)
        await stop_profile(second)


async def test_workers_by_ordinal_fold_what_one_folds_and_a_serving_only_process_answers(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, split_workload: Workload,
    one_process: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    schema = f"profile_ordinal{random.randrange(10**6)}"
    pods = [
        await start_worker(
            nc, nats_server, postgres, stack_dir, split_workload, schema=schema,
            PROFILE_WORKER_COUNT="2", PROFILE_WORKER_ORDINAL=f"profile-projection-{ordinal}",
        )
        for ordinal in (0, 1)
    ]  # fmt: skip
    serving = await start_worker(
        nc, nats_server, postgres, stack_dir, split_workload, schema=schema, PROFILE_PROJECTION="false"
    )  # fmt: skip
    try:
        await pods[0].caught_up()
        assert await snapshot(serving, split_workload) == one_process

        # An empty schema replays RESOLVED, with a reader per partition; once its partitions
        # have replayed, each pod reads its share with one (<consumer>-p0-1, <consumer>-p2-3, the
        # consumer named after the schema here). A serving-only process that folded would add
        # its reader of all four, <consumer>-p0-1-2-3.
        async def read_by_the_pods_alone() -> bool:
            every = await nc.jetstream().consumers_info(split_workload.stream.name)
            consumers = {c.name for c in every if (c.name or "").startswith(f"{schema}-")}  # not one_process's
            return consumers == {f"{schema}-p0-1", f"{schema}-p2-3"}

        await wait_until(read_by_the_pods_alone)
    finally:
        for started in (serving, *pods):
            await stop_profile(started)


async def test_a_rebuild_replayed_by_two_processes_ends_only_when_both_reached_their_ends(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, split_workload: Workload,
    one_process: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    whole = await run_to_end(nc, nats_server, postgres, stack_dir, split_workload)
    await stop_profile(whole)
    await rebuild(dict(whole.service.env))

    first = await start_worker(
        nc, nats_server, postgres, stack_dir, split_workload, schema=whole.schema, partitions=FIRST
    )  # fmt: skip
    try:
        await wait_until(lambda: reached(first.pool, split_workload.ends, (0, 1)), within=60, every=0.05)
        # The first process's batches that reached its targets committed: its half is over, not the replay.
        assert await first.pool.fetchval(REPLAYING) == 1
        pending = await first.pool.fetch(
            "SELECT partition FROM projection_replay_partitions WHERE projection = 'profile'"
        )
        assert sorted(r[0] for r in pending) == [p for p in (2, 3) if p in split_workload.ends]
        second = await start_worker(
            nc, nats_server, postgres, stack_dir, split_workload, schema=whole.schema, partitions=SECOND
        )  # fmt: skip
        try:
            await first.caught_up()

            async def replay_over() -> bool:
                return not await first.pool.fetchval(
                    "SELECT count(*) FROM projection_replays WHERE projection = 'profile'"
                )

            await wait_until(replay_over)
            assert await snapshot(second, split_workload) == one_process
        finally:
            await stop_profile(second)
    finally:
        await stop_profile(first)


@pytest.mark.parametrize("value", ["0-4", "x", "3-1", ","])
def test_worker_partitions_outside_the_stream_or_malformed_stop_start_up(value: str) -> None:
    environ = {**REQUIRED, "PROFILE_RESOLVED_PARTITIONS": "4", "PROFILE_WORKER_PARTITIONS": value}
    with pytest.raises(ConfigError, match="PROFILE_WORKER_PARTITIONS"):
        load(ProfileConfig, prefix=PREFIX, environ=environ)


def test_worker_partitions_name_ranges_and_lists() -> None:
    environ = {**REQUIRED, "PROFILE_RESOLVED_PARTITIONS": "16", "PROFILE_WORKER_PARTITIONS": "0-2, 8,10-11"}
    assert load(ProfileConfig, prefix=PREFIX, environ=environ).owned_partitions() == (0, 1, 2, 8, 10, 11)
    del environ["PROFILE_WORKER_PARTITIONS"]
    assert load(ProfileConfig, prefix=PREFIX, environ=environ).owned_partitions() == tuple(range(16))


@pytest.mark.parametrize("workers", [1, 2, 3, 5, 16])
def test_ordinals_share_every_partition_exactly_once(workers: int) -> None:
    environ = {**REQUIRED, "PROFILE_RESOLVED_PARTITIONS": "16", "PROFILE_WORKER_COUNT": str(workers)}
    configs = [
        load(ProfileConfig, prefix=PREFIX, environ={**environ, "PROFILE_WORKER_ORDINAL": f"profile-{n}"})
        for n in range(workers)
    ]
    shares = [config.owned_partitions() for config in configs]
    assert sorted(p for share in shares for p in share) == list(range(16))
    assert all(share == tuple(range(share[0], share[-1] + 1)) for share in shares), "contiguous shares"


@pytest.mark.parametrize(
    ("count", "ordinal", "problem"),
    [("2", "2", "not below"), ("2", "profile-x", "not a number"), ("5", "0", "between 1 and the 4"),
     ("2", "", "not a number"), ("2", "profile-²", "not a number")],
)  # fmt: skip
def test_a_bad_ordinal_or_too_many_workers_stop_start_up(count: str, ordinal: str, problem: str) -> None:
    environ = {**REQUIRED, "PROFILE_RESOLVED_PARTITIONS": "4", "PROFILE_WORKER_COUNT": count}
    with pytest.raises(ConfigError, match=problem):
        load(ProfileConfig, prefix=PREFIX, environ={**environ, "PROFILE_WORKER_ORDINAL": ordinal})


def test_partitions_by_list_and_by_ordinal_cannot_both_be_set() -> None:
    environ = {**REQUIRED, "PROFILE_WORKER_COUNT": "2", "PROFILE_WORKER_ORDINAL": "1", "PROFILE_WORKER_PARTITIONS": "0"}
    with pytest.raises(ConfigError, match="set one, not both"):
        load(ProfileConfig, prefix=PREFIX, environ=environ)


@pytest.mark.parametrize(
    ("variables", "problem"),
    [({"PROFILE_FIXED_NOW": "yesterday"}, "PROFILE_FIXED_NOW='yesterday'"),
     ({"PROFILE_TLS_CERT_FILE": "server.pem"}, "PROFILE_TLS_KEY_FILE go together")],
)  # fmt: skip
def test_the_clock_and_tls_variables_are_checked_beside_the_partitions(variables: dict[str, str], problem: str) -> None:
    """Profile's config has two bases with checks of their own (the service's, the clock's)."""
    with pytest.raises(ConfigError, match=problem):
        load(ProfileConfig, prefix=PREFIX, environ={**REQUIRED, **variables})
