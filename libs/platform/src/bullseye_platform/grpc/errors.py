"""Errors are part of the API: the most specific code, a message that says what to fix,
and google.rpc details (BadRequest field violations, RetryInfo, QuotaFailure, ErrorInfo).

A status travels in HTTP/2 trailers, which a client refuses past its metadata limit (8 KiB
by default in gRPC core: "received metadata size exceeds hard limit"), and then never sees
the code or the violations. The message goes twice (`grpc-message`, percent-encoded: up to
three bytes per byte, and inside `grpc-status-details-bin`, base64: four per three), so what
a status carries is capped in bytes: the message at `MAX_MESSAGE_BYTES`, the listed
violations at `MAX_VIOLATION_BYTES` and `MAX_LISTED_VIOLATIONS` entries, each shortened,
plus one entry that counts the rest. At most about 6.5 KiB of trailers in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "bullseye.io"
MAX_MESSAGE_BYTES = 600
MAX_LISTED_VIOLATIONS = 20
MAX_VIOLATION_BYTES = 2400
MAX_FIELD_CHARS = 160
MAX_DESCRIPTION_CHARS = 240
_ELLIPSIS = "\u2026"

FieldViolation: TypeAlias = error_details_pb2.BadRequest.FieldViolation


def shortened(text: str, most: int) -> str:
    """`text` in at most `most` characters."""
    return text if len(text) <= most else text[: most - 1] + _ELLIPSIS


def shortened_bytes(text: str, most: int) -> str:
    """`text` in at most `most` bytes of UTF-8 (never a character cut in half)."""
    encoded = text.encode()
    if len(encoded) <= most:
        return text
    return encoded[: most - len(_ELLIPSIS.encode())].decode(errors="ignore") + _ELLIPSIS


def capped(violations: Sequence[FieldViolation]) -> list[FieldViolation]:
    """The first of `violations` that fit (`MAX_LISTED_VIOLATIONS`, `MAX_VIOLATION_BYTES`), each
    shortened, and an entry (with an empty field) saying how many more there were: what fits
    in a status, or in an outcome of a batch of 500 events."""
    listed: list[FieldViolation] = []
    used = 0
    for found in violations[:MAX_LISTED_VIOLATIONS]:
        short = FieldViolation(
            field=shortened(found.field, MAX_FIELD_CHARS),
            description=shortened(found.description, MAX_DESCRIPTION_CHARS),
        )
        used += short.ByteSize()
        if used > MAX_VIOLATION_BYTES:
            break
        listed.append(short)
    if rest := len(violations) - len(listed):
        more = f"{rest} more violation(s) not listed; fix the first {len(listed)} and retry to see them"
        listed.append(FieldViolation(field="", description=more))
    return listed


def violation(field: str, description: str) -> error_details_pb2.BadRequest.FieldViolation:
    """One bad field: `field` is a path like `events[3].occurred_at`."""
    return error_details_pb2.BadRequest.FieldViolation(field=field, description=description)


class ServiceError(Exception):
    """Raised by servicers; the error interceptor turns it into a rich gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, reason: str = "", metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}

    def details(self) -> list[any_pb2.Any]:
        packed = []
        if self.reason:
            info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=self.metadata)
            packed.append(_pack(info))
        return packed

    def to_proto(self) -> status_pb2.Status:
        """The google.rpc.Status this error answers with (what can be stored and answered again)."""
        code = code_pb2.Code.Value(self.code.name)
        message = shortened_bytes(self.message, MAX_MESSAGE_BYTES)
        return status_pb2.Status(code=code, message=message, details=self.details())

    def to_status(self) -> grpc.Status:
        return rpc_status.to_status(self.to_proto())  # type: ignore[no-any-return]


class Decided(ServiceError):
    """An error decided earlier and kept as its google.rpc.Status, answered again as it was
    (e.g. a command's outcome recorded by the process that applied it)."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
        self._status = status

    def to_proto(self) -> status_pb2.Status:
        return self._status


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _retry_info(seconds: float) -> any_pb2.Any:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(seconds * 1e9))
    return _pack(error_details_pb2.RetryInfo(retry_delay=delay))


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self,
        message: str,
        violations: Sequence[FieldViolation] = (),
        *,
        reason: str = "",
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = list(violations)

    def details(self) -> list[any_pb2.Any]:
        return [_pack(error_details_pb2.BadRequest(field_violations=capped(self.violations))), *super().details()]


class ResourceExhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after: float | None = None, subject: str = "", limit: str = "") -> None:
        super().__init__(message, reason="RESOURCE_EXHAUSTED")
        self.retry_after, self.subject, self.limit = retry_after, subject, limit

    def details(self) -> list[any_pb2.Any]:
        packed = super().details()
        if self.retry_after is not None:
            packed.append(_retry_info(self.retry_after))
        if self.limit:
            failure = error_details_pb2.QuotaFailure.Violation(subject=self.subject, description=self.limit)
            packed.append(_pack(error_details_pb2.QuotaFailure(violations=[failure])))
        return packed


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(ServiceError):
    """A dependency is down; `retry_after` (seconds) adds RetryInfo telling when to retry."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, *, retry_after: float | None = None, reason: str = "") -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after

    def details(self) -> list[any_pb2.Any]:
        packed = super().details()
        if self.retry_after is not None:
            packed.append(_retry_info(self.retry_after))
        return packed
