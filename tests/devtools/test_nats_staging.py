"""The local nats-server stages atomic batches in memory, and keeps doing so after a restart."""

from __future__ import annotations

from pathlib import Path

import nats
from bullseye_devtools.stack import NatsServer
from bullseye_devtools.stack.staging import memory_folder
from bullseye_platform.eventlog import Durability, LogMessage, LogWriter, StreamSpec, ensure_stream

SPEC = StreamSpec(name="EVENTS", subject_prefix="events", replicas=1)


def batches_dir(server: NatsServer) -> Path:
    return server.store_dir / "jetstream" / "$G" / "streams" / SPEC.name / "batches"


async def append_batches(server: NatsServer, first: int, count: int) -> int:
    """Append `count` messages in atomic batches of 50; the stream's message count after."""
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, SPEC)
        writer = LogWriter(nc, max_batch=50)
        messages = [LogMessage("events.0.test", b"x" * 100, f"m-{i}") for i in range(first, first + count)]
        appended = await writer.append(messages)
        assert not any(a.duplicate for a in appended)
        await writer.close()
        return int((await js.stream_info(SPEC.name)).state.messages)
    finally:
        await nc.close()


async def test_batches_are_staged_on_tmpfs_before_and_after_a_restart(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats", durability=Durability.STRICT).start()
    try:
        memory = memory_folder(server.store_dir)
        if memory is None:  # no /dev/shm: staging stays on disk, which is correct, only slower
            assert not batches_dir(server).is_symlink()
            return
        assert batches_dir(server).resolve() == (memory / SPEC.name).resolve(), "linked before the stream exists"
        assert await append_batches(server, 0, 200) == 200

        server.stop()
        assert not memory.exists(), "the tmpfs folder goes with the server"
        server.start()  # nats-server deletes `batches` while it restores the stream: linked again
        assert batches_dir(server).resolve() == (memory / SPEC.name).resolve()
        assert await append_batches(server, 200, 200) == 400, "the stream kept every acknowledged message"
    finally:
        server.stop()
