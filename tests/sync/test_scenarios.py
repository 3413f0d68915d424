"""The three import scenarios end to end against the stand-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_lambda import names

if TYPE_CHECKING:
    from tests.sync.harness import World

PM = names
CF = names.DEFAULT_ACCOUNT_CUSTOMER_FIELD


def test_new_customers_and_payment_methods(world: World) -> None:
    cus, pms = world.customer(name="Ada Lovelace", email="ada@example.com",
                              cards=("pm_card_visa", "pm_card_mastercard"), default=1)
    report = world.run()
    assert report.kind == "full"
    assert report.scenarios["new_customer"] == 1
    assert report.outcomes["accounts_created"] == 1
    assert report.outcomes["payment_methods_inserted"] == 2
    acct = world.accounts()[cus]
    assert acct["Name"] == "Ada Lovelace"
    rows = world.payment_methods()
    gateway = world.records(names.PAYMENT_GATEWAY)[0]["Id"]
    visa, master = rows[pms[0]], rows[pms[1]]
    for row, pm_id in ((visa, pms[0]), (master, pms[1])):
        assert row[names.PM_ACCOUNT] == acct["Id"]
        assert row[names.PM_GATEWAY] == gateway
        assert row[names.PM_TOKEN] == pm_id
        assert row[names.PM_ACTIVE] is True
        assert row[names.PM_PAYMENT_TYPE] == "Credit Card"
        assert row[names.DEFAULT_PM_CUSTOMER_FIELD] == cus
        assert row[names.PM_EXP_MONTH] == "12"
        assert row[names.PM_EXP_YEAR] == "2034"
    assert (visa[names.PM_CARD_TYPE], visa[names.PM_LAST4]) == ("Visa", "4242")
    assert (master[names.PM_CARD_TYPE], master[names.PM_LAST4]) == ("Mastercard", "4444")
    assert (visa[names.PM_AUTOPAY], master[names.PM_AUTOPAY]) == (False, True)
    for forbidden in names.PM_FORBIDDEN:
        assert all(r.get(forbidden) is None for r in rows.values())


def test_second_run_with_no_changes_writes_nothing(world: World) -> None:
    world.customer(name="Ada")
    world.run()
    again = world.run()
    assert again.kind == "noop"
    assert again.salesforce_calls == 0
    assert again.stripe_calls <= 2
    assert again.outcomes.total() == 0


def test_existing_accounts_by_id_and_by_name(world: World) -> None:
    by18 = world.seed_account(Name="Initech")
    by15 = world.seed_account(Name="Umbrella")
    by_name = world.seed_account(Name="Globex Corporation")
    c18, _ = world.customer(name="Initech Inc", metadata={"salesforce_account_id": by18})
    c15, _ = world.customer(name="Umbrella", metadata={"salesforce_account_id": by15[:15]})
    cname, _ = world.customer(name="  globex CORPORATION ")
    report = world.run()
    assert report.scenarios == {"existing_by_id": 2, "existing_by_name": 1}
    assert report.outcomes["accounts_linked"] == 3
    accounts = world.accounts()
    assert accounts[c18]["Id"] == by18
    assert accounts[c15]["Id"] == by15
    assert accounts[cname]["Id"] == by_name
    assert accounts[cname]["Name"] == "Globex Corporation"  # linking never renames
    assert len(world.records(names.ACCOUNT)) == 3
    assert len(world.payment_methods()) == 3


def test_ambiguous_name_and_foreign_link_are_reported_not_written(world: World) -> None:
    world.seed_account(Name="Acme")
    world.seed_account(Name="ACME")
    taken = world.seed_account(Name="Taken", **{CF: "cus_someoneelse"})
    amb, _ = world.customer(name="Acme")
    other, _ = world.customer(name="Other", metadata={"salesforce_account_id": taken})
    report = world.run()
    reasons = {s["customer"]: s["reason"] for s in report.skipped}
    assert "ambiguous name: 2 unlinked Accounts" in reasons[amb]
    assert "already linked to another Stripe customer" in reasons[other]
    assert world.accounts()["cus_someoneelse"]["Id"] == taken
    assert len(world.records(names.ACCOUNT)) == 3
    assert world.payment_methods() == {}


def test_bad_metadata_ids(world: World) -> None:
    bad, _ = world.customer(name="Bad", metadata={"salesforce_account_id": "not-an-id"})
    gone, _ = world.customer(name="Gone", metadata={"salesforce_account_id":
                                                    "001000000000000AAA"})
    report = world.run()
    reasons = {s["customer"]: s["reason"] for s in report.skipped}
    assert "is not a Salesforce record id" in reasons[bad]
    assert "which does not exist" in reasons[gone]
    assert world.records(names.ACCOUNT) == []


def test_link_existing_mode_never_creates(world: World) -> None:
    world.seed_account(Name="Known")
    known, _ = world.customer(name="Known")
    unknown, _ = world.customer(name="Unknown")
    report = world.run(SFB_MODE="link_existing")
    assert report.scenarios == {"existing_by_name": 1, "skipped": 1}
    assert [s["customer"] for s in report.skipped] == [unknown]
    assert set(world.accounts()) == {known}


def test_payment_methods_only_mode(world: World) -> None:
    world.seed_account(Name="Linked", **{CF: "placeholder"})
    linked, pms = world.customer(name="Linked")
    world.salesforce.org.update(names.ACCOUNT, world.accounts()["placeholder"]["Id"],
                                {CF: linked})
    world.seed_account(Name="Unlinked")
    unlinked, _ = world.customer(name="Unlinked")
    report = world.run(SFB_MODE="payment_methods_only")
    assert report.scenarios == {"already_linked": 1, "skipped": 1}
    assert set(world.payment_methods()) == set(pms)
    assert "payment_methods_only" in report.skipped[0]["reason"]
    del unlinked


def test_unsupported_brand_and_year_are_quarantined_batch_goes_on(world: World) -> None:
    client = world.stripe
    cus, pms = world.customer(name="Mixed", cards=("pm_card_visa", "pm_card_jcb"))
    far = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 1, "exp_year": 2049, "cvc": "123"}})
    client.v1.payment_methods.attach(far.id, params={"customer": cus})
    report = world.run()
    reasons = {q["stripe_id"]: q["reason"] for q in report.quarantined}
    assert "card brand 'jcb' (JCB) is not a value" in reasons[pms[1]]
    assert "expiry year 2049 is not a value" in reasons[far.id]
    assert set(world.payment_methods()) == {pms[0]}
    ledger = {e.stripe_id: e for e in world.state().ledger()}
    assert ledger[pms[1]].status == "rejected"


def test_dry_run_plans_without_writing(world: World) -> None:
    world.seed_account(Name="Globex")
    world.customer(name="Globex")
    world.customer(name="Newco")
    before = world.salesforce.counters_json()["routes"]
    report = world.run(dry_run=True)
    actions = sorted(p["action"] for p in report.planned)
    assert actions == ["create_account", "insert_payment_method", "insert_payment_method",
                       "link_account"]
    assert len(world.records(names.ACCOUNT)) == 1
    assert world.payment_methods() == {}
    routes = world.salesforce.counters_json()["routes"]
    writes = {k: v for k, v in routes.items() if k in ("rest.collections", "bulk.create")}
    assert writes == {k: v for k, v in before.items() if k in writes}
    assert world.state().load().checkpoint is None
