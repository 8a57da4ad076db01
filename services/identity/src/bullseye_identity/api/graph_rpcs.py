"""Resolve, GetIdentities, GetHistory, Merge, Split: questions and corrections of the graph."""

from __future__ import annotations

import asyncpg

from bullseye_identity.config import IdentityConfig
from bullseye_identity.vault.keyring import KeyRing


class GraphRpcs:
    _pool: asyncpg.Pool
    _keyring: KeyRing
    _config: IdentityConfig
