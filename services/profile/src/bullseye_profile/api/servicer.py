"""ProfileService: the profile RPCs and the segment RPCs, served as one gRPC service."""

from __future__ import annotations

import asyncpg
from bullseye.profile.v1 import profile_pb2_grpc

from bullseye_profile.adapters.identity_client import IdentityClient
from bullseye_profile.api.profile_rpcs import ProfileRpcs
from bullseye_profile.api.segment_rpcs import SegmentRpcs
from bullseye_profile.config import ProfileConfig
from bullseye_profile.domain.clock import Clock
from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.read_cache import ReadCache
from bullseye_profile.readers import Readers
from bullseye_profile.rfm_recompute import RfmScheduler
from bullseye_profile.segments import Segments


class ProfileServicer(ProfileRpcs, SegmentRpcs, profile_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self, *, pool: asyncpg.Pool, config: ProfileConfig, clock: Clock, policy: ProfilePolicy,
        identity: IdentityClient, rfm: RfmScheduler, segments: Segments, readers: Readers, cache: ReadCache,
    ) -> None:  # fmt: skip
        self._pool, self._config, self._clock, self._policy = pool, config, clock, policy
        self._identity, self._rfm, self._segments = identity, rfm, segments
        self._readers, self._cache = readers, cache
