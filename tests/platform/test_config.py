"""config.load(): typed fields from prefixed variables, and one loud error for every mistake."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest
from bullseye_platform.config import ConfigError, Duration, describe, env, load


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


@dataclass(frozen=True)
class Settings:
    name: str = env("NAME")
    port: int = env("PORT")
    ratio: float = env("RATIO")
    debug: bool = env("DEBUG")
    timeout: Duration = env("TIMEOUT")
    mode: Mode = env("MODE")
    hosts: tuple[str, ...] = env("HOSTS")
    shares: tuple[int, ...] = env("SHARES", default=())
    retries: int | None = env("RETRIES", default=None)
    nats_url: str = env("!NATS_URL", default="nats://localhost:4222", help="where the log is")


VALID = {
    "SVC_NAME": "profile",
    "SVC_PORT": "50051",
    "SVC_RATIO": "0.25",
    "SVC_DEBUG": "yes",
    "SVC_TIMEOUT": "250ms",
    "SVC_MODE": "SAFE",
    "SVC_HOSTS": "a.example, b.example,",
}


def test_every_field_type_is_parsed_from_its_prefixed_variable() -> None:
    settings = load(Settings, prefix="SVC", environ=VALID)

    assert settings == Settings(
        name="profile",
        port=50051,
        ratio=0.25,
        debug=True,
        timeout=Duration(0.25),
        mode=Mode.SAFE,
        hosts=("a.example", "b.example"),
        shares=(),
        retries=None,
        nats_url="nats://localhost:4222",
    )
    assert isinstance(settings.timeout, Duration)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("250ms", 0.25), ("10s", 10.0), ("5m", 300.0), ("2h", 7200.0), ("7d", 604800.0), ("1.5", 1.5), (" 3S ", 3.0)],
)
def test_durations_are_read_in_seconds_from_their_unit(raw: str, seconds: float) -> None:
    settings = load(Settings, prefix="SVC", environ={**VALID, "SVC_TIMEOUT": raw})

    assert settings.timeout == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("on", True), ("FALSE", False), ("no", False), ("0", False)]
)
def test_booleans_accept_the_usual_spellings(raw: str, expected: bool) -> None:
    assert load(Settings, prefix="SVC", environ={**VALID, "SVC_DEBUG": raw}).debug is expected


def test_optional_and_tuple_fields_parse_their_item_type() -> None:
    settings = load(Settings, prefix="SVC", environ={**VALID, "SVC_SHARES": "1,2, 3", "SVC_RETRIES": "4"})

    assert settings.shares == (1, 2, 3)
    assert settings.retries == 4


def test_a_bang_prefixed_name_is_read_without_the_service_prefix() -> None:
    environ = {**VALID, "NATS_URL": "nats://log:4222", "SVC_NATS_URL": "nats://wrong:4222"}

    assert load(Settings, prefix="SVC", environ=environ).nats_url == "nats://log:4222"


def test_an_empty_variable_counts_as_unset() -> None:
    assert load(Settings, prefix="SVC", environ={**VALID, "SVC_RETRIES": ""}).retries is None


def test_every_missing_and_malformed_variable_is_named_in_one_error() -> None:
    environ = {
        "SVC_PORT": "http",
        "SVC_RATIO": "half",
        "SVC_DEBUG": "maybe",
        "SVC_TIMEOUT": "10 parsecs",
        "SVC_MODE": "reckless",
        "SVC_SHARES": "1,two",
    }

    with pytest.raises(ConfigError) as raised:
        load(Settings, prefix="SVC", environ=environ)

    message = str(raised.value)
    for variable in ("SVC_NAME", "SVC_HOSTS"):
        assert f"{variable} is required" in message
    for variable in ("SVC_PORT", "SVC_RATIO", "SVC_DEBUG", "SVC_TIMEOUT", "SVC_MODE", "SVC_SHARES"):
        assert f"{variable}=" in message
    assert "NATS_URL" not in message  # it has a default


def test_describe_lists_each_variable_with_its_default_and_help() -> None:
    rows = {variable: (default, text) for variable, default, text in describe(Settings, prefix="SVC")}

    assert rows["SVC_PORT"] == ("(required)", "")
    assert rows["NATS_URL"] == ("'nats://localhost:4222'", "where the log is")
