"""Reconciliation findings (pure): each plan kind lands in its category, differences by design
apart, samples capped where asked, and the saved form round-trips."""

from __future__ import annotations

import pytest

from sync_lambda import names
from sync_lambda.models import Snapshot
from sync_lambda.planning import build_plan
from sync_lambda.reconciliation import CATEGORIES, DISAGREEING, EXPECTED, Findings
from tests.unit.core import FACTS, account, bank, card, customer, options, row, view

ACCT = "001000000000001AAA"
OTHER = "001000000000002AAA"
KEY = "salesforce_account_id"


def _find(snaps: list[Snapshot], accounts: list[object], *rows: object,
          held: frozenset[str] = frozenset(), banks: bool = False) -> Findings:
    v = view(accounts, *rows)  # type: ignore[arg-type]
    opts = options(banks=banks)
    plan = build_plan(snaps, v, FACTS, opts)
    found = Findings()
    found.add_plan(plan, snaps, v, opts, held=set(held), metadata_key=KEY)
    return found


def _counts(found: Findings) -> dict[str, int]:
    return {c: n for c, n in found.counts.items() if n}


def test_an_agreeing_customer_finds_nothing() -> None:
    snap = Snapshot(customer("cus_1", default_payment_method="pm_1"), (card("pm_1"),))
    found = _find([snap], [account(ACCT, "Ada", "cus_1")],
                  row("a1", "pm_1", autopay=True))
    assert _counts(found) == {}
    assert found.disagreements == 0


def test_a_new_customer_is_unlinked_with_its_methods_counted_once() -> None:
    snap = Snapshot(customer("cus_1", name="Ada"), (card("pm_1"), card("pm_2")))
    found = _find([snap], [])
    assert _counts(found) == {"unlinked_customers": 1}
    assert found.samples["unlinked_customers"][0]["detail"].endswith("2 payment method(s)")


def test_a_customer_an_account_matches_by_name_is_unlinked_naming_it() -> None:
    snap = Snapshot(customer("cus_1", name="Ada"), (card("pm_1"),))
    found = _find([snap], [account(ACCT, "Ada")])
    assert _counts(found) == {"unlinked_customers": 1}
    assert f"Account {ACCT} matches (existing_by_name), 1 payment method(s)" in \
        found.samples["unlinked_customers"][0]["detail"]


def test_missing_mismatched_stale_and_held() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1", last4="1111"), card("pm_new")))
    found = _find([snap], [account(ACCT, "Ada", "cus_1")],
                  row("a1", "pm_1"), row("a2", "pm_gone"), row("a3", "pm_held"))
    # pm_1's last four differ; pm_new has no row; pm_gone and pm_held are active but gone
    assert _counts(found) == {"field_mismatches": 1, "missing_methods": 1,
                              "stale_active_methods": 2}
    assert found.samples["field_mismatches"][0] == {
        "id": "pm_1", "customer": "cus_1", "detail": names.PM_LAST4}
    held = _find([snap], [account(ACCT, "Ada", "cus_1")],
                 row("a1", "pm_1"), row("a2", "pm_gone"), row("a3", "pm_held"),
                 held=frozenset({"a3"}))
    assert _counts(held) == {"field_mismatches": 1, "missing_methods": 1,
                             "stale_active_methods": 1, "held_back_deactivations": 1}
    assert held.disagreements == 3


def test_autopay_and_an_import_created_accounts_name_are_mismatches() -> None:
    snap = Snapshot(customer("cus_1", name="Ada Ltd", default_payment_method="pm_2"),
                    (card("pm_1"), card("pm_2")))
    found = _find([snap], [account(ACCT, "Ada", "cus_1", created=True)],
                  row("a1", "pm_1", autopay=True), row("a2", "pm_2"))
    assert found.counts["field_mismatches"] == 3  # the name, the clear, the new default
    details = {s["detail"] for s in found.samples["field_mismatches"]}
    assert f"{names.ACCOUNT}.{names.ACCOUNT_NAME}" in details
    assert names.PM_AUTOPAY in details


def test_quarantined_methods_are_missing_with_their_reason() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1", brand="unionpay"),))
    found = _find([snap], [account(ACCT, "Ada", "cus_1")])
    assert _counts(found) == {"missing_methods": 1}
    assert "unionpay" in found.samples["missing_methods"][0]["detail"].lower()


def test_unknown_live_deleted_and_skipped() -> None:
    unknown = Snapshot(customer("cus_404"), error="404: No such customer")
    live = Snapshot(customer("cus_live"), live_mode=True)
    deleted = Snapshot(customer("cus_del", deleted=True))
    found = _find([unknown, live, deleted],
                  [account(ACCT, "Gone", "cus_del"), account(OTHER, "Live", "cus_live")],
                  row("a1", "pm_1", customer="cus_del"))
    assert _counts(found) == {"unknown_customers": 1, "live_mode_customers": 1,
                              "deleted_customers": 1, "stale_active_methods": 1}
    assert found.disagreements == 2
    assert found.samples["deleted_customers"][0]["id"] == ACCT


def test_two_accounts_for_one_customer() -> None:
    snap = Snapshot(customer("cus_1", metadata={KEY: OTHER[:15]}), (card("pm_1"),))
    found = _find([snap], [account(ACCT, "Ada", "cus_1"), account(OTHER, "Ada (2)")],
                  row("a1", "pm_1", autopay=False))
    assert found.counts["duplicate_accounts"] == 1
    assert OTHER[:15] in found.samples["duplicate_accounts"][0]["detail"]
    # The metadata naming the linked Account itself (15 or 18 characters) is no duplicate.
    same = Snapshot(customer("cus_1", metadata={KEY: ACCT[:15]}), (card("pm_1"),))
    assert _find([same], [account(ACCT, "Ada", "cus_1")],
                 row("a1", "pm_1")).counts["duplicate_accounts"] == 0


def test_bank_rows_while_banks_are_off_are_excluded_not_stale() -> None:
    snap = Snapshot(customer("cus_1"), (card("pm_1"),))
    bank_row = row("a2", "pm_b", pm=bank("pm_b"))
    off = _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"), bank_row)
    assert _counts(off) == {"excluded_types": 1}
    inactive = row("a3", "pm_c", pm=bank("pm_c"), active=False)
    assert _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"),
                 inactive).counts["excluded_types"] == 0
    on = _find([snap], [account(ACCT, "Ada", "cus_1")], row("a1", "pm_1"), bank_row,
               banks=True)
    assert _counts(on) == {"stale_active_methods": 1}


def test_duplicate_tokens() -> None:
    found = Findings()
    found.add_duplicate_tokens([("pm_1", "a1", "cus_1"), ("pm_2", "a2", "cus_2"),
                                ("pm_1", "a9", "cus_1"), ("pm_3", "a3", "cus_3"),
                                ("pm_3", "a4", "cus_3"), ("pm_3", "a5", "")])
    assert found.counts["duplicate_methods"] == 2
    assert found.samples["duplicate_methods"] == [
        {"id": "pm_1", "customer": "cus_1", "detail": "2 rows: a1, a9"},
        {"id": "pm_3", "customer": "cus_3", "detail": "3 rows: a3, a4, a5"}]


def test_categories_cap_and_round_trip() -> None:
    assert set(CATEGORIES) == set(DISAGREEING) | set(EXPECTED)
    assert not set(DISAGREEING) & set(EXPECTED)
    with pytest.raises(ValueError, match="unknown reconcile category 'nope'"):
        Findings().add("nope", "x", "y", "z")
    capped = Findings(cap=2)
    for i in range(5):
        capped.add("missing_methods", f"pm_{i}", "cus_1", "no row")
    capped.add("excluded_types", "pm_b", "cus_1", "bank")
    assert capped.counts["missing_methods"] == 5 and len(capped.samples["missing_methods"]) == 2
    assert capped.disagreements == 5  # excluded types are no disagreement
    whole = Findings()
    for i in range(3):
        whole.add("missing_methods", f"pm_{i}", "cus_1", "no row")
    saved = whole.to_dict(2)
    assert saved["counts"]["missing_methods"] == 3 and len(saved["samples"]["missing_methods"]) == 2
    assert saved["disagreements"] == 3
    back = Findings.from_dict(saved, cap=2)
    assert back.counts == whole.counts and back.cap == 2
    back.add("missing_methods", "pm_9", "cus_1", "no row")
    assert len(back.samples["missing_methods"]) == 2
    assert Findings.from_dict({"counts": {"bogus": 3, "missing_methods": 0}}).counts == {}
    text = "\n".join(whole.render(per_category=1))
    assert "disagreements: 3" in text
    assert "    missing_methods: 3" in text
    assert "      pm_0 [cus_1]: no row" in text
    assert "… and 2 more (see --json)" in text
    assert "differ by design:" in text
