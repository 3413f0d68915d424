"""SOQL over HTTP: operators, escaping exactly as Salesforce defines it, paging, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from tests.conftest import errors_of

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn
    from tests.conftest import SF

NASTY_NAMES = [
    "O'Brien & Sons",
    "Back\\slash Ltd",
    "100% Cotton_Co",
    "x' OR Name != '",
    "Zoë 🚀 Ünicode",
    'Quote "double" Inc',
    "Line\nBreak",
]


def _names(sf: SF, soql: str) -> list[str]:
    return [r["Name"] for r in sf.query_all(soql)["records"]]


@pytest.fixture
def accounts(sf: SF) -> list[str]:
    names = ["Acme", "acme", "Globex", "Initech", *NASTY_NAMES]
    sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Account"}, "Name": n, "AccountNumber": str(i),
         "Description": None if i % 2 else "even"} for i, n in enumerate(names)]})
    return names


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_escaped_values_match_literally(sf: SF, accounts: list[str], name: str) -> None:
    del accounts
    soql = format_soql("SELECT Name FROM Account WHERE Name = {}", name)
    assert _names(sf, soql) == [name]


def test_injection_attempt_is_a_literal(sf: SF, accounts: list[str]) -> None:
    del accounts
    # Unescaped, this value would widen the filter to every account.
    soql = format_soql("SELECT Name FROM Account WHERE Name = {}", "x' OR Name != '")
    assert _names(sf, soql) == ["x' OR Name != '"]


def test_like_with_escaped_wildcards(sf: SF, accounts: list[str]) -> None:
    del accounts
    assert _names(sf, format_soql("SELECT Name FROM Account WHERE Name LIKE '{:like}%'",
                                  "100% Cotton_")) == ["100% Cotton_Co"]
    # Unescaped % and _ are wildcards.
    assert _names(sf, "SELECT Name FROM Account WHERE Name LIKE 'A_me'") == ["Acme", "acme"]


def test_illegal_escape_is_malformed(sf: SF) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(r"SELECT Id FROM Account WHERE Name = 'a\qb'")
    assert errors_of(exc.value)[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest):
        sf.query(r"SELECT Id FROM Account WHERE Name = 'a\_b'")  # \_ only inside LIKE


def test_equality_is_case_insensitive(sf: SF, accounts: list[str]) -> None:
    del accounts
    assert _names(sf, "SELECT Name FROM Account WHERE Name = 'ACME' ORDER BY Name") == [
        "Acme", "acme"]


def test_operators_and_boolean_logic(sf: SF, accounts: list[str]) -> None:
    del accounts
    q = "SELECT Name FROM Account WHERE {} ORDER BY AccountNumber"
    assert _names(sf, q.format("Name IN ('Globex', 'Initech')")) == ["Globex", "Initech"]
    assert len(_names(sf, q.format("Name NOT IN ('Globex', 'Initech')"))) == 9
    # Text compares as text: '10' < '2'.
    assert _names(sf, q.format("AccountNumber < '2'")) == ["Acme", "acme", "Line\nBreak"]
    assert _names(sf, q.format("(Name = 'Acme' OR Name = 'Globex') AND AccountNumber != '0'")
                  ) == ["acme", "Globex"]
    not_a = _names(sf, q.format("NOT Name LIKE 'a%'"))
    assert "Globex" in not_a and "Acme" not in not_a and "acme" not in not_a
    assert len(_names(sf, q.format("Description = null"))) == 5
    assert len(_names(sf, q.format("Description != NULL"))) == 6


def test_mixing_and_or_needs_parentheses(sf: SF) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'")
    assert "unexpected token: 'OR'" in errors_of(exc.value)[0]["message"]


def test_order_by_nulls_limit_offset_count(sf: SF, accounts: list[str]) -> None:
    del accounts
    desc = _names(sf, "SELECT Name FROM Account ORDER BY Name DESC LIMIT 2")
    assert desc == ["Zoë 🚀 Ünicode", "x' OR Name != '"]
    # AccountNumber is text: '0' < '1' < '10' < '2'.
    assert _names(sf, "SELECT Name FROM Account ORDER BY AccountNumber LIMIT 2 OFFSET 1") == [
        "acme", "Line\nBreak"]
    first = _names(sf, "SELECT Name FROM Account ORDER BY Description NULLS FIRST LIMIT 1")
    assert first == ["acme"]
    assert sf.query("SELECT COUNT() FROM Account WHERE Name LIKE '%e%'")["totalSize"] == 9
    agg = sf.query("SELECT COUNT(Description) FROM Account")["records"][0]
    assert agg["expr0"] == 6


def test_parent_relationship_fields(sf: SF) -> None:
    acct = sf.Account.create({"Name": "Parent"})["id"]
    sf.blng__PaymentMethod__c.create({"blng__Account__c": acct,
                                      "blng__PaymentType__c": "Credit Card"})
    rec = sf.query("SELECT Id, blng__Account__r.Name, blng__PaymentGateway__r.Name FROM "
                   "blng__PaymentMethod__c WHERE blng__Account__r.Name = 'Parent'")["records"][0]
    assert rec["blng__Account__r"]["Name"] == "Parent"
    assert rec["blng__Account__r"]["attributes"]["type"] == "Account"
    assert rec["blng__PaymentGateway__r"] is None


def test_unknown_field_object_and_relationship(sf: SF) -> None:
    for soql, code in [("SELECT Nope__c FROM Account", "INVALID_FIELD"),
                       ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
                       ("SELECT Nope__r.Name FROM Account", "INVALID_FIELD"),
                       ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
                       ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD")]:
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.query(soql)
        assert errors_of(exc.value)[0]["errorCode"] == code, soql


def test_paging_follows_next_records_url(sf: SF, salesforce: SalesforceStandIn) -> None:
    with salesforce.org.lock:
        for i in range(4500):
            salesforce.org.insert("Account", {"Name": f"A{i:05d}"})
    first = sf.query("SELECT Name FROM Account ORDER BY Name")
    assert (first["totalSize"], len(first["records"]), first["done"]) == (4500, 2000, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    everything = sf.query_all("SELECT Name FROM Account ORDER BY Name")["records"]
    assert [r["Name"] for r in everything] == [f"A{i:05d}" for i in range(4500)]
    counters = salesforce.counters_json()["routes"]
    assert counters["rest.query"] == 1 + 3  # first page + the three pages of query_all


def test_batch_size_header(sf: SF, salesforce: SalesforceStandIn) -> None:
    with salesforce.org.lock:
        for i in range(450):
            salesforce.org.insert("Account", {"Name": f"A{i}"})
    sf.headers["Sforce-Query-Options"] = "batchSize=200"
    page = sf.query("SELECT Id FROM Account")
    assert len(page["records"]) == 200


def test_in_list_of_200_external_ids_uses_the_index(sf: SF,
                                                    salesforce: SalesforceStandIn) -> None:
    from devenv.salesforce.schema import text

    salesforce.org.add_field("Account", text("Stripe_Customer_Id__c", "Stripe Customer ID", 255,
                                             external_id=True, unique=True, case_sensitive=True))
    with salesforce.org.lock:
        for i in range(1000):
            salesforce.org.insert("Account", {"Name": f"A{i}",
                                              "Stripe_Customer_Id__c": f"cus_{i:06d}"})
    wanted = [f"cus_{i:06d}" for i in range(0, 1000, 5)]
    soql = format_soql("SELECT Id, Stripe_Customer_Id__c FROM Account WHERE "
                       "Stripe_Customer_Id__c IN {}", wanted)
    got = [r["Stripe_Customer_Id__c"] for r in sf.query(soql)["records"]]
    assert got == wanted


def test_uri_over_16kb_is_414(sf: SF, salesforce: SalesforceStandIn) -> None:
    ids = [f"cus_{i:020d}" for i in range(700)]
    soql = format_soql("SELECT Id FROM Account WHERE Name IN {}", ids)
    r = requests.get(salesforce.url + "/services/data/v59.0/query/", params={"q": soql},
                     headers={"Authorization": f"Bearer {sf.session_id}"}, timeout=10)
    assert r.status_code == 414


def test_query_all_sees_the_recycle_bin(sf: SF) -> None:
    rid = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(rid)
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
    assert sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == 1
