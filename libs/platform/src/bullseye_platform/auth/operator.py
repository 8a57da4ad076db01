"""An operator's credentials, from the environment: for command-line tools, grpcurl and tests.

An operator (a person, or a tool acting for one) holds a private signing key like a service
does (`BULLSEYE_OPERATOR_KEY`) under a principal name (`BULLSEYE_OPERATOR`, default
`operator`, granted every scope by default); servers trust its public key through
`BULLSEYE_TRUSTED_KEYS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from bullseye_platform.auth.keys import SigningKey
from bullseye_platform.auth.tokens import LIFETIME, TokenMinter
from bullseye_platform.config import ConfigError

KEY_VARIABLE = "BULLSEYE_OPERATOR_KEY"
NAME_VARIABLE = "BULLSEYE_OPERATOR"
DEFAULT_NAME = "operator"


def operator_credentials(environ: Mapping[str, str], *, lifetime: float = LIFETIME) -> TokenMinter:
    """The operator's tokens, signed with the key in `environ`.

    Raises:
        ConfigError: the key is missing or malformed (the message never quotes it).
    """
    raw = environ.get(KEY_VARIABLE, "")
    if not raw:
        raise ConfigError(f"{KEY_VARIABLE} is required: base64 of the operator's Ed25519 private key")
    try:
        key = SigningKey.from_env(raw)
    except ValueError as exc:
        raise ConfigError(f"{KEY_VARIABLE} is not valid: {exc}") from None
    name = environ.get(NAME_VARIABLE) or DEFAULT_NAME
    try:
        return TokenMinter(name, key, lifetime=lifetime)
    except ValueError as exc:
        raise ConfigError(f"{NAME_VARIABLE}: {exc}") from None
