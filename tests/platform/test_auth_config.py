"""Who a service is and whom it trusts, as configuration: loud when malformed, never showing a
secret; grants overridden per principal; TLS files in pairs; a Unix socket path that can be
bound; an operator's token from the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest
from bullseye_platform.auth import Grants, SigningKey
from bullseye_platform.auth.grants import DEFAULTS
from bullseye_platform.config import ConfigError, load
from bullseye_platform.service import ServiceConfig

from tests import credentials
from tests.platform.test_grpc_server import session_verifier


@dataclass(frozen=True, kw_only=True)
class Settings(ServiceConfig):
    prefix: ClassVar[str] = "SVC"


def environ(**changes: str) -> dict[str, str]:
    keys = credentials.keys()
    return {
        "NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "postgresql://u@h/db", "SVC_SCHEMA": "svc",
        "SVC_STREAM": "SVC", "SVC_SUBJECT_PREFIX": "svc", "SVC_SIGNING_KEY": keys["INGESTION_SIGNING_KEY"],
        "BULLSEYE_TRUSTED_KEYS": keys["BULLSEYE_TRUSTED_KEYS"], **changes,
    }  # fmt: skip


def test_a_service_signs_as_its_own_name_unless_told_otherwise() -> None:
    assert load(Settings, prefix="SVC", environ=environ()).credentials().name == "svc"
    assert load(Settings, prefix="SVC", environ=environ(SVC_PRINCIPAL="ingestion")).credentials().name == "ingestion"


def test_a_malformed_signing_key_stops_start_up_naming_it_without_showing_it() -> None:
    secret = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
    with pytest.raises(ConfigError) as raised:
        load(Settings, prefix="SVC", environ=environ(SVC_SIGNING_KEY=secret))

    assert "SVC_SIGNING_KEY" in str(raised.value) and secret not in str(raised.value)
    assert "32 bytes" in str(raised.value)


def test_missing_keys_are_named() -> None:
    values = environ()
    del values["SVC_SIGNING_KEY"], values["BULLSEYE_TRUSTED_KEYS"]
    with pytest.raises(ConfigError) as raised:
        load(Settings, prefix="SVC", environ=values)

    assert "SVC_SIGNING_KEY is required" in str(raised.value)
    assert "BULLSEYE_TRUSTED_KEYS is required" in str(raised.value)


def test_a_trusted_key_entry_without_a_name_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"BULLSEYE_TRUSTED_KEYS.*entry 1 must be <principal name>="):
        load(Settings, prefix="SVC", environ=environ(BULLSEYE_TRUSTED_KEYS="c2VjcmV0"))


def test_grants_replace_the_defaults_of_the_principals_they_name_only() -> None:
    grants = load(
        Settings, prefix="SVC", environ=environ(BULLSEYE_GRANTS="profile=a:read,b:read;alice=*;campaign=")
    ).grants

    assert grants.of("profile") == {"a:read", "b:read"}
    assert grants.of("alice") == {"*"} and grants.of("campaign") == frozenset()
    assert grants.of("ingestion") == DEFAULTS["ingestion"] == {"datakeys:issue"}
    assert grants.of("nobody") == frozenset()


def test_the_default_grants_are_the_issues() -> None:
    assert Grants().of("operator") == {"*"}
    assert Grants().of("recommendation") == {"identities:read", "profiles:read"}
    assert "contacts:read" in Grants().of("campaign") and "contacts:read" not in Grants().of("profile")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"SVC_TLS_CERT_FILE": "/x.crt"}, "SVC_TLS_CERT_FILE and SVC_TLS_KEY_FILE go together"),
        ({"SVC_TLS_CLIENT_CA_FILE": "/ca.crt"}, "SVC_TLS_CLIENT_CA_FILE (mTLS) needs SVC_TLS_CERT_FILE"),
        (
            {"SVC_TLS_CLIENT_CERT_FILE": "/c.crt", "SVC_TLS_CLIENT_KEY_FILE": "/c.key"},
            "SVC_TLS_CLIENT_CERT_FILE needs SVC_TLS_CA_FILE",
        ),
    ],
)
def test_half_a_tls_configuration_stops_start_up(changes: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(Settings, prefix="SVC", environ=environ(**changes))

    assert named in str(raised.value)


def test_a_socket_path_too_long_to_bind_stops_start_up_naming_it() -> None:
    too_long = "/tmp/" + "s" * 103  # 108 bytes: one more than a Unix socket's path holds

    with pytest.raises(ConfigError) as raised:
        load(Settings, prefix="SVC", environ=environ(SVC_GRPC_SOCKET=too_long))

    assert "SVC_GRPC_SOCKET is 108 bytes long" in str(raised.value)
    assert load(Settings, prefix="SVC", environ=environ(SVC_GRPC_SOCKET=too_long[:-1])).grpc_socket == too_long[:-1]


async def test_the_cli_mints_an_operator_token_that_servers_admit() -> None:
    env = {**os.environ, "BULLSEYE_OPERATOR_KEY": credentials.keys()["BULLSEYE_OPERATOR_KEY"]}
    argv = [sys.executable, "-m", "bullseye_platform.auth", "token", "--ttl", "10m"]
    done = await asyncio.to_thread(subprocess.run, argv, env=env, capture_output=True, text=True, check=True)

    principal = await session_verifier().authenticate(done.stdout.strip())
    assert principal is not None and principal.name == "operator" and principal.can("anything:at_all")


def test_the_cli_refuses_a_token_longer_lived_than_servers_accept() -> None:
    env = {**os.environ, "BULLSEYE_OPERATOR_KEY": SigningKey.generate().encoded()}
    argv = [sys.executable, "-m", "bullseye_platform.auth", "token", "--ttl", "2h"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)

    assert done.returncode == 2 and "at most 3600s" in done.stderr
