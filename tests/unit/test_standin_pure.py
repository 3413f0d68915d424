"""Pure parts of the stand-ins: ids, SOQL lexing and parsing, card brands, fault plans."""

from __future__ import annotations

import pytest

from devenv.salesforce import ids, soql
from devenv.salesforce.errors import SalesforceError
from devenv.salesforce.faults import FaultConfigError, FaultPlan
from devenv.stripe.extensions import card_brand, luhn_ok
from devenv.stripe.faults import StripeFaults


@pytest.mark.parametrize(("id15", "id18"), [
    # Known pairs from real orgs.
    ("001D000000IqhSL", "001D000000IqhSLIAZ"),
    ("0015000000Gv7qJ", "0015000000Gv7qJAAR"),
])
def test_checksum_suffix(id15: str, id18: str) -> None:
    assert ids.to_18(id15) == id18
    assert ids.is_valid(id18)
    assert not ids.is_valid(id18[:15] + "AAA")


def test_id_factory_is_unique_and_valid() -> None:
    f = ids.IdFactory()
    made = {f.new("001") for _ in range(1000)}
    assert len(made) == 1000
    assert all(ids.is_valid(i) and i.startswith("001") for i in made)


@pytest.mark.parametrize(("literal", "value"), [
    (r"'O\'Brien'", "O'Brien"),
    (r"'a\\b'", "a\\b"),
    (r"'line\nbreak'", "line\nbreak"),
    (r"'tab\Tx'", "tab\tx"),
    (r"'q\"q'", 'q"q'),
])
def test_string_escapes(literal: str, value: str) -> None:
    tok = soql.tokenize(literal)[0]
    assert (tok.kind, tok.value) == ("string", value)


@pytest.mark.parametrize("bad", [
    "SELECT FROM Account",
    "SELECT Id Account",
    "SELECT Id FROM Account WHERE Name = 'unterminated",
    "SELECT Id FROM Account WHERE Name = 'a\\zb'",
    "SELECT Id FROM Account LIMIT -1",
    "SELECT Id FROM Account WHERE (Name = 'a'",
    "SELECT Id FROM Account WHERE Name IN ()",
    "SELECT Id FROM Account ORDER BY",
    "SELECT Id FROM Account extra",
])
def test_malformed_queries(bad: str) -> None:
    with pytest.raises(SalesforceError) as exc:
        soql.parse(bad)
    assert exc.value.errors[0].code == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in exc.value.errors[0].message


def test_parse_tree() -> None:
    q = soql.parse("SELECT Id, blng__Account__r.Name FROM blng__PaymentMethod__c WHERE "
                   "(Active = true OR Name LIKE 'x%') AND Id NOT IN ('a') "
                   "ORDER BY Name DESC NULLS LAST LIMIT 5 OFFSET 2")
    assert [p.parts for p in q.fields] == [("Id",), ("blng__Account__r", "Name")]
    assert isinstance(q.where, soql.BoolOp) and q.where.op == "and"
    assert q.order_by[0].descending and q.order_by[0].nulls_last
    assert (q.limit, q.offset) == (5, 2)


@pytest.mark.parametrize(("number", "brand"), [
    ("4242424242424242", "visa"), ("5105105105105100", "mastercard"),
    ("2720999999999996", "mastercard"), ("371449635398431", "amex"),
    ("6011000990139424", "discover"), ("6500000000000002", "discover"),
    ("3056930009020004", "diners"), ("3530111333300000", "jcb"),
    ("6200000000000005", "unionpay"), ("9999999999999995", "unknown"),
])
def test_card_brands(number: str, brand: str) -> None:
    assert card_brand(number) == brand
    assert luhn_ok(number)


def test_luhn_rejects_a_typo() -> None:
    assert not luhn_ok("4242424242424241")


def test_salesforce_fault_plan_validation() -> None:
    with pytest.raises(FaultConfigError, match="rules\\[0\\] needs a 'route'"):
        FaultPlan.from_json({"rules": [{"error": "503"}]})
    plan = FaultPlan.from_json({"seed": 1, "rules": [{"route": "bulk", "latency_ms": 10}]})
    assert plan.decide("bulk.create").latency_s == 0.01
    assert plan.decide("rest.query").latency_s == 0.0


def test_stripe_rate_window() -> None:
    f = StripeFaults.from_json({"rate_limit_per_s": 2})
    # A sliding one-second window: a refused request does not take a slot.
    assert [f.rate_limited(now=t) for t in (0.0, 0.1, 0.2, 1.05, 1.1, 1.15)] == [
        False, False, True, False, False, True]
