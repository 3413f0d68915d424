"""Specification of `sync_lambda.matching`: which Account a Stripe customer belongs to.
Rules, in order: 1. the Account carrying the customer's id; 2. the Account whose id is in the
customer's metadata; 3. the one unlinked Account with that name; 4. a new Account. An Account
linked to another customer is never taken over."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sync_lambda.matching import (
    AccountIndex,
    Match,
    Scenario,
    account_name_for,
    match_customer,
    metadata_ids,
    names_to_look_up,
    normalize_name,
    to_18,
)
from sync_lambda.models import Customer, Mode
from tests.unit.core import account

KEY = "salesforce_account_id"
ACME = account("001000000000001AAA", "Acme")


def _match(customer: Customer, index: AccountIndex, mode: Mode = Mode.CREATE_AND_LINK,
           length: int = 20) -> Match:
    return match_customer(customer, index, mode=mode, metadata_key=KEY,
                          account_name_length=length)


# -- rule 1: already linked ---------------------------------------------------------------------
def test_a_customer_already_linked_keeps_its_account_in_every_mode() -> None:
    for mode in Mode:
        index = AccountIndex.of([account("001000000000009AAA", "X", "cus_1")])
        assert _match(Customer("cus_1", name="Other"), index, mode) == \
            Match(Scenario.LINKED, "001000000000009AAA")


# -- rule 2: the Account id in metadata ----------------------------------------------------------
@pytest.mark.parametrize("raw", ["001000000000001", "001000000000001AAA", " 001000000000001 ",
                                 "001000000000001aaa"])
def test_the_metadata_id_links_that_account_15_or_18_characters(raw: str) -> None:
    index = AccountIndex.of([ACME])
    match = _match(Customer("cus_1", name="Whatever", metadata={KEY: raw}), index)
    assert match == Match(Scenario.BY_ID, ACME.id)
    # ... and the Account now belongs to the customer for the rest of the batch
    assert index.by_stripe_id["cus_1"].id == ACME.id


def test_the_metadata_id_wins_over_the_name() -> None:
    other = account("001000000000002AAA", "Whatever")
    match = _match(Customer("cus_1", name="Whatever", metadata={KEY: ACME.id}),
                   AccountIndex.of([ACME, other]))
    assert match.account_id == ACME.id


@pytest.mark.parametrize(("raw", "reason"), [
    ("nope", "metadata['salesforce_account_id'] is not a Salesforce record id (15 or 18 "
             "characters with a valid checksum)"),
    ("001000000000001AAB", "is not a Salesforce record id"),
    ("001000000000077", "metadata['salesforce_account_id'] names Account 001000000000077AAA, "
                        "which does not exist"),
])
def test_a_bad_metadata_id_is_reported_never_guessed_around(raw: str, reason: str) -> None:
    match = _match(Customer("cus_1", name="Acme", metadata={KEY: raw}), AccountIndex.of([ACME]))
    assert match.scenario is Scenario.SKIPPED
    assert match.reason is not None
    assert reason in match.reason
    assert match.account_id is None


def test_an_account_linked_to_another_customer_is_never_taken_over_by_id() -> None:
    index = AccountIndex.of([account(ACME.id, "Acme", "cus_other")])
    match = _match(Customer("cus_1", metadata={KEY: ACME.id}), index)
    assert match == Match(Scenario.SKIPPED, reason=f"Account {ACME.id} is already linked to "
                          "another Stripe customer; it is never overwritten")
    assert index.by_stripe_id["cus_other"].id == ACME.id


def test_an_empty_metadata_id_falls_through_to_the_name() -> None:
    match = _match(Customer("cus_1", name="Acme", metadata={KEY: "  "}), AccountIndex.of([ACME]))
    assert match == Match(Scenario.BY_NAME, ACME.id)


# -- rule 3: the one unlinked Account with that name -------------------------------------------
def test_the_name_matches_trimmed_and_case_insensitively() -> None:
    assert _match(Customer("cus_1", name="  aCME "), AccountIndex.of([ACME])) == \
        Match(Scenario.BY_NAME, ACME.id)


def test_two_unlinked_accounts_with_the_name_are_ambiguous() -> None:
    index = AccountIndex.of([ACME, account("001000000000002AAA", "ACME")])
    match = _match(Customer("cus_1", name="Acme"), index)
    assert match.scenario is Scenario.SKIPPED
    assert match.reason == ("ambiguous name: 2 unlinked Accounts have this name; set the "
                            "Account id in the customer's metadata['salesforce_account_id'] to "
                            "choose one")


def test_a_linked_namesake_is_not_a_candidate() -> None:
    index = AccountIndex.of([account(ACME.id, "Acme", "cus_other")])
    assert _match(Customer("cus_1", name="Acme"), index).scenario is Scenario.NEW


# -- rule 3 where names are not trusted: the billing email must agree -------------------------
EMAIL_FIELD = "Billing_Email__c"


def _acme(email: str | None) -> AccountIndex:
    return AccountIndex.of([replace(ACME, email=email)])


@pytest.mark.parametrize("email", ["ap@acme.com", "  AP@Acme.com "])
def test_a_name_with_the_accounts_email_matches(email: str) -> None:
    customer = Customer("cus_1", name="Acme", email=email)
    assert match_customer(customer, _acme("ap@acme.com"), mode=Mode.CREATE_AND_LINK,
                          metadata_key=KEY, account_name_length=20,
                          email_field=EMAIL_FIELD) == Match(Scenario.BY_NAME, ACME.id)


@pytest.mark.parametrize(("account_email", "customer_email"), [
    ("ap@acme.com", "mallory@example.net"), ("ap@acme.com", None), (None, "ap@acme.com"),
    (None, None)])
def test_a_name_alone_cannot_claim_an_account_where_names_are_not_trusted(
        account_email: str | None, customer_email: str | None) -> None:
    # GIVEN a self-registered customer naming itself like an unlinked Account
    customer = Customer("cus_mallory", name="Acme", email=customer_email)
    index = _acme(account_email)
    # WHEN it is matched with the email rule on
    match = match_customer(customer, index, mode=Mode.CREATE_AND_LINK, metadata_key=KEY,
                           account_name_length=20, email_field=EMAIL_FIELD)
    # THEN it neither takes the Account over nor gets a duplicate: it is reported
    assert match.scenario is Scenario.SKIPPED
    assert match.reason == (
        f"an unlinked Account has this name, but its {EMAIL_FIELD} is not the customer's "
        "email: names alone are not trusted here; link it by the customer id on the Account "
        "or metadata['salesforce_account_id']")
    assert index.by_id[ACME.id].stripe_id is None


def test_the_email_rule_picks_among_namesakes() -> None:
    index = AccountIndex.of([replace(ACME, email="ap@acme.com"),
                             account("001000000000002AAA", "Acme")])
    customer = Customer("cus_1", name="Acme", email="ap@acme.com")
    assert match_customer(customer, index, mode=Mode.CREATE_AND_LINK, metadata_key=KEY,
                          account_name_length=20, email_field=EMAIL_FIELD) == \
        Match(Scenario.BY_NAME, ACME.id)


def test_one_unlinked_among_linked_namesakes_matches() -> None:
    index = AccountIndex.of([account("001000000000002AAA", "Acme", "cus_other"), ACME])
    assert _match(Customer("cus_1", name="Acme"), index) == Match(Scenario.BY_NAME, ACME.id)


def test_an_account_is_claimed_once_per_batch() -> None:
    # GIVEN one unlinked Acme and two customers named Acme
    index = AccountIndex.of([ACME])
    # WHEN both are matched in turn THEN the first links it and the second gets a new Account
    assert _match(Customer("cus_1", name="Acme"), index).scenario is Scenario.BY_NAME
    assert _match(Customer("cus_2", name="Acme"), index).scenario is Scenario.NEW


def test_an_account_claimed_by_id_is_not_matched_again_by_name() -> None:
    index = AccountIndex.of([ACME])
    assert _match(Customer("cus_1", metadata={KEY: ACME.id}), index).scenario is Scenario.BY_ID
    assert _match(Customer("cus_2", name="Acme"), index).scenario is Scenario.NEW


def test_the_same_metadata_id_twice_links_only_the_first_customer() -> None:
    index = AccountIndex.of([ACME])
    assert _match(Customer("cus_1", metadata={KEY: ACME.id}), index).scenario is Scenario.BY_ID
    second = _match(Customer("cus_2", metadata={KEY: ACME.id}), index)
    assert second.scenario is Scenario.SKIPPED
    assert second.reason is not None
    assert "already linked to another Stripe customer" in second.reason


# -- rule 4 and the modes ----------------------------------------------------------------------
@pytest.mark.parametrize(("customer", "name"), [
    (Customer("cus_1", name="x" * 30), "x" * 20),
    (Customer("cus_1", name="  Ada  "), "Ada"),
    (Customer("cus_1", email="a@b.c"), "a@b.c"),
    (Customer("cus_1", name="   ", email=" e@x.io "), "e@x.io"),
    (Customer("cus_1", name="   "), "cus_1"),
    (Customer("cus_1"), "cus_1"),
])
def test_a_new_account_is_named_after_the_customer(customer: Customer, name: str) -> None:
    assert _match(customer, AccountIndex()) == Match(Scenario.NEW, new_name=name)


def test_link_existing_never_creates_accounts() -> None:
    match = _match(Customer("cus_1", name="Zed"), AccountIndex(), Mode.LINK_EXISTING)
    assert match == Match(Scenario.SKIPPED, reason="no matching Account (mode link_existing "
                          "never creates Accounts)")
    assert _match(Customer("cus_1", name="Acme"), AccountIndex.of([ACME]),
                  Mode.LINK_EXISTING) == Match(Scenario.BY_NAME, ACME.id)


def test_payment_methods_only_imports_only_linked_customers() -> None:
    match = _match(Customer("cus_1", name="Acme", metadata={KEY: ACME.id}),
                   AccountIndex.of([ACME]), Mode.PAYMENT_METHODS_ONLY)
    assert match == Match(Scenario.SKIPPED, reason="not linked to an Account (mode "
                          "payment_methods_only imports payment methods of linked customers "
                          "only)")


def test_account_name_for_cuts_and_falls_back() -> None:
    assert account_name_for(Customer("cus_1", name=" Ada "), 2) == "Ad"
    assert account_name_for(Customer("cus_12345"), 5) == "cus_1"


# -- Salesforce ids ------------------------------------------------------------------------------
@pytest.mark.parametrize(("id15", "id18"), [
    ("001D000000IqhSL", "001D000000IqhSLIAZ"),
    ("001000000000001", "001000000000001AAA"),
    ("aaaAAaaaAAaaaAA", "aaaAAaaaAAaaaAAYYY"),  # upper case at 4 and 5: bits 24 → Y
    ("AaaAAAaaAAAaaAA", "AaaAAAaaAAAaaAAZZZ"),  # ... and at 1: bits 25 → Z
    ("AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAA555"),  # all five: bits 31 → 5
    ("ZZZZZ00000zzzzz", "ZZZZZ00000zzzzz5AA"),
])
def test_15_character_ids_get_their_checksum(id15: str, id18: str) -> None:
    assert to_18(id15) == id18
    assert to_18(id18) == id18
    assert to_18(id18[:15] + id18[15:].lower()) == id18  # the suffix is case-insensitive


@pytest.mark.parametrize("bad", ["001D000000IqhSLAAA", "aaaAAaaaAAaaaAAYYZ",
                                 "001D000000IqhS", "001D000000IqhSLIAZ1", "001D000000Iqh-L",
                                 "", "001D000000IqhSLIA"])
def test_ids_with_a_wrong_checksum_or_shape_are_refused(bad: str) -> None:
    assert to_18(bad) is None


# -- the index and the lookups it is built from ----------------------------------------------
def test_the_index_replaces_an_account_in_every_lookup() -> None:
    index = AccountIndex.of([account(ACME.id, "Acme", "cus_old")])
    index.add(account(ACME.id, "Acme Corp", "cus_new"))
    assert index.by_id[ACME.id].name == "Acme Corp"
    assert "cus_old" not in index.by_stripe_id
    assert index.by_stripe_id["cus_new"].id == ACME.id
    assert index.by_name.get("acme") == []
    assert [a.id for a in index.by_name["acme corp"]] == [ACME.id]


def test_claiming_keeps_what_the_import_knows_of_the_account() -> None:
    index = AccountIndex.of([account(ACME.id, "Acme", created=True)])
    index.claim(index.by_id[ACME.id], "cus_1")
    assert index.by_stripe_id["cus_1"].created_by_import is True


def test_metadata_ids_are_the_valid_ones_in_18_characters() -> None:
    customers = [Customer("c1", metadata={KEY: "001000000000001"}),
                 Customer("c2", metadata={KEY: " 001000000000002AAA "}),
                 Customer("c3", metadata={KEY: "junk"}), Customer("c4", metadata={"other": "x"}),
                 Customer("c5")]
    assert metadata_ids(customers, KEY) == {"001000000000001AAA", "001000000000002AAA"}


def test_names_to_look_up_are_those_of_unlinked_named_customers() -> None:
    customers = [Customer("c1", name=" Acme "), Customer("c2", name="Linked"),
                 Customer("c3", name="  "), Customer("c4")]
    linked = {"c2": account("001000000000009AAA", "Linked", "c2")}
    assert names_to_look_up(customers, linked) == {"Acme"}


def test_normalize_name() -> None:
    assert normalize_name("  Ärger GmbH ") == "ärger gmbh"
    assert normalize_name("STRASSE") == normalize_name("straße")
