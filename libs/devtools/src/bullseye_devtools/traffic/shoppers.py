"""Shoppers: where they live, what they like, which devices they use, whether they have an account.

Personal data is fake on purpose: emails at example.com (RFC 2606) and French mobile numbers
in +33 6 00 xx xx xx, a block no operator hands out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bullseye_devtools.traffic.catalog import Catalog
from bullseye_devtools.traffic.devices import SPECS, Device, household_tablet, make_device
from bullseye_devtools.traffic.seeds import geometric, rng_for, uuid_from

# (country, locales, IANA zone, cities, share of shoppers)
COUNTRIES = (
    ("FR", ("fr-FR",), "Europe/Paris", ("Paris", "Lyon", "Marseille", "Lille", "Nantes"), 0.40),
    ("DE", ("de-DE",), "Europe/Berlin", ("Berlin", "Hamburg", "München", "Köln"), 0.15),
    ("ES", ("es-ES",), "Europe/Madrid", ("Madrid", "Barcelona", "Valencia"), 0.10),
    ("IT", ("it-IT",), "Europe/Rome", ("Roma", "Milano", "Torino"), 0.10),
    ("BE", ("fr-BE", "nl-BE"), "Europe/Brussels", ("Bruxelles", "Antwerpen", "Liège"), 0.08),
    ("NL", ("nl-NL",), "Europe/Amsterdam", ("Amsterdam", "Rotterdam", "Utrecht"), 0.07),
    ("GB", ("en-GB",), "Europe/London", ("London", "Manchester", "Bristol"), 0.05),
    ("PT", ("pt-PT",), "Europe/Lisbon", ("Lisboa", "Porto"), 0.05),
)
FIRST = (
    "Camille", "Léa", "Hugo", "Lucas", "Emma", "Jonas", "Mia", "Lukas", "Sofia", "Mateo", "Giulia", "Marco",
    "Sanne", "Daan", "Olivia", "Noah", "Inês", "João", "Chloé", "Louis", "Anna", "Elias", "Clara", "Tom",
)  # fmt: skip
LAST = (
    "Martin", "Bernard", "Dubois", "Müller", "Schmidt", "García", "López", "Rossi", "Bianchi", "de Vries",
    "Jansen", "Smith", "Taylor", "Silva", "Santos", "Peeters", "Lefèvre", "Moreau", "Weber", "Romano",
)  # fmt: skip
TIERS = ("bronze", "silver", "gold")


@dataclass(frozen=True)
class Shopper:
    """One person. `status`: guest (no account, some create one at checkout), new (signs up in the period), member."""

    index: int
    user_id: str
    status: str
    first_name: str
    last_name: str
    email: str
    phone: str
    country: str
    city: str
    gender: str
    birth_year: int
    tier: str
    favourite_leaves: tuple[str, ...]
    devices: tuple[Device, ...]
    visits: int
    store_visits: int

    @property
    def has_account(self) -> bool:
        return self.status != "guest"


def _ascii(name: str) -> str:
    table = str.maketrans("éèêëàâäöüôîïçñã", "eeeeaaaouoiicna")
    return name.lower().translate(table).replace(" ", "").replace("ß", "ss")


def _email(rng: random.Random, first: str, last: str, index: int) -> str:
    """Mostly canonical; some typed with capitals and stray spaces, as forms receive them."""
    email = f"{_ascii(first)}.{_ascii(last)}.{index}@example.com"
    return f" {_ascii(first).title()}.{_ascii(last).title()}.{index}@Example.com " if rng.random() < 0.12 else email


def mobile(index: int, *, national: bool = False) -> str:
    """Shopper `index`'s mobile number: "+33 6 00 xx xx xx", or "06 00 xx xx xx" as the French
    type it (readable only with a country: the traits' or the locale's)."""
    digits = f"{index // 10_000 % 100:02d} {index // 100 % 100:02d} {index % 100:02d}"
    return f"06 00 {digits}" if national else f"+33 6 00 {digits}"


def _phone(rng: random.Random, country: str, index: int) -> str:
    if rng.random() < 0.4:
        return ""
    return mobile(index, national=country == "FR" and rng.random() < 0.3)  # read in the locale's region


def _devices(rng: random.Random, seed: int, index: int, locale: str, zone: str) -> tuple[Device, ...]:
    count = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
    specs = rng.choices(SPECS, weights=[s.share for s in SPECS], k=count)
    own = [make_device(rng, spec, locale=locale if rng.random() > 0.1 else "en-GB", timezone=zone) for spec in specs]
    tablet = household_tablet(seed, index // 2, locale=locale, timezone=zone)
    return (*own, tablet) if tablet else tuple(own)


def make_shopper(seed: int, index: int, catalog: Catalog) -> Shopper:
    """Shopper number `index` of the population drawn from `seed` (independent of the others)."""
    rng = rng_for(seed, "shopper", index)
    country, locales, zone, cities, _ = rng.choices(COUNTRIES, weights=[c[-1] for c in COUNTRIES])[0]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    status = rng.choices(("guest", "new", "member"), weights=(50, 18, 32))[0]
    devices = _devices(rng, seed, index, rng.choice(locales), zone)
    return Shopper(
        index=index,
        user_id=f"u-{uuid_from(rng)[:13].replace('-', '')}",
        status=status,
        first_name=first,
        last_name=last,
        email=_email(rng, first, last, index),
        phone=_phone(rng, country, index),
        country=country,
        city=rng.choice(cities),
        gender=rng.choice(("female", "male", "female", "male", "non-binary", "")),
        birth_year=rng.randint(1950, 2006),
        tier=rng.choices(TIERS, weights=(70, 22, 8))[0],
        favourite_leaves=tuple(rng.sample(catalog.leaves(), rng.randint(1, 3))),
        devices=devices,
        visits=geometric(rng, 2.2 if status == "member" else 1.2, minimum=1, maximum=25),
        store_visits=int(status == "member" and rng.random() < 0.06),
    )
