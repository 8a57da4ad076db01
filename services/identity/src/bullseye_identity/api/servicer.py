"""IdentityService: the graph's RPCs and the vault's RPCs, served as one gRPC service."""

from __future__ import annotations

import asyncpg
from bullseye.identity.v1 import identity_pb2_grpc

from bullseye_identity.api.graph_rpcs import GraphRpcs
from bullseye_identity.api.vault_rpcs import VaultRpcs
from bullseye_identity.config import IdentityConfig
from bullseye_identity.domain.policy import Policy
from bullseye_identity.graph.changes import GraphChanges
from bullseye_identity.graph.facts import Facts
from bullseye_identity.vault.keyring import KeyRing


class IdentityServicer(GraphRpcs, VaultRpcs, identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self, *, pool: asyncpg.Pool, keyring: KeyRing, config: IdentityConfig, policy: Policy, facts: Facts
    ) -> None:
        self._pool, self._keyring, self._config = pool, keyring, config
        self._policy = policy
        self._changes = GraphChanges(facts, max_persons_per_value=policy.max_persons_per_value)
        self._facts = facts
