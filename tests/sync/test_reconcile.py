"""`reconcile`: every category built on the stand-ins is found, a clean org reports zero,
differences by design are counted apart, and nothing is written to Salesforce."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync_lambda import names
from sync_lambda.report import Outcome, Report
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from tests.sync.harness import World

CF = names.DEFAULT_ACCOUNT_CUSTOMER_FIELD
EXT = names.DEFAULT_PM_EXTERNAL_ID_FIELD
PM_CUSTOMER = names.DEFAULT_PM_CUSTOMER_FIELD


def _reconcile(world: World, **env: str) -> Report:
    return build_service(world.settings(**env), world.secrets).reconcile()


def _counts(report: Report) -> dict[str, int]:
    assert report.findings is not None, report.message
    return {c: n for c, n in report.findings.counts.items() if n}


def _ids(report: Report, category: str) -> set[str]:
    assert report.findings is not None
    return {s["id"] for s in report.findings.samples.get(category, [])}


def _writes(world: World) -> int:
    routes: dict[str, int] = world.salesforce.counters_json()["routes"]
    return sum(n for r, n in routes.items()
               if r.startswith(("rest.composite", "rest.sobject", "bulk.")))


def test_a_clean_org_reports_zero(world: World) -> None:
    for i in range(3):
        world.customer(name=f"Clean {i}", cards=("pm_card_visa", "pm_card_mastercard"))
    world.customer(name="No cards", cards=())
    world.run()
    report = _reconcile(world)
    assert report.outcome is Outcome.OK, report.render()
    assert report.findings is not None and report.findings.disagreements == 0
    assert _counts(report) == {}
    assert report.kind == "reconcile" and report.customers == 4
    d = report.to_dict()
    assert d["reconcile"]["disagreements"] == 0
    assert set(d["reconcile"]["counts"]) >= {"unlinked_customers", "duplicate_methods"}
    assert world.state().holder() is None  # the lease is back
    assert world.state().load_reconcile() is None  # nothing left in progress


def test_every_category_is_found_and_nothing_is_written(world: World) -> None:
    client = world.stripe
    kept, _ = world.customer(name="Kept")
    stale_cus, stale_pms = world.customer(name="Detached later",
                                          cards=("pm_card_visa", "pm_card_mastercard"))
    grown, _ = world.customer(name="Card added later")
    _, changed_pms = world.customer(name="Last four changed")
    dup_cus, _ = world.customer(name="Two Accounts")
    world.run()
    gateway = world.records(names.PAYMENT_GATEWAY)[0]["Id"]
    # Stripe moves on without the import running:
    later, _ = world.customer(name="New since the import")  # unlinked
    client.v1.payment_methods.detach(stale_pms[1])  # stale active row
    added = client.v1.payment_methods.attach("pm_card_amex", params={"customer": grown}).id
    # Salesforce is changed by hand:
    rows = world.payment_methods()
    world.salesforce.org.update(names.PAYMENT_METHOD, rows[changed_pms[0]]["Id"],
                                {names.PM_LAST4: "0000"})  # field mismatch
    orphan = world.seed_account(Name="Orphan", **{CF: "cus_NoSuchCustomer0"})  # unknown
    other = world.seed_account(Name="Two Accounts (manual)")
    client.v1.customers.update(dup_cus, params={"metadata": {"salesforce_account_id": other}})
    kept_row = rows[next(iter(p for p, r in rows.items() if r[PM_CUSTOMER] == kept))]
    world.salesforce.org.insert(names.PAYMENT_METHOD, {  # a second row for one token
        names.PM_ACCOUNT: kept_row[names.PM_ACCOUNT], names.PM_GATEWAY: gateway,
        names.PM_ACTIVE: False, names.PM_TOKEN: kept_row[names.PM_TOKEN],
        names.PM_PAYMENT_TYPE: "Credit Card"})
    before = _writes(world)
    report = _reconcile(world)
    assert _writes(world) == before  # read-only
    assert report.outcome is Outcome.DISAGREEMENT
    assert _counts(report) == {"unlinked_customers": 1, "unknown_customers": 1,
                               "stale_active_methods": 1, "missing_methods": 1,
                               "field_mismatches": 1, "duplicate_accounts": 1,
                               "duplicate_methods": 1}
    assert _ids(report, "unlinked_customers") == {later}
    assert _ids(report, "unknown_customers") == {"cus_NoSuchCustomer0"}
    assert _ids(report, "stale_active_methods") == {stale_pms[1]}
    assert _ids(report, "missing_methods") == {added}
    assert _ids(report, "field_mismatches") == {changed_pms[0]}
    assert report.findings is not None
    assert report.findings.samples["field_mismatches"][0]["detail"] == names.PM_LAST4
    assert _ids(report, "duplicate_accounts") == {dup_cus}
    assert _ids(report, "duplicate_methods") == {kept_row[names.PM_TOKEN]}
    assert report.findings.disagreements == 7
    text = report.render()
    assert "unknown_customers: 1" in text and "disagreements: 7" in text
    del orphan, stale_cus
    # The import brings back what it can (the orphan, the manual duplicates and the second
    # Account stay for a human): the rest agrees afterwards.
    world.run(full=True)
    after = _counts(_reconcile(world))
    assert after == {"unknown_customers": 1, "duplicate_accounts": 1, "duplicate_methods": 1}


def test_differences_by_design_do_not_count(world: World) -> None:
    # Bank accounts imported while enabled, then turned off: the rows are left alone.
    world.customer(name="ACH Co", cards=("pm_usBankAccount", "pm_card_visa"))
    world.run(SFB_INCLUDE_BANK_ACCOUNTS="true")
    # A deleted customer: the import deactivated its rows and keeps its Account.
    gone, _ = world.customer(name="Deleted later")
    world.run()
    world.stripe.v1.customers.delete(gone)
    world.run(full=True)
    # Deactivations held back by the mass-deactivation limit (nothing may be deactivated).
    held_cus, held_pms = world.customer(name="Held", cards=("pm_card_visa",))
    world.run()
    world.stripe.v1.payment_methods.detach(held_pms[0])
    limits: dict[str, Any] = {"SFB_MASS_DEACTIVATION_SHARE": "0",
                              "SFB_MASS_DEACTIVATION_COUNT": "0"}
    assert world.run(full=True, **limits).held_back == 1
    # A live customer a refreshed sandbox names, classed by the import.
    live = "cus_Live0001Refreshed"
    world.seed_account(Name="Live", **{CF: live})
    world.stripe_api.live_mode([live])
    world.run(full=True, **limits)
    report = _reconcile(world, SFB_INCLUDE_BANK_ACCOUNTS="false")
    assert report.outcome is Outcome.OK, report.render()
    assert _counts(report) == {"excluded_types": 1, "deleted_customers": 1,
                               "held_back_deactivations": 1, "live_mode_customers": 1}
    assert _ids(report, "held_back_deactivations") == {held_pms[0]}
    assert _ids(report, "live_mode_customers") == {live}
    del held_cus


def test_out_of_time_it_saves_progress_and_the_next_run_finishes(world: World) -> None:
    ids = [world.customer(name=f"Segment {i:03d}")[0] for i in range(150)]
    world.run()
    new = world.customer(name="Unlinked")[0]
    # Time for nothing: the pass saves where it is and says the next one continues.
    service = build_service(world.settings(SFB_SEGMENT_SIZE="100", SFB_DEADLINE_RESERVE_S="10"),
                            world.secrets, remaining_s=lambda: 5.0)
    stopped = service.reconcile()
    assert stopped.continued and stopped.findings is None
    assert stopped.outcome is Outcome.INCOMPLETE  # says nothing of agreement yet
    assert world.state().load_reconcile() is not None
    # One segment (a page of 100), then out of time.
    store = world.state()
    service = build_service(world.settings(SFB_SEGMENT_SIZE="100", SFB_DEADLINE_RESERVE_S="10"),
                            world.secrets,
                            remaining_s=lambda: 0.0 if store.seen(scope="reconcile") else 1e4)
    part = service.reconcile()
    assert part.continued and part.customers == 100
    rest = _reconcile(world, SFB_SEGMENT_SIZE="100")
    assert rest.customers == 51
    assert "continued a reconciliation" in rest.message
    assert _counts(rest) == {"unlinked_customers": 1}
    assert _ids(rest, "unlinked_customers") == {new}
    assert world.state().seen(scope="reconcile") == set()
    del ids


def test_it_waits_for_the_lease_like_any_run(world: World) -> None:
    world.customer(name="Leased")
    store = world.state()
    assert store.acquire("import-run", 60, 0)
    try:
        report = _reconcile(world)
    finally:
        store.release()
    assert report.outcome is Outcome.SKIPPED and report.findings is None
    assert "another run holds the lease (run import-run" in report.message
