"""A Stripe payment method → the blng__PaymentMethod__c field values. Pure.

Values for restricted picklists come from the org's describe (`OrgFacts.picklists`), because
orgs differ. A value the org lacks quarantines the row with its reason; optional parts that do
not fit (a country the picklist lacks, an invalid email) are left out and reported as notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync_lambda import countries, names

if TYPE_CHECKING:

    from sync_lambda.models import FieldNames, OrgFacts, PaymentMethod

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The package's fields a mapping may hold.
_PACKAGE_FIELDS = frozenset({names.PM_PAYMENT_TYPE, *names.PM_MANAGED_FIELDS})


@dataclass(frozen=True, slots=True)
class Mapped:
    """The field values for one payment method, or why it cannot be imported."""

    values: dict[str, Any] = field(default_factory=dict)  # a fresh dict: the caller's to keep
    quarantine: str | None = None
    notes: tuple[str, ...] = ()


def _country(facts: OrgFacts, iso: str) -> str | None:
    code = iso.upper()
    if names.PM_COUNTRY not in facts.picklists:
        # A text field (or none: the value is dropped with the other absent fields).
        return countries.NAMES.get(code, code)
    for candidate in (code, countries.NAMES.get(code), *countries.ALIASES.get(code, ())):
        if candidate and (found := facts.pick(names.PM_COUNTRY, candidate)):
            return found
    return None


def _fit(facts: OrgFacts, field_name: str, value: str | None,
         notes: list[str]) -> str | None:
    """Cut a text value to the field's length (the org decides, describe tells); say so."""
    if value is None:
        return None
    length = facts.lengths.get(field_name)
    if length and len(value) > length:
        notes.append(f"{field_name} cut to the field's {length} characters (Stripe has "
                     f"{len(value)})")
        return value[:length]
    return value


def _email(facts: OrgFacts, email: str, notes: list[str]) -> str | None:
    length = facts.lengths.get(names.PM_EMAIL) or names.EMAIL_MAX_LENGTH
    if not _EMAIL.match(email) or len(email) > length:
        # An email cut short would be another address: left empty instead.
        notes.append(f"billing email is not a valid email address of at most {length} "
                     "characters; left empty")
        return None
    return email


def map_payment_method(pm: PaymentMethod, customer_id: str, facts: OrgFacts,
                       fields: FieldNames) -> Mapped:
    """Field values for `pm` (without Account and AutoPay, which the planner sets).

    Every field the import maps is in the result: `None` where Stripe has no value, so a value
    cleared in Stripe is cleared in Salesforce too.
    """
    notes: list[str] = []
    values: dict[str, Any] = {
        fields.pm_external_id: pm.id,
        fields.pm_customer: customer_id,
        names.PM_TOKEN: pm.id,
        names.PM_GATEWAY: facts.gateway_id,
        names.PM_ACTIVE: True,
    }
    if pm.type == names.STRIPE_CARD:
        problem = _card(pm, facts, values)
    elif pm.type == names.STRIPE_US_BANK_ACCOUNT:
        problem = _bank(pm, facts, values, notes)
    else:
        problem = f"payment method type {pm.type!r} is not imported"
    if problem:
        return Mapped(quarantine=problem)
    holder = names.PM_NAME_ON_CARD if pm.type == names.STRIPE_CARD else \
        names.PM_BANK_ACCOUNT_NAME
    values[holder] = _fit(facts, holder, pm.holder_name, notes)
    a = pm.address
    for target, value in ((names.PM_STREET, a.line1), (names.PM_STREET2, a.line2),
                          (names.PM_CITY, a.city), (names.PM_STATE, a.state),
                          (names.PM_ZIP, a.postal_code)):
        values[target] = _fit(facts, target, value, notes)
    values[names.PM_COUNTRY] = None
    if a.country:
        values[names.PM_COUNTRY] = _country(facts, a.country)
        if values[names.PM_COUNTRY] is None:
            notes.append(f"billing country {a.country!r} is not in the org's country "
                         "picklist; left empty")
    values[names.PM_EMAIL] = None if pm.email is None else _email(facts, pm.email, notes)
    # Fields the org lacks are left out (our own keys are checked by describe beforehand).
    for missing in _PACKAGE_FIELDS.difference(facts.fields).intersection(values):
        del values[missing]
    if not names.PM_FORBIDDEN.isdisjoint(values):
        raise AssertionError("never write card or bank numbers")
    return Mapped(values=values, notes=tuple(notes))


def _card(pm: PaymentMethod, facts: OrgFacts, values: dict[str, Any]) -> str | None:
    payment_type = facts.pick(names.PM_PAYMENT_TYPE, names.PAYMENT_TYPE_CARD)
    if payment_type is None:
        return f"the org's payment type picklist has no {names.PAYMENT_TYPE_CARD!r}"
    values[names.PM_PAYMENT_TYPE] = payment_type
    brand = (pm.brand or "").lower()
    if not brand or brand == "unknown":
        return "card brand is missing or unknown"
    label = names.CARD_BRANDS.get(brand, brand)
    card_type = facts.pick(names.PM_CARD_TYPE, label)
    if card_type is None:
        return (f"card brand {brand!r} ({label}) is not a value of the org's "
                f"{names.PM_CARD_TYPE} picklist")
    values[names.PM_CARD_TYPE] = card_type
    if not pm.last4 or not pm.last4.isdigit() or len(pm.last4) != 4:
        return "card has no last four digits"
    values[names.PM_LAST4] = pm.last4
    if pm.exp_month is None or pm.exp_year is None:
        return "card has no expiry month or year"
    # An org whose expiry fields are not picklists takes the plain values.
    if names.PM_EXP_MONTH in facts.picklists:
        month = facts.month(pm.exp_month)
        if month is None:
            return (f"expiry month {pm.exp_month} is not a value of the org's "
                    f"{names.PM_EXP_MONTH} picklist")
    else:
        month = f"{pm.exp_month:02d}"
    year: str | None = str(pm.exp_year)
    if names.PM_EXP_YEAR in facts.picklists:
        year = facts.pick(names.PM_EXP_YEAR, str(pm.exp_year))
        if year is None:
            return (f"expiry year {pm.exp_year} is not a value of the org's "
                    f"{names.PM_EXP_YEAR} picklist")
    values[names.PM_EXP_MONTH] = month
    values[names.PM_EXP_YEAR] = year
    return None


def _bank(pm: PaymentMethod, facts: OrgFacts, values: dict[str, Any],
          notes: list[str]) -> str | None:
    payment_type = facts.pick(names.PM_PAYMENT_TYPE, names.PAYMENT_TYPE_ACH)
    if payment_type is None:
        return f"the org's payment type picklist has no {names.PAYMENT_TYPE_ACH!r}"
    values[names.PM_PAYMENT_TYPE] = payment_type
    values[names.PM_BANK_NAME] = _fit(facts, names.PM_BANK_NAME, pm.bank_name, notes)
    # Stripe leaves the holder and account type out for some banks: individual checking is
    # what Stripe assumes then.
    kind = names.BANK_ACCOUNT_TYPES.get((pm.account_holder_type or "individual",
                                         pm.account_type or "checking"))
    picked = facts.pick(names.PM_BANK_ACCOUNT_TYPE, kind) if kind else None
    if kind and picked is None:
        notes.append(f"bank account type {kind!r} is not in the org's picklist; left empty")
    values[names.PM_BANK_ACCOUNT_TYPE] = picked
    return None
