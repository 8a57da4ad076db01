"""The call log of the envelope: quiet when calls go well, a line for each one that does not.

A call that succeeds is logged at DEBUG only (its count and duration are in the metrics), one
slower than the server's `slow_call` at INFO, and a failed one at WARNING, each line naming the
method, the status code and the duration.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests import channels
from tests.platform.test_grpc_server import SERVICE, Probe, call, failure, start_server

LOGGER = "bullseye.grpc"


@pytest.fixture
async def server_address() -> AsyncIterator[str]:
    server = await start_server(Probe(), grace=0.0)
    yield f"127.0.0.1:{server.port}"
    await server.stop()


def call_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, str, str]]:
    """The per-call lines as (level, message, method, code); an unhandled error also logs its
    traceback, under another message."""
    return [
        (r.levelno, r.getMessage(), r.__dict__["method"], r.__dict__["code"])
        for r in caplog.records
        if r.name == LOGGER and r.getMessage() in ("rpc", "slow rpc", "rpc failed")
    ]


async def test_a_call_that_succeeds_logs_nothing_at_info(server_address: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with channels.channel(server_address) as channel:
        assert await call(channel, "Echo", b"ping") == b"ping"

    assert call_lines(caplog) == []


async def test_a_call_that_succeeds_is_logged_at_debug(server_address: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with channels.channel(server_address) as channel:
        await call(channel, "Echo", b"ping")

    assert call_lines(caplog) == [(logging.DEBUG, "rpc", f"/{SERVICE}/Echo", "OK")]


async def test_a_failed_call_is_logged_as_a_warning_with_its_method_code_and_duration(
    server_address: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with channels.channel(server_address) as channel:
        await failure(channel, "Fail", b"not_found")
        await failure(channel, "Crash")

    assert call_lines(caplog) == [
        (logging.WARNING, "rpc failed", f"/{SERVICE}/Fail", "NOT_FOUND"),
        (logging.WARNING, "rpc failed", f"/{SERVICE}/Crash", "INTERNAL"),
    ]
    assert all(r.__dict__["ms"] >= 0 for r in caplog.records if r.levelno == logging.WARNING)


async def test_an_unexpected_exception_is_logged_with_its_traceback(
    server_address: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with channels.channel(server_address) as channel:
        await failure(channel, "Crash")

    [error] = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert error.exc_info is not None and "hunter2" in str(error.exc_info[1])


async def test_a_call_slower_than_the_threshold_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    server = await start_server(Probe(), grace=0.0, slow_call=0.0)  # every call is slow
    try:
        async with channels.channel(f"127.0.0.1:{server.port}") as channel:
            await call(channel, "Echo", b"ping")
    finally:
        await server.stop()

    assert call_lines(caplog) == [(logging.INFO, "slow rpc", f"/{SERVICE}/Echo", "OK")]
