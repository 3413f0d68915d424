"""Specification of `sync_lambda.planning`: what one batch writes to a billing org. A plan is
computed from Stripe's current state and what Salesforce holds, so a re-run plans nothing;
every write carries the identity needed to retry it against the right customer."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Any

import pytest

from sync_lambda import names
from sync_lambda.mapping import map_payment_method
from sync_lambda.matching import Scenario
from sync_lambda.models import Customer, Mode, Snapshot
from sync_lambda.planning import (
    AccountWrite,
    Issue,
    Plan,
    PmWrite,
    SalesforceView,
    build_plan,
)
from tests.unit.core import FACTS, FIELDS, account, bank, card, customer, facts, options, row, view

ACME = account("001000000000001AAA", "Acme", "cus_1")
GLOBEX = account("001000000000002AAA", "Globex", "cus_2")
OFF = {names.PM_ACTIVE: False, names.PM_AUTOPAY: False}


def _plan(snapshots: list[Snapshot], sf: SalesforceView, **kw: Any) -> Plan:
    return build_plan(snapshots, sf, kw.pop("org", FACTS), kw.pop("opts", options()), **kw)


def _snap(cid: str = "cus_1", *pms: Any, default: str | None = None, created: int = 1,
          **kw: Any) -> Snapshot:
    return Snapshot(customer(cid, created=created, default_payment_method=default, **kw),
                    tuple(pms))


def _mapped(pm_id: str, cid: str = "cus_1", **kw: Any) -> dict[str, Any]:
    return dict(map_payment_method(card(pm_id, cid, **kw), cid, FACTS, FIELDS).values)


# -- re-runs plan nothing ------------------------------------------------------------------------
def test_a_plan_is_empty_when_salesforce_matches_stripe() -> None:
    snap = _snap("cus_1", card("pm_1"), default="pm_1")
    plan = _plan([snap], view([ACME], row("a0P1", "pm_1", autopay=True)))
    assert plan.writes == 0
    assert plan.unchanged == 1
    assert plan.scenarios == {"cus_1": Scenario.LINKED}
    assert plan.active == {"pm_1"}


def test_an_update_carries_only_the_changed_fields_and_the_rows_identity() -> None:
    snap = _snap("cus_1", card("pm_1", month=5), default="pm_1")
    plan = _plan([snap], view([ACME], row("a0P1", "pm_1", autopay=True)))
    assert plan.pm_updates == [PmWrite("pm_1", "cus_1", {names.PM_EXP_MONTH: "05"}, "a0P1")]
    assert plan.unchanged == 0


def test_empty_text_in_salesforce_equals_no_value_in_stripe() -> None:
    current = row("a0P1", "pm_1", autopay=True)
    values = dict(current.values)
    values[names.PM_CITY] = ""
    sf = view([ACME], type(current)(current.id, current.account_id, "pm_1", values))
    assert _plan([_snap("cus_1", card("pm_1"), default="pm_1")], sf).writes == 0


def test_a_value_cleared_in_stripe_is_cleared_in_salesforce() -> None:
    held = row("a0P1", "pm_1", autopay=True, pm=card("pm_1", holder_name="Ada"))
    plan = _plan([_snap("cus_1", card("pm_1"), default="pm_1")], view([ACME], held))
    assert plan.pm_updates == [PmWrite("pm_1", "cus_1", {names.PM_NAME_ON_CARD: None}, "a0P1")]


# -- new customers and Accounts ----------------------------------------------------------------
def test_a_new_customer_gets_an_account_and_inserts() -> None:
    snap = _snap("cus_9", card("pm_a", "cus_9"), card("pm_b", "cus_9"), default="pm_b",
                 name="Ada")
    plan = _plan([snap], view([]))
    assert plan.account_creates == [AccountWrite("cus_9", Scenario.NEW, name="Ada")]
    assert [(w.stripe_id, w.customer_id, w.sf_id) for w in plan.pm_inserts] == [
        ("pm_a", "cus_9", None), ("pm_b", "cus_9", None)]
    assert [w.values[names.PM_AUTOPAY] for w in plan.pm_inserts] == [False, True]
    assert plan.pm_inserts[0].values == {**_mapped("pm_a", "cus_9"), names.PM_AUTOPAY: False}
    assert plan.scenarios == {"cus_9": Scenario.NEW}


def test_existing_accounts_are_linked_by_id_and_by_name() -> None:
    by_id = account("001000000000003AAA", "Initech")
    by_name = account("001000000000004AAA", "Umbrella")
    plan = _plan([_snap("cus_1", metadata={"salesforce_account_id": by_id.id}, created=1),
                  _snap("cus_2", name="umbrella", created=2)], view([by_id, by_name]))
    assert plan.account_links == [AccountWrite("cus_1", Scenario.BY_ID, by_id.id),
                                  AccountWrite("cus_2", Scenario.BY_NAME, by_name.id)]
    assert plan.account_creates == []


def test_a_new_account_name_cut_to_the_field_is_noted() -> None:
    plan = _plan([_snap("cus_9", name="N" * 30)], view([]), org=facts(account_name_length=20))
    assert plan.account_creates == [AccountWrite("cus_9", Scenario.NEW, name="N" * 20)]
    assert plan.notes == [Issue("cus_9", "cus_9", "Account.Name cut to the field's 20 "
                                "characters (Stripe has 30)")]


def test_an_account_name_that_fits_is_not_noted() -> None:
    plan = _plan([_snap("cus_9", name="N" * 20)], view([]), org=facts(account_name_length=20))
    assert plan.notes == []


def test_the_import_renames_the_accounts_it_created_when_stripe_does() -> None:
    made = account("001000000000005AAA", "Ada", "cus_1", created=True)
    plan = _plan([_snap("cus_1", name="Ada King")], view([made]))
    assert plan.account_updates == [AccountWrite("cus_1", Scenario.LINKED, made.id,
                                                 "Ada King")]
    assert plan.writes == 1


def test_a_rename_cut_to_the_field_is_noted() -> None:
    made = account("001000000000005AAA", "Ada", "cus_1", created=True)
    plan = _plan([_snap("cus_1", name="N" * 30)], view([made]),
                 org=facts(account_name_length=20))
    assert plan.account_updates[0].name == "N" * 20
    assert [n.reason for n in plan.notes] == [
        "Account.Name cut to the field's 20 characters (Stripe has 30)"]


@pytest.mark.parametrize(("created", "name"), [(False, "Ada King"), (True, "Ada")])
def test_no_rename_for_an_admins_account_or_an_unchanged_name(created: bool,
                                                              name: str) -> None:
    acct = account("001000000000005AAA", "Ada", "cus_1", created=created)
    plan = _plan([_snap("cus_1", name=name)], view([acct]))
    assert plan.account_updates == []
    assert plan.writes == 0


# -- 1. a batch mixing a deleted customer with live ones -------------------------------------
def test_a_deleted_customer_in_a_batch_does_not_stop_or_touch_the_others() -> None:
    # GIVEN a deleted customer (its stub has no creation time, so it sorts first) and two live
    # customers, one linked and one new
    deleted = Snapshot(Customer("cus_1", deleted=True))
    live = _snap("cus_2", card("pm_2", "cus_2"), default="pm_2", created=5)
    new = _snap("cus_3", card("pm_3", "cus_3"), default="pm_3", created=6, name="New")
    sf = view([ACME, GLOBEX], row("a0P1", "pm_1"),
              row("a0P2", "pm_2", account_id=GLOBEX.id, customer="cus_2", autopay=True))
    # WHEN planned
    plan = _plan([new, live, deleted], sf)
    # THEN only the deleted customer's row is deactivated, the rest of the batch is planned
    assert plan.deactivations == [PmWrite("pm_1", "cus_1", OFF, "a0P1")]
    assert plan.scenarios == {"cus_2": Scenario.LINKED, "cus_3": Scenario.NEW}
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_3"]
    assert plan.unchanged == 1  # pm_2
    assert Issue("cus_1", "cus_1", "customer deleted in Stripe: its payment methods are "
                 "deactivated, the Account is kept") in plan.notes
    assert plan.account_creates == [AccountWrite("cus_3", Scenario.NEW, name="New")]


def test_a_deleted_customers_rows_are_found_through_the_linked_account_alone() -> None:
    # GIVEN a row on the customer's Account whose own customer field is empty
    sf = view([ACME], row("a0P1", "pm_1", customer=None))
    plan = _plan([Snapshot(Customer("cus_1", deleted=True))], sf)
    assert plan.deactivations == [PmWrite("pm_1", "cus_1", OFF, "a0P1")]


def test_a_deleted_customers_rows_are_found_through_their_customer_field_alone() -> None:
    # GIVEN no Account linked to the customer, but a row naming it
    sf = view([], row("a0P1", "pm_1", account_id="001000000000099AAA"))
    plan = _plan([Snapshot(Customer("cus_1", deleted=True))], sf)
    assert plan.deactivations == [PmWrite("pm_1", "cus_1", OFF, "a0P1")]


def test_a_deleted_customer_never_deactivates_another_customers_rows() -> None:
    sf = view([ACME, GLOBEX], row("a0P1", "pm_1"),
              row("a0P2", "pm_2", account_id=GLOBEX.id, customer="cus_2"))
    plan = _plan([Snapshot(Customer("cus_1", deleted=True))], sf)
    assert [w.sf_id for w in plan.deactivations] == ["a0P1"]


def test_a_deleted_customers_hand_made_rows_and_inactive_rows_are_left_as_they_are() -> None:
    sf = view([ACME], row("a0P1", None, customer=None, autopay=True),
              row("a0P2", "pm_2", active=False))
    plan = _plan([Snapshot(Customer("cus_1", deleted=True))], sf)
    assert plan.deactivations == []
    assert plan.unchanged == 1  # pm_2 already inactive; the hand-made row is not the import's


def test_a_row_found_both_ways_is_deactivated_once() -> None:
    plan = _plan([Snapshot(Customer("cus_1", deleted=True))], view([ACME], row("a0P1", "pm_1")))
    assert len(plan.deactivations) == 1
    assert plan.deactivated_ids == {"a0P1"}


def test_an_unreadable_customer_is_a_read_failure_and_nothing_is_touched() -> None:
    broken = Snapshot(Customer("cus_1"), error="Stripe answered 404")
    plan = _plan([broken, _snap("cus_2", card("pm_2", "cus_2"), created=3, name="B")],
                 view([ACME], row("a0P1", "pm_1", autopay=True)))
    assert plan.read_failures == [Issue("cus_1", "cus_1", "Stripe answered 404")]
    assert plan.deactivations == []
    assert "cus_1" not in plan.scenarios
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_2"]


def test_a_live_mode_customer_is_classed_and_nothing_is_touched() -> None:
    # GIVEN a customer Stripe knows only in live mode (a refreshed sandbox's copy) whose
    # Account holds an active, autopay payment method; and an ordinary customer beside it
    live = Snapshot(Customer("cus_1"), live_mode=True)
    plan = _plan([live, _snap("cus_2", card("pm_2", "cus_2"), created=3, name="B")],
                 view([ACME], row("a0P1", "pm_1", autopay=True)))
    # THEN it is classed, not a failure, and nothing of its is written or deactivated
    assert plan.live_mode == ["cus_1"]
    assert plan.read_failures == []
    assert plan.deactivations == []
    assert plan.autopay_clears == []
    assert "cus_1" not in plan.scenarios
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_2"]
    assert plan.without_deactivations().live_mode == ["cus_1"]


# -- 2. detached payment methods ---------------------------------------------------------------
def test_a_detach_alone_deactivates_the_row_and_clears_autopay() -> None:
    # GIVEN an incremental run whose only event is a detach (it names no customer)
    sf = view([ACME], row("a0P1", "pm_1", autopay=True))
    # WHEN planned with no snapshot at all
    plan = _plan([], sf, detached=["pm_1"])
    # THEN the row is deactivated with AutoPay off, under the row's own customer
    assert plan.deactivations == [PmWrite("pm_1", "cus_1", OFF, "a0P1")]
    assert plan.writes == 1


def test_a_detached_row_with_no_customer_field_is_still_deactivated() -> None:
    sf = view([ACME], row("a0P1", "pm_1", customer=None))
    assert _plan([], sf, detached=["pm_1"]).deactivations == [PmWrite("pm_1", "", OFF, "a0P1")]


def test_a_method_detached_then_attached_again_stays_active() -> None:
    sf = view([ACME], row("a0P1", "pm_1", autopay=True))
    plan = _plan([_snap("cus_1", card("pm_1"), default="pm_1")], sf, detached=["pm_1"])
    assert plan.deactivations == []
    assert plan.unchanged == 1


def test_detaching_an_unknown_or_inactive_method_writes_nothing() -> None:
    sf = view([ACME], row("a0P2", "pm_2", active=False))
    plan = _plan([], sf, detached=["pm_nowhere", "pm_2"])
    assert plan.deactivations == []
    assert plan.unchanged == 1


def test_several_detaches_are_planned_in_id_order() -> None:
    sf = view([ACME], row("a0P2", "pm_2"), row("a0P1", "pm_1"))
    plan = _plan([], sf, detached=["pm_2", "pm_1"])
    assert [w.stripe_id for w in plan.deactivations] == ["pm_1", "pm_2"]


# -- reconcile: what Stripe no longer has --------------------------------------------------------
def test_a_full_run_deactivates_what_is_no_longer_attached() -> None:
    sf = view([ACME], row("a0P1", "pm_1", autopay=True), row("a0P9", "pm_gone"))
    plan = _plan([_snap("cus_1", card("pm_1"), default="pm_1")], sf)
    assert plan.deactivations == [PmWrite("pm_gone", "cus_1", OFF, "a0P9")]


def test_a_type_turned_off_is_not_imported_and_never_deactivated() -> None:
    # GIVEN an ACH row imported while bank accounts were on, then includeBankAccounts off:
    # Stripe's listing no longer asks for bank accounts, so the row's method is not listed
    sf = view([ACME], row("a0P1", "pm_1"), row("a0PB", "pm_b", pm=bank("pm_b")),
              row("a0P9", "pm_gone"))
    # WHEN a full run plans the customer with bank accounts off
    plan = _plan([_snap("cus_1", card("pm_1"))], sf, opts=options(banks=False))
    # THEN the ACH row stays as it is; only the card Stripe no longer has is deactivated
    assert plan.deactivations == [PmWrite("pm_gone", "cus_1", OFF, "a0P9")]
    # ... and with bank accounts on, a bank account Stripe no longer has is deactivated
    plan = _plan([_snap("cus_1", card("pm_1"))], sf, opts=options(banks=True))
    assert sorted(w.stripe_id for w in plan.deactivations) == ["pm_b", "pm_gone"]


def test_where_names_are_not_trusted_the_plan_links_only_with_the_email() -> None:
    # GIVEN an unlinked Account with its billing email, and the email rule configured
    acct = replace(account("001000000000003AAA", "Initech"), email="ap@initech.example")
    opts = replace(options(), fields=replace(FIELDS, account_email="Billing_Email__c"))
    sf = view([acct])
    # WHEN a namesake with another email is planned THEN it is skipped, nothing created
    plan = _plan([_snap("cus_9", name="Initech", email="x@evil.example")], sf, opts=opts)
    assert (plan.scenarios, plan.account_links, plan.account_creates) == (
        {"cus_9": Scenario.SKIPPED}, [], [])
    # ... and with the Account's email it is linked
    plan = _plan([_snap("cus_9", name="Initech", email="AP@initech.example")], sf, opts=opts)
    assert plan.scenarios == {"cus_9": Scenario.BY_NAME}


def test_without_reconcile_nothing_missing_is_deactivated() -> None:
    sf = view([ACME], row("a0P1", "pm_1"), row("a0P9", "pm_gone"))
    plan = _plan([_snap("cus_1", card("pm_1"))], sf, opts=options(reconcile=False))
    assert plan.deactivations == []


def test_reconcile_leaves_hand_made_and_quarantined_rows_alone() -> None:
    sf = view([ACME], row("a0P7", None, customer=None), row("a0P8", "pm_jcb"))
    plan = _plan([_snap("cus_1", card("pm_jcb", brand="jcb"))], sf)
    assert plan.deactivations == []
    assert [q.stripe_id for q in plan.quarantined] == ["pm_jcb"]


def test_bank_accounts_are_left_out_unless_enabled() -> None:
    snap = _snap("cus_1", card("pm_1"), bank("pm_b"))
    assert [w.stripe_id for w in _plan([snap], view([ACME])).pm_inserts] == ["pm_1"]
    with_banks = _plan([snap], view([ACME]), opts=options(banks=True))
    assert [w.stripe_id for w in with_banks.pm_inserts] == ["pm_1", "pm_b"]
    assert with_banks.pm_inserts[1].values[names.PM_PAYMENT_TYPE] == "ACH"


def test_a_bank_row_is_not_deactivated_while_banks_are_off() -> None:
    # Stripe still holds it (the snapshot has it), but bank accounts are not imported: it is
    # neither written nor deactivated (this once deactivated it: review item 5).
    sf = view([ACME], row("a0P1", "pm_b", pm=bank("pm_b")))
    plan = _plan([_snap("cus_1", bank("pm_b"))], sf)
    assert plan.deactivations == []
    assert plan.pm_inserts == [] and plan.pm_updates == []


# -- 3. two customers resolving to one Account --------------------------------------------------
@pytest.mark.parametrize("second", ["same-id", "by-name"])
def test_an_account_is_linked_once_and_never_taken_over(second: str) -> None:
    target = account("001000000000003AAA", "Initech")
    first = _snap("cus_1", card("pm_1"), metadata={"salesforce_account_id": target.id},
                  created=1)
    other = _snap("cus_2", card("pm_2", "cus_2"), created=2,
                  **({"metadata": {"salesforce_account_id": target.id}}
                     if second == "same-id" else {"name": "Initech"}))
    plan = _plan([other, first], view([target]))
    assert plan.account_links == [AccountWrite("cus_1", Scenario.BY_ID, target.id)]
    if second == "same-id":
        assert plan.scenarios["cus_2"] is Scenario.SKIPPED
        assert plan.skipped == [Issue("cus_2", "cus_2", f"Account {target.id} is already "
                                      "linked to another Stripe customer; it is never "
                                      "overwritten")]
        assert [w.stripe_id for w in plan.pm_inserts] == ["pm_1"]
    else:
        assert plan.scenarios["cus_2"] is Scenario.NEW  # a namesake gets its own Account
        assert plan.account_creates == [AccountWrite("cus_2", Scenario.NEW, name="Initech")]


def test_customers_are_planned_oldest_first() -> None:
    acme = account("001000000000003AAA", "Acme")
    plan = _plan([_snap("cus_b", name="Acme", created=2), _snap("cus_a", name="Acme",
                                                                created=2),
                  _snap("cus_c", name="Acme", created=1)], view([acme]))
    assert plan.account_links == [AccountWrite("cus_c", Scenario.BY_NAME, acme.id)]
    assert [a.customer_id for a in plan.account_creates] == ["cus_a", "cus_b"]


def test_a_method_already_under_another_account_is_quarantined() -> None:
    sf = view([ACME], row("a0P1", "pm_1", account_id="001000000000077AAA"))
    plan = _plan([_snap("cus_1", card("pm_1"), card("pm_2"))], sf)
    assert plan.quarantined == [Issue("pm_1", "cus_1", "already imported under Account "
                                      "001000000000077AAA; a payment method's Account cannot "
                                      "change (master-detail)")]
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_2"]
    assert plan.active == {"pm_2"}


def test_a_skipped_customer_writes_nothing_and_says_why() -> None:
    plan = _plan([_snap("cus_9", card("pm_9", "cus_9"), name="Zed")], view([]),
                 opts=options(Mode.LINK_EXISTING))
    assert plan.writes == 0
    assert plan.skipped == [Issue("cus_9", "cus_9", "no matching Account (mode link_existing "
                                  "never creates Accounts)")]
    assert plan.scenarios == {"cus_9": Scenario.SKIPPED}


# -- 4. bad input never crashes a batch -----------------------------------------------------------
def test_one_excluded_method_does_not_stop_the_customers_others() -> None:
    snap = _snap("cus_1", card("pm_bad", brand="jcb"), card("pm_short", last4="42"),
                 card("pm_ok"), default="pm_ok")
    plan = _plan([snap], view([ACME]))
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_ok"]
    assert [(q.stripe_id, q.customer_id) for q in plan.quarantined] == [
        ("pm_bad", "cus_1"), ("pm_short", "cus_1")]
    assert plan.quarantined[1].reason == "card has no last four digits"


def test_notes_carry_the_payment_method_and_customer() -> None:
    plan = _plan([_snap("cus_1", card("pm_1", email="junk"))], view([ACME]))
    assert plan.notes == [Issue("pm_1", "cus_1", "billing email is not a valid email address "
                                "of at most 80 characters; left empty")]


# -- 8. AutoPay ----------------------------------------------------------------------------------
def test_the_old_autopay_is_cleared_before_the_new_default_is_set() -> None:
    sf = view([ACME], row("a0P1", "pm_1", autopay=True), row("a0P2", "pm_2"))
    plan = _plan([_snap("cus_1", card("pm_1"), card("pm_2"), default="pm_2")], sf)
    assert plan.autopay_clears == [PmWrite("pm_1", "cus_1", {names.PM_AUTOPAY: False}, "a0P1")]
    assert plan.pm_updates == [PmWrite("pm_2", "cus_1", {names.PM_AUTOPAY: True}, "a0P2")]


def test_a_hand_made_autopay_method_is_cleared_for_a_new_default() -> None:
    sf = view([ACME], row("a0P7", None, customer=None, autopay=True))
    plan = _plan([_snap("cus_1", card("pm_1"), default="pm_1")], sf)
    assert plan.autopay_clears == [PmWrite("a0P7", "cus_1", {names.PM_AUTOPAY: False}, "a0P7")]
    assert plan.pm_inserts[0].values[names.PM_AUTOPAY] is True


@pytest.mark.parametrize("default", [None, "pm_jcb", "pm_elsewhere"],
                         ids=["no-default", "default-quarantined", "default-not-attached"])
def test_without_an_importable_default_hand_made_autopay_is_left_alone(
        default: str | None) -> None:
    sf = view([ACME], row("a0P7", None, customer=None, autopay=True))
    plan = _plan([_snap("cus_1", card("pm_1"), card("pm_jcb", brand="jcb"),
                        default=default)], sf)
    assert plan.autopay_clears == []
    assert plan.pm_inserts[0].values[names.PM_AUTOPAY] is False


def test_an_imported_autopay_row_that_is_no_longer_default_is_turned_off() -> None:
    sf = view([ACME], row("a0P1", "pm_1", autopay=True))
    plan = _plan([_snap("cus_1", card("pm_1"))], sf)
    assert plan.autopay_clears == []
    assert plan.pm_updates == [PmWrite("pm_1", "cus_1", {names.PM_AUTOPAY: False}, "a0P1")]


def test_a_cleared_row_is_not_updated_twice_for_autopay() -> None:
    # GIVEN the old default, also changed in Stripe (new expiry), and a new default
    sf = view([ACME], row("a0P1", "pm_1", autopay=True), row("a0P2", "pm_2"))
    plan = _plan([_snap("cus_1", card("pm_1", month=9), card("pm_2"), default="pm_2")], sf)
    assert plan.autopay_clears == [PmWrite("pm_1", "cus_1", {names.PM_AUTOPAY: False}, "a0P1")]
    assert PmWrite("pm_1", "cus_1", {names.PM_EXP_MONTH: "09"}, "a0P1") in plan.pm_updates


def test_a_new_accounts_inserts_need_no_clears() -> None:
    plan = _plan([_snap("cus_9", card("pm_1", "cus_9"), default="pm_1", name="N")], view([]))
    assert plan.autopay_clears == []
    assert plan.pm_inserts[0].values[names.PM_AUTOPAY] is True


# -- 9. identity and counts ----------------------------------------------------------------------
def test_every_write_names_its_stripe_object_customer_and_row() -> None:
    sf = view([ACME], row("a0P1", "pm_1", autopay=True), row("a0P9", "pm_gone"))
    plan = _plan([_snap("cus_1", card("pm_1", month=6), card("pm_new"), default="pm_new")], sf)
    writes = [*plan.autopay_clears, *plan.deactivations, *plan.pm_updates, *plan.pm_inserts]
    assert {(w.stripe_id, w.customer_id, w.sf_id) for w in writes} == {
        ("pm_1", "cus_1", "a0P1"), ("pm_gone", "cus_1", "a0P9"), ("pm_new", "cus_1", None)}


def test_writes_counts_every_kind_of_row() -> None:
    plan = Plan(account_links=[AccountWrite("c", Scenario.BY_ID, "a")],
                account_creates=[AccountWrite("c", Scenario.NEW, name="n")] * 2,
                account_updates=[AccountWrite("c", Scenario.LINKED, "a", "n")] * 3,
                autopay_clears=[PmWrite("p", "c", {})] * 4,
                deactivations=[PmWrite("p", "c", {})] * 5,
                pm_updates=[PmWrite("p", "c", {})] * 6, pm_inserts=[PmWrite("p", "c", {})] * 7)
    assert plan.writes == 28


def test_holding_back_deactivations_keeps_everything_else() -> None:
    values = {f.name: object() for f in dataclass_fields(Plan)}
    plan = Plan(**values)  # type: ignore[arg-type]
    held = plan.without_deactivations()
    for f in dataclass_fields(Plan):
        if f.name == "deactivations":
            assert held.deactivations == []
        elif f.name == "deactivated_ids":
            assert held.deactivated_ids == set()
        else:
            assert getattr(held, f.name) is values[f.name], f.name


def test_the_view_indexes_each_row_once() -> None:
    sf = SalesforceView(view([ACME]).accounts)
    first = row("a0P1", "pm_1")
    sf.add(first, FIELDS.pm_customer)
    sf.add(row("a0P1", "pm_1"), FIELDS.pm_customer)
    sf.add(row("a0P7", None, customer=None), FIELDS.pm_customer)
    assert sf.pms_by_stripe_id == {"pm_1": first}
    assert [r.id for r in sf.pms_of(ACME.id)] == ["a0P1", "a0P7"]
    assert [r.id for r in sf.pms_by_customer["cus_1"]] == ["a0P1"]
    assert sf.pms_of("001000000000999AAA") == []


def test_unchanged_rows_are_each_counted() -> None:
    sf = view([ACME], row("a0P1", "pm_1", autopay=True), row("a0P2", "pm_2"),
              row("a0P8", "pm_8", active=False), row("a0P9", "pm_9", active=False))
    plan = _plan([_snap("cus_1", card("pm_1"), card("pm_2"), default="pm_1")], sf)
    assert plan.writes == 0
    assert plan.unchanged == 4  # two matching rows, two already inactive


def test_a_checkbox_salesforce_holds_no_value_for_equals_false() -> None:
    current = row("a0P1", "pm_1")
    values = {**current.values, names.PM_AUTOPAY: None}
    sf = view([ACME], type(current)(current.id, current.account_id, "pm_1", values))
    assert _plan([_snap("cus_1", card("pm_1"))], sf).writes == 0


def test_a_skipped_customer_does_not_stop_the_batch() -> None:
    plan = _plan([_snap("cus_1", card("pm_1"), name="Zed", created=1),
                  _snap("cus_2", card("pm_2", "cus_2"), name="Acme", created=2)],
                 view([account("001000000000003AAA", "Acme")]),
                 opts=options(Mode.LINK_EXISTING))
    assert plan.scenarios == {"cus_1": Scenario.SKIPPED, "cus_2": Scenario.BY_NAME}
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_2"]


def test_a_bank_account_left_out_does_not_stop_the_cards_after_it() -> None:
    plan = _plan([_snap("cus_1", bank("pm_b"), card("pm_1"))], view([ACME]))
    assert [w.stripe_id for w in plan.pm_inserts] == ["pm_1"]
