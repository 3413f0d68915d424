"""The import's pure edges: Stripe JSON parsing and the settings table (matching, mapping and
planning have their own specifications)."""

from __future__ import annotations

from typing import Any

import pytest

from sync_lambda import names
from sync_lambda.errors import ConfigError
from sync_lambda.models import (
    Customer,
    FieldNames,
    Mode,
    OrgFacts,
    PaymentMethod,
)
from sync_lambda.settings import Secrets, Settings
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


# -- the Lambda's environment contract ------------------------------------------------------
def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"SFB_MODE": "everything", "SFB_BULK_THRESHOLD": "0",
                           "SFB_SF_LOGIN_URL": "http://login.salesforce.com",
                           "SFB_ACCOUNT_CUSTOMER_FIELD": "Stripe Id",
                           "SFB_INCLUDE_BANK_ACCOUNTS": "yes", "SFB_SEGMENT_SIZE": "7_000"})
    message = str(exc.value)
    for fragment in ("SFB_MODE: must be one of", "SFB_BULK_THRESHOLD: must be between 1",
                     "SFB_SF_LOGIN_URL: must be https",
                     "SFB_ACCOUNT_CUSTOMER_FIELD: must be a custom field API name",
                     "SFB_INCLUDE_BANK_ACCOUNTS: must be true or false, got 'yes'",
                     "SFB_SEGMENT_SIZE: must be a whole number between 100 and 100000",
                     "SFB_ENVIRONMENT_KIND is required", "SFB_SF_CONSUMER_KEY is required",
                     "SFB_TABLE_NAME is required",
                     "SFB_SF_USERNAME is required for the jwt flow"):
        assert fragment in message


def test_settings_from_the_environment() -> None:
    s = Settings.from_env({"SFB_ENVIRONMENT_KIND": "sandbox", "SFB_MODE": "link_existing",
                           "SFB_SF_CONSUMER_KEY": "3MVG9x", "SFB_SF_USERNAME": "u@x.test",
                           "SFB_TABLE_NAME": "t", "AWS_REGION": "eu-west-1",
                           "SFB_BULK_THRESHOLD": "50", "SFB_STRIPE_RATE": "12.5"})
    assert (s.mode, s.bulk_threshold, s.table_name, s.aws_region, s.stripe_rate) == (
        Mode.LINK_EXISTING, 50, "t", "eu-west-1", 12.5)
    assert s.segment_size == 10_000  # the default


def test_a_field_name_holding_card_numbers_is_refused() -> None:
    with pytest.raises(ConfigError, match="blng__CardNumber__c holds card or bank numbers"):
        Settings.from_env({"SFB_PM_EXTERNAL_ID_FIELD": "blng__CardNumber__c"})


def test_secrets_never_show_in_repr() -> None:
    secret = Secrets("sk_test_supersecret", salesforce_private_key="-----BEGIN")
    assert "supersecret" not in repr(secret)
    assert "BEGIN" not in f"{secret}"
