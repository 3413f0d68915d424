"""Builders for the import's pure core: an org's facts, Stripe objects, Salesforce rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync_lambda import names
from sync_lambda.mapping import map_payment_method
from sync_lambda.matching import AccountIndex
from sync_lambda.models import (
    Customer,
    FieldNames,
    Mode,
    OrgFacts,
    PaymentMethod,
    PlanOptions,
    SfAccount,
    SfPaymentMethod,
)
from sync_lambda.planning import SalesforceView

if TYPE_CHECKING:
    from collections.abc import Mapping

GATEWAY = "a0G000000000001AAA"
FIELDS = FieldNames()
TEXT_FIELDS = {names.PM_NAME_ON_CARD: 255, names.PM_STREET: 255, names.PM_STREET2: 255,
               names.PM_CITY: 40, names.PM_STATE: 20, names.PM_ZIP: 10, names.PM_EMAIL: 80,
               names.PM_BANK_NAME: 30, names.PM_BANK_ACCOUNT_NAME: 50}
PICKLISTS: dict[str, dict[str, str]] = {
    names.PM_PAYMENT_TYPE: {"ACH": "ACH", "Credit Card": "Credit Card"},
    names.PM_CARD_TYPE: {v: v for v in ("American Express", "Discover", "Mastercard", "Visa")},
    names.PM_EXP_MONTH: {f"{m:02d}": f"{m:02d}" for m in range(1, 13)},
    names.PM_EXP_YEAR: {str(y): str(y) for y in range(2020, 2041)},
    names.PM_COUNTRY: {"US": "United States", "JP": "Japan", "GB": "UK"},
    names.PM_BANK_ACCOUNT_TYPE: {"Checking": "Checking", "Savings": "Savings",
                                 "Business Checking": "Business Checking"},
}


def facts(*, picklists: Mapping[str, Mapping[str, str]] | None = None,
          lengths: Mapping[str, int] | None = None, missing: frozenset[str] = frozenset(),
          account_name_length: int = 255) -> OrgFacts:
    """A Billing org with every managed field, unless listed in `missing`."""
    fields = frozenset({names.PM_PAYMENT_TYPE, *names.PM_MANAGED_FIELDS}) - missing
    return OrgFacts(gateway_id=GATEWAY, account_name_length=account_name_length,
                    picklists={k: v for k, v in (PICKLISTS if picklists is None
                                                 else picklists).items() if k in fields},
                    lengths=TEXT_FIELDS if lengths is None else lengths, fields=fields)


FACTS = facts()


def card(pm_id: str = "pm_1", customer: str = "cus_1", *, brand: str | None = "visa",
         last4: str | None = "4242", month: int | None = 4, year: int | None = 2030,
         **kw: Any) -> PaymentMethod:
    """A Stripe card."""
    return PaymentMethod(pm_id, customer, "card", brand=brand, last4=last4, exp_month=month,
                         exp_year=year, **kw)


def bank(pm_id: str = "pm_b", customer: str = "cus_1", **kw: Any) -> PaymentMethod:
    """A Stripe us_bank_account."""
    return PaymentMethod(pm_id, customer, "us_bank_account", last4="6789", **kw)


def options(mode: Mode = Mode.CREATE_AND_LINK, *, banks: bool = False,
            reconcile: bool = True) -> PlanOptions:
    """Plan options with the default field names and metadata key."""
    return PlanOptions(mode, FIELDS, "salesforce_account_id", banks, reconcile)


def account(sf_id: str, name: str, stripe_id: str | None = None, *,
            created: bool = False) -> SfAccount:
    """An Account as the import reads it."""
    return SfAccount(sf_id, name, stripe_id, created)


def row(sf_id: str, stripe_id: str | None, *, account_id: str = "001000000000001AAA",
        customer: str | None = "cus_1", autopay: bool = False, active: bool = True,
        pm: PaymentMethod | None = None) -> SfPaymentMethod:
    """A payment-method row holding what the import would write for `pm` (or a card)."""
    values: dict[str, Any] = {}
    if stripe_id is not None:
        values.update(map_payment_method(pm or card(stripe_id, customer or "cus_1"),
                                         customer or "", FACTS, FIELDS).values)
    values.update({names.PM_AUTOPAY: autopay, names.PM_ACTIVE: active,
                   FIELDS.pm_customer: customer})
    return SfPaymentMethod(sf_id, account_id, stripe_id, values)


def view(accounts: list[SfAccount], *rows: SfPaymentMethod) -> SalesforceView:
    """What Salesforce holds for a batch."""
    out = SalesforceView(AccountIndex.of(accounts))
    for r in rows:
        out.add(r, FIELDS.pm_customer)
    return out


def customer(cid: str = "cus_1", *, created: int = 1, **kw: Any) -> Customer:
    """A Stripe customer."""
    return Customer(cid, created=created, **kw)
