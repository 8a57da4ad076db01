"""Every process the stacks start binds its own port (0: the kernel's pick) and says which it
got; nothing picks a port for another process to bind later, which could be taken first.
Services that must know each other's address before either starts meet on Unix sockets
whose paths the stack chooses."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import asyncpg
import psutil
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.postgres import socket_dir
from bullseye_devtools.stack.services import ServiceProcess, service_socket, wait_until_serving
from bullseye_platform.sockets import fits

DEFAULT_INGESTION_PORT = 50051  # IngestionConfig's default gRPC port


def listening(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on."""
    return {c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN}


def test_a_service_serves_where_it_reports_and_a_restart_keeps_its_address(
    ingestion_env: dict[str, str], stack_dir: Path
) -> None:
    env = {**ingestion_env, "INGESTION_METRICS_PORT": "0"}
    service = ServiceProcess("ingestion", "bullseye_ingestion", env, stack_dir / "logs-ports").start()
    try:
        assert service.proc is not None
        assert {service.port, service.metrics_port} <= listening(service.proc.pid)
        address = service.address

        service.stop()
        service.start()

        assert service.address == address, "clients holding the address reach the restarted process"
        assert service.proc is not None and service.port in listening(service.proc.pid)
        wait_until_serving(service.address, timeout=5)
    finally:
        service.stop()


def test_a_process_named_apart_from_its_service_still_binds_a_port_of_its_own(
    ingestion_env: dict[str, str], stack_dir: Path
) -> None:
    """A second process of a service (the benchmark's `recommendation-projection`) is named
    apart; its port setting must still reach it, or it binds the service's default port,
    which another stack on the machine may hold."""
    with contextlib.ExitStack() as held:
        with contextlib.suppress(OSError):  # taken already: held by someone else, just as well
            taken = held.enter_context(socket.socket())
            taken.bind(("0.0.0.0", DEFAULT_INGESTION_PORT))
            taken.listen()
        service = ServiceProcess("ingestion-second", "bullseye_ingestion", ingestion_env, stack_dir / "logs-ports")
        try:
            service.start()  # with the default taken, a process that did not get its setting exits
            assert service.proc is not None
            assert psutil.Process(service.proc.pid).environ()["INGESTION_GRPC_PORT"] == "0"
            assert listening(service.proc.pid) == {service.port}
        finally:
            service.stop()


def test_a_service_given_a_socket_serves_on_it_before_anyone_learns_its_port_and_after_a_restart(
    ingestion_env: dict[str, str], stack_dir: Path
) -> None:
    socket = service_socket(stack_dir / "sockets-ports", "ingestion")
    service = ServiceProcess("ingestion", "bullseye_ingestion", ingestion_env, stack_dir / "logs-ports", socket=socket)
    address = service.socket_address  # what another service is configured with, before the start
    try:
        service.start()
        wait_until_serving(address, timeout=5)
        service.stop()

        service.start()
        wait_until_serving(address, timeout=5)
    finally:
        service.stop()


def test_a_socket_path_too_long_for_the_kernel_has_a_short_stand_in_the_same_each_time(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)

    moved = service_socket(deep, "identity")

    assert fits(moved) and moved.suffix == ".sock"
    assert moved == service_socket(deep, "identity"), "a restarted service is where its callers look"
    assert moved != service_socket(deep, "ingestion")
    assert service_socket(Path("/srv/stack"), "identity") == Path("/srv/stack/identity.sock"), "short enough: kept"


def test_without_a_metrics_port_setting_no_metrics_are_served(ingestion_env: dict[str, str], stack_dir: Path) -> None:
    service = ServiceProcess("ingestion", "bullseye_ingestion", ingestion_env, stack_dir / "logs-ports").start()
    try:
        assert service.proc is not None and service.reported is not None
        assert service.reported.metrics_ports == ()
        assert listening(service.proc.pid) == {service.port}
    finally:
        service.stop()


def test_nats_server_listens_where_it_reports(nats_server: NatsServer) -> None:
    assert nats_server.proc is not None
    assert listening(nats_server.proc.pid) == {int(nats_server.url.rsplit(":", 1)[1])}


async def test_postgres_without_a_port_listens_on_its_unix_socket_only(postgres: PostgresServer) -> None:
    assert postgres.proc is not None
    assert listening(postgres.proc.pid) == set()
    conn = await asyncpg.connect(postgres.dsn)
    try:
        assert await conn.fetchval("SELECT current_database()") == postgres.database
    finally:
        await conn.close()


def test_a_socket_folder_too_deep_for_a_unix_socket_moves_to_the_temp_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)

    moved = socket_dir(deep, 5432)

    assert fits(moved / ".s.PGSQL.5432")
    assert moved == socket_dir(deep, 5432), "the same folder for the same cluster, across restarts"
    assert socket_dir(Path("/srv/pg"), 5432) == Path("/srv/pg/sockets")  # one that fits stays where it is


async def test_a_stopped_postgres_leaves_no_socket_folder_in_the_temp_folder(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / ("d" * 60) / ("e" * 60)).start()
    try:
        assert not server.sockets.is_relative_to(tmp_path)  # the socket had to move to the temp folder
        conn = await asyncpg.connect(server.dsn)
        await conn.close()
    finally:
        server.stop()
    assert not server.sockets.exists()
