"""A serving process's note of the impressions it has answered but not yet written to RECO.

Impressions are written in batches off the call path (serving/impressions.py), so a process
killed between two batches loses what it answered since the last one. To count that loss,
each process appends one short line per answer to a spool file of its own (a `write` into
the page cache: it survives the process, not the machine) and one line per written batch;
the file is emptied whenever nothing is pending. The process holds an exclusive `flock` on
its file while it lives, so the next process to start on the same storage can tell a dead
process's file from a live one's, and reads the lines no batch covered: the lost impressions.

Lines: `+\\t<recommendation id>\\t<variant>\\t<placement>\\t<served at, epoch ms>` per answer,
`-\\t<count>` per written batch (batches take the oldest answers first, so the lost ones are
the last `+` lines, as many as the `+` lines less the counts).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SUFFIX = ".spool"


@dataclass(frozen=True)
class Noted:
    recommendation_id: str
    variant: str
    placement: str
    served_at: datetime


class Spool:
    """This process's spool file, locked for its life."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.spool_id = uuid.uuid4().hex
        self.path = folder / f"{self.spool_id}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def note(self, recommendation_id: str, variant: str, placement: str, served_at_ms: int) -> None:
        """One answer, as its line (one `write` per answer, not buffered: the line must outlive a
        `kill -9` of the process, which a buffer in its memory would not)."""
        line = f"+\t{recommendation_id}\t{_clean(variant)}\t{_clean(placement)}\t{served_at_ms}\n"
        os.write(self._fd, line.encode())

    def written(self, count: int, *, pending: int) -> None:
        """`count` of the oldest noted answers reached RECO; with nothing pending, start afresh."""
        if pending == 0:
            os.ftruncate(self._fd, 0)
        else:
            os.write(self._fd, f"-\t{count}\n".encode())

    def close(self) -> None:
        """The process ends with everything written: its file goes."""
        os.close(self._fd)
        self.path.unlink(missing_ok=True)


def orphans(folder: Path) -> Iterator[tuple[str, list[Noted]]]:
    """(spool id, lost impressions) of every spool file in `folder` whose process is gone; each
    file is deleted once the caller has taken its figures (after the next iteration step)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # taken by another process meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its process lives
        try:
            yield path.name.removesuffix(SUFFIX), _lost(path.read_text())
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _lost(text: str) -> list[Noted]:
    noted: list[Noted] = []
    written = 0
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "+" and len(fields) == 5:
            when = datetime.fromtimestamp(int(fields[4]) / 1000, tz=UTC)
            noted.append(Noted(fields[1], fields[2], fields[3], when))
        elif fields[0] == "-" and len(fields) == 2:
            written += int(fields[1])
    return noted[written:]


def _clean(text: str) -> str:
    """A field as one spool field: no tab or line break (a placement is free text)."""
    return text.replace("\t", " ").replace("\n", " ")
