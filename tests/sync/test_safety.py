"""What keeps the import from doing damage: only `deleted: true` deactivates, a mass deactivation
waits for a person, Stripe refusals stop the run with what to fix, Stripe's clock sets the
checkpoint, and values cleared in Stripe are cleared in Salesforce."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from sync_lambda import names
from sync_lambda.errors import ConfigError, FatalSyncError
from sync_lambda.report import Outcome
from sync_lambda.state import LedgerStatus
from sync_lambda.wiring import build_service
from tests.sync.harness import add_import_fields

if TYPE_CHECKING:
    from sync_lambda.report import Report
    from sync_lambda.settings import Settings
    from tests.sync.harness import World


def _customers(world: World, n: int, prefix: str = "Customer") -> list[str]:
    return [world.customer(name=f"{prefix} {i:03d}")[0] for i in range(n)]


def _active(world: World) -> int:
    return sum(1 for p in world.payment_methods().values() if p[names.PM_ACTIVE])


def _run(world: World, *, settings: Settings | None = None, **kw: Any) -> Report:
    return build_service(settings or world.settings(), world.secrets).run(**kw)


# -- 0. only `deleted: true` deactivates -------------------------------------------------------
def test_a_stripe_that_does_not_know_the_customers_deactivates_nothing(world: World) -> None:
    # GIVEN 11 imported customers, each with an active AutoPay card
    ids = _customers(world, 11)
    world.run()
    assert _active(world) == 11
    # WHEN the key points at an empty Stripe (another account or mode: every id answers 404)
    world.stripe_api.reset()
    report = world.run(full=True)
    # THEN nothing is deactivated; each customer is a failed row in the ledger, retried later
    assert _active(world) == 11
    assert sum(1 for p in world.payment_methods().values() if p[names.PM_AUTOPAY]) == 11
    assert report.outcome is Outcome.FAILED_ROWS
    assert {f["stripe_id"] for f in report.failures} == set(ids)
    assert all("404" in f["reason"] and "check the API key" in f["reason"]
               for f in report.failures)
    ledger = {e.stripe_id: e for e in world.state().ledger()}
    assert set(ledger) == set(ids)
    assert {e.kind for e in ledger.values()} == {"customer"}
    assert {e.status for e in ledger.values()} == {LedgerStatus.PENDING}


def test_deleted_customers_over_the_limit_wait_for_confirmation(world: World) -> None:
    # GIVEN 30 imported customers, 25 of them then deleted in Stripe (more than 10 % and 20)
    ids = _customers(world, 30)
    world.run()
    for cus in ids[:25]:
        world.stripe.v1.customers.delete(cus)
    # WHEN a full run is made with segments of 5 customers
    settings = replace(world.settings(), segment_size=5)
    held = _run(world, settings=settings, full=True)
    # THEN the limit is counted over every segment: nothing is deactivated, the run says so
    assert held.outcome is Outcome.HELD_BACK
    assert (held.held_back, held.held_back_of) == (25, 30)
    assert "--allow-mass-deactivation" in held.message
    assert _active(world) == 30
    # ... a later run still holds them back
    assert world.run().held_back == 25
    assert _active(world) == 30
    # WHEN an operator confirms THEN exactly those 25 are deactivated
    confirmed = world.run(allow_mass_deactivation=True)
    assert confirmed.outcome is Outcome.OK
    assert confirmed.outcomes["payment_methods_deactivated"] == 25
    rows = world.payment_methods()
    assert _active(world) == 5
    assert {p[names.DEFAULT_PM_CUSTOMER_FIELD] for p in rows.values()
            if not p[names.PM_ACTIVE]} == set(ids[:25])
    assert world.state().deactivations() == []


def test_a_small_org_is_not_blocked_by_a_handful(world: World) -> None:
    ids = _customers(world, 5)
    world.run()
    for cus in ids:
        world.stripe.v1.customers.delete(cus)
    report = world.run(full=True)
    assert report.outcome is Outcome.OK
    assert report.outcomes["payment_methods_deactivated"] == 5
    assert _active(world) == 0


def test_reattached_before_confirmation_is_not_deactivated(world: World) -> None:
    # GIVEN 25 held deactivations after cards were detached
    ids = _customers(world, 25)
    world.run()
    pms = {cus: next(iter(world.stripe.v1.payment_methods.list(
        params={"customer": cus, "type": "card"}).data)).id for cus in ids}
    for pm in pms.values():
        world.stripe.v1.payment_methods.detach(pm)
    assert world.run(full=True).held_back == 25
    # WHEN one card is attached again before anyone confirms
    world.stripe.v1.payment_methods.attach(pms[ids[0]], params={"customer": ids[0]})
    world.run(full=True, allow_mass_deactivation=True)
    # THEN that one stays active
    rows = world.payment_methods()
    assert rows[pms[ids[0]]][names.PM_ACTIVE] is True
    assert sum(1 for p in rows.values() if not p[names.PM_ACTIVE]) == 24


# -- 0. Stripe refusals stop the run with what to fix -----------------------------------------
@pytest.mark.parametrize(("status", "expected"), [
    (403, "give the restricted key rak_event_read"),
    (400, r"Stripe refused a request \(400, InvalidRequestError\)"),
])
def test_stripe_refusals_stop_the_run_and_name_the_fix(world: World, status: int,
                                                       expected: str) -> None:
    world.customer(name="Ada")
    world.run()
    world.stripe_api.set_faults(error_rate=1.0, error_status=status, paths=["/v1/events"])
    with pytest.raises(FatalSyncError, match=expected):
        world.run()
    assert world.stripe_api.stats()["errors"] == 1  # refused once: retrying cannot help


# -- 1b. checkpoints from Stripe's clock --------------------------------------------------------
def test_a_host_clock_ahead_of_stripe_loses_no_event(world: World) -> None:
    world.customer(name="Ada")
    made: list[str] = []

    def during_the_run(stage: str, done: int, total: int | None, eta_s: float | None) -> None:
        del done, total, eta_s
        if stage == "writing Salesforce" and not made:
            made.append(world.customer(name="Arrived mid-run")[0])

    skewed = build_service(world.settings(), world.secrets, progress=during_the_run,
                           clock=lambda: time.time() + 3)
    assert skewed.run().kind == "full"
    assert made
    time.sleep(1.1)
    later = build_service(world.settings(), world.secrets, clock=lambda: time.time() + 3)
    report = later.run()
    assert report.kind == "incremental"
    assert made[0] in world.accounts()


def test_a_quiet_run_moves_the_checkpoint_by_stripes_clock(world: World) -> None:
    world.customer(name="Ada")
    world.run()
    before = world.state().load().checkpoint
    assert before is not None
    assert world.run().kind == "noop"
    after = world.state().load().checkpoint
    assert after is not None
    assert before <= after <= int(time.time())


# -- 1c. what Stripe clears is cleared; what is cut is said ------------------------------------
def _card_with_details(world: World, cus: str, **details: Any) -> str:
    params: Any = {"type": "card", "billing_details": details,
                   "card": {"number": "4242424242424242", "exp_month": 4, "exp_year": 2030,
                            "cvc": "123"}}
    pm = world.stripe.v1.payment_methods.create(params=params)
    world.stripe.v1.payment_methods.attach(pm.id, params={"customer": cus})
    return pm.id


def test_values_cleared_in_stripe_are_cleared_in_salesforce(world: World) -> None:
    cus, _ = world.customer(name="Ada", cards=())
    pm = _card_with_details(world, cus, name="Ada Lovelace", email="ada@example.com",
                            address={"city": "London", "line1": "12 St James's Square"})
    world.run()
    row = world.payment_methods()[pm]
    assert (row[names.PM_NAME_ON_CARD], row[names.PM_EMAIL], row[names.PM_CITY]) == (
        "Ada Lovelace", "ada@example.com", "London")
    time.sleep(1.05)
    world.stripe.v1.payment_methods.update(pm, params={"billing_details": {
        "name": "", "email": "", "address": {"city": "", "line1": ""}}})
    report = world.run()
    assert report.outcomes["payment_methods_updated"] == 1
    row = world.payment_methods()[pm]
    for field in (names.PM_NAME_ON_CARD, names.PM_EMAIL, names.PM_CITY, names.PM_STREET):
        assert row[field] is None, field


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_cleared_values_reach_salesforce_through_both_write_paths(world: World,
                                                                  bulk: bool) -> None:
    cus, _ = world.customer(name="Ada", cards=())
    pm = _card_with_details(world, cus, name="Ada Lovelace", address={"city": "London"})
    threshold = "1" if bulk else "200"
    world.run(SFB_BULK_THRESHOLD=threshold)
    world.stripe.v1.payment_methods.update(pm, params={"billing_details": {
        "name": "", "address": {"city": "London"}}})
    world.run(full=True, SFB_BULK_THRESHOLD=threshold)
    row = world.payment_methods()[pm]
    assert row[names.PM_NAME_ON_CARD] is None
    assert row[names.PM_CITY] == "London"


def test_every_cut_value_is_noted(world: World) -> None:
    cus, _ = world.customer(name="N" * 300, cards=())
    pm = _card_with_details(world, cus, name="H" * 300, address={"city": "C" * 300})
    report = world.run()
    notes = [n["note"] for n in report.notes if n["stripe_id"] in (cus, pm)]
    assert any(n.startswith("Account.Name cut to the field's 255 characters (Stripe has 300)")
               for n in notes)
    assert any(n.startswith(f"{names.PM_NAME_ON_CARD} cut to the field's 255") for n in notes)
    assert any(n.startswith(f"{names.PM_CITY} cut to the field's 255") for n in notes)
    assert world.accounts()[cus]["Name"] == "N" * 255


def test_the_name_of_an_account_the_import_created_follows_stripe(world: World) -> None:
    made, _ = world.customer(name="Ada")
    linked_id = world.seed_account(Name="Initech")
    linked, _ = world.customer(name="Initech")
    world.run()
    time.sleep(1.05)
    world.stripe.v1.customers.update(made, params={"name": "Ada King"})
    world.stripe.v1.customers.update(linked, params={"name": "Initech Inc."})
    report = world.run()
    accounts = world.accounts()
    assert accounts[made]["Name"] == "Ada King"
    assert accounts[linked]["Id"] == linked_id
    assert accounts[linked]["Name"] == "Initech"  # an admin's Account keeps its name
    assert report.outcomes["accounts_renamed"] == 1


@pytest.mark.parametrize(("var", "url"), [("SFB_STRIPE_API_BASE", "http://api.stripe.example"),
                                          ("SFB_AWS_ENDPOINT_URL", "http://10.0.0.5:4566")])
def test_clear_text_endpoints_only_on_loopback(world: World, var: str, url: str) -> None:
    with pytest.raises(ConfigError, match=f"{var}: must be https"):
        world.settings(**{var: url})
    loopback = world.settings(**{var: "http://127.0.0.1:1"})
    assert "http://127.0.0.1:1" in (loopback.stripe_api_base, loopback.aws_endpoint_url)


def test_an_org_that_is_not_the_stacks_stops_the_import_before_any_write(world: World) -> None:
    world.customer(name="Ada")
    with pytest.raises(FatalSyncError) as exc:
        world.run(SFB_SF_ORG_ID="00D5g000004OLDaEAO")
    message = str(exc.value)
    assert f"this org is {world.salesforce.org.profile.org_id}, but sfbilling:salesforceOrgId" \
        in message
    assert "set sfbilling:salesforceOrgId to" in message and "--full" in message
    assert world.accounts() == {}
    assert world.run(SFB_SF_ORG_ID=world.salesforce.org.profile.org_id[:15]).outcome \
        is Outcome.OK


def test_a_refreshed_sandbox_stops_the_import_until_a_full_reconcile_confirms_it(
        world: World) -> None:
    # GIVEN a sandbox the import has written to
    world.customer(name="Ada")
    assert world.run().outcome is Outcome.OK
    assert world.state().recorded_org() == world.salesforce.org.profile.org_id
    # WHEN the sandbox is refreshed: a new org id, production's data (here: an empty org)
    refreshed = replace(world.salesforce.org.profile, org_id="00D5g000004NEWaEAO")
    world.salesforce.reset(refreshed)
    add_import_fields(world.salesforce)
    time.sleep(1.05)
    world.customer(name="Grace")
    # THEN an incremental run stops before writing, and says how to confirm
    with pytest.raises(FatalSyncError, match=r"state was written for org 00D5g000004SBX.*"
                                             r"this is org 00D5g000004NEW"):
        world.run()
    assert world.accounts() == {}
    # ... a dry run does not take the state over either
    with pytest.raises(FatalSyncError):
        world.run(dry_run=True)
    # ... and a full reconcile is the confirmation: it imports, and the state is the new org's
    report = world.run(full=True)
    assert report.outcome is Outcome.OK
    assert len(world.accounts()) == 2
    assert world.state().recorded_org() == "00D5g000004NEWaEAO"
    assert world.run().outcome is Outcome.OK


def test_a_literal_na_in_stripe_goes_through_collections_never_bulk(world: World) -> None:
    # GIVEN customers enough for the bulk path, one of them named exactly "#N/A" (Bulk API 2.0
    # would read that cell as null and leave the Account without a name, or refuse it)
    ids = [world.customer(name=f"Bulk {i}")[0] for i in range(3)]
    odd, _ = world.customer(name="#N/A")
    # WHEN the import writes in bulk
    report = world.run(SFB_BULK_THRESHOLD="1")
    # THEN the Account is named "#N/A", as in Stripe, and nothing failed
    assert report.failures == []
    accounts = world.accounts()
    assert accounts[odd]["Name"] == "#N/A"
    assert all(accounts[c]["Name"].startswith("Bulk ") for c in ids)
    assert world.salesforce.counters_json()["routes"].get("bulk.create", 0) >= 1


def test_where_names_are_not_trusted_a_namesake_cannot_claim_an_account(world: World) -> None:
    # GIVEN an unlinked Account with its billing email, and a self-registered Stripe customer
    # naming itself the same
    from devenv.salesforce.schema import text

    world.salesforce.org.add_field(names.ACCOUNT, text("Billing_Email__c", "Billing Email", 80))
    acct = world.seed_account(Name="Acme Corp", Billing_Email__c="ap@acme.example")
    mallory, _ = world.customer(name="Acme Corp", email="mallory@evil.example")
    # WHEN the import runs with the email rule on
    report = world.run(SFB_NAME_MATCH_EMAIL_FIELD="Billing_Email__c")
    # THEN the Account is not taken over, no duplicate is made, and the customer is reported
    assert [s["customer"] for s in report.skipped] == [mallory]
    accounts = world.records(names.ACCOUNT)
    assert [(a["Id"], a.get(names.DEFAULT_ACCOUNT_CUSTOMER_FIELD)) for a in accounts] == [
        (acct, None)]
    # ... and the customer whose email agrees is linked to it
    time.sleep(1.05)
    real, _ = world.customer(name="Acme Corp", email="AP@acme.example")
    world.run(SFB_NAME_MATCH_EMAIL_FIELD="Billing_Email__c")
    assert world.accounts()[real]["Id"] == acct
