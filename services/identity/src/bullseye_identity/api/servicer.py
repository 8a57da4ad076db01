"""IdentityService: the graph's RPCs and the vault's RPCs, served as one gRPC service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg
from bullseye.identity.v1 import identity_pb2_grpc

from bullseye_identity.api.graph_rpcs import GraphRpcs, now_utc
from bullseye_identity.api.vault_rpcs import VaultRpcs
from bullseye_identity.config import IdentityConfig
from bullseye_identity.corrections.recorder import Recorder
from bullseye_identity.domain.policy import Policy
from bullseye_identity.vault.keyring import KeyRing


class IdentityServicer(GraphRpcs, VaultRpcs, identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self, *, pool: asyncpg.Pool, keyring: KeyRing, config: IdentityConfig, policy: Policy, recorder: Recorder,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:  # fmt: skip
        self._pool, self._keyring, self._config = pool, keyring, config
        self._policy, self._recorder, self._clock = policy, recorder, clock
