"""Sealing personal data before events reach the log: one key lookup per request, cached.

Each accepted event with personal data (Identified, SignedUp, or an email or phone among
its identifiers) gets it encrypted with its subject's data key (see
`bullseye_platform.sealing`). Keys come from
identity, which alone stores them, in ONE IssueDataKeys call per request for the subjects
not already cached; hot subjects cost nothing. No key, no append: a request that needs a
key identity cannot give fails whole, before anything of it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import sealing
from bullseye_platform.crypto import DataKey
from bullseye_platform.grpc import Unavailable
from bullseye_platform.sealing import DataKeyCache

from bullseye_ingestion.adapters.identity_keys import IdentityKeyClient, KeyServiceError

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1.0
MAX_SUBJECTS_PER_CALL = 1000


class Sealer:
    def __init__(self, client: IdentityKeyClient, cache: DataKeyCache) -> None:
        self._client, self._cache = client, cache

    async def seal(self, events: Sequence[ev.Event]) -> None:
        """Seal, in place, the personal data of `events` (valid events about to be appended).

        Raises:
            Unavailable: identity could not issue a missing key (RetryInfo attached).
        """
        personal = [(e, sealing.subject_of(e.identifiers)) for e in events if sealing.needs_sealing(e)]
        if not personal:
            return
        keys = await self._keys([subject for _, subject in personal])
        for event, subject in personal:
            sealing.seal_personal(event, keys[subject])

    async def _keys(self, subjects: list[str]) -> dict[str, DataKey]:
        keys: dict[str, DataKey] = {}
        for subject in subjects:
            if (hit := self._cache.get(subject)) is not None:
                keys[subject] = hit
        missing = [s for s in dict.fromkeys(subjects) if s not in keys]
        for start in range(0, len(missing), MAX_SUBJECTS_PER_CALL):
            issued = await self._issue(missing[start : start + MAX_SUBJECTS_PER_CALL])
            for subject, key in issued.items():
                self._cache.put(subject, key)
            keys.update(issued)
        return keys

    async def _issue(self, subjects: list[str]) -> dict[str, DataKey]:
        try:
            issued = await self._client.issue(subjects)
        except KeyServiceError as exc:
            log.warning("data keys unavailable", extra={"code": exc.code.name, "subjects": len(subjects)})
            raise Unavailable(
                f"personal data cannot be sealed now: the key service answered {exc.code.name}; nothing of this "
                "request was stored, retry it with the same event ids",
                retry_after=RETRY_AFTER_SECONDS,
                reason="KEY_SERVICE_UNAVAILABLE",
            ) from None
        if set(issued) != set(subjects):
            raise Unavailable(
                "the key service answered for other subjects than asked; nothing of this request was stored",
                retry_after=RETRY_AFTER_SECONDS,
                reason="KEY_SERVICE_UNAVAILABLE",
            )
        return issued
