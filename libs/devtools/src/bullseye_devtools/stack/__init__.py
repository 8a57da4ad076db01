"""The local stack: a real nats-server and a real PostgreSQL, started by the project itself."""

from bullseye_devtools.stack.nats import NatsServer
from bullseye_devtools.stack.postgres import PostgresServer

__all__ = ["NatsServer", "PostgresServer"]
