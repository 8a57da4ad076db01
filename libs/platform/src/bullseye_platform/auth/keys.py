"""Ed25519 keys as configuration: a caller's private signing key, the servers' trusted public keys.

Both travel as base64 of the raw 32-byte keys (like the master key), so a Kubernetes Secret or
an env file holds them on one line. An asymmetric key means that a server, which only holds
public keys, can verify a token but never mint one (D4 in docs/design.md).

A key is known by its *kid*, the first 8 bytes of the SHA-256 of its public half, written in
the token's header: a server may trust several keys of one principal at once, which is how a
key is rotated (trust the new one everywhere, switch the signer, then drop the old one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

KEY_BYTES = 32
# Principal names: what `iss` carries and BULLSEYE_GRANTS names; safe to quote in an error.
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _raw(text: str, what: str) -> bytes:
    """The 32 bytes of a base64 (standard or URL-safe) key.

    Raises:
        ValueError: not base64, or not 32 bytes; the message never quotes the text.
    """
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} must be base64 of {KEY_BYTES} bytes") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{what} must be base64 of {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def kid_of(public: Ed25519PublicKey) -> str:
    """The key's id in token headers: 16 hex digits of the SHA-256 of its raw public bytes."""
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def encode_public(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


class SigningKey:
    """A caller's private key (`<PREFIX>_SIGNING_KEY`); its repr never shows it."""

    secret = True  # config quotes no malformed value of this type

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.public = private.public_key()
        self.kid = kid_of(self.public)

    @classmethod
    def from_env(cls, raw: str) -> SigningKey:
        """Raises ValueError when `raw` is not base64 of a 32-byte Ed25519 private key."""
        return cls(Ed25519PrivateKey.from_private_bytes(_raw(raw, "a signing key")))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def encoded(self) -> str:
        """The private key as configuration takes it (for the local stack and tests only)."""
        raw = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode()

    def trusted_entry(self, name: str) -> str:
        """`name=<public key>`, one entry of BULLSEYE_TRUSTED_KEYS."""
        return f"{name}={encode_public(self.public)}"

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid})"


@dataclass(frozen=True)
class TrustedKeys:
    """Every principal's public keys (`BULLSEYE_TRUSTED_KEYS`), by (principal, kid).

    Written `name=<base64 public key>,name=<base64 public key>,...`; a name may appear more than
    once (rotation).
    """

    keys: Mapping[tuple[str, str], Ed25519PublicKey]

    @classmethod
    def from_env(cls, raw: str) -> TrustedKeys:
        """Raises ValueError naming the malformed entry by its position."""
        keys: dict[tuple[str, str], Ed25519PublicKey] = {}
        for index, entry in enumerate(part.strip() for part in raw.split(",") if part.strip()):
            name, sep, encoded = entry.partition("=")
            name = name.strip()
            if not sep or not NAME.match(name):
                raise ValueError(f"entry {index + 1} must be <principal name>=<base64 public key>")
            public = Ed25519PublicKey.from_public_bytes(_raw(encoded, f"the key of {name!r}"))
            keys[(name, kid_of(public))] = public
        return cls(keys)

    def key(self, name: str, kid: str) -> Ed25519PublicKey | None:
        return self.keys.get((name, kid))
