"""API keys: `bk_<key id>_<secret>`; only a SHA-256 of the secret is stored.

The secret is 256 random bits, so a fast hash is enough (no password stretching needed);
comparison is constant-time. A key is the principal of the calls made with it: an event
source, with the scopes stored with the key. It also says how far its source is trusted
(`Trust`), which ingestion stamps on every event it accepts with it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bullseye_platform.auth import Principal

PREFIX = "bk"
KIND = "api_key"


class Scope(enum.StrEnum):
    """What a key may be given (the scopes of ingestion's methods that event sources call):
    send events, load history, publish catalog changes (a catalog feed's key has only this)."""

    WRITE = "events:write"
    BACKFILL = "events:backfill"
    CATALOG = "catalog:write"


class Trust(enum.Enum):
    """What a source's events may claim (`receipt.trust`; README, "Trust").

    UNVERIFIED, the default: a key that ships inside an app or a web page is anyone's key,
    so the contact points its events give reach their own subject but never take an
    address from someone else. VERIFIED: a source that checked what it sends (a
    confirmation link, a one-time code, a clerk at a till); an address it gives later than
    someone else becomes theirs (the shared-mailbox and recycled-number rule).
    """

    UNVERIFIED = "unverified"
    VERIFIED = "verified"


@dataclass(frozen=True, kw_only=True)
class ApiKey(Principal):
    """A stored key (never the secret); `name` is its source."""

    key_id: str
    rate: float
    burst: float
    secret_hash: str
    revoked: bool = False
    trust: Trust = Trust.UNVERIFIED

    @property
    def source(self) -> str:
        return self.name

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))


def trust_of(sender: Principal) -> Trust:
    """How far the events of `sender` are trusted: an API key's own level; a service or an
    operator (a signed token) is verified, as they send what Bullseye itself checked or what
    an operator vouches for."""
    return sender.trust if isinstance(sender, ApiKey) else Trust.VERIFIED


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """(key id, secret, the full key to hand to the caller once)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{PREFIX}_{key_id}_{secret}"


def split_key(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of a presented key, or None if it is not shaped like one."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]
