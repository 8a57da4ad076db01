"""TLS and mutual TLS from certificate files: configuration, not code changes (D4).

A server with a certificate and key serves TLS only; with a client CA as well it requires
every client to present a certificate that CA signed (mTLS). A client that trusts a CA
speaks TLS to the servers it calls, and presents its own certificate when it has one.
Off unless configured (the local stack runs without).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


def _read(path: Path, what: str) -> bytes:
    """Raises OSError naming the file and what it was meant to be."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OSError(f"cannot read the {what} {path}: {exc.strerror}") from None


@dataclass(frozen=True, kw_only=True)
class ServerTls:
    """A server's certificate chain and key (PEM files); `client_ca` (PEM) requires mTLS."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """Raises OSError when a file cannot be read."""
        pair = (_read(self.key, "TLS key"), _read(self.cert, "TLS certificate"))
        client_ca = _read(self.client_ca, "client CA") if self.client_ca else None
        required = client_ca is not None
        return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=required)


@dataclass(frozen=True, kw_only=True)
class ClientTls:
    """The CA a client trusts (PEM); `cert` and `key` (PEM) are presented to mTLS servers."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        """Raises OSError when a file cannot be read."""
        key = _read(self.key, "client TLS key") if self.key else None
        cert = _read(self.cert, "client TLS certificate") if self.cert else None
        return grpc.ssl_channel_credentials(_read(self.ca, "CA"), private_key=key, certificate_chain=cert)
