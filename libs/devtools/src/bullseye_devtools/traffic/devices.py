"""Devices a shopper uses: apps, browsers, a mini-program, a shared tablet, store tills.

IPs come from the documentation ranges (RFC 5737 TEST-NETs, RFC 3849 2001:db8::/32): real
addresses in form, so ingestion masks them, yet they belong to nobody.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.seeds import rng_for, uuid_from

APP_VERSIONS = ("5.12.0", "5.13.2", "5.14.0")
CHROME = "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 {mobile}Safari/537.36"
SAFARI = "Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{version} {mobile}Safari/604.1"


@dataclass(frozen=True)
class DeviceSpec:
    kind: str
    channel: ev.Channel.ValueType
    form: str
    models: tuple[tuple[str, str], ...]
    systems: tuple[tuple[str, str], ...]
    share: float


SPECS = (
    DeviceSpec("web-desktop", ev.CHANNEL_WEB, "desktop", (("", ""),), (("Windows", "11"), ("macOS", "14.6")), 0.35),
    DeviceSpec(
        "web-mobile", ev.CHANNEL_WEB, "mobile", (("Apple", "iPhone"), ("Samsung", "SM-A546B")),
        (("iOS", "18.1"), ("Android", "14")), 0.25,
    ),
    DeviceSpec(
        "ios-app", ev.CHANNEL_APP, "mobile", (("Apple", "iPhone15,2"), ("Apple", "iPhone16,1")),
        (("iOS", "17.6"), ("iOS", "18.2")), 0.17,
    ),
    DeviceSpec(
        "android-app", ev.CHANNEL_APP, "mobile", (("Samsung", "SM-S921B"), ("Google", "Pixel 8")),
        (("Android", "14"), ("Android", "15")), 0.15,
    ),
    DeviceSpec(
        "mini-program", ev.CHANNEL_MINI_PROGRAM, "mobile", (("Apple", "iPhone14,5"), ("Xiaomi", "2311DRK48G")),
        (("iOS", "17.6"), ("Android", "14")), 0.08,
    ),
)  # fmt: skip
TABLET = DeviceSpec("tablet", ev.CHANNEL_WEB, "tablet", (("Apple", "iPad13,18"),), (("iPadOS", "18.1"),), 0.0)


@dataclass(frozen=True)
class Device:
    """One device; `anonymous_id` is its cookie or install id, empty on store tills."""

    anonymous_id: str
    device_id: str
    channel: ev.Channel.ValueType
    info: ev.Device
    user_agent: str
    locale: str
    timezone: str
    ip: str
    roaming: bool  # mobile networks hand out a new IP every visit
    shared: bool = False

    @property
    def is_web(self) -> bool:
        return self.channel == ev.CHANNEL_WEB

    def ip_for_visit(self, rng: random.Random) -> str:
        return random_ip(rng) if self.roaming else self.ip


def random_ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8:{rng.randrange(0x10000):x}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"


def _user_agent(spec: DeviceSpec, model: str, os_name: str, version: str, app: str) -> str:
    if spec.channel == ev.CHANNEL_APP:
        return f"BullseyeShop/{app} ({model}; {os_name} {version})"
    apple = os_name in ("iOS", "iPadOS", "macOS")
    if spec.channel == ev.CHANNEL_MINI_PROGRAM:
        return f"Mozilla/5.0 ({model}; {os_name} {version}) MicroMessenger/8.0.54 miniProgram"
    mobile = "Mobile/15E148 " if spec.form != "desktop" and apple else ("Mobile " if spec.form != "desktop" else "")
    platform = {
        "Windows": "Windows NT 10.0; Win64; x64",
        "macOS": "Macintosh; Intel Mac OS X 10_15_7",
        "Android": f"Linux; Android {version}; K",
    }.get(os_name, f"{model}; CPU OS {version.replace('.', '_')} like Mac OS X")
    if apple:
        return SAFARI.format(platform=platform, version=version, mobile=mobile)
    return CHROME.format(platform=platform, mobile=mobile)


def make_device(rng: random.Random, spec: DeviceSpec, *, locale: str, timezone: str, shared: bool = False) -> Device:
    """A device of kind `spec`; apps get an advertising id, browsers only a cookie id."""
    index = rng.randrange(len(spec.models))
    manufacturer, model = spec.models[index]
    os_name, version = spec.systems[index % len(spec.systems)]
    app = rng.choice(APP_VERSIONS) if spec.channel != ev.CHANNEL_WEB else ""
    info = ev.Device(
        type=spec.form, manufacturer=manufacturer, model=model, os=os_name, os_version=version, app_version=app
    )
    return Device(
        anonymous_id=uuid_from(rng),
        device_id=uuid_from(rng).upper() if spec.channel == ev.CHANNEL_APP else "",
        channel=spec.channel,
        info=info,
        user_agent=_user_agent(spec, model or "PC", os_name, version, app),
        locale=locale,
        timezone=timezone,
        ip=random_ip(rng),
        roaming=spec.form == "mobile" and rng.random() < 0.6,
        shared=shared,
    )


def household_tablet(seed: int, household: int, *, locale: str, timezone: str) -> Device | None:
    """The tablet two neighbouring shoppers share in ~12% of households (logout/login on it)."""
    rng = rng_for(seed, "household", household)
    if rng.random() >= 0.12:
        return None
    return make_device(rng, TABLET, locale=locale, timezone=timezone, shared=True)


def system_source(*, anonymous_id: str, user_agent: str) -> Device:
    """A system that sends events on the merchant's behalf (a catalog feed, a CRM export):
    no device, no address, an identifier only where ingestion needs one."""
    return Device(
        anonymous_id=anonymous_id,
        device_id="",
        channel=ev.CHANNEL_OTHER,
        info=ev.Device(type="server"),
        user_agent=user_agent,
        locale="en-GB",
        timezone="Europe/Paris",
        ip="",
        roaming=False,
    )


STORES = (
    ("paris-rivoli", "fr-FR", "Europe/Paris"),
    ("lyon-part-dieu", "fr-FR", "Europe/Paris"),
    ("bruxelles-louise", "fr-BE", "Europe/Brussels"),
    ("berlin-mitte", "de-DE", "Europe/Berlin"),
)


def store_till(store: int) -> Device:
    """A till in one of the shops: shoppers there are known only by their loyalty card (user_id)."""
    name, locale, timezone = STORES[store % len(STORES)]
    info = ev.Device(type="pos", manufacturer="Tillcraft", model="T400", os="Android", os_version="12")
    return Device(
        anonymous_id="",
        device_id=f"pos-{name}-{store // len(STORES) + 1}",
        channel=ev.CHANNEL_STORE,
        info=info,
        user_agent="Tillcraft-POS/3.2",
        locale=locale,
        timezone=timezone,
        ip=f"198.51.100.{10 + store}",
        roaming=False,
    )
