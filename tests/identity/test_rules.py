"""The resolution rules as pure functions (domain/): the settings' parsing and the decisions."""

from __future__ import annotations

import pytest
from bullseye_identity.domain.decide import Conflict, Merge, PersonView, decide
from bullseye_identity.domain.placeholders import Placeholders
from bullseye_identity.domain.policy import TYPES, Policy
from bullseye_platform.config import ConfigError

DEFAULT_LIMITS = ("user_id=1", "email=5", "phone=3", "device_id=10", "anonymous_id=100", "loyalty_id=3")


def policy(**changes: object) -> Policy:
    settings: dict[str, object] = {
        "priority": TYPES, "limits": DEFAULT_LIMITS, "blocked": (), "max_persons_per_value": 5,
    }  # fmt: skip
    settings.update(changes)
    return Policy.parse(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"priority": ("user_id", "email")}, "IDENTITY_PRIORITY"),
        ({"priority": (*TYPES, "email")}, "IDENTITY_PRIORITY"),
        ({"limits": ("user_id=1",)}, "IDENTITY_LIMITS"),
        ({"limits": (*DEFAULT_LIMITS, "fax=2")}, "IDENTITY_LIMITS"),
        ({"limits": ("user_id=0", *DEFAULT_LIMITS[1:])}, "IDENTITY_LIMITS"),
        ({"limits": ("user_id=²", *DEFAULT_LIMITS[1:])}, "IDENTITY_LIMITS"),  # a digit to isdigit(), not to int()
        ({"max_persons_per_value": 1}, "IDENTITY_MAX_PERSONS_PER_VALUE"),
    ],
)
def test_malformed_settings_name_their_variable(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        policy(**changes)


PLACEHOLDERS = [
    ("user_id", ""), ("user_id", " 0 "), ("user_id", "NULL"), ("anonymous_id", "undefined"), ("user_id", "n/a"),
    ("device_id", "00000000-0000-0000-0000-000000000000"), ("anonymous_id", "aaaa"), ("user_id", "[object Object]"),
    ("email", "noemail@shop.example"), ("email", "No-Reply@Brand.example"), ("email", "test@test.com"),
    ("user_id", "{{user.id}}"), ("email", "{{email}}"), ("user_id", "${userId}"), ("email", "*|EMAIL|*"),
    ("user_id", "%USER_ID%"), ("phone", "+33111111111"), ("phone", "+15555555555"),
]  # fmt: skip


@pytest.mark.parametrize(("id_type", "value"), PLACEHOLDERS)
def test_placeholders_never_count_as_identifiers(id_type: str, value: str) -> None:
    assert Placeholders().holds(id_type, value)


REAL = [
    ("user_id", "u-1"), ("user_id", "a"), ("user_id", "7"), ("user_id", "1000000"), ("email", "ann@shop.example"),
    ("anonymous_id", "4f1c2b9e-0000-4000-8000-000000000001"), ("phone", "+33612345678"), ("user_id", "object"),
    ("email", "noemail.fan@shop.example"),
]  # fmt: skip


@pytest.mark.parametrize(("id_type", "value"), REAL)
def test_real_ids_are_not_placeholders(id_type: str, value: str) -> None:
    assert not Placeholders().holds(id_type, value)


def test_operators_add_values_and_patterns_case_insensitively() -> None:
    configured = policy(blocked=("demo-user", "*@example.invalid", "[user *]"))
    assert not configured.usable("user_id", "Demo-User")
    assert not configured.usable("email", "Ann@Example.Invalid")
    assert not configured.usable("user_id", "[USER 42]"), "brackets stand for themselves"
    assert configured.usable("user_id", "u"), "a pattern matches the whole value"
    assert not configured.usable("email", "noemail@shop.example"), "the built-in list stays"


def person(person_id: str, seq: int, **counts: int) -> PersonView:
    return PersonView(person_id, seq, counts)


U1, U2, A1, D1 = ("user_id", "u1"), ("user_id", "u2"), ("anonymous_id", "a1"), ("device_id", "d1")
E1 = ("email", "hash-of-e1")


def test_unknown_identifiers_start_a_person() -> None:
    decision = decide([U1, A1], {}, {}, policy(), new_person_id="new")
    assert (decision.person_id, decision.created, decision.attach) == ("new", True, (U1, A1))


def test_linked_persons_merge_into_the_oldest() -> None:
    persons = {"p": person("p", 9, user_id=1), "q": person("q", 3, anonymous_id=1)}
    decision = decide([U1, A1], {U1: "p", A1: "q"}, persons, policy(), new_person_id="new")
    assert decision.person_id == "q"
    assert decision.merges == (Merge("q", "p", "anonymous_id", A1),), "through the older person's anonymous id"


def test_a_merge_past_a_limit_is_refused_and_the_event_goes_to_its_top_identifier() -> None:
    persons = {"p": person("p", 9, user_id=1), "q": person("q", 3, user_id=1, device_id=1)}
    decision = decide([U1, D1], {U1: "p", D1: "q"}, persons, policy(), new_person_id="new")
    assert (decision.person_id, decision.merges) == ("p", ())
    assert decision.conflicts == (Conflict("p", "q", "limit:user_id=1", ((D1, ("q", "p")),)),)


def test_an_outranking_identifier_that_does_not_fit_starts_its_own_person() -> None:
    persons = {"p": person("p", 1, user_id=1, anonymous_id=1)}
    decision = decide([U2, A1], {A1: "p"}, persons, policy(), new_person_id="new")
    assert (decision.person_id, decision.created, decision.attach) == ("new", True, (U2,))
    assert decision.conflicts == (Conflict("new", "p", "limit:user_id=1", ((A1, ("p", "new")),)),)


def test_a_lower_identifier_that_does_not_fit_is_left_out() -> None:
    persons = {"p": person("p", 1, user_id=1, device_id=1)}
    one_device = policy(limits=("device_id=1", *DEFAULT_LIMITS[:3], "anonymous_id=9", "loyalty_id=3"))
    decision = decide([U1, D1], {U1: "p"}, persons, one_device, new_person_id="new")
    assert (decision.person_id, decision.attach) == ("p", ())
    assert decision.conflicts == (Conflict("p", "", "limit:device_id=1", ((D1, ("p",)),)),)


def test_a_shared_device_cannot_veto_a_strong_link() -> None:
    """A guest logs in on the partner's family app and gives the email they used elsewhere:
    the email still joins the guest's persons; only the family device is refused."""
    persons = {"partner": person("partner", 1, user_id=1, device_id=1), "guest": person("guest", 5, email=1)}
    owner = {D1: "partner", E1: "guest"}
    decision = decide([U2, E1, D1], owner, persons, policy(), new_person_id="new")
    assert (decision.person_id, decision.created, decision.attach, decision.merges) == ("guest", False, (U2,), ())
    assert decision.conflicts == (Conflict("guest", "partner", "limit:user_id=1", ((D1, ("partner", "guest")),)),)


def test_higher_priority_links_are_kept_before_lower_ones_are_judged() -> None:
    """u1's person and an email's person merge; the anonymous id's person (another user id) is refused."""
    persons = {
        "p": person("p", 4, user_id=1),
        "q": person("q", 2, email=1),
        "r": person("r", 1, user_id=1, anonymous_id=1),
    }
    decision = decide([U1, E1, A1], {U1: "p", E1: "q", A1: "r"}, persons, policy(), new_person_id="new")
    assert decision.person_id == "q"
    assert decision.merges == (Merge("q", "p", "email", E1),)
    assert [(c.person_id, c.other_person_id, c.rule) for c in decision.conflicts] == [("q", "r", "limit:user_id=1")]


E2, P1 = ("email", "hash-of-e2"), ("phone", "hash-of-p1")


def test_a_logged_out_event_never_brings_a_second_email_to_a_person() -> None:
    """A guest's e-receipt address typed on a kiosk whose person holds another guest's: refused."""
    persons = {"kiosk": person("kiosk", 1, device_id=1, email=1)}
    decision = decide([E2, D1], {D1: "kiosk"}, persons, policy(), new_person_id="new", strong=False)
    assert (decision.person_id, decision.created, decision.attach, decision.merges) == ("new", True, (E2,), ())
    assert decision.conflicts == (Conflict("new", "kiosk", "weak:email", ((D1, ("kiosk", "new")),)),)


def test_a_login_may_bring_a_second_email() -> None:
    persons = {"p": person("p", 1, user_id=1, email=1)}
    decision = decide([U1, E2], {U1: "p"}, persons, policy(), new_person_id="new", strong=True)
    assert (decision.person_id, decision.attach, decision.conflicts) == ("p", (E2,), ())


def test_a_logged_out_event_may_join_an_email_to_a_person_without_one() -> None:
    persons = {"p": person("p", 1, anonymous_id=1, phone=1)}
    decision = decide([E1, A1], {A1: "p"}, persons, policy(), new_person_id="new", strong=False)
    assert (decision.person_id, decision.attach, decision.conflicts) == ("p", (E1,), ())


def test_the_weak_single_types_are_configurable() -> None:
    persons = {"kiosk": person("kiosk", 1, device_id=1, email=1)}
    lenient = policy(weak_single=("phone",))
    decision = decide([E2, D1], {D1: "kiosk"}, persons, lenient, new_person_id="new", strong=False)
    assert (decision.person_id, decision.conflicts) == ("kiosk", ())
    with pytest.raises(ConfigError, match="IDENTITY_WEAK_SINGLE_TYPES"):
        policy(weak_single=("fax",))
