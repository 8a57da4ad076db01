"""Who calls (a principal) and what it may do (its scopes), for the call being served.

The call envelope admits a call and makes its principal current for the rest of the call
(a context variable), so a servicer that needs
more than the method's scope (ingestion's `events:backfill`, its rate limits) asks `caller()`
instead of reading credentials again.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from bullseye_platform.grpc.errors import PermissionDenied

EVERYTHING = "*"  # the scope of an operator: every method


@dataclass(frozen=True, kw_only=True)
class Principal:
    """An authenticated caller.

    kind: how it proved who it is ("token" for services and operators, "api_key" for event
    sources); name: the service, operator or event source; scopes: what it may call.
    """

    kind: str
    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes or EVERYTHING in self.scopes


_CALLER: ContextVar[Principal | None] = ContextVar("bullseye_caller", default=None)


def caller() -> Principal:
    """The principal of the call being served.

    Raises:
        LookupError: outside an admitted call (an open method such as health, or no call).
    """
    principal = _CALLER.get()
    if principal is None:
        raise LookupError("no authenticated caller here: only a call to a method with a scope has one")
    return principal


def require(scope: str, *, why: str) -> Principal:
    """The caller, if it holds `scope`; `why` says what needs it (it goes into the error).

    Raises:
        PermissionDenied: naming the scope it lacks.
    """
    principal = caller()
    if not principal.can(scope):
        raise denied(principal, scope, why)
    return principal


def denied(principal: Principal, scope: str, why: str) -> PermissionDenied:
    return PermissionDenied(
        f"{why} needs the scope {scope!r}, which {principal.kind} {principal.name!r} does not have",
        reason="SCOPE_MISSING",
        metadata={"scope": scope},
    )


def become(principal: Principal) -> None:
    """Make `principal` the current caller (the envelope does, once admitted). Nothing resets
    it: grpc.aio runs each call in a task of its own, whose context ends with the call (and a
    response stream's generator may be closed from another context, where a reset fails)."""
    _CALLER.set(principal)
