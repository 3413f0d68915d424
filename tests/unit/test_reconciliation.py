"""Reconciliation findings (pure): each plan kind lands in its category with its subject,
customer and detail; differences by design apart; samples capped where asked; the saved form
round-trips; the terminal lines."""

from __future__ import annotations

from typing import Any

import pytest

from sync_lambda import names
from sync_lambda.models import Snapshot
from sync_lambda.planning import build_plan
from sync_lambda.reconciliation import CATEGORIES, DISAGREEING, EXPECTED, Findings
from tests.unit.core import FACTS, account, bank, card, customer, options, row, view

ACCT = "001000000000001AAA"
OTHER = "001000000000002AAA"
KEY = "salesforce_account_id"
GONE = "Stripe no longer has it attached"


def _find(snaps: list[Snapshot], accounts: list[Any], *rows: Any,
          held: frozenset[str] = frozenset(), banks: bool = False) -> Findings:
    v = view(accounts, *rows)
    opts = options(banks=banks)
    plan = build_plan(snaps, v, FACTS, opts)
    found = Findings()
    found.add_plan(plan, snaps, v, opts, held=set(held), metadata_key=KEY)
    return found


def _all(found: Findings) -> dict[str, list[tuple[str, str, str]]]:
    """Every finding, by category, as (id, customer, detail); counts checked against them."""
    out = {c: [(s["id"], s["customer"], s["detail"]) for s in found.samples.get(c, [])]
           for c in CATEGORIES if found.counts[c]}
    assert {c: len(v) for c, v in out.items()} == {c: n for c, n in found.counts.items() if n}
    return out


def test_an_agreeing_customer_finds_nothing() -> None:
    snap = Snapshot(customer("cus_1", default_payment_method="pm_1"), (card("pm_1"),))
    found = _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1", autopay=True))
    assert _all(found) == {}
    assert found.disagreements == 0


def test_a_new_customer_is_unlinked_with_its_methods_counted_once() -> None:
    snap = Snapshot(customer("cus_1", name="Ada"), (card("pm_1"), card("pm_2")))
    none = Snapshot(customer("cus_2", name="Bob", created=2))
    assert _all(_find([snap, none], [])) == {"unlinked_customers": [
        ("cus_1", "cus_1", "no Account carries it (the import would create one), "
                           "2 payment method(s)"),
        ("cus_2", "cus_2", "no Account carries it (the import would create one), "
                           "0 payment method(s)")]}


def test_accounts_that_match_are_named_and_ambiguous_ones_skipped() -> None:
    ada = Snapshot(customer("cus_1", name="Ada"), (card("pm_1"),))
    bob = Snapshot(customer("cus_2", name="Bob", created=2))
    twin = Snapshot(customer("cus_3", name="Twin", created=3))
    found = _find([ada, bob, twin], [account(ACCT, "Ada"), account(OTHER, "Bob"),
                                     account("001000000000003AAA", "Twin"),
                                     account("001000000000004AAA", "Twin")])
    unlinked = _all(found)["unlinked_customers"]
    assert unlinked[:2] == [
        ("cus_1", "cus_1", f"no Account carries it; Account {ACCT} matches "
                           "(existing_by_name), 1 payment method(s)"),
        ("cus_2", "cus_2", f"no Account carries it; Account {OTHER} matches "
                           "(existing_by_name), 0 payment method(s)")]
    assert unlinked[2][:2] == ("cus_3", "cus_3")
    assert "ambiguous name" in unlinked[2][2]
    assert found.disagreements == 3


def test_missing_mismatched_stale_and_held() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1", last4="1111"), card("pm_new")))
    rows = (row("a1", "pm_1"), row("a2", "pm_gone"), row("a3", "pm_held"))
    found = _find([snap], [account(ACCT, "Ada", "cus_1")], *rows)
    assert _all(found) == {
        "stale_active_methods": [("pm_gone", "cus_1", f"row a2 is active; {GONE}"),
                                 ("pm_held", "cus_1", f"row a3 is active; {GONE}")],
        "missing_methods": [("pm_new", "cus_1", "no row in Salesforce")],
        "field_mismatches": [("pm_1", "cus_1", names.PM_LAST4)]}
    held = _find([snap], [account(ACCT, "Ada", "cus_1")], *rows, held=frozenset({"a3"}))
    assert _all(held)["held_back_deactivations"] == [
        ("pm_held", "cus_1", f"row a3 is active; {GONE}")]
    assert held.disagreements == 3


def test_autopay_and_an_import_created_accounts_name_are_mismatches() -> None:
    snap = Snapshot(customer("cus_1", name="Ada Ltd", default_payment_method="pm_2"),
                    (card("pm_1"), card("pm_2")))
    found = _find([snap], [account(ACCT, "Ada", "cus_1", created=True)],
                  row("a1", "pm_1", autopay=True), row("a2", "pm_2"))
    assert _all(found) == {"field_mismatches": [
        (ACCT, "cus_1", f"{names.ACCOUNT}.{names.ACCOUNT_NAME}"),
        ("pm_1", "cus_1", names.PM_AUTOPAY), ("pm_2", "cus_1", names.PM_AUTOPAY)]}


def test_every_changed_field_is_named() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1", last4="1111", month=9),))
    found = _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"))
    assert _all(found) == {"field_mismatches": [
        ("pm_1", "cus_1", f"{names.PM_EXP_MONTH}, {names.PM_LAST4}")]}


def test_quarantined_methods_are_missing_with_their_reason() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1", brand="unionpay"),))
    found = _all(_find([snap], [account(ACCT, "Ada", "cus_1")]))
    assert list(found) == ["missing_methods"]
    (subject, owner, detail), = found["missing_methods"]
    assert (subject, owner) == ("pm_1", "cus_1")
    assert "unionpay" in detail.lower()


def test_unknown_live_and_deleted() -> None:
    unknown = Snapshot(customer("cus_404"), error="404: No such customer")
    live = Snapshot(customer("cus_live"), live_mode=True)
    deleted = Snapshot(customer("cus_del", deleted=True))
    found = _find([unknown, live, deleted],
                  [account(ACCT, "Gone", "cus_del"), account(OTHER, "Live", "cus_live")],
                  row("a1", "pm_1", customer="cus_del"))
    assert _all(found) == {
        "unknown_customers": [("cus_404", "cus_404", "404: No such customer")],
        "stale_active_methods": [("pm_1", "cus_del", f"row a1 is active; {GONE}")],
        "live_mode_customers": [("cus_live", "cus_live", "known to Stripe's live mode only "
                                 "(a test key in a sandbox refreshed from production)")],
        "deleted_customers": [(ACCT, "cus_del", "customer deleted in Stripe; the import "
                               "keeps its Account")]}
    assert found.disagreements == 2


def test_an_unreadable_or_live_customer_says_nothing_of_its_rows() -> None:
    """Stripe said nothing about these customers: their Accounts' rows are not judged."""
    bank_row = row("a2", "pm_b", pm=bank("pm_b", "cus_1"))
    for snap in (Snapshot(customer("cus_1"), error="404: No such customer"),
                 Snapshot(customer("cus_1"), live_mode=True)):
        found = _all(_find([snap], [account(ACCT, "Ada", "cus_1")], bank_row))
        assert "excluded_types" not in found


def test_two_accounts_for_one_customer() -> None:
    for named in (OTHER, OTHER[:15]):
        snap = Snapshot(customer("cus_1", metadata={KEY: named}), (card("pm_1"),))
        found = _find([snap], [account(ACCT, "Ada", "cus_1"), account(OTHER, "Ada (2)")],
                      row("a1", "pm_1"))
        assert _all(found) == {"duplicate_accounts": [
            ("cus_1", "cus_1", f"Account {ACCT} carries the customer id, its metadata {KEY} "
                               f"names Account {named}")]}
    # The metadata naming the linked Account itself (15 or 18 characters) is no duplicate,
    # nor is an id the org does not hold.
    for named in (ACCT, ACCT[:15], "001000000000009AAA"):
        same = Snapshot(customer("cus_1", metadata={KEY: named}), (card("pm_1"),))
        assert _all(_find([same], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"))) == {}


def test_bank_rows_while_banks_are_off_are_excluded_not_stale() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1"),))
    bank_row = row("a2", "pm_b", pm=bank("pm_b"))
    off = _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"), bank_row)
    assert _all(off) == {"excluded_types": [
        ("pm_b", "cus_1", "row a2 is a bank account; includeBankAccounts is off")]}
    inactive = row("a3", "pm_c", pm=bank("pm_c"), active=False)
    assert _all(_find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"),
                      inactive)) == {}
    on = _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"), bank_row,
               banks=True)
    assert _all(on) == {"stale_active_methods": [("pm_b", "cus_1", f"row a2 is active; {GONE}")]}


def test_duplicate_tokens() -> None:
    found = Findings()
    found.add_duplicate_tokens([("pm_1", "a1", "cus_1"), ("pm_2", "a2", "cus_2"),
                                ("pm_1", "a9", "cus_9"), ("pm_3", "a3", "cus_3"),
                                ("pm_3", "a4", "cus_3"), ("pm_3", "a5", "")])
    assert _all(found) == {"duplicate_methods": [("pm_1", "cus_1", "2 rows: a1, a9"),
                                                 ("pm_3", "cus_3", "3 rows: a3, a4, a5")]}


def test_categories_and_the_cap() -> None:
    assert set(CATEGORIES) == set(DISAGREEING) | set(EXPECTED)
    assert not set(DISAGREEING) & set(EXPECTED)
    with pytest.raises(ValueError, match="unknown reconcile category 'nope'"):
        Findings().add("nope", "x", "y", "z")
    capped = Findings(cap=2)
    for i in range(5):
        capped.add("missing_methods", f"pm_{i}", "cus_1", "no row")
    capped.add("excluded_types", "pm_b", "cus_1", "bank")
    assert capped.counts["missing_methods"] == 5
    assert [s["id"] for s in capped.samples["missing_methods"]] == ["pm_0", "pm_1"]
    assert capped.disagreements == 5  # excluded types are no disagreement


def test_the_saved_form_round_trips() -> None:
    whole = Findings()
    for i in range(3):
        whole.add("missing_methods", f"pm_{i}", "cus_1", "no row")
    saved = whole.to_dict(2)
    assert set(saved) == {"disagreements", "counts", "disagreeing", "expected", "samples"}
    assert saved["disagreeing"] == list(DISAGREEING)
    assert saved["expected"] == list(EXPECTED)
    assert saved["counts"] == {c: 3 if c == "missing_methods" else 0 for c in CATEGORIES}
    assert saved["disagreements"] == 3
    assert [s["id"] for s in saved["samples"]["missing_methods"]] == ["pm_0", "pm_1"]
    assert len(whole.to_dict()["samples"]["missing_methods"]) == 3
    back = Findings.from_dict(saved, cap=2)
    assert back.counts == whole.counts and back.cap == 2
    back.add("missing_methods", "pm_9", "cus_1", "no row")
    assert len(back.samples["missing_methods"]) == 2
    assert Findings.from_dict(saved).cap is None
    junk = Findings.from_dict({"counts": {"bogus": 3, "missing_methods": 0},
                               "samples": {"bogus": [{"id": "x"}], "missing_methods": []}})
    assert (junk.counts, junk.samples) == ({}, {})
    assert Findings.from_dict({}).counts == {}


def test_the_terminal_lines() -> None:
    found = Findings()
    for i in range(6):
        found.add("missing_methods", f"pm_{i}", "cus_1", "no row")
    found.add("unknown_customers", "cus_x", "cus_x", "404")
    for i in range(2):
        found.add("excluded_types", f"pm_b{i}", "cus_2", "bank")
    lines = found.render()
    assert lines[:3] == ["  disagreements: 7", "  disagree:", "    unlinked_customers: 0"]
    assert "    unknown_customers: 1" in lines
    assert "      cus_x: 404" in lines  # a customer is not named twice
    assert "      pm_0 [cus_1]: no row" in lines
    assert "      pm_4 [cus_1]: no row" in lines and "      pm_5 [cus_1]: no row" not in lines
    assert "      … and 1 more (see --json)" in lines
    assert "  differ by design:" in lines
    short = found.render(per_category=2)
    assert short.count("      … and 4 more (see --json)") == 1
    # Exactly as many as shown: no "and 0 more" line.
    assert not [line for line in short if "and 0 more" in line]
    assert "      pm_b1 [cus_2]: bank" in short
