"""What the protos declare about each method: its scope, and whether a retry is safe.

Read from the generated descriptors (the default pool), so the contract in `protos/` is the
only place either is written: the server's guard, the client's retry policy and the README's
table of scopes all come from here.
"""

from __future__ import annotations

from bullseye.auth.v1 import auth_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

# Open to anyone who can reach the port: load balancers, kubelet probes and grpcurl need them.
OPEN_SERVICES = frozenset(
    {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}
)
_SAFE_TO_RETRY = frozenset({descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS, descriptor_pb2.MethodOptions.IDEMPOTENT})


def path_of(method: MethodDescriptor) -> str:
    """The method as gRPC names it on the wire: `/package.Service/Method`."""
    return f"/{method.containing_service.full_name}/{method.name}"


def scope_of(method: MethodDescriptor) -> str:
    """The method's `(bullseye.auth.v1.scope)` option; "" when it declares none."""
    return str(method.GetOptions().Extensions[auth_pb2.scope])


def is_idempotent(method: MethodDescriptor) -> bool:
    """Whether the proto says the method may be retried: `idempotency_level` NO_SIDE_EFFECTS or IDEMPOTENT."""
    return method.GetOptions().idempotency_level in _SAFE_TO_RETRY


def find_service(name: str) -> ServiceDescriptor | None:
    """The descriptor of a service by its full name, if its generated module is imported."""
    try:
        return descriptor_pool.Default().FindServiceByName(name)
    except KeyError:
        return None


def declared_scopes(service: ServiceDescriptor) -> dict[str, str]:
    """Every method's scope by wire path.

    Raises:
        ValueError: a method declares no scope (a server must not start with it: it would
            be either open to anyone or closed to everyone, and neither was decided).
    """
    scopes = {path_of(method): scope_of(method) for method in service.methods}
    undeclared = [path for path, scope in scopes.items() if not scope]
    if undeclared:
        raise ValueError(f"{', '.join(undeclared)} declare(s) no (bullseye.auth.v1.scope) option in the proto")
    return scopes
