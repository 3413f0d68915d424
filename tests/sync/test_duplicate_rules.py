"""The org's Account duplicate rule: creations ask it to block and name its matches; a hit
creates nothing, is reported with the matching ids, retried until maxAttempts, then
quarantined; the admin's fix (the customer id on the Account to keep) is linked next run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from sync_lambda import names
from sync_lambda.state import LedgerStatus

if TYPE_CHECKING:
    from tests.sync.harness import World

CF = names.DEFAULT_ACCOUNT_CUSTOMER_FIELD


def _rule(world: World, **rule: object) -> None:
    requests.post(world.salesforce.url + "/_admin/duplicate-rule", json=rule,
                  timeout=10).raise_for_status()


def _existing(world: World) -> str:
    """An Account named like the new customer, carrying an old customer id Stripe no longer
    has (so the import cannot link by name, and wants to create)."""
    return world.seed_account(Name="Acme Corp", **{CF: "cus_OldAcmeLink0"})


def test_a_hit_creates_nothing_and_names_the_match(world: World) -> None:
    existing = _existing(world)
    acme, pms = world.customer(name="ACME Corp")
    report = world.run()
    accounts = world.records(names.ACCOUNT)
    assert [a["Id"] for a in accounts] == [existing]  # nothing created
    failure = next(f for f in report.failures if f["kind"] == "account")
    assert failure["customer"] == acme
    assert failure["reason"].startswith(f"duplicate:{existing} ")
    assert "Standard_Account_Duplicate_Rule" in failure["reason"]
    assert failure["retryable"] is True
    pm_failure = next(f for f in report.failures if f["kind"] == "payment_method")
    assert pm_failure["stripe_id"] == pms[0]
    assert "Account not written: duplicate:" in pm_failure["reason"]
    assert world.payment_methods() == {}


def test_retried_until_max_attempts_then_quarantined_and_the_fix_links(world: World) -> None:
    existing = _existing(world)
    acme, pms = world.customer(name="Acme Corp")
    world.run(SFB_MAX_ATTEMPTS="2")
    assert {e.status for e in world.state().ledger() if e.stripe_id == acme} == {
        LedgerStatus.PENDING}
    world.run(full=True, SFB_MAX_ATTEMPTS="2")
    assert {e.status for e in world.state().ledger() if e.stripe_id == acme} == {
        LedgerStatus.REJECTED}
    # The documented fix: the admin says which Account is the customer's.
    world.salesforce.org.update(names.ACCOUNT, existing, {CF: acme})
    fixed = world.run(full=True, SFB_MAX_ATTEMPTS="2")
    assert fixed.failures == []
    assert world.accounts()[acme]["Id"] == existing
    assert set(world.payment_methods()) == set(pms)
    assert len(world.records(names.ACCOUNT)) == 1


def test_a_duplicate_inside_a_batch_of_more_than_200_goes_through_collections(
        world: World) -> None:
    existing = _existing(world)
    ids = [world.customer(name=f"Batch {i:03d}", cards=())[0] for i in range(240)]
    acme, _ = world.customer(name="Acme Corp", cards=())
    # Bulk would take the batch (threshold 1), but Account creations never go through it.
    report = world.run(SFB_BULK_THRESHOLD="1")
    routes = world.salesforce.counters_json()["routes"]
    assert routes.get("bulk.create", 0) == 0
    assert routes["rest.collections"] >= 2  # 241 rows: two requests of up to 200
    assert set(ids) <= set(world.accounts())
    assert [f["customer"] for f in report.failures] == [acme]
    assert report.failures[0]["reason"].startswith(f"duplicate:{existing} ")
    assert len(world.records(names.ACCOUNT)) == 241


def test_an_alert_rule_without_our_header_and_a_block_rule(world: World) -> None:
    """The stand-in's rule as Salesforce runs it: an alert rule lets a save without the
    header through (another integration's), a block rule stops every save; off, nothing."""
    from simple_salesforce.api import Salesforce
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    from tests.conftest import SF, session_id

    existing = _existing(world)
    sf: SF = Salesforce(session_id=session_id(world.salesforce),
                        instance_url=world.salesforce.url)
    assert sf.Account.create({"Name": "Acme Corp"})["success"]  # alert, no header: saved
    _rule(world, active=True, action="block")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "acme corp"})
    err: Any = exc.value.content[0]
    assert err["errorCode"] == "DUPLICATES_DETECTED"
    match = err["duplicateResult"]["matchResults"][0]["matchRecords"]
    assert existing in {m["record"]["Id"] for m in match}
    _rule(world, active=False)
    assert sf.Account.create({"Name": "Acme Corp"})["success"]
    assert requests.post(world.salesforce.url + "/_admin/duplicate-rule",
                         json={"action": "warn"}, timeout=10).status_code == 400
