"""Bulk API 2.0 ingest through simple-salesforce's bulk2 client: lifecycle, results, parent
references by external id, blank vs #N/A, faults."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceOperationError

from devenv.salesforce.schema import text

if TYPE_CHECKING:

    from devenv.salesforce import SalesforceStandIn
    from tests.conftest import SF

PM = "blng__PaymentMethod__c"


def _rows(text_csv: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text_csv)))


@pytest.fixture
def ext_ids(salesforce: SalesforceStandIn) -> None:
    """The external-id fields the import deploys (added directly: deploys are tested apart)."""
    org = salesforce.org
    org.add_field("Account", text("Stripe_Customer_Id__c", "Stripe Customer ID", 255,
                                  external_id=True, unique=True, case_sensitive=True))
    org.add_field(PM, text("Stripe_Payment_Method_Id__c", "Stripe Payment Method ID", 255,
                           external_id=True, unique=True, case_sensitive=True))


def test_insert_and_results(sf: SF) -> None:
    res = sf.bulk2.Account.insert(records=[{"Name": "A"}, {"Name": ""}, {"Name": "C"}], wait=0.05)
    assert res[0]["numberRecordsProcessed"] == 3
    assert res[0]["numberRecordsFailed"] == 1
    ok = _rows(sf.bulk2.Account.get_successful_records(res[0]["job_id"]))
    assert [r["Name"] for r in ok] == ["A", "C"]
    assert all(r["sf__Created"] == "true" and len(r["sf__Id"]) == 18 for r in ok)
    failed = _rows(sf.bulk2.Account.get_failed_records(res[0]["job_id"]))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are "
                                             "missing: [Name]")
    assert _rows(sf.bulk2.Account.get_unprocessed_records(res[0]["job_id"])) == []


def test_upsert_with_parent_reference_by_external_id(sf: SF, ext_ids: None) -> None:
    del ext_ids
    sf.bulk2.Account.upsert(records=[{"Stripe_Customer_Id__c": "cus_1", "Name": "One"}],
                            external_id_field="Stripe_Customer_Id__c", wait=0.05)
    res = sf.bulk2.blng__PaymentMethod__c.upsert(records=[
        {"Stripe_Payment_Method_Id__c": "pm_1", "blng__Account__r.Stripe_Customer_Id__c": "cus_1",
         "blng__PaymentType__c": "Credit Card", "blng__CardType__c": "Visa"},
        {"Stripe_Payment_Method_Id__c": "pm_2", "blng__Account__r.Stripe_Customer_Id__c": "cus_x",
         "blng__PaymentType__c": "Credit Card", "blng__CardType__c": "Visa"},
    ], external_id_field="Stripe_Payment_Method_Id__c", wait=0.05)
    assert res[0]["numberRecordsFailed"] == 1
    failed = _rows(sf.bulk2.blng__PaymentMethod__c.get_failed_records(res[0]["job_id"]))
    assert failed[0]["sf__Error"].startswith(
        "INVALID_FIELD:Foreign key external ID: cus_x not found for field Stripe_Customer_Id__c "
        "in entity Account")
    pm = sf.query("SELECT blng__Account__r.Stripe_Customer_Id__c FROM blng__PaymentMethod__c")
    assert pm["records"][0]["blng__Account__r"]["Stripe_Customer_Id__c"] == "cus_1"


def test_blank_is_unchanged_and_na_is_null(sf: SF, ext_ids: None) -> None:
    del ext_ids
    rid = sf.Account.create({"Name": "A", "Stripe_Customer_Id__c": "cus_1", "Phone": "123",
                             "Website": "https://a.example"})["id"]
    sf.bulk2.Account.update(records=[{"Id": rid, "Phone": "", "Website": "#N/A"}], wait=0.05)
    got = sf.Account.get(rid)
    assert (got["Phone"], got["Website"]) == ("123", None)


def test_update_of_master_detail_field_fails_per_row(sf: SF, ext_ids: None) -> None:
    del ext_ids
    a = sf.Account.create({"Name": "A", "Stripe_Customer_Id__c": "cus_a"})["id"]
    sf.Account.create({"Name": "B", "Stripe_Customer_Id__c": "cus_b"})
    sf.blng__PaymentMethod__c.create({"blng__Account__c": a, "blng__PaymentType__c": "ACH",
                                      "Stripe_Payment_Method_Id__c": "pm_1"})
    res = sf.bulk2.blng__PaymentMethod__c.upsert(records=[
        {"Stripe_Payment_Method_Id__c": "pm_1", "blng__Account__r.Stripe_Customer_Id__c": "cus_b"}],
        external_id_field="Stripe_Payment_Method_Id__c", wait=0.05)
    failed = _rows(sf.bulk2.blng__PaymentMethod__c.get_failed_records(res[0]["job_id"]))
    assert failed[0]["sf__Error"].startswith("INVALID_FIELD_FOR_INSERT_UPDATE:")


def test_unknown_column_fails_the_job(sf: SF) -> None:
    with pytest.raises(SalesforceOperationError, match="Field name not found : Nope__c"):
        sf.bulk2.Account.insert(records=[{"Name": "A", "Nope__c": "x"}], wait=0.05)


def test_delete_job(sf: SF) -> None:
    rid = sf.Account.create({"Name": "A"})["id"]
    res = sf.bulk2.Account.delete(records=[{"Id": rid}], wait=0.05)
    assert res[0]["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_job_info_and_state_rules(sf: SF, salesforce: SalesforceStandIn) -> None:
    base = f"{salesforce.url}/services/data/v59.0/jobs/ingest"
    h = {"Authorization": f"Bearer {sf.session_id}"}
    job = requests.post(base, json={"object": "Account", "operation": "insert",
                                    "lineEnding": "LF"}, headers=h, timeout=10).json()
    assert job["state"] == "Open" and job["contentUrl"].endswith("/batches")
    up = requests.put(f"{base}/{job['id']}/batches", data=b"Name\nA\n", timeout=10,
                      headers={**h, "Content-Type": "text/csv"})
    assert up.status_code == 201
    again = requests.put(f"{base}/{job['id']}/batches", data=b"Name\nB\n", timeout=10,
                         headers={**h, "Content-Type": "text/csv"})
    assert again.status_code == 400
    closed = requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=h,
                            timeout=10).json()
    assert closed["state"] in ("UploadComplete", "InProgress", "JobComplete")
    salesforce.bulk.join()
    info = requests.get(f"{base}/{job['id']}", headers=h, timeout=10).json()
    assert (info["state"], info["numberRecordsProcessed"]) == ("JobComplete", 1)
    bad = requests.post(base, json={"object": "Nope", "operation": "insert"}, headers=h,
                        timeout=10)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALIDJOB"
    listed = requests.get(base, headers=h, timeout=10).json()
    assert [j["id"] for j in listed["records"]] == [job["id"]]


def test_lock_errors_on_a_fraction_of_rows(sf: SF, admin: requests.Session) -> None:
    admin.put(admin.base + "/faults", json={"seed": 3, "bulk_lock_row_rate": 0.2})  # type: ignore[attr-defined]
    res = sf.bulk2.Account.insert(records=[{"Name": f"A{i}"} for i in range(500)], wait=0.05)
    failed = _rows(sf.bulk2.Account.get_failed_records(res[0]["job_id"]))
    assert 60 < len(failed) < 140
    assert all(f["sf__Error"].startswith("UNABLE_TO_LOCK_ROW:") for f in failed)
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 500 - len(failed)


def test_lock_faults_are_deterministic_by_seed(sf: SF, admin: requests.Session,
                                               salesforce: SalesforceStandIn) -> None:
    def failed_names() -> list[str]:
        salesforce.reset()
        admin.put(admin.base + "/faults", json={"seed": 11, "bulk_lock_row_rate": 0.1})  # type: ignore[attr-defined]
        res = sf.bulk2.Account.insert(records=[{"Name": f"A{i}"} for i in range(200)], wait=0.05)
        return [r["Name"] for r in _rows(sf.bulk2.Account.get_failed_records(res[0]["job_id"]))]

    assert failed_names() == failed_names()


def test_job_ending_failed_leaves_unprocessed_rows(sf: SF, admin: requests.Session
                                                   ) -> None:
    admin.put(admin.base + "/faults", json={"bulk_fail_jobs": 1})  # type: ignore[attr-defined]
    with pytest.raises(SalesforceOperationError, match="InternalServerError"):
        sf.bulk2.Account.insert(records=[{"Name": f"A{i}"} for i in range(10)], wait=0.05)
    job_id = admin.get(admin.base.replace("/_admin", "") + "/services/data/v59.0/jobs/ingest",  # type: ignore[attr-defined]
                       headers={"Authorization": f"Bearer {sf.session_id}"}).json()[
        "records"][0]["id"]
    done = _rows(sf.bulk2.Account.get_successful_records(job_id))
    rest = _rows(sf.bulk2.Account.get_unprocessed_records(job_id))
    assert len(done) == 5 and len(rest) == 5
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 5
    # The next job is not affected.
    assert sf.bulk2.Account.insert(records=[{"Name": "ok"}], wait=0.05)[0][
        "numberRecordsFailed"] == 0


def test_session_expiring_during_a_job(sf: SF, admin: requests.Session) -> None:
    # create + upload + close + poll(s) + result: the session dies part-way through.
    admin.put(admin.base + "/faults", json={"session_expires_after_calls": 3})  # type: ignore[attr-defined]
    with pytest.raises(SalesforceExpiredSession, match="INVALID_SESSION_ID"):
        sf.bulk2.Account.insert(records=[{"Name": "A"}], wait=0.05)


def test_a_bulk_query_job_returns_csv_a_page_at_a_time(salesforce: SalesforceStandIn,
                                                       sf: SF) -> None:
    """`sf data export bulk`: create a query job, wait, read the CSV pages by locator."""
    for i in range(5):
        sf.Account.create({"Name": f"Export {i}", "Description": "a, b" if i == 0 else None})
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sf.session_id}"
    base = f"{salesforce.url}/services/data/v59.0/jobs/query"
    job = s.post(base, json={"operation": "query", "query": "SELECT Id, Name, Description "
                             "FROM Account WHERE Name LIKE 'Export%' ORDER BY Name"},
                 timeout=10).json()
    assert (job["operation"], job["object"], job["state"]) == ("query", "Account",
                                                              "UploadComplete")
    assert s.get(f"{base}/{job['id']}", timeout=10).json()["state"] == "JobComplete"
    rows: list[dict[str, str]] = []
    locator: str | None = None
    pages = 0
    while locator != "null":
        params = {"maxRecords": "2", **({"locator": locator} if locator else {})}
        r = s.get(f"{base}/{job['id']}/results", params=params, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
        page = list(csv.DictReader(io.StringIO(r.text)))
        assert int(r.headers["Sforce-NumberOfRecords"]) == len(page)
        rows += page
        locator = r.headers["Sforce-Locator"]
        pages += 1
    assert pages == 3
    assert [r["Name"] for r in rows] == [f"Export {i}" for i in range(5)]
    assert rows[0]["Description"] == "a, b"  # quoted, as CSV requires
    assert rows[1]["Description"] == ""
    assert any(j["id"] == job["id"] for j in s.get(base, timeout=10).json()["records"])
    assert s.delete(f"{base}/{job['id']}", timeout=10).status_code == 204
    assert s.get(f"{base}/{job['id']}", timeout=10).status_code == 404


def test_a_bulk_query_flattens_relationships_and_refuses_bad_soql(
        salesforce: SalesforceStandIn, sf: SF) -> None:
    account = sf.Account.create({"Name": "Parent Co"})["id"]
    gateway = sf.query("SELECT Id FROM blng__PaymentGateway__c LIMIT 1")["records"][0]["Id"]
    sf.blng__PaymentMethod__c.create({"blng__Account__c": account, "blng__Active__c": True,
                                      "blng__PaymentGateway__c": gateway,
                                      "blng__PaymentType__c": "Credit Card"})
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sf.session_id}"
    base = f"{salesforce.url}/services/data/v59.0/jobs/query"
    job = s.post(base, timeout=10, json={
        "operation": "query", "query": "SELECT blng__Account__r.Name, blng__Active__c FROM "
                                       "blng__PaymentMethod__c"}).json()
    text = s.get(f"{base}/{job['id']}/results", timeout=10).text
    assert list(csv.reader(io.StringIO(text))) == [
        ["blng__Account__r.Name", "blng__Active__c"], ["Parent Co", "true"]]
    bad = s.post(base, json={"operation": "query", "query": "SELECT Nope FROM Account"},
                 timeout=10)
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALID_FIELD"
