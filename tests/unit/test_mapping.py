"""Specification of `sync_lambda.mapping`: a Stripe payment method → blng__PaymentMethod__c
field values. Every mapped field is written (None when Stripe has none), picklist values are the
org's own, a cut value is noted, and bad input becomes a quarantine reason or a note, never an
exception."""

from __future__ import annotations

from typing import Any

import pytest

from sync_lambda import names
from sync_lambda.mapping import Mapped, map_payment_method
from sync_lambda.models import Address, PaymentMethod
from tests.unit.core import FACTS, FIELDS, GATEWAY, PICKLISTS, bank, card, facts

ADDRESS_FIELDS = (names.PM_STREET, names.PM_STREET2, names.PM_CITY, names.PM_STATE,
                  names.PM_ZIP)


def _map(pm: PaymentMethod, **kw: Any) -> Mapped:
    return map_payment_method(pm, "cus_1", kw.pop("org", FACTS), FIELDS)


# -- what every payment method carries ---------------------------------------------------------
def test_a_card_carries_its_identity_gateway_token_and_card_facts() -> None:
    # GIVEN a Visa 4242 expiring 4/2030 WHEN mapped
    v = _map(card("pm_1")).values
    # THEN the row is keyed, tokenised, active, on the org's gateway, with the card's facts
    assert v[FIELDS.pm_external_id] == "pm_1"
    assert v[FIELDS.pm_customer] == "cus_1"
    assert v[names.PM_TOKEN] == "pm_1"
    assert v[names.PM_GATEWAY] == GATEWAY
    assert v[names.PM_ACTIVE] is True
    assert v[names.PM_PAYMENT_TYPE] == "Credit Card"
    assert v[names.PM_CARD_TYPE] == "Visa"
    assert v[names.PM_LAST4] == "4242"
    assert (v[names.PM_EXP_MONTH], v[names.PM_EXP_YEAR]) == ("04", "2030")
    assert names.PM_AUTOPAY not in v  # the planner decides AutoPay
    assert not names.PM_FORBIDDEN & set(v)


def test_every_mapped_field_is_present_even_without_a_value() -> None:
    v = _map(card()).values
    for field in (names.PM_NAME_ON_CARD, names.PM_COUNTRY, names.PM_EMAIL, *ADDRESS_FIELDS):
        assert field in v
        assert v[field] is None


def test_fields_the_org_lacks_are_left_out_but_the_keys_stay() -> None:
    org = facts(missing=frozenset({names.PM_CITY, names.PM_EMAIL}))
    v = _map(card(address=Address(city="Tokyo"), email="a@b.co"), org=org).values
    assert names.PM_CITY not in v
    assert names.PM_EMAIL not in v
    assert v[FIELDS.pm_external_id] == "pm_1"  # our own fields, whatever describe says


# -- field content --------------------------------------------------------------------------
def test_all_five_address_parts_are_written() -> None:
    pm = card(address=Address(line1="1 Main St", line2="Suite 2", city="Springfield",
                              state="IL", postal_code="62701"))
    v = _map(pm).values
    assert [v[f] for f in ADDRESS_FIELDS] == ["1 Main St", "Suite 2", "Springfield", "IL",
                                              "62701"]


@pytest.mark.parametrize(("field", "part", "length"), [
    (names.PM_STREET, "line1", 255), (names.PM_STREET2, "line2", 255),
    (names.PM_CITY, "city", 40), (names.PM_STATE, "state", 20),
    (names.PM_ZIP, "postal_code", 10)])
def test_an_address_part_longer_than_its_field_is_cut_and_noted(field: str, part: str,
                                                                length: int) -> None:
    # GIVEN a value one character longer than the org's field
    mapped = _map(card(address=Address(**{part: "x" * (length + 1)})))
    # THEN it is cut to the field's length and the report says so
    assert mapped.values[field] == "x" * length
    assert mapped.notes == (f"{field} cut to the field's {length} characters (Stripe has "
                            f"{length + 1})",)


def test_a_value_exactly_as_long_as_its_field_is_not_cut() -> None:
    mapped = _map(card(address=Address(city="x" * 40)))
    assert mapped.values[names.PM_CITY] == "x" * 40
    assert mapped.notes == ()


def test_a_field_with_no_known_length_is_not_cut() -> None:
    org = facts(lengths={})
    mapped = _map(card(address=Address(city="x" * 300), holder_name="y" * 300), org=org)
    assert mapped.values[names.PM_CITY] == "x" * 300
    assert mapped.notes == ()


def test_the_card_holder_goes_to_name_on_card() -> None:
    mapped = _map(card(holder_name="Ada Lovelace"))
    assert mapped.values[names.PM_NAME_ON_CARD] == "Ada Lovelace"
    assert names.PM_BANK_ACCOUNT_NAME not in mapped.values


def test_the_bank_account_holder_goes_to_bank_account_name_and_is_cut_to_it() -> None:
    mapped = _map(bank(holder_name="H" * 51), org=FACTS)
    assert mapped.values[names.PM_BANK_ACCOUNT_NAME] == "H" * 50
    assert names.PM_NAME_ON_CARD not in mapped.values
    assert mapped.notes == (f"{names.PM_BANK_ACCOUNT_NAME} cut to the field's 50 characters "
                            "(Stripe has 51)",)


@pytest.mark.parametrize(("email", "written"), [
    pytest.param("ada@example.com", "ada@example.com", id="valid"),
    pytest.param("a" * 68 + "@example.com", "a" * 68 + "@example.com", id="80-characters"),
    pytest.param("a" * 69 + "@example.com", None, id="81-characters"),
    pytest.param("not-an-email", None, id="no-at"),
    pytest.param("two@@example.com", None, id="two-ats"),
    pytest.param("ada@example", None, id="no-dot-in-domain"),
    pytest.param("ada lovelace@example.com", None, id="space"),
])
def test_the_billing_email_is_written_only_if_valid_and_whole(email: str,
                                                              written: str | None) -> None:
    mapped = _map(card(email=email))
    assert mapped.values[names.PM_EMAIL] == written
    if written is None:
        assert mapped.notes == ("billing email is not a valid email address of at most 80 "
                                "characters; left empty",)
    else:
        assert mapped.notes == ()


def test_the_billing_email_limit_is_the_orgs_field_length() -> None:
    org = facts(lengths={**facts().lengths, names.PM_EMAIL: 20})
    assert _map(card(email="a" * 8 + "@example.com"), org=org).values[names.PM_EMAIL] == \
        "a" * 8 + "@example.com"
    rejected = _map(card(email="a" * 9 + "@example.com"), org=org)
    assert rejected.values[names.PM_EMAIL] is None
    assert "at most 20 characters" in rejected.notes[0]


def test_an_email_field_without_a_known_length_holds_80() -> None:
    org = facts(lengths={})
    assert _map(card(email="a" * 69 + "@example.com"), org=org).values[names.PM_EMAIL] is None
    assert _map(card(email="a" * 68 + "@example.com"), org=org).values[names.PM_EMAIL]


# -- banks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("holder", "kind", "picklist_value"), [
    ("individual", "checking", "Checking"),
    ("individual", "savings", "Savings"),
    ("company", "checking", "Business Checking"),
    ("company", "savings", "Savings"),
    (None, None, "Checking"),
    ("company", None, "Business Checking"),
    (None, "savings", "Savings"),
])
def test_the_bank_account_type_matrix(holder: str | None, kind: str | None,
                                      picklist_value: str) -> None:
    v = _map(bank(account_holder_type=holder, account_type=kind)).values
    assert v[names.PM_BANK_ACCOUNT_TYPE] == picklist_value
    assert v[names.PM_PAYMENT_TYPE] == "ACH"


def test_a_bank_account_type_the_picklist_lacks_is_left_empty_with_a_note() -> None:
    org = facts(picklists={**PICKLISTS,
                           names.PM_BANK_ACCOUNT_TYPE: {"Checking": "Checking"}})
    mapped = _map(bank(account_holder_type="company", account_type="checking"), org=org)
    assert mapped.values[names.PM_BANK_ACCOUNT_TYPE] is None
    assert mapped.notes == ("bank account type 'Business Checking' is not in the org's "
                            "picklist; left empty",)


def test_an_unknown_bank_account_kind_is_left_empty_silently() -> None:
    mapped = _map(bank(account_holder_type="trust", account_type="checking"))
    assert mapped.values[names.PM_BANK_ACCOUNT_TYPE] is None
    assert mapped.notes == ()


def test_the_bank_name_is_written_and_cut() -> None:
    assert _map(bank(bank_name="STRIPE TEST BANK")).values[names.PM_BANK_NAME] == \
        "STRIPE TEST BANK"
    mapped = _map(bank(bank_name="B" * 31))
    assert mapped.values[names.PM_BANK_NAME] == "B" * 30
    assert mapped.notes == (f"{names.PM_BANK_NAME} cut to the field's 30 characters (Stripe "
                            "has 31)",)


def test_a_bank_carries_no_card_facts() -> None:
    v = _map(bank()).values
    for field in (names.PM_CARD_TYPE, names.PM_LAST4, names.PM_EXP_MONTH, names.PM_EXP_YEAR):
        assert field not in v


def test_an_org_without_ach_quarantines_banks() -> None:
    org = facts(picklists={**PICKLISTS,
                           names.PM_PAYMENT_TYPE: {"Credit Card": "Credit Card"}})
    assert _map(bank(), org=org).quarantine == "the org's payment type picklist has no 'ACH'"


# -- picklists: the org's values, found by value or label ----------------------------------
@pytest.mark.parametrize(("iso", "value"), [
    pytest.param("US", "US", id="by-value"), pytest.param("us", "US", id="lower-case"),
    pytest.param("JP", "JP", id="by-label"), pytest.param("GB", "GB", id="alias-UK")])
def test_the_country_is_the_picklist_value_not_the_label(iso: str, value: str) -> None:
    assert _map(card(address=Address(country=iso))).values[names.PM_COUNTRY] == value


@pytest.mark.parametrize(("iso", "labels", "value"), [
    ("US", {"USA-1": "United States of America"}, "USA-1"),
    ("US", {"usa": "USA"}, "usa"),
    ("GB", {"GB-1": "Great Britain"}, "GB-1"),
    ("KR", {"KR-1": "South Korea"}, "KR-1"),
    ("CZ", {"CZ-1": "Czech Republic"}, "CZ-1"),
    ("DE", {"DE-1": "Germany"}, "DE-1"),
])
def test_country_aliases_find_the_orgs_spelling(iso: str, labels: dict[str, str],
                                                value: str) -> None:
    org = facts(picklists={**PICKLISTS, names.PM_COUNTRY: labels})
    assert _map(card(address=Address(country=iso)), org=org).values[names.PM_COUNTRY] == value


def test_a_country_the_picklist_lacks_is_left_empty_with_a_note() -> None:
    mapped = _map(card(address=Address(country="ZZ")))
    assert mapped.values[names.PM_COUNTRY] is None
    assert mapped.notes == ("billing country 'ZZ' is not in the org's country picklist; left "
                            "empty",)


def test_an_org_whose_country_is_text_gets_the_english_name() -> None:
    org = facts(picklists={k: v for k, v in PICKLISTS.items()
                           if k != names.PM_COUNTRY})
    assert _map(card(address=Address(country="jp")), org=org).values[names.PM_COUNTRY] == \
        "Japan"
    assert _map(card(address=Address(country="ZZ")), org=org).values[names.PM_COUNTRY] == "ZZ"


def test_card_brands_are_matched_by_label_in_any_case() -> None:
    org = facts(picklists={**PICKLISTS, names.PM_CARD_TYPE: {
        "AMEX": "american express", "MC": "MASTERCARD"}})
    assert _map(card(brand="amex"), org=org).values[names.PM_CARD_TYPE] == "AMEX"
    assert _map(card(brand="MasterCard"), org=org).values[names.PM_CARD_TYPE] == "MC"


def test_expiry_month_matches_the_picklist_value_whatever_its_padding() -> None:
    org = facts(picklists={**PICKLISTS,
                           names.PM_EXP_MONTH: {"4": "April", " 5": "May", "x": "?"}})
    assert _map(card(month=4), org=org).values[names.PM_EXP_MONTH] == "4"
    assert _map(card(month=5), org=org).values[names.PM_EXP_MONTH] == " 5"


def test_an_org_without_expiry_picklists_gets_the_plain_values() -> None:
    org = facts(picklists={k: v for k, v in PICKLISTS.items()
                           if k not in (names.PM_EXP_MONTH, names.PM_EXP_YEAR)})
    v = _map(card(month=7, year=2049), org=org).values
    assert (v[names.PM_EXP_MONTH], v[names.PM_EXP_YEAR]) == ("07", "2049")


# -- quarantine: what cannot be imported says why -------------------------------------------
@pytest.mark.parametrize(("pm", "reason"), [
    pytest.param(card(brand="jcb"), "card brand 'jcb' (JCB) is not a value of the org's "
                 f"{names.PM_CARD_TYPE} picklist", id="brand-not-in-picklist"),
    pytest.param(card(brand="novus"), "card brand 'novus' (novus) is not a value",
                 id="brand-unknown-to-stripe-map"),
    pytest.param(card(brand="unknown"), "card brand is missing or unknown", id="unknown"),
    pytest.param(card(brand=None), "card brand is missing or unknown", id="no-brand"),
    pytest.param(card(brand=""), "card brand is missing or unknown", id="empty-brand"),
    pytest.param(card(last4=None), "card has no last four digits", id="no-last4"),
    pytest.param(card(last4="424"), "card has no last four digits", id="three-digits"),
    pytest.param(card(last4="42424"), "card has no last four digits", id="five-digits"),
    pytest.param(card(last4="42a2"), "card has no last four digits", id="not-digits"),
    pytest.param(card(month=None), "card has no expiry month or year", id="no-month"),
    pytest.param(card(year=None), "card has no expiry month or year", id="no-year"),
    pytest.param(card(month=13), "expiry month 13 is not a value of the org's "
                 f"{names.PM_EXP_MONTH} picklist", id="month-13"),
    pytest.param(card(year=2049), "expiry year 2049 is not a value of the org's "
                 f"{names.PM_EXP_YEAR} picklist", id="year-2049"),
    pytest.param(PaymentMethod("pm_1", "cus_1", "sepa_debit"),
                 "payment method type 'sepa_debit' is not imported", id="sepa"),
])
def test_what_cannot_be_imported_is_quarantined_with_its_reason(pm: PaymentMethod,
                                                                reason: str) -> None:
    mapped = _map(pm)
    assert mapped.quarantine is not None
    assert mapped.quarantine.startswith(reason)
    assert mapped.values == {}


def test_an_org_without_credit_card_quarantines_cards() -> None:
    org = facts(picklists={**PICKLISTS, names.PM_PAYMENT_TYPE: {"ACH": "ACH"}})
    assert _map(card(), org=org).quarantine == \
        "the org's payment type picklist has no 'Credit Card'"


def test_a_mapped_payment_method_has_no_quarantine() -> None:
    assert _map(card()).quarantine is None
    assert _map(bank()).quarantine is None


@pytest.mark.parametrize(("missing", "reason"), [
    (names.PM_CARD_TYPE, "card brand 'visa' (Visa) is not a value of the org's "
                         f"{names.PM_CARD_TYPE} picklist"),
    (names.PM_PAYMENT_TYPE, "the org's payment type picklist has no 'Credit Card'"),
])
def test_an_org_without_a_required_picklist_quarantines_with_a_reason(missing: str,
                                                                      reason: str) -> None:
    org = facts(picklists={k: v for k, v in PICKLISTS.items() if k != missing})
    assert _map(card(), org=org).quarantine == reason


def test_a_field_name_pointing_at_a_card_number_field_is_refused_outright() -> None:
    # GIVEN field names misconfigured onto the package's card number field (settings refuse
    # this too; the mapping is the last line of defence)
    wrong = type(FIELDS)(pm_external_id="blng__CardNumber__c")
    with pytest.raises(AssertionError, match=r"^never write card or bank numbers$"):
        map_payment_method(card(), "cus_1", FACTS, wrong)
