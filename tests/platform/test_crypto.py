"""AES-256-GCM sealing, key wrapping and keyed hashes: what crypto-shredding rests on."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from bullseye_platform.crypto import (
    KEY_BYTES,
    NONCE_BYTES,
    DataKey,
    MasterKey,
    SealError,
    keyed_hash,
    new_secret,
    open_sealed,
    seal,
)

PLAIN = b"jane.doe@example.com"
CONTEXT = b"event-1"


def key(key_id: str = "dk_1") -> DataKey:
    return DataKey(key_id, new_secret())


def test_sealed_data_opens_with_its_key_and_associated_data() -> None:
    k = key()
    sealed = seal(k, PLAIN, associated_data=CONTEXT)

    assert open_sealed(k, sealed, associated_data=CONTEXT) == PLAIN
    assert sealed.key_id == "dk_1" and len(sealed.nonce) == NONCE_BYTES
    assert PLAIN not in sealed.ciphertext
    assert len(sealed.ciphertext) == len(PLAIN) + 16  # the GCM tag


def test_sealing_twice_gives_different_ciphertexts() -> None:
    k = key()
    first, second = seal(k, PLAIN, associated_data=CONTEXT), seal(k, PLAIN, associated_data=CONTEXT)

    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_another_key_with_the_same_id_cannot_open() -> None:
    sealed = seal(key(), PLAIN, associated_data=CONTEXT)

    with pytest.raises(SealError, match="failed authentication"):
        open_sealed(key(), sealed, associated_data=CONTEXT)


def test_a_key_with_another_id_is_refused_before_decrypting() -> None:
    k = key("dk_1")
    sealed = seal(k, PLAIN, associated_data=CONTEXT)

    with pytest.raises(SealError, match="dk_1"):
        open_sealed(DataKey("dk_2", k.secret), sealed, associated_data=CONTEXT)


def test_other_associated_data_cannot_open() -> None:
    k = key()
    sealed = seal(k, PLAIN, associated_data=CONTEXT)

    with pytest.raises(SealError):
        open_sealed(k, sealed, associated_data=b"event-2")


@pytest.mark.parametrize("part", ["nonce", "ciphertext"])
def test_any_flipped_bit_is_detected(part: str) -> None:
    k = key()
    sealed = seal(k, PLAIN, associated_data=CONTEXT)
    for position in range(len(getattr(sealed, part))):
        damaged = bytearray(getattr(sealed, part))
        damaged[position] ^= 0x01
        tampered = dataclasses.replace(sealed, **{part: bytes(damaged)})
        with pytest.raises(SealError):
            open_sealed(k, tampered, associated_data=CONTEXT)


def test_a_truncated_ciphertext_is_refused() -> None:
    k = key()
    sealed = seal(k, PLAIN, associated_data=CONTEXT)

    with pytest.raises(SealError):
        open_sealed(k, dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:-1]), associated_data=CONTEXT)


def test_a_wrapped_key_unwraps_to_the_same_secret_and_hides_it() -> None:
    master = MasterKey(new_secret())
    k = key("dk_7")
    wrapped = master.wrap(k)

    assert k.secret not in wrapped
    assert master.unwrap("dk_7", wrapped) == k


def test_a_wrapped_key_is_bound_to_its_key_id() -> None:
    master = MasterKey(new_secret())
    wrapped = master.wrap(key("dk_7"))

    with pytest.raises(SealError):
        master.unwrap("dk_8", wrapped)


def test_another_master_key_cannot_unwrap() -> None:
    wrapped = MasterKey(new_secret()).wrap(key("dk_7"))

    with pytest.raises(SealError):
        MasterKey(new_secret()).unwrap("dk_7", wrapped)


def test_master_key_is_read_from_base64_of_32_bytes() -> None:
    secret = new_secret()
    k = key()
    wrapped = MasterKey(secret).wrap(k)

    assert MasterKey.from_base64(base64.b64encode(secret).decode()).unwrap(k.key_id, wrapped) == k


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not base64!", "not valid base64"),
        (base64.b64encode(b"short").decode(), f"must be {KEY_BYTES} bytes, got 5"),
        (base64.b64encode(bytes(KEY_BYTES + 1)).decode(), f"must be {KEY_BYTES} bytes, got {KEY_BYTES + 1}"),
        ("", f"must be {KEY_BYTES} bytes, got 0"),
    ],
)
def test_a_bad_master_key_stops_with_a_clear_message(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        MasterKey.from_base64(text)


def test_secrets_never_show_in_repr() -> None:
    secret = new_secret()
    k = DataKey("dk_1", secret)

    assert repr(k) == "DataKey(key_id='dk_1')"
    assert secret.hex() not in repr(MasterKey(secret)) and "hidden" in repr(MasterKey(secret))


def test_keyed_hash_is_stable_and_depends_on_secret_kind_and_value() -> None:
    secret = b"h" * 32
    one = keyed_hash(secret, "email", "jane@example.com")

    assert one == keyed_hash(secret, "email", "jane@example.com")
    assert len(one) == 64 and "jane" not in one
    others = {
        keyed_hash(b"x" * 32, "email", "jane@example.com"),
        keyed_hash(secret, "phone", "jane@example.com"),
        keyed_hash(secret, "email", "jane@example.org"),
    }
    assert one not in others and len(others) == 3
