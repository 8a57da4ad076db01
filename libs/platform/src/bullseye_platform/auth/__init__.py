"""Every call proves who it is (docs/design.md D4): principals, tokens, grants, the guard.

Servers admit calls with a `Guard` (in the call envelope); callers sign theirs with a
`TokenMinter` (through `bullseye_platform.grpc.client`); servicers ask `caller()` or
`require()` for what the method's scope alone does not decide.
"""

# The gRPC package is imported first: its server imports this package's guard, and this
# package's errors are gRPC's (bullseye_platform.grpc.errors); entered from here first, that
# cycle would stop half-way through this package.
import bullseye_platform.grpc  # noqa: F401
from bullseye_platform.auth.grants import Grants
from bullseye_platform.auth.guard import Authenticator, Guard
from bullseye_platform.auth.keys import SigningKey, TrustedKeys
from bullseye_platform.auth.principal import Principal, caller, require
from bullseye_platform.auth.tokens import TokenMinter, TokenVerifier

__all__ = [
    "Authenticator",
    "Grants",
    "Guard",
    "Principal",
    "SigningKey",
    "TokenMinter",
    "TokenVerifier",
    "TrustedKeys",
    "caller",
    "require",
]
