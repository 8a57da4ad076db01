"""A serving process's spool (serving/spool.py): what a process killed with `kill -9` had noted
and not written is what the next process reads as lost, after batches were written and after
the file was emptied."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from bullseye_recommendation.serving.spool import Spool, orphans

# Runs in a child process that kills itself: nothing after the last step is flushed or closed.
CHILD = """
import os, signal, sys
from pathlib import Path
from bullseye_recommendation.serving.spool import Spool

spool = Spool(Path(sys.argv[1]))
for step in sys.argv[2:]:
    kind, value = step.split(":")
    if kind == "note":
        for n in range(*map(int, value.split("-"))):
            spool.note(f"r{n}", "variant\\ta", "place\\nment", 1_700_000_000_000 + n)
    else:
        written, pending = map(int, value.split("/"))
        spool.written(written, pending=pending)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_after(folder: Path, *steps: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(folder), *steps],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr


def lost_ids(folder: Path) -> list[list[str]]:
    return [[noted.recommendation_id for noted in lost] for _, lost in orphans(folder)]


def test_what_no_written_batch_covered_is_lost(tmp_path: Path) -> None:
    killed_after(tmp_path, "note:0-5", "written:2/3", "note:5-7")
    assert lost_ids(tmp_path) == [["r2", "r3", "r4", "r5", "r6"]]
    assert not list(tmp_path.iterdir()), "the dead process's file is taken once counted"


def test_an_emptied_spool_forgets_what_was_written_before(tmp_path: Path) -> None:
    killed_after(tmp_path, "note:0-3", "written:3/0", "note:3-4")
    assert lost_ids(tmp_path) == [["r3"]]


def test_fields_keep_to_their_line_and_a_live_process_file_is_left_alone(tmp_path: Path) -> None:
    killed_after(tmp_path / "dead", "note:0-1")
    [(_, [noted])] = list(orphans(tmp_path / "dead"))
    assert (noted.variant, noted.placement, noted.served_at.timestamp()) == ("variant a", "place ment", 1_700_000_000)
    live = Spool(tmp_path / "live")
    live.note("r-live", "a", "home", 1_700_000_000_000)
    try:
        assert list(orphans(tmp_path / "live")) == []
        assert live.path.exists()
    finally:
        live.close()
    assert not live.path.exists()
