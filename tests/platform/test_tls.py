"""TLS and mTLS from certificate files, with certificates generated here (a CA, a server
certificate for 127.0.0.1, client certificates from that CA and from a stranger's)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from bullseye_platform.grpc import GrpcServer, ServerOptions
from bullseye_platform.grpc.tls import ClientTls, ServerTls
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests import channels
from tests.platform.test_grpc_server import Probe, session_verifier

SERVICE = "bullseye.test.v1.Probe"
Issuer = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def certificate(name: str, issuer: Issuer | None, *, usage: x509.ObjectIdentifier | None) -> Issuer:
    """A certificate for `name`, self-signed (a CA) when `issuer` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def write(folder: Path, name: str, pair: Issuer) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    cert.write_bytes(pair[0].public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pair[1].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: tuple[Path, Path]
    client: tuple[Path, Path]
    stranger: tuple[Path, Path]  # a client certificate from a CA the server does not trust


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, other_ca = certificate("bullseye test CA", None, usage=None), certificate("stranger CA", None, usage=None)
    server = certificate("profile", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client = certificate("campaign", ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    stranger = certificate("intruder", other_ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(
        ca=write(folder, "ca", ca)[0], server=write(folder, "server", server), client=write(folder, "client", client),
        stranger=write(folder, "stranger", stranger),
    )  # fmt: skip


async def serve(tls: ServerTls) -> GrpcServer:
    server = GrpcServer(
        ServerOptions(host="127.0.0.1", port=0, grace=0.0, tls=tls), authenticators=[session_verifier()]
    )
    probe = Probe()
    server.add(probe.register, probe, SERVICE, scopes={f"/{SERVICE}/{m}": "probe:call" for m in probe.methods()})
    await server.start()
    return server


@pytest.fixture(scope="module")
async def tls_address(pki: Pki) -> AsyncIterator[str]:
    server = await serve(ServerTls(cert=pki.server[0], key=pki.server[1]))
    yield f"127.0.0.1:{server.port}"
    await server.stop()


@pytest.fixture(scope="module")
async def mtls_address(pki: Pki) -> AsyncIterator[str]:
    server = await serve(ServerTls(cert=pki.server[0], key=pki.server[1], client_ca=pki.ca))
    yield f"127.0.0.1:{server.port}"
    await server.stop()


async def echo(address: str, tls: ClientTls | None) -> bytes:
    async with channels.channel(address, tls=tls) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Echo", request_serializer=None, response_deserializer=None)
        reply: bytes = await call(b"over tls", timeout=10)
        return reply


async def refused(address: str, tls: ClientTls | None) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await echo(address, tls)
    return raised.value.code()


async def test_a_client_that_trusts_the_ca_calls_a_tls_server(tls_address: str, pki: Pki) -> None:
    assert await echo(tls_address, ClientTls(ca=pki.ca)) == b"over tls"


async def test_a_plaintext_client_cannot_call_a_tls_server(tls_address: str) -> None:
    assert await refused(tls_address, None) == grpc.StatusCode.UNAVAILABLE


async def test_a_client_that_does_not_trust_the_servers_ca_refuses_it(tls_address: str, pki: Pki) -> None:
    assert await refused(tls_address, ClientTls(ca=pki.stranger[0])) == grpc.StatusCode.UNAVAILABLE


async def test_under_mtls_a_client_with_a_certificate_of_the_ca_is_served(mtls_address: str, pki: Pki) -> None:
    tls = ClientTls(ca=pki.ca, cert=pki.client[0], key=pki.client[1])

    assert await echo(mtls_address, tls) == b"over tls"


async def test_under_mtls_a_client_without_a_certificate_is_refused(mtls_address: str, pki: Pki) -> None:
    assert await refused(mtls_address, ClientTls(ca=pki.ca)) == grpc.StatusCode.UNAVAILABLE


async def test_under_mtls_a_certificate_from_another_ca_is_refused(mtls_address: str, pki: Pki) -> None:
    tls = ClientTls(ca=pki.ca, cert=pki.stranger[0], key=pki.stranger[1])

    assert await refused(mtls_address, tls) == grpc.StatusCode.UNAVAILABLE
