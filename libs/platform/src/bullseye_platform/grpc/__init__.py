"""gRPC server bootstrap: health, reflection, interceptors, graceful shutdown, rich errors."""

from bullseye_platform.grpc.errors import (
    AlreadyExists,
    Decided,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
    violation,
)
from bullseye_platform.grpc.server import GrpcServer, ServerOptions

__all__ = [
    "AlreadyExists",
    "Decided",
    "FailedPrecondition",
    "GrpcServer",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "ServerOptions",
    "ServiceError",
    "Unauthenticated",
    "Unavailable",
    "violation",
]
