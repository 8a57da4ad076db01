"""What a refused link says about the identifiers involved, and what leaves a person once they
are cut (domain/sharing.py, domain/parting.py): pure functions, no I/O."""

from __future__ import annotations

from bullseye_identity.domain.decide import Conflict, Decision
from bullseye_identity.domain.parting import Evidence, Part, destinations, parts
from bullseye_identity.domain.sharing import Cut, cuts

USER_RULE = "limit:user_id=1"
UA, UB = ("user_id", "ua"), ("user_id", "ub")
D, A1, A2, A3 = ("device_id", "tablet"), ("anonymous_id", "a1"), ("anonymous_id", "a2"), ("anonymous_id", "a3")
SHARED_MAIL, E1 = ("email", "orders"), ("email", "ann")


def refused(person: str, rule: str, *keys: tuple[str, str]) -> Decision:
    return Decision(
        "new", created=True, conflicts=(Conflict("new", person, rule, tuple((k, (person,)) for k in keys)),)
    )


def test_a_device_seen_logged_in_by_two_accounts_is_shared_and_a_weakly_linked_one_contradicted() -> None:
    """The next family member logs in on the tablet: its device id was seen with the first
    owner's user id (shared), the fresh anonymous id only followed the device (contradicted)."""
    owner = {D: "first", A2: "first"}
    found = cuts(refused("first", USER_RULE, D, A2), [UB, D, A2], owner, strong=True, strong_keys={D},
                 user_id_rule=USER_RULE)  # fmt: skip
    assert found == [Cut("first", USER_RULE, shared=frozenset({D}), contradicted=frozenset({A2}))]


def test_without_a_login_nothing_is_contradicted_every_value_in_the_conflict_is_shared() -> None:
    owner = {D: "kiosk", A1: "kiosk"}
    found = cuts(refused("kiosk", "weak:email", D, A1), [E1, D, A1], owner, strong=False, strong_keys=(),
                 user_id_rule=USER_RULE)  # fmt: skip
    assert found == [Cut("kiosk", "weak:email", shared=frozenset({D, A1}))]


def test_user_ids_are_never_cut_and_refused_unknown_identifiers_cut_nothing() -> None:
    second_user = Conflict("p", "q", USER_RULE, ((UB, ("q", "p")),))
    decision = Decision(
        "p", created=False, conflicts=(second_user, Conflict("p", "", "limit:email=5", ((E1, ("p",)),)))
    )
    assert cuts(decision, [UA, UB, E1], {UA: "p", UB: "q"}, strong=True, strong_keys=(), user_id_rule=USER_RULE) == []


def household() -> list[Evidence]:
    """The first owner browses then logs in on the tablet; the next member browses logged out."""
    return [
        Evidence("e1", 1, (D, A1)), Evidence("e2", 2, (UA, D, A1)), Evidence("e3", 3, (D, A2)),
        Evidence("e4", 4, (D, A2)),
    ]  # fmt: skip


def test_what_joined_only_through_a_cut_value_leaves_and_its_events_follow() -> None:
    identifiers = [UA, D, A1, A2]
    found = parts(identifiers, household(), cut={D, A2}, contradicted={A2})
    assert found == [Part((A2,), A2)]
    owner = {UA: "first", D: "first", A1: "first", A2: "healed"}
    assert destinations(household(), owner, shared={D}, person_id="first") == {"e3": A2, "e4": A2}


def test_a_shared_value_stays_and_every_part_it_held_leaves_on_its_own() -> None:
    """A kiosk's person: guests' e-receipt emails joined only through its ids."""
    e2, e3 = ("email", "bea"), ("email", "cy")
    evidence = [
        Evidence("cash", 1, (D, A1)), Evidence("bea", 2, (e2, D, A1)), Evidence("cy", 3, (e3, D, A1)),
        Evidence("card", 4, (UA, D, A1)),
    ]  # fmt: skip
    found = parts([UA, e2, e3, D, A1], evidence, cut={D, A1}, contradicted=())
    assert found == [Part((e2,), D), Part((e3,), D)], "each guest alone; the card holder's user id stays"


def test_without_a_user_id_the_part_of_the_event_that_created_the_person_stays() -> None:
    evidence = [Evidence("x", 5, (A3, D)), Evidence("y", 2, (A1, D)), Evidence("z", 9, (A2, D))]
    found = parts([D, A1, A2, A3], evidence, cut={D}, contradicted=())
    assert [p.keys for p in found] == [(A2,), (A3,)]


def test_a_person_created_by_shared_values_alone_keeps_only_them() -> None:
    """A kiosk's first shopper paid cash: every guest's address joined through its ids."""
    e2 = ("email", "bea")
    evidence = [Evidence("cash", 1, (D, A1)), Evidence("bea", 2, (e2, D, A1))]
    assert parts([e2, D, A1], evidence, cut={D, A1}, contradicted=()) == [Part((e2,), D)]


def test_an_operators_merge_holds_what_it_joined() -> None:
    evidence = [*household(), Evidence("merge-command", 0, (UA, A2))]
    assert parts([UA, D, A1, A2], evidence, cut={D}, contradicted=()) == []


def test_an_event_follows_its_next_identifier_to_another_person_and_one_with_only_shared_values_stays() -> None:
    """A guest checkout with the company's mailbox and the colleague's own browser follows the
    browser, now the colleague's, once the mailbox is shared."""
    laptop = ("anonymous_id", "colleague-laptop")
    evidence = [Evidence("checkout", 7, (SHARED_MAIL, laptop)), Evidence("note", 8, (SHARED_MAIL,))]
    owner = {SHARED_MAIL: "first", laptop: "colleague"}
    assert destinations(evidence, owner, shared={SHARED_MAIL}, person_id="first") == {"checkout": laptop}


def test_parts_do_not_depend_on_the_order_of_the_evidence() -> None:
    evidence = [
        Evidence("a", 1, (D, A1)),
        Evidence("b", 2, (D, A2)),
        Evidence("c", 3, (A2, A3)),
        Evidence("d", 4, (UA, A1)),
    ]
    expected = parts([UA, D, A1, A2, A3], evidence, cut={D}, contradicted=())
    assert expected == [Part((A2, A3), D)]
    assert parts([UA, D, A1, A2, A3], evidence[::-1], cut={D}, contradicted=()) == expected
