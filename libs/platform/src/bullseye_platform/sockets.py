"""Unix socket paths: how long one may be, and a short stand-in for one that is too long.

The kernel keeps a socket's path in `sun_path`, 108 bytes with its closing NUL (unix(7)):
a longer path cannot be bound at all, and gRPC says so only as "failed to bind". Test
folders nest deep (pytest's temporary folders under the checkout), so whoever chooses a
path checks it and, when it is too long, takes a short one in the temp folder instead,
derived from the path it stands for (the same path, the same stand-in: a restarted process
binds where its callers already point).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

PATH_MAX = 107


def fits(path: str | os.PathLike[str]) -> bool:
    """Whether `path` can be bound as a Unix socket."""
    return len(os.fsencode(path)) <= PATH_MAX


def stand_in(wanted: Path, *, kind: str, suffix: str = "") -> Path:
    """`<temp folder>/bullseye-<kind>-<digest of wanted><suffix>`: short, and the same for the same `wanted`."""
    digest = hashlib.sha256(os.fsencode(wanted)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"bullseye-{kind}-{digest}{suffix}"


def socket_path(wanted: Path, *, kind: str) -> Path:
    """`wanted` (made absolute), or its stand-in when it would not fit.

    Raises:
        ValueError: not even the stand-in fits (a temp folder nested that deep).
    """
    wanted = wanted.absolute()
    chosen = wanted if fits(wanted) else stand_in(wanted, kind=kind, suffix=wanted.suffix)
    if not fits(chosen):
        raise ValueError(f"{chosen} is longer than a Unix socket's {PATH_MAX} bytes: set TMPDIR to a shorter folder")
    return chosen
