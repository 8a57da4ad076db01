"""Atomic batches staged in memory: where a single-node nats-server spends its time.

nats-server stages each atomic batch of a one-replica file stream in a file store of its
own under `<stream>/batches/<hash>` (a directory made, written, fsynced and removed per
batch; multi-replica and memory streams stage in memory). The staging copy is never
acknowledged and is thrown away at commit, when the messages are written to the stream
and fsynced, so it needs no disk: pointing `batches` at tmpfs loses nothing. Measured
here (`make bench BENCH=ingest`), it cut the server's CPU per event by ~30% and the p99
of a 100-event batch under load about threefold. A Kubernetes deployment mounts an
`emptyDir: {medium: Memory}` at the same path (deploy/README.md).

nats-server deletes `batches` when it restores a stream at startup, so the links are
made after the server is up, and also for streams not created yet: it skips, with a
warning, a stream folder that has no metadata.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

TMPFS = Path("/dev/shm")
ACCOUNT = "$G"  # the global account: this stack configures no accounts

# The streams the services own (their *_STREAM defaults); a stream missing here still
# works, staging on disk until the next restart links it.
BULLSEYE_STREAMS = ("EVENTS", "CATALOG", "RESOLVED", "PROFILE")


def memory_folder(store_dir: Path) -> Path | None:
    """This server's staging area on tmpfs, stable across restarts; None without tmpfs."""
    if not (TMPFS.is_dir() and os.access(TMPFS, os.W_OK)):
        return None
    digest = hashlib.sha256(str(store_dir.resolve()).encode()).hexdigest()[:16]
    return TMPFS / f"bullseye-nats-{digest}"


def stage_in_memory(store_dir: Path, streams: Iterable[str]) -> Path | None:
    """Link `batches` of `streams` and of every stream already stored to tmpfs.

    Returns the tmpfs folder (for `release`), or None where there is no tmpfs and
    batches stay staged on disk, which is slower but just as correct.
    """
    memory = memory_folder(store_dir)
    if memory is None:
        return None
    streams_dir = store_dir / "jetstream" / ACCOUNT / "streams"
    stored = [p.name for p in streams_dir.iterdir() if p.is_dir()] if streams_dir.is_dir() else []
    for name in {*streams, *stored}:
        _link(streams_dir / name / "batches", memory / name)
    return memory


def _link(batches: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if batches.is_symlink():
        if batches.resolve() == target.resolve():
            return
        batches.unlink()
    elif batches.is_dir():
        shutil.rmtree(batches)  # leftovers of abandoned batches: never acknowledged
    batches.parent.mkdir(parents=True, exist_ok=True)
    batches.symlink_to(target, target_is_directory=True)


def release(memory: Path | None) -> None:
    """Free the tmpfs folder once the server has stopped."""
    if memory is not None:
        shutil.rmtree(memory, ignore_errors=True)
