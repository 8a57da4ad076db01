"""The test session's keys: a signing key per service and one for the operator, generated once
per run by the local stack's own generator, so tests authenticate exactly as the stack does.

Every service process gets the trusted keys and the services' signing keys (`service_env`);
tests call as the operator, or as a service when a test needs that principal's grants.
"""

from __future__ import annotations

import functools

from bullseye_devtools.stack import secrets as stack_secrets
from bullseye_platform.auth import SigningKey, TokenMinter

OPERATOR = "operator"


@functools.cache
def keys() -> dict[str, str]:
    """BULLSEYE_TRUSTED_KEYS, <SERVICE>_SIGNING_KEY and BULLSEYE_OPERATOR_KEY, made once per session."""
    return stack_secrets.generate_auth()


def service_keys() -> dict[str, str]:
    """What service processes get: every service's signing key and the trusted keys, not the operator's."""
    return {name: value for name, value in keys().items() if name != stack_secrets.OPERATOR_KEY}


@functools.cache
def minter(principal: str) -> TokenMinter:
    """Tokens of `principal`: "operator", or a service of the stack ("ingestion", "profile", ...)."""
    variable = stack_secrets.SIGNING_NAMES.get(principal, stack_secrets.OPERATOR_KEY)
    if principal != OPERATOR and principal not in stack_secrets.SIGNING_NAMES:
        raise KeyError(f"no test key for {principal!r}")
    return TokenMinter(principal, SigningKey.from_env(keys()[variable]))
