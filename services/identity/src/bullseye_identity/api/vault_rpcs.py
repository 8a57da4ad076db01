"""GetContact and IssueDataKeys: the person vault's RPCs."""

from __future__ import annotations

import asyncpg

from bullseye_identity.config import IdentityConfig
from bullseye_identity.vault.keyring import KeyRing


class VaultRpcs:
    _pool: asyncpg.Pool
    _keyring: KeyRing
    _config: IdentityConfig
