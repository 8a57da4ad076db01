"""Errors are part of the API: the most specific code, a message that says what to fix,
and google.rpc details (BadRequest field violations, RetryInfo, QuotaFailure, ErrorInfo)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "bullseye.io"


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
        return status_pb2.Status(code=code_pb2.Code.Value(self.code.name), message=self.message, details=self.details())

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
        self, message: str, violations: Sequence[error_details_pb2.BadRequest.FieldViolation] = (), **kw: str
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.violations = list(violations)

    def details(self) -> list[any_pb2.Any]:
        return [_pack(error_details_pb2.BadRequest(field_violations=self.violations)), *super().details()]


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
