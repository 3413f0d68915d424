"""Incremental runs from Stripe events, full reconcile, deletions, and bad input."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from sync_lambda import names
from sync_lambda.state import SyncState

if TYPE_CHECKING:
    from tests.sync.harness import World


def _tick() -> None:
    # Events are stamped in whole seconds; make the next changes land in a later one.
    time.sleep(1.05)


def test_detach_new_default_and_new_customer(world: World) -> None:
    cus, (a, b) = world.customer(name="Ada", cards=("pm_card_visa", "pm_card_amex"), default=0)
    world.run()
    _tick()
    client = world.stripe
    client.v1.payment_methods.detach(a)
    client.v1.customers.update(cus, params={"invoice_settings": {"default_payment_method": b}})
    newcomer, new_pms = world.customer(name="Grace")
    report = world.run()
    assert report.kind == "incremental"
    assert report.outcomes["accounts_created"] == 1
    assert report.outcomes["payment_methods_inserted"] == 1
    rows = world.payment_methods()
    assert (rows[a][names.PM_ACTIVE], rows[a][names.PM_AUTOPAY]) == (False, False)
    assert (rows[b][names.PM_ACTIVE], rows[b][names.PM_AUTOPAY]) == (True, True)
    assert rows[new_pms[0]][names.PM_AUTOPAY] is True
    assert newcomer in world.accounts()
    assert world.run().kind == "noop"


def test_default_moves_between_existing_methods(world: World) -> None:
    cus, (a, b) = world.customer(name="Ada", cards=("pm_card_visa", "pm_card_mastercard"))
    world.run()
    _tick()
    world.stripe.v1.customers.update(cus, params={
        "invoice_settings": {"default_payment_method": b}})
    report = world.run()
    rows = world.payment_methods()
    assert (rows[a][names.PM_AUTOPAY], rows[b][names.PM_AUTOPAY]) == (False, True)
    assert report.outcomes["autopay_cleared"] == 1


def test_deleted_customer_deactivates_methods_keeps_account(world: World) -> None:
    cus, pms = world.customer(name="Leaving", cards=("pm_card_visa", "pm_card_amex"))
    world.run()
    _tick()
    world.stripe.v1.customers.delete(cus)
    world.run()
    rows = world.payment_methods()
    assert all(rows[p][names.PM_ACTIVE] is False for p in pms)
    assert all(rows[p][names.PM_AUTOPAY] is False for p in pms)
    assert cus in world.accounts()  # the import never deletes anything


def test_full_reconcile_deactivates_what_stripe_no_longer_has(world: World) -> None:
    cus, (a, b) = world.customer(name="Ada", cards=("pm_card_visa", "pm_card_amex"))
    gone, gone_pms = world.customer(name="Gone")
    world.run()
    # Changes whose events the incremental run never sees (as if older than 30 days):
    world.stripe.v1.payment_methods.detach(b)
    world.stripe.v1.customers.delete(gone)
    report = world.run(full=True)
    assert report.kind == "full"
    rows = world.payment_methods()
    assert rows[a][names.PM_ACTIVE] is True
    assert rows[b][names.PM_ACTIVE] is False
    assert rows[gone_pms[0]][names.PM_ACTIVE] is False
    assert report.outcomes["payment_methods_deactivated"] == 2
    del cus


def test_stale_checkpoint_triggers_full_reconcile(world: World) -> None:
    world.customer(name="Ada")
    world.run()
    old = world.state().load()
    world.save_state(SyncState(checkpoint=int(time.time()) - 31 * 86400,
                         last_full_at=old.last_full_at))
    report = world.run()
    assert report.kind == "full"
    assert "retention" in report.message


def test_events_for_objects_that_no_longer_exist(world: World) -> None:
    world.run()  # checkpoint
    _tick()
    cus, pms = world.customer(name="Short-lived")
    world.stripe.v1.customers.delete(cus)
    report = world.run()
    assert report.kind == "incremental"
    assert report.failures == []
    assert cus not in world.accounts()  # never imported: nothing to deactivate
    del pms


@pytest.mark.parametrize("name", [
    "O'Brien & Sons", "Back\\slash", "100% Cotton_Co", "x' OR Name != '",
    "Zoë 🚀 Ünicode", "Robert'); DELETE FROM Account --"])
def test_names_match_literally_never_inject(world: World, name: str) -> None:
    target = world.seed_account(Name=name)
    world.seed_account(Name="decoy")
    cus, _ = world.customer(name=name)
    report = world.run()
    assert report.scenarios == {"existing_by_name": 1}
    assert world.accounts()[cus]["Id"] == target


def test_long_names_and_missing_names(world: World) -> None:
    long_name = "N" * 300
    long_cus, _ = world.customer(name=long_name)
    email_only, _ = world.customer(email="only@example.com")
    bare, _ = world.customer()
    world.run()
    accounts = world.accounts()
    assert accounts[long_cus]["Name"] == "N" * 255
    assert accounts[email_only]["Name"] == "only@example.com"
    assert accounts[bare]["Name"] == bare


def test_customer_without_payment_methods_and_card_without_default(world: World) -> None:
    lonely, _ = world.customer(name="No cards", cards=())
    nodefault, pms = world.customer(name="No default", default=None)
    report = world.run()
    assert report.outcomes["accounts_created"] == 2
    assert world.payment_methods()[pms[0]][names.PM_AUTOPAY] is False
    del lonely, nodefault


def test_bank_accounts_only_when_enabled(world: World) -> None:
    cus, pms = world.customer(name="ACH Co", cards=("pm_usBankAccount", "pm_card_visa"),
                              default=0)
    world.run()
    assert set(world.payment_methods()) == {pms[1]}
    world.run(full=True, SFB_INCLUDE_BANK_ACCOUNTS="true")
    bank = world.payment_methods()[pms[0]]
    assert bank[names.PM_PAYMENT_TYPE] == "ACH"
    assert bank[names.PM_BANK_ACCOUNT_TYPE] == "Checking"
    assert bank[names.PM_AUTOPAY] is True
    assert world.payment_methods()[pms[1]][names.PM_AUTOPAY] is False
    del cus


def test_a_large_backlog_of_changes_becomes_a_full_reconcile(world: World) -> None:
    world.run()
    _tick()
    made = world.stripe_api.seed([{"name": f"C{i}", "cards": ["4242424242424242"],
                                   "default": 0} for i in range(120)])
    report = world.run(SFB_SEGMENT_SIZE="100")
    assert report.kind == "full"
    assert "120 customers changed since the checkpoint" in report.message
    assert {m["id"] for m in made} <= set(world.accounts())
    assert world.run(SFB_SEGMENT_SIZE="100").kind == "noop"
