"""A sandbox refreshed from production: its Accounts name live customers a test key cannot
read. Stripe says so in its 404; the import classes them once, skips them from then on, says
so in one line, and never deactivates anything because of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_lambda import names

if TYPE_CHECKING:
    from tests.sync.harness import World

CF = names.DEFAULT_ACCOUNT_CUSTOMER_FIELD
LIVE = [f"cus_Live{n:04d}Refreshed" for n in range(3)]
RETRIEVE = "GET /v1/customers/{cus}"


def _copied_from_production(world: World) -> None:
    """Accounts and active payment methods the refresh copied, linked to live customers."""
    gateway = world.records(names.PAYMENT_GATEWAY)[0]["Id"]
    for n, cus in enumerate(LIVE):
        account = world.seed_account(Name=f"Live customer {n}", **{CF: cus})
        world.salesforce.org.insert(names.PAYMENT_METHOD, {
            names.PM_ACCOUNT: account, names.PM_GATEWAY: gateway, names.PM_ACTIVE: True,
            names.PM_TOKEN: f"pm_Live{n}", names.DEFAULT_PM_EXTERNAL_ID_FIELD: f"pm_Live{n}",
            names.DEFAULT_PM_CUSTOMER_FIELD: cus, names.PM_PAYMENT_TYPE: "Credit Card",
            names.PM_CARD_TYPE: "Visa", names.PM_LAST4: "4242", names.PM_EXP_MONTH: "12",
            names.PM_EXP_YEAR: "2034"})
    world.stripe_api.live_mode(LIVE)


def test_live_customers_are_one_summary_line_not_failed_rows(world: World) -> None:
    # GIVEN a refreshed sandbox: three live customers linked, one test customer of its own
    _copied_from_production(world)
    world.customer(name="Sandbox Tester")
    # WHEN the import runs
    report = world.run()
    # THEN the three are classed, not failed; nothing of theirs is deactivated
    assert report.failed_rows == 0
    assert report.live_mode_customers == 3
    assert report.outcome.value == "ok"
    assert report.to_dict()["outcomes"]["live_mode_customers"] == 3
    lines = [line for line in report.render().splitlines() if "live mode" in line]
    assert len(lines) == 1
    assert "3 linked customers exist only in Stripe's live mode" in lines[0]
    pms = world.payment_methods()
    assert all(pms[f"pm_Live{n}"][names.PM_ACTIVE] is True for n in range(3))
    assert world.state().live_mode_customers() == set(LIVE)
    assert world.state().ledger() == []


def test_later_runs_skip_them_until_rechecked(world: World) -> None:
    _copied_from_production(world)
    world.run()
    # WHEN a full run goes over everything again THEN the classed customers cost no call
    world.stripe_api.stats(reset=True)
    again = world.run(full=True)
    assert again.failed_rows == 0
    assert again.live_mode_customers == 0
    assert RETRIEVE not in world.stripe_api.stats()["routes"]
    # WHEN an operator asks for a recheck THEN they are read, and classed, again
    service_report = world.run(full=True, recheck_unknown=True)
    assert service_report.live_mode_customers == 3
    assert world.stripe_api.stats()["routes"][RETRIEVE] == 3
    assert world.state().live_mode_customers() == set(LIVE)


def test_another_404_stays_a_failed_row(world: World) -> None:
    # A customer missing for another reason (another account, a typo) is still an error.
    gateway = world.records(names.PAYMENT_GATEWAY)[0]["Id"]
    account = world.seed_account(Name="Elsewhere", **{CF: "cus_NotInThisAccount"})
    world.salesforce.org.insert(names.PAYMENT_METHOD, {
        names.PM_ACCOUNT: account, names.PM_GATEWAY: gateway, names.PM_ACTIVE: True,
        names.PM_TOKEN: "pm_Else", names.DEFAULT_PM_EXTERNAL_ID_FIELD: "pm_Else",
        names.DEFAULT_PM_CUSTOMER_FIELD: "cus_NotInThisAccount",
        names.PM_PAYMENT_TYPE: "Credit Card"})
    report = world.run()
    assert report.live_mode_customers == 0
    assert report.failed_rows == 1
    assert report.failures[0]["customer"] == "cus_NotInThisAccount"
