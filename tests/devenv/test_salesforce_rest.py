"""REST API of the Salesforce stand-in through simple-salesforce: describe, CRUD, upsert,
sObject Collections, errors and limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.conftest import errors_of

if TYPE_CHECKING:
    import requests

    from devenv.salesforce import SalesforceStandIn
    from tests.conftest import SF

PM = "blng__PaymentMethod__c"


def _field(describe: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in describe["fields"] if f["name"] == name)


def _gateway_id(sf: SF) -> str:
    return str(sf.query("SELECT Id FROM blng__PaymentGateway__c WHERE Name = 'Stripe'")
               ["records"][0]["Id"])


def _error_code(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(errors_of(exc.value)[0]["errorCode"])


def test_payment_method_describe_matches_the_billing_package(sf: SF) -> None:
    d = sf.blng__PaymentMethod__c.describe()
    account = _field(d, "blng__Account__c")
    assert account["type"] == "reference"
    assert account["referenceTo"] == ["Account"]
    assert account["relationshipName"] == "blng__Account__r"
    assert (account["createable"], account["updateable"], account["nillable"]) == (
        True, False, False)
    token = _field(d, "blng__PaymentGatewayToken__c")
    assert (token["type"], token["length"], token["externalId"], token["unique"]) == (
        "string", 100, False, False)
    card_type = _field(d, "blng__CardType__c")
    assert card_type["restrictedPicklist"] is True
    assert [v["value"] for v in card_type["picklistValues"]] == [
        "American Express", "Discover", "Mastercard", "Visa"]
    assert _field(d, "blng__PaymentType__c")["nillable"] is False
    assert _field(d, "blng__Active__c")["defaultValue"] is True
    assert _field(d, "blng__AutoPay__c")["defaultValue"] is False
    years = [v["value"] for v in _field(d, "blng__CardExpirationYear__c")["picklistValues"]]
    assert years[0] == "2020" and years[-1] == "2040"


def test_billing_org_out_of_the_box(sf: SF) -> None:
    gw = sf.query("SELECT Name, blng__Active__c, blng__GatewayType__c FROM "
                  "blng__PaymentGateway__c")["records"]
    assert [(g["Name"], g["blng__Active__c"], g["blng__GatewayType__c"]) for g in gw] == [
        ("Stripe", True, "Stripe (Universal Extension)")]
    batch = sf.query("SELECT blng__Category__c, blng__NumberValue__c FROM "
                     "blng__BillingConfig__c WHERE Name = 'PAYMENT_CREATION_BATCH_SIZE'")
    assert batch["records"][0]["blng__Category__c"] == "Payment"
    assert batch["records"][0]["blng__NumberValue__c"] == 50.0
    assert sf.blng__BillingConfig__c.describe()["customSetting"] is True


def test_create_get_update_delete(sf: SF) -> None:
    created = sf.Account.create({"Name": "Acme"})
    assert created["success"] is True and created["errors"] == []
    rid = created["id"]
    assert len(rid) == 18
    assert sf.Account.get(rid)["Name"] == "Acme"
    assert sf.Account.get(rid[:15])["Id"] == rid  # 15-character ids work too
    assert sf.Account.update(rid, {"Name": "Acme Corp"}) == 204
    assert sf.Account.get(rid)["Name"] == "Acme Corp"
    assert sf.Account.delete(rid) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(rid)
    deleted = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True


def _add_external_id(salesforce: SalesforceStandIn, *, unique: bool = True) -> None:
    from devenv.salesforce.schema import text

    salesforce.org.add_field("Account", text("Stripe_Customer_Id__c", "Stripe Customer ID", 255,
                                             external_id=True, unique=unique,
                                             case_sensitive=True))


def test_upsert_by_external_id_201_then_204(sf: SF, salesforce: SalesforceStandIn
                                            ) -> None:
    _add_external_id(salesforce)
    assert sf.Account.upsert("Stripe_Customer_Id__c/cus_1", {"Name": "A"}) == 201
    assert sf.Account.upsert("Stripe_Customer_Id__c/cus_1", {"Name": "B"}) == 204
    raw = sf.Account.upsert("Stripe_Customer_Id__c/cus_2", {"Name": "C"}, raw_response=True)
    assert raw.status_code == 201
    assert raw.json()["created"] is True
    got = sf.Account.get_by_custom_id("Stripe_Customer_Id__c", "cus_1")
    assert got["Name"] == "B"
    # Case-sensitive external id: CUS_1 is another customer.
    assert sf.Account.upsert("Stripe_Customer_Id__c/CUS_1", {"Name": "D"}) == 201


def test_upsert_with_two_matches_is_300(sf: SF, salesforce: SalesforceStandIn) -> None:
    _add_external_id(salesforce, unique=False)
    sf.Account.create({"Name": "A", "Stripe_Customer_Id__c": "cus_dup"})
    sf.Account.create({"Name": "B", "Stripe_Customer_Id__c": "cus_dup"})
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Account.upsert("Stripe_Customer_Id__c/cus_dup", {"Name": "C"})
    assert len(errors_of(exc.value)) == 2


@pytest.mark.parametrize(("obj", "body", "code", "fields"), [
    pytest.param("Account", {}, "REQUIRED_FIELD_MISSING", ["Name"], id="required"),
    pytest.param("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", ["Name"], id="too-long"),
    pytest.param("Account", {"Name": "A", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"],
                 id="unknown-field"),
    pytest.param("Account", {"Name": "A", "CreatedDate": "2020-01-01T00:00:00Z"},
                 "INVALID_FIELD_FOR_INSERT_UPDATE", ["CreatedDate"], id="read-only"),
    pytest.param(PM, {"blng__Account__c": "001000000000000AAA",
                      "blng__PaymentType__c": "Credit Card"},
                 "INVALID_CROSS_REFERENCE_KEY", ["blng__Account__c"], id="bad-reference"),
    pytest.param(PM, {"blng__Account__c": "not-an-id", "blng__PaymentType__c": "Credit Card"},
                 "MALFORMED_ID", ["blng__Account__c"], id="malformed-reference"),
    pytest.param("blng__BillingConfig__c", {"Name": "X", "blng__NumberValue__c": "many"},
                 "INVALID_TYPE_ON_FIELD_IN_RECORD", ["blng__NumberValue__c"], id="bad-number"),
])
def test_record_errors(sf: SF, obj: str, body: dict[str, Any], code: str,
                       fields: list[str]) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(sf, obj).create(body)
    assert _error_code(exc) == code
    assert errors_of(exc.value)[0]["fields"] == fields
    assert errors_of(exc.value)[0]["message"]


def test_restricted_picklist_and_autopay_rule(sf: SF) -> None:
    acct = sf.Account.create({"Name": "Acme"})["id"]
    base = {"blng__Account__c": acct, "blng__PaymentType__c": "Credit Card",
            "blng__PaymentGateway__c": _gateway_id(sf)}
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.blng__PaymentMethod__c.create({**base, "blng__CardType__c": "JCB"})
    assert _error_code(exc) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "JCB" in errors_of(exc.value)[0]["message"]
    first = sf.blng__PaymentMethod__c.create({**base, "blng__AutoPay__c": True})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.blng__PaymentMethod__c.create({**base, "blng__AutoPay__c": True})
    assert _error_code(exc) == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    # Clearing the old autopay first, then setting the new one, is the documented way.
    second = sf.blng__PaymentMethod__c.create(base)["id"]
    sf.blng__PaymentMethod__c.update(first, {"blng__AutoPay__c": False})
    sf.blng__PaymentMethod__c.update(second, {"blng__AutoPay__c": True})
    pm = sf.blng__PaymentMethod__c.get(first)
    assert pm["Name"].startswith("PM-")
    assert pm["blng__Active__c"] is True


def test_master_detail_account_is_not_updateable(sf: SF) -> None:
    a = sf.Account.create({"Name": "A"})["id"]
    b = sf.Account.create({"Name": "B"})["id"]
    pm = sf.blng__PaymentMethod__c.create({"blng__Account__c": a,
                                           "blng__PaymentType__c": "Credit Card"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.blng__PaymentMethod__c.update(pm, {"blng__Account__c": b})
    assert _error_code(exc) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    # Deleting the master deletes its details (cascade), as master-detail does.
    sf.Account.delete(a)
    assert sf.query("SELECT COUNT() FROM blng__PaymentMethod__c")["totalSize"] == 0


def test_duplicate_value_on_unique_field(sf: SF, salesforce: SalesforceStandIn) -> None:
    _add_external_id(salesforce)
    sf.Account.create({"Name": "A", "Stripe_Customer_Id__c": "cus_1"})
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Account.create({"Name": "B", "Stripe_Customer_Id__c": "cus_1"})
    assert _error_code(exc) == "DUPLICATE_VALUE"


def test_not_found_shapes(sf: SF) -> None:
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Account.get("001000000000000AAA")
    assert _error_code(exc) == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.describe()


def test_collections_create_update_upsert_delete(sf: SF,
                                                 salesforce: SalesforceStandIn) -> None:
    _add_external_id(salesforce)
    created = sf.restful("composite/sobjects", method="POST", json={
        "allOrNone": False, "records": [
            {"attributes": {"type": "Account"}, "Name": "A"},
            {"attributes": {"type": "Account"}},  # missing Name
        ]})
    assert created[0]["success"] is True
    assert created[1]["success"] is False
    assert created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Account"}, "Id": created[0]["id"], "Name": "A2"}]})
    assert updated == [{"id": created[0]["id"], "success": True, "errors": []}]
    upserted = sf.restful("composite/sobjects/Account/Stripe_Customer_Id__c", method="PATCH",
                          json={"records": [
                              {"attributes": {"type": "Account"},
                               "Stripe_Customer_Id__c": "cus_1", "Name": "X"},
                              {"attributes": {"type": "Account"},
                               "Stripe_Customer_Id__c": "cus_1", "Name": "Y"}]})
    assert [r["created"] for r in upserted] == [True, False]
    gone = sf.restful("composite/sobjects", method="DELETE",
                      params={"ids": created[0]["id"], "allOrNone": "false"})
    assert gone[0]["success"] is True
    assert sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "Y"


def test_collections_all_or_none_rolls_back(sf: SF) -> None:
    result = sf.restful("composite/sobjects", method="POST", json={
        "allOrNone": True, "records": [
            {"attributes": {"type": "Account"}, "Name": "A"},
            {"attributes": {"type": "Account"}, "Name": "x" * 300}]})
    assert result[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert result[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_collections_limit_is_200(sf: SF) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert _error_code(exc) == "EXCEEDED_ID_LIMIT"
    ok = sf.restful("composite/sobjects", method="POST", json={"records": records[:200]})
    assert all(r["success"] for r in ok)


def test_limits_and_limit_header(sf: SF, salesforce: SalesforceStandIn) -> None:
    sf.query("SELECT Id FROM Account")
    limits = sf.limits()
    daily = limits["DailyApiRequests"]
    assert daily["Max"] == salesforce.org.profile.daily_api_limit
    assert daily["Remaining"] == daily["Max"] - 2
    assert sf.api_usage["api-usage"].used == 2


def test_daily_limit_exhausted_is_request_limit_exceeded(salesforce: SalesforceStandIn,
                                                         admin: requests.Session) -> None:
    from tests.conftest import session_id

    admin.post(admin.base + "/reset", json={"profile": {"daily_api_limit": 2}}).raise_for_status()  # type: ignore[attr-defined]
    sf = Salesforce(session_id=session_id(salesforce), instance_url=salesforce.url)
    sf.query("SELECT Id FROM Account")
    sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM Account")
    assert exc.value.status == 403
    assert errors_of(exc.value) == [{"message": "TotalRequests Limit exceeded.",
                                     "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    # The refusal reports usage too, above the limit, and the per-app figure after it.
    raw = sf.session.get(f"{salesforce.url}/services/data/v59.0/limits",
                         headers={"Authorization": f"Bearer {sf.session_id}"}, timeout=10)
    assert raw.status_code == 403
    assert raw.headers["Sforce-Limit-Info"].startswith("api-usage=4/2; per-app-api-usage=")


def test_admin_sets_the_days_usage(salesforce: SalesforceStandIn,
                                   admin: requests.Session) -> None:
    from tests.conftest import session_id

    r = admin.post(admin.base + "/api-usage", json={"used": 99_000, "limit": 100_000})  # type: ignore[attr-defined]
    assert r.json() == {"used": 99_000, "limit": 100_000}
    sf = Salesforce(session_id=session_id(salesforce), instance_url=salesforce.url)
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 99_001
    assert sf.api_usage["api-usage"].total == 100_000
    assert admin.post(admin.base + "/api-usage", json={"used": -1}).status_code == 400  # type: ignore[attr-defined]


def test_every_call_is_counted_per_route(sf: SF, admin: requests.Session) -> None:
    sf.Account.create({"Name": "A"})
    sf.query("SELECT Id FROM Account")
    sf.Account.describe()
    counters = admin.get(admin.base + "/counters").json()  # type: ignore[attr-defined]
    assert counters["routes"] == {"rest.sobject": 1, "rest.query": 1, "rest.describe": 1,
                                  "auth.token": 1}
    assert counters["categories"] == {"rest": 3, "auth": 1}
    assert counters["api_requests"] == 3


def test_admin_seed_and_dump(admin: requests.Session) -> None:
    base = admin.base  # type: ignore[attr-defined]
    r = admin.post(base + "/seed", json={"records": [
        {"type": "Account", "fields": {"Name": "Seeded"}},
        {"type": "Account", "fields": {}}]})
    assert r.status_code == 400
    assert r.json()["results"][1]["errors"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    dump = admin.get(base + "/records/Account").json()["records"]
    assert [a["Name"] for a in dump] == ["Seeded"]
    assert admin.get(base + "/records/Nope").status_code == 404
