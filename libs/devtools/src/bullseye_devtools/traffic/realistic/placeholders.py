"""Placeholders that are not on identity's blocked list, sent by many persons.

Shop forms put `noemail@shop.example` where a guest has no address (a dozen guests), web
snippets send `[object Object]` or an unrendered template marker for a missing user id,
testers type `test@test.com`, legacy apps send `none` or `n/a`, and a phone field gets one
digit repeated. Each person sends theirs from their own device, so their own anonymous id
still says who they are. `{{email}}` is no email at all: ingestion rejects that whole event
today, where a lenient one would drop the field and keep the event.

Today every value but `none` (already blocked) glues everyone who sends it into one person,
as far as the one-user-id limit lets it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bullseye_platform.normalize import normalize_phone

from bullseye_devtools.traffic.envelope import open_visit
from bullseye_devtools.traffic.realistic.scene import Scene, guest_checkout
from bullseye_devtools.traffic.traps import Actor, browse


@dataclass(frozen=True)
class Placeholder:
    field: str  # "email", "phone" or "user_id"
    value: str
    weight: int  # persons sending it in a cast of 40

    @property
    def canonical(self) -> str:
        """The value as identity would compare it (lower case; a phone in E.164)."""
        return normalize_phone(self.value, region=None) if self.field == "phone" else self.value.strip().lower()


PLACEHOLDERS = (
    Placeholder("email", "noemail@shop.example", 12),
    Placeholder("user_id", "[object Object]", 6),
    Placeholder("email", "test@test.com", 5),
    Placeholder("user_id", "n/a", 4),
    Placeholder("phone", "+33 1 11 11 11 11", 4),
    Placeholder("user_id", "none", 3),
    Placeholder("email", "{{email}}", 3),
    Placeholder("user_id", "{{user.id}}", 3),
)


def placeholders(cast: list[Actor], scene: Scene) -> None:
    for actor, placeholder in zip(cast, assign(len(cast)), strict=True):
        send(actor, placeholder, scene)


def assign(count: int) -> list[Placeholder]:
    """Who sends which value: in proportion to the weights, at least two persons per value as
    far as `count` goes (a value sent by one person would be unique, not a placeholder)."""
    total = sum(p.weight for p in PLACEHOLDERS)
    chosen: list[Placeholder] = []
    for placeholder in PLACEHOLDERS:
        left = count - len(chosen)
        if left < 2:
            break
        chosen += [placeholder] * min(left, max(2, round(placeholder.weight * count / total)))
    return chosen + [PLACEHOLDERS[0]] * (count - len(chosen))


def send(actor: Actor, placeholder: Placeholder, scene: Scene) -> None:
    """From the person's own main device: a session under the bogus user id, or a guest
    checkout with the bogus contact point."""
    rng, device = actor.rng, actor.shopper.devices[0]
    at = scene.window.moment(rng)
    if placeholder.field == "user_id":
        browse(actor, open_visit(rng, device, at, user_id=placeholder.value), rng.randint(2, 4))
    elif placeholder.field == "email":
        guest_checkout(actor, device, at, email=placeholder.value)
    else:
        guest_checkout(actor, device, at, phone=placeholder.value)
