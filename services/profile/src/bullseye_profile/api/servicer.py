"""ProfileService: the profile RPCs and the segment RPCs, served as one gRPC service."""

from __future__ import annotations

import asyncpg
from bullseye.profile.v1 import profile_pb2_grpc
from bullseye_platform.clock import Clock
from bullseye_platform.resolver import Resolver

from bullseye_profile.api.profile_rpcs import ProfileRpcs
from bullseye_profile.api.segment_rpcs import SegmentRpcs
from bullseye_profile.config import ProfileConfig
from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.projections.rfm_scores import RfmSchedule
from bullseye_profile.reading.cache import ReadCache
from bullseye_profile.reading.connections import ReadConnections
from bullseye_profile.segments import Segments


class ProfileServicer(ProfileRpcs, SegmentRpcs, profile_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self, *, pool: asyncpg.Pool, config: ProfileConfig, clock: Clock, policy: ProfilePolicy,
        identity: Resolver, rfm: RfmSchedule, segments: Segments, readers: ReadConnections, cache: ReadCache,
    ) -> None:  # fmt: skip
        self._pool, self._config, self._clock, self._policy = pool, config, clock, policy
        self._identity, self._rfm, self._segments = identity, rfm, segments
        self._readers, self._cache = readers, cache
