"""Per-subject data keys, stored wrapped by the master key; keyed hashes for matching."""

from __future__ import annotations

import asyncpg
from bullseye_platform.crypto import MasterKey


class KeyRing:
    def __init__(self, pool: asyncpg.Pool, master: MasterKey, hash_secret: bytes) -> None:
        self._pool, self._master, self._hash_secret = pool, master, hash_secret
