"""Admission of a call: who calls (the authenticators, in order), and may they (the method's scope).

One guard per server, consulted by the call envelope (grpc/interceptors.py) once per call
inside the envelope, so refused calls are logged and counted like any other. A service
plugs its own kind of credential in as an `Authenticator` (ingestion's API keys) beside the
service and operator tokens every server accepts.

No credentials: UNAUTHENTICATED; a credential that is malformed, expired, unknown or revoked:
UNAUTHENTICATED; a principal without the method's scope: PERMISSION_DENIED naming the scope.
No message ever quotes the credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from bullseye_platform.auth.principal import Principal, denied
from bullseye_platform.auth.scopes import OPEN_SERVICES, declared_scopes, find_service
from bullseye_platform.grpc.errors import PermissionDenied, Unauthenticated

Metadata = Sequence[tuple[str, str | bytes]]


class Authenticator(Protocol):
    """One kind of credential.

    `describes` says what it accepts, for the error a caller without credentials gets.
    `authenticate` answers the principal, None when the credential is not of its kind (the next
    authenticator is asked), or raises Unauthenticated when it is but is not valid.
    """

    describes: str

    async def authenticate(self, credential: str) -> Principal | None: ...


def presented(metadata: Metadata) -> str | None:
    """The caller's credential: `authorization: Bearer <credential>`, else `x-api-key: <key>`
    (which event sources' SDKs send)."""
    api_key = None
    for name, value in metadata:
        if not isinstance(value, str):
            continue
        if name == "authorization":
            scheme, _, credential = value.partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip()
        elif name == "x-api-key":
            api_key = value.strip()
    return api_key


class Admission:
    """One method's check, built once per method (the envelope keeps it) and run per call."""

    def __init__(self, method: str, scope: str, authenticators: Sequence[Authenticator]) -> None:
        self.method, self.scope = method, scope
        self._authenticators = tuple(authenticators)
        accepted = "; or ".join(a.describes for a in authenticators)
        self._missing = f"{method} needs credentials: {accepted}"

    async def admit(self, metadata: Metadata) -> Principal:
        """The caller, admitted.

        Raises:
            Unauthenticated: no credential, or one that no authenticator accepts.
            PermissionDenied: the caller lacks the method's scope (or the method declares none).
        """
        credential = presented(metadata)
        if credential is None:
            raise Unauthenticated(self._missing, reason="CREDENTIALS_MISSING")
        for authenticator in self._authenticators:
            principal = await authenticator.authenticate(credential)
            if principal is not None:
                break
        else:
            raise Unauthenticated(f"the credential is not one this server accepts. {self._missing}",
                                  reason="CREDENTIALS_INVALID")  # fmt: skip
        if not self.scope:
            raise PermissionDenied(f"{self.method} declares no scope: nobody may call it", reason="SCOPE_UNDECLARED")
        if not principal.can(self.scope):
            raise denied(principal, self.scope, self.method)
        return principal


class Guard:
    """The scopes of every method a server serves, and who may prove what.

    Args:
        authenticators: asked in order; the first that recognises a credential decides.
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._authenticators = tuple(authenticators)
        self._scopes: dict[str, str] = {}

    def declare(self, service: str, scopes: Mapping[str, str] | None = None) -> None:
        """Take in a served service's scopes, from its proto, or `scopes` (method path -> scope)
        for a service that has no descriptor (a generic handler).

        Raises:
            ValueError: a method declares no scope, or the service has no descriptor and no
                `scopes` were given.
        """
        if service in OPEN_SERVICES:
            return
        if scopes is None:
            descriptor = find_service(service)
            if descriptor is None:
                raise ValueError(f"no descriptor for {service}: import its generated module, or pass its scopes")
            scopes = declared_scopes(descriptor)
        self._scopes.update(scopes)

    def admission(self, method: str) -> Admission | None:
        """The check of `method` (`/package.Service/Method`); None for an open one (health, reflection)."""
        if method[1:].rsplit("/", 1)[0] in OPEN_SERVICES:
            return None
        return Admission(method, self._scopes.get(method, ""), self._authenticators)
