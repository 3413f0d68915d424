"""The import's pure core: matching, mapping, planning, Stripe parsing, settings."""

from __future__ import annotations

from typing import Any

import pytest

from sync_lambda import names
from sync_lambda.errors import ConfigError
from sync_lambda.mapping import FieldNames, map_payment_method
from sync_lambda.matching import AccountIndex, Scenario, match_customer, to_18
from sync_lambda.models import (
    Address,
    Customer,
    Mode,
    OrgFacts,
    PaymentMethod,
    SfAccount,
    SfPaymentMethod,
    Snapshot,
)
from sync_lambda.planning import PlanOptions, SalesforceView, build_plan
from sync_lambda.settings import SPECS, Secrets, Settings
from sync_lambda.stripe_objects import customer_from, event_from, payment_method_from

FACTS = OrgFacts(
    gateway_id="a0G000000000001AAA", account_name_length=255,
    picklists={
        names.PM_PAYMENT_TYPE: {"ACH": "ACH", "Credit Card": "Credit Card"},
        names.PM_CARD_TYPE: {v: v for v in ("American Express", "Discover", "Mastercard",
                                            "Visa")},
        names.PM_EXP_MONTH: {f"{m:02d}": f"{m:02d}" for m in range(1, 13)},
        names.PM_EXP_YEAR: {str(y): str(y) for y in range(2020, 2041)},
        names.PM_COUNTRY: {"US": "United States", "Japan": "Japan"},
        names.PM_BANK_ACCOUNT_TYPE: {"Checking": "Checking"},
    },
    lengths={names.PM_NAME_ON_CARD: 10, names.PM_EMAIL: 80},
    fields=frozenset({names.PM_ACTIVE, names.PM_AUTOPAY, names.PM_GATEWAY, names.PM_TOKEN,
                      names.PM_PAYMENT_TYPE, names.PM_CARD_TYPE, names.PM_LAST4,
                      names.PM_EXP_MONTH, names.PM_EXP_YEAR, names.PM_NAME_ON_CARD,
                      names.PM_COUNTRY, names.PM_EMAIL, names.PM_CITY,
                      names.PM_BANK_ACCOUNT_TYPE, names.PM_BANK_NAME}))
FIELDS = FieldNames()


def card(pm_id: str = "pm_1", *, brand: str = "visa", month: int = 4, year: int = 2030,
         **kw: Any) -> PaymentMethod:
    return PaymentMethod(pm_id, "cus_1", "card", brand=brand, last4="4242", exp_month=month,
                         exp_year=year, **kw)


# -- matching --------------------------------------------------------------------------------
def _match(customer: Customer, accounts: list[SfAccount], mode: Mode = Mode.CREATE_AND_LINK
           ) -> Any:
    return match_customer(customer, AccountIndex.of(accounts), mode=mode,
                          metadata_key="salesforce_account_id", account_name_length=20)


ACME = SfAccount("001000000000001AAA", "Acme", None)


@pytest.mark.parametrize(("customer", "accounts", "scenario"), [
    pytest.param(Customer("cus_1", name="X"), [SfAccount("001000000000009AAA", "X", "cus_1")],
                 Scenario.LINKED, id="linked"),
    pytest.param(Customer("cus_1", metadata={"salesforce_account_id": "001000000000001"}),
                 [ACME], Scenario.BY_ID, id="15-char-id"),
    pytest.param(Customer("cus_1", name=" aCME "), [ACME], Scenario.BY_NAME, id="name"),
    pytest.param(Customer("cus_1", name="Acme"), [ACME, SfAccount("001000000000002AAA",
                                                                  "ACME", None)],
                 Scenario.SKIPPED, id="ambiguous"),
    pytest.param(Customer("cus_1", name="Acme"), [SfAccount(ACME.id, "Acme", "cus_other")],
                 Scenario.NEW, id="only-linked-namesake"),
    pytest.param(Customer("cus_1", metadata={"salesforce_account_id": ACME.id}),
                 [SfAccount(ACME.id, "Acme", "cus_other")], Scenario.SKIPPED,
                 id="id-of-foreign-account"),
])
def test_matching_rules(customer: Customer, accounts: list[SfAccount],
                        scenario: Scenario) -> None:
    assert _match(customer, accounts).scenario is scenario


def test_new_account_names() -> None:
    assert _match(Customer("cus_1", name="x" * 30), []).new_name == "x" * 20
    assert _match(Customer("cus_1", email="a@b.c"), []).new_name == "a@b.c"
    assert _match(Customer("cus_1", name="   "), []).new_name == "cus_1"


def test_modes() -> None:
    assert _match(Customer("cus_1", name="Zed"), [], Mode.LINK_EXISTING).scenario is \
        Scenario.SKIPPED
    assert _match(Customer("cus_1", name="Acme"), [ACME],
                  Mode.PAYMENT_METHODS_ONLY).scenario is Scenario.SKIPPED


def test_an_account_is_claimed_once_per_batch() -> None:
    index = AccountIndex.of([ACME])
    kw: dict[str, Any] = {"mode": Mode.CREATE_AND_LINK, "metadata_key": "k",
                          "account_name_length": 80}
    assert match_customer(Customer("cus_1", name="Acme"), index, **kw).scenario is \
        Scenario.BY_NAME
    assert match_customer(Customer("cus_2", name="Acme"), index, **kw).scenario is \
        Scenario.NEW


def test_to_18() -> None:
    assert to_18("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert to_18("001D000000IqhSLIAZ") == "001D000000IqhSLIAZ"
    assert to_18("001D000000IqhSLAAA") is None
    assert to_18("nope") is None


# -- mapping ---------------------------------------------------------------------------------
def test_card_mapping() -> None:
    mapped = map_payment_method(card(holder_name="Ada Lovelace King", email="ada@x.org",
                                     address=Address(city="Tokyo", country="JP")),
                                "cus_1", FACTS, FIELDS)
    v = mapped.values
    assert v[names.PM_CARD_TYPE] == "Visa"
    assert (v[names.PM_EXP_MONTH], v[names.PM_EXP_YEAR]) == ("04", "2030")
    assert v[names.PM_TOKEN] == "pm_1"
    assert v[names.PM_GATEWAY] == FACTS.gateway_id
    assert v[names.PM_NAME_ON_CARD] == "Ada Lovela"  # cut to the field's length
    assert v[names.PM_COUNTRY] == "Japan"
    assert v[FIELDS.pm_customer] == "cus_1"
    assert not names.PM_FORBIDDEN & set(v)


@pytest.mark.parametrize(("pm", "reason"), [
    (card(brand="jcb"), "card brand 'jcb' (JCB) is not a value"),
    (card(brand="unknown"), "card brand is missing or unknown"),
    (card(year=2049), "expiry year 2049 is not a value"),
    (card(month=13), "expiry month 13 is not a value"),
    (PaymentMethod("pm_1", "cus_1", "card"), "card brand is missing"),
    (PaymentMethod("pm_1", "cus_1", "sepa_debit"), "type 'sepa_debit' is not imported"),
])
def test_quarantine_reasons(pm: PaymentMethod, reason: str) -> None:
    mapped = map_payment_method(pm, "cus_1", FACTS, FIELDS)
    assert mapped.quarantine is not None
    assert reason in mapped.quarantine


def test_unmappable_optional_parts_are_notes() -> None:
    mapped = map_payment_method(card(email="not-an-email", address=Address(country="ZZ")),
                                "cus_1", FACTS, FIELDS)
    assert mapped.quarantine is None
    assert len(mapped.notes) == 2
    assert mapped.values[names.PM_COUNTRY] is None  # cleared, not left as it was


def test_bank_mapping() -> None:
    bank = PaymentMethod("pm_b", "cus_1", "us_bank_account", last4="6789",
                         bank_name="STRIPE TEST BANK", account_holder_type="individual",
                         account_type="checking")
    v = map_payment_method(bank, "cus_1", FACTS, FIELDS).values
    assert v[names.PM_PAYMENT_TYPE] == "ACH"
    assert v[names.PM_BANK_ACCOUNT_TYPE] == "Checking"
    assert names.PM_LAST4 not in v


# -- planning --------------------------------------------------------------------------------
OPTIONS = PlanOptions(Mode.CREATE_AND_LINK, FIELDS, "salesforce_account_id", False, True)


def _row(sf_id: str, stripe_id: str, *, autopay: bool = False, active: bool = True,
         account: str = ACME.id) -> SfPaymentMethod:
    values = dict(map_payment_method(card(stripe_id), "cus_1", FACTS, FIELDS).values)
    values.update({names.PM_AUTOPAY: autopay, names.PM_ACTIVE: active})
    return SfPaymentMethod(sf_id, account, stripe_id, values)


def _view(*rows: SfPaymentMethod) -> SalesforceView:
    view = SalesforceView(AccountIndex.of([SfAccount(ACME.id, "Acme", "cus_1")]))
    for r in rows:
        view.pms_by_stripe_id[r.stripe_id or ""] = r
        view.pms_by_account.setdefault(r.account_id, []).append(r)
    return view


def test_plan_is_empty_when_salesforce_matches() -> None:
    snap = Snapshot(Customer("cus_1", default_payment_method="pm_1"), (card("pm_1"),))
    plan = build_plan([snap], _view(_row("a0P1", "pm_1", autopay=True)), FACTS, OPTIONS)
    assert plan.writes == 0
    assert plan.unchanged == 1


def test_plan_moves_autopay_clearing_first_and_deactivates_missing() -> None:
    snap = Snapshot(Customer("cus_1", default_payment_method="pm_2"), (card("pm_2"),))
    view = _view(_row("a0P1", "pm_1", autopay=True), _row("a0P9", "pm_gone"))
    plan = build_plan([snap], view, FACTS, OPTIONS)
    assert [w.sf_id for w in plan.autopay_clears] == ["a0P1"]
    assert {w.sf_id for w in plan.deactivations} == {"a0P1", "a0P9"}
    assert plan.pm_inserts[0].values[names.PM_AUTOPAY] is True


def test_deleted_customer_plan() -> None:
    snap = Snapshot(Customer("cus_1", deleted=True))
    plan = build_plan([snap], _view(_row("a0P1", "pm_1")), FACTS, OPTIONS)
    assert [w.values for w in plan.deactivations] == [
        {names.PM_ACTIVE: False, names.PM_AUTOPAY: False}]
    assert plan.account_creates == []


def test_payment_method_under_another_account_is_quarantined() -> None:
    snap = Snapshot(Customer("cus_1"), (card("pm_1"),))
    plan = build_plan([snap], _view(_row("a0P1", "pm_1", account="001000000000077AAA")),
                      FACTS, OPTIONS)
    assert "master-detail" in plan.quarantined[0].reason


# -- Stripe objects --------------------------------------------------------------------------
def test_parsing_tolerates_missing_fields() -> None:
    assert customer_from({"id": "cus_1"}) == Customer("cus_1")
    assert customer_from({"id": "cus_1", "deleted": True}).deleted
    pm = payment_method_from({"id": "pm_1", "type": "card", "card": None})
    assert (pm.brand, pm.last4, pm.exp_month) == (None, None, None)
    assert event_from({"id": "evt_1", "type": "customer.updated"}) is None
    ev = event_from({"id": "evt_1", "type": "payment_method.attached", "created": 5,
                     "data": {"object": {"id": "pm_1", "customer": {"id": "cus_1"}}}})
    assert ev is not None
    assert (ev.object_id, ev.customer_id) == ("pm_1", "cus_1")


# -- settings --------------------------------------------------------------------------------
def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"SFB_MODE": "everything", "SFB_BULK_THRESHOLD": "0",
                           "SFB_SF_LOGIN_URL": "http://login.salesforce.com",
                           "SFB_ACCOUNT_CUSTOMER_FIELD": "Stripe Id"})
    message = str(exc.value)
    for fragment in ("SFB_MODE: must be one of", "SFB_BULK_THRESHOLD: must be between 1",
                     "SFB_SF_LOGIN_URL: Salesforce only speaks https",
                     "SFB_ACCOUNT_CUSTOMER_FIELD: must be a custom field",
                     "SFB_SF_CONSUMER_KEY is required",
                     "SFB_SF_USERNAME is required for the jwt flow"):
        assert fragment in message


def test_settings_from_stack_config() -> None:
    s = Settings.from_config({"sfbilling:syncMode": "link_existing",
                              "sfbilling:salesforceConsumerKey": "3MVG9x",
                              "sfbilling:salesforceUsername": "u@x.test",
                              "sfbilling:stateTableName": "t", "aws:region": "eu-west-1",
                              "sfbilling:bulkThreshold": 50}, source="Pulumi.dev.yaml")
    assert (s.mode, s.bulk_threshold, s.table_name) == (Mode.LINK_EXISTING, 50, "t")
    with pytest.raises(ConfigError, match=r"Pulumi\.dev\.yaml: sfbilling:segmentSize"):
        Settings.from_config({"sfbilling:segmentSize": "lots"}, source="Pulumi.dev.yaml")


def test_every_setting_is_documented() -> None:
    assert all(spec.doc and spec.env.isupper() for spec in SPECS)
    assert len({s.env for s in SPECS}) == len(SPECS)


def test_secrets_never_show_in_repr() -> None:
    secret = Secrets("sk_test_supersecret", salesforce_private_key="-----BEGIN")
    assert "supersecret" not in repr(secret)
    assert "BEGIN" not in f"{secret}"


def test_docs_list_every_setting() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "sync.md").read_text()
    missing = [s.env for s in SPECS if f"`{s.env}` | `{s.key}`" not in text]
    assert missing == []
