"""Envelope encryption for personal data (crypto-shredding) and keyed hashes for matching.

Each subject (a person's identifier) has its own 256-bit data key; data keys are stored
wrapped (encrypted) by a master key that comes from config or a Kubernetes Secret. Deleting
a subject's data key makes every ciphertext sealed with it unreadable, wherever it was
copied: the event log cannot be rewritten, but it can be made meaningless.

AES-256-GCM from `cryptography` (OpenSSL), never a hand-rolled cipher. Keyed hashes
(HMAC-SHA256) let identity match emails and phones without storing them in the clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(ValueError):
    """A ciphertext could not be opened: wrong key, wrong associated data, or tampered."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, repr=False)
class DataKey:
    """A data key in the clear: keep it in memory only. repr() never shows the secret."""

    key_id: str
    secret: bytes

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r})"


def new_secret() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: DataKey, plaintext: bytes, *, associated_data: bytes) -> Sealed:
    """Encrypt and authenticate `plaintext`; `associated_data` binds it to its context."""
    nonce = os.urandom(NONCE_BYTES)
    return Sealed(key.key_id, nonce, AESGCM(key.secret).encrypt(nonce, plaintext, associated_data))


def open_sealed(key: DataKey, sealed: Sealed, *, associated_data: bytes) -> bytes:
    if key.key_id != sealed.key_id:
        raise SealError(f"sealed with key {sealed.key_id}, not {key.key_id}")
    try:
        return AESGCM(key.secret).decrypt(sealed.nonce, sealed.ciphertext, associated_data)
    except InvalidTag as exc:
        raise SealError(f"ciphertext under key {sealed.key_id} failed authentication") from exc


class MasterKey:
    """Wraps and unwraps data keys. The wrapped form is what a database may hold."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise ValueError(f"master key must be {KEY_BYTES} bytes, got {len(secret)}")
        self._wrapping = DataKey("master", secret)

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        """Parse the config form: 32 random bytes in base64 (`openssl rand -base64 32`)."""
        try:
            secret = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise ValueError("master key is not valid base64") from exc
        return cls(secret)

    def wrap(self, key: DataKey) -> bytes:
        sealed = seal(self._wrapping, key.secret, associated_data=key.key_id.encode())
        return sealed.nonce + sealed.ciphertext

    def unwrap(self, key_id: str, wrapped: bytes) -> DataKey:
        sealed = Sealed("master", wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:])
        return DataKey(key_id, open_sealed(self._wrapping, sealed, associated_data=key_id.encode()))

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"


def keyed_hash(secret: bytes, kind: str, value: str) -> str:
    """Hex HMAC-SHA256 of a normalized identifier; `kind` keeps an email and a phone apart."""
    return hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
