"""Who the shopper is on a visit: consent banner, log in and out, sign up, identify."""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.envelope import Visit
from bullseye_devtools.traffic.shoppers import Shopper
from bullseye_devtools.traffic.state import JourneyState

LOGIN_METHODS = ("password", "password", "google", "apple", "magic-link")


def arrive(state: JourneyState, shopper: Shopper, visit: Visit) -> None:
    """First visit on a device answers the consent banner; account holders often log in."""
    device = visit.device
    if device.anonymous_id not in state.seen:
        state.seen.add(device.anonymous_id)
        source = "cookie-banner" if device.is_web else "app-onboarding"
        consent(state, visit, ev.CONSENT_PURPOSE_ANALYTICS, ev.CONTACT_CHANNEL_ALL, state.rng.random() < 0.8, source)
        if not device.shared and state.registered and state.rng.random() < 0.7:
            log_in(state, shopper, visit)
            return
    if device.anonymous_id in state.logged_in:
        visit.user_id = shopper.user_id
    elif state.registered and state.rng.random() < (1.0 if device.shared else 0.35):
        log_in(state, shopper, visit)


def log_in(state: JourneyState, shopper: Shopper, visit: Visit) -> None:
    """The event that links the device's anonymous id to the account."""
    visit.show("/account/login", "Log in")
    visit.wait(state.rng, 5, 40)
    visit.user_id = shopper.user_id
    state.logged_in.add(visit.device.anonymous_id)
    state.emit(visit, ev.LoggedIn(method=state.rng.choice(LOGIN_METHODS)))
    if state.rng.random() < 0.25:
        identify(state, shopper, visit)


def log_out(state: JourneyState, visit: Visit) -> None:
    visit.wait(state.rng, 3, 20)
    state.emit(visit, ev.LoggedOut())
    visit.user_id = ""
    state.logged_in.discard(visit.device.anonymous_id)


def _personal(shopper: Shopper, *, with_phone: bool = True) -> ev.PersonalData:
    return ev.PersonalData(
        email=shopper.email,
        phone=shopper.phone if with_phone else "",
        first_name=shopper.first_name,
        last_name=shopper.last_name,
    )


def sign_up(state: JourneyState, shopper: Shopper, visit: Visit) -> None:
    """Account creation: personal data, traits, then the opt-ins of the sign-up form."""
    visit.show("/account/register", "Create your account")
    visit.wait(state.rng, 20, 120)
    visit.user_id = shopper.user_id
    state.registered = True
    state.logged_in.add(visit.device.anonymous_id)
    method = state.rng.choice(("email", "email", "google", "apple"))
    state.emit(visit, ev.SignedUp(method=method, personal=_personal(shopper)))
    identify(state, shopper, visit)
    rng = state.rng
    consent(state, visit, ev.CONSENT_PURPOSE_MARKETING, ev.CONTACT_CHANNEL_EMAIL, rng.random() < 0.55, "signup-form")
    if shopper.phone:
        consent(state, visit, ev.CONSENT_PURPOSE_MARKETING, ev.CONTACT_CHANNEL_SMS, rng.random() < 0.3, "signup-form")
    consent(state, visit, ev.CONSENT_PURPOSE_PERSONALIZATION, ev.CONTACT_CHANNEL_ALL, rng.random() < 0.7, "signup-form")


def identify(state: JourneyState, shopper: Shopper, visit: Visit, *, guest: bool = False) -> None:
    """What the client learned: traits for account holders, contact details for guest orders."""
    if guest:
        state.emit(visit, ev.Identified(personal=_personal(shopper, with_phone=False)))
        return
    traits = ev.Traits(
        gender=shopper.gender,
        birth_year=shopper.birth_year,
        city=shopper.city,
        country=shopper.country,
        membership_tier=shopper.tier if shopper.status == "member" else "bronze",
    )
    traits.custom["newsletter_frequency"] = state.rng.choice(("weekly", "monthly"))
    state.emit(visit, ev.Identified(traits=traits, personal=_personal(shopper)))


def consent(
    state: JourneyState,
    visit: Visit,
    purpose: ev.ConsentPurpose.ValueType,
    channel: ev.ContactChannel.ValueType,
    granted: bool,
    source: str,
) -> None:
    state.emit(visit, ev.ConsentChanged(purpose=purpose, channel=channel, granted=granted, source=source))


def unsubscribe(state: JourneyState, visit: Visit) -> None:
    """A registered shopper clicks the unsubscribe link of a newsletter."""
    visit.show("/account/preferences", "Communication preferences")
    consent(state, visit, ev.CONSENT_PURPOSE_MARKETING, ev.CONTACT_CHANNEL_EMAIL, False, "unsubscribe-link")
