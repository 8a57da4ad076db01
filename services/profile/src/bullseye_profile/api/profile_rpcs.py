"""GetProfile, BatchGetProfiles, RecomputeRfm: reading profiles and refreshing RFM."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_platform.clock import Clock
from bullseye_platform.grpc.errors import NotFound
from bullseye_platform.persons import canonical
from bullseye_platform.resolver import Resolver
from bullseye_platform.timestamps import to_timestamp

from bullseye_profile.api import validation
from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.projections.rfm_scores import RfmSchedule
from bullseye_profile.reading import bases
from bullseye_profile.reading.cache import ReadCache
from bullseye_profile.reading.connections import ReadConnections
from bullseye_profile.reading.load import load_profiles

Context = grpc.aio.ServicerContext[Any, Any]


class ProfileRpcs:
    _pool: asyncpg.Pool
    _readers: ReadConnections
    _cache: ReadCache
    _clock: Clock
    _policy: ProfilePolicy
    _identity: Resolver
    _rfm: RfmSchedule

    async def GetProfile(self, request: pb.GetProfileRequest, context: Context) -> pb.GetProfileResponse:
        validation.check_get(request)
        now = validation.as_of(request.as_of, request.HasField("as_of"), self._clock.now())
        person_id = await self._person_of(request)
        # A base folded for the service's own clock is kept for the next reads (reading/bases.py).
        store = not request.HasField("as_of")
        profile = await bases.read_profile(
            self._readers, self._pool, self._cache, person_id, now, self._policy, store=store
        )
        if profile is None:
            raise NotFound(f"no profile for person {person_id!r}", reason="PROFILE_NOT_FOUND")
        return pb.GetProfileResponse(profile=profile)

    async def _person_of(self, request: pb.GetProfileRequest) -> str:
        """The request's person id, or the person identity knows by its identifier."""
        if request.WhichOneof("person") != "identifier":
            return request.person_id
        found = await self._identity.person_of(request.identifier)
        if found is None:
            raise NotFound("no person has this identifier", reason="IDENTIFIER_NOT_FOUND")
        return found

    async def BatchGetProfiles(
        self, request: pb.BatchGetProfilesRequest, context: Context
    ) -> pb.BatchGetProfilesResponse:
        validation.check_batch(request.person_ids)
        now = validation.as_of(request.as_of, request.HasField("as_of"), self._clock.now())
        async with self._pool.acquire() as conn:
            owners = await canonical(conn, request.person_ids)
            profiles = await load_profiles(conn, list(owners.values()), now, policy=self._policy)
        reply = pb.BatchGetProfilesResponse()
        for pid in request.person_ids:
            if owners[pid] in profiles:
                reply.profiles.append(profiles[owners[pid]])
            else:
                reply.missing_person_ids.append(pid)
        return reply

    async def RecomputeRfm(self, request: pb.RecomputeRfmRequest, context: Context) -> pb.RecomputeRfmResponse:
        result = await self._rfm.run_now()
        return pb.RecomputeRfmResponse(
            purchasers=result.purchasers, changed=result.changed, computed_at=to_timestamp(result.computed_at)
        )
