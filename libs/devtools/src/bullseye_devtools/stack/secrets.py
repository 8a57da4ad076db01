"""The stack's secrets: the master key that wraps every data key, the key of the hashes that
match emails and phones, a signing key per service and one for the operator, and the public
keys every server trusts (docs/design.md D4).

In Kubernetes they come from Secrets; locally they are generated once and kept in the
stack's env file: a restart with a new master or hash key could no longer open or match what
was sealed, and a caller holding the operator key keeps working across restarts.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

from bullseye_platform.auth import SigningKey
from bullseye_platform.auth.operator import DEFAULT_NAME as OPERATOR
from bullseye_platform.auth.operator import KEY_VARIABLE as OPERATOR_KEY

__all__ = [
    "AUTH_NAMES", "NAMES", "OPERATOR_KEY", "SEALING_NAMES", "SERVICES", "SIGNING_NAMES", "TRUSTED_KEYS",
    "for_service", "generate", "generate_auth", "kept_or_new",
]  # fmt: skip

SERVICES = ("ingestion", "identity", "profile", "campaign", "recommendation")  # the principals that run in the stack
TRUSTED_KEYS = "BULLSEYE_TRUSTED_KEYS"
SEALING_NAMES = ("BULLSEYE_MASTER_KEY", "BULLSEYE_HASH_KEY")
SIGNING_NAMES = {service: f"{service.upper()}_SIGNING_KEY" for service in SERVICES}
AUTH_NAMES = (TRUSTED_KEYS, OPERATOR_KEY, *SIGNING_NAMES.values())
NAMES = (*SEALING_NAMES, *AUTH_NAMES)


def generate() -> dict[str, str]:
    return {**_sealing(), **generate_auth()}


def _sealing() -> dict[str, str]:
    return {name: base64.b64encode(secrets.token_bytes(32)).decode() for name in SEALING_NAMES}


def generate_auth() -> dict[str, str]:
    """A key pair per service and for the operator: each private key under its variable, every
    public key in BULLSEYE_TRUSTED_KEYS."""
    keys = {name: SigningKey.generate() for name in (*SERVICES, OPERATOR)}
    private = {SIGNING_NAMES.get(name, OPERATOR_KEY): key.encoded() for name, key in keys.items()}
    return {TRUSTED_KEYS: ",".join(key.trusted_entry(name) for name, key in keys.items()), **private}


def kept_or_new(stored: Mapping[str, str]) -> dict[str, str]:
    """The secrets in `stored` (a previous run's env file), each group kept when complete and
    made anew otherwise: an env file from before the signing keys keeps its master key."""
    sealing = _complete(stored, SEALING_NAMES) or _sealing()
    auth = _complete(stored, AUTH_NAMES) or generate_auth()
    return {**sealing, **auth}


def _complete(stored: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The values of `names` in `stored`, or nothing when one is missing."""
    return {name: stored[name] for name in names} if all(stored.get(name) for name in names) else {}


def for_service(values: Mapping[str, str], service: str) -> dict[str, str]:
    """`values` less the private keys of every principal but `service`: each caller holds only its own."""
    others = {OPERATOR_KEY, *(name for owner, name in SIGNING_NAMES.items() if owner != service)}
    return {name: value for name, value in values.items() if name not in others}
