"""What the Salesforce CLI (`sf`) needs of the stand-in org beyond what the project's own clients
use: chunked request bodies, the OpenID Connect UserInfo endpoint, the Organization fields every
CLI command reads. Through real clients, and raw HTTP where a client cannot produce the shape."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests

from tests.conftest import SF, session_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devenv.salesforce import SalesforceStandIn


def _connection(salesforce: SalesforceStandIn) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    parts = urlsplit(salesforce.url)
    return http.client.HTTPSConnection(parts.hostname or "", parts.port, context=ctx,
                                       timeout=10)


def test_a_chunked_body_is_read_and_the_connection_stays_usable(
        salesforce: SalesforceStandIn) -> None:
    conn = _connection(salesforce)
    form = (f"grant_type=client_credentials&client_id={salesforce.app.consumer_key}"
            f"&client_secret={salesforce.app.consumer_secret}").encode()

    def chunks() -> Iterator[bytes]:  # as the CLI streams its token POST
        yield form[:17]
        yield form[17:]

    conn.request("POST", "/services/oauth2/token", body=chunks(), encode_chunked=True,
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Transfer-Encoding": "chunked"})
    token = conn.getresponse()
    assert token.status == 200
    access = json.loads(token.read())["access_token"]
    # The same keep-alive connection: no leftover chunk bytes in front of this request.
    conn.request("GET", "/services/data/v59.0/limits",
                 headers={"Authorization": f"Bearer {access}"})
    limits = conn.getresponse()
    assert limits.status == 200
    assert "DailyApiRequests" in json.loads(limits.read())
    conn.close()


def test_a_chunked_bulk_upload_is_ingested(salesforce: SalesforceStandIn) -> None:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {session_id(salesforce)}"
    base = f"{salesforce.url}/services/data/v59.0/jobs/ingest"
    job = s.post(base, json={"object": "Account", "operation": "insert",
                             "contentType": "CSV", "lineEnding": "LF"}, timeout=10).json()
    # A generator body: requests sends it with Transfer-Encoding: chunked, as the CLI does.
    upload = s.put(f"{base}/{job['id']}/batches", timeout=10,
                   data=iter([b"Name\n", b"Chunked One\n", b"Chunked Two\n"]),
                   headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201
    s.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, timeout=10)
    for _ in range(100):
        info = s.get(f"{base}/{job['id']}", timeout=10).json()
        if info["state"] in ("JobComplete", "Failed"):
            break
        time.sleep(0.05)
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete", 2, 0)


def test_userinfo_names_the_user_and_the_org(salesforce: SalesforceStandIn, sf: SF) -> None:
    token = session_id(salesforce)
    r = requests.get(f"{salesforce.url}/services/oauth2/userinfo", timeout=10,
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    info = r.json()
    assert info["organization_id"] == salesforce.org.profile.org_id
    assert info["preferred_username"] == salesforce.deploy_app.username
    assert info["sub"].endswith(f"/id/{info['organization_id']}/{info['user_id']}")
    assert info["urls"]["rest"].startswith(salesforce.url + "/services/data/v")
    # … and the user it names can be read, as the CLI does next.
    assert sf.User.get(info["user_id"])["Username"] == salesforce.deploy_app.username
    bad = requests.get(f"{salesforce.url}/services/oauth2/userinfo", timeout=10,
                       headers={"Authorization": "Bearer not-a-token"})
    assert (bad.status_code, bad.text) == (403, "Bad_OAuth_Token")


def test_the_organization_fields_every_cli_command_reads(sf: SF) -> None:
    rows = sf.query("SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, "
                    "NamespacePrefix FROM Organization")["records"]
    assert len(rows) == 1
    assert rows[0]["IsSandbox"] is True
    assert (rows[0]["TrialExpirationDate"], rows[0]["NamespacePrefix"]) == (None, None)


def test_columns_true_describes_the_columns_relationships_joined(
        salesforce: SalesforceStandIn, sf: SF) -> None:
    account = sf.Account.create({"Name": "Columns Inc"})["id"]
    gateway = sf.query("SELECT Id FROM blng__PaymentGateway__c LIMIT 1")["records"][0]["Id"]
    sf.blng__PaymentMethod__c.create({"blng__Account__c": account,
                                      "blng__PaymentGateway__c": gateway,
                                      "blng__PaymentType__c": "Credit Card"})
    soql = ("SELECT Id, blng__Active__c, blng__Account__r.Name, blng__Account__r.Id "
            "FROM blng__PaymentMethod__c")
    r = requests.get(f"{salesforce.url}/services/data/v59.0/query", timeout=10,
                     params={"q": soql, "columns": "true"},
                     headers={"Authorization": f"Bearer {session_id(salesforce)}"})
    assert r.status_code == 200
    meta = r.json()
    assert (meta["entityName"], meta["idSelected"], meta["groupBy"]) == (
        "blng__PaymentMethod__c", True, False)
    cols = {c["columnName"]: c for c in meta["columnMetadata"]}
    assert list(cols) == ["Id", "blng__Active__c", "blng__Account__r"]
    assert cols["blng__Active__c"]["booleanType"] is True
    assert [j["columnName"] for j in cols["blng__Account__r"]["joinColumns"]] == ["Name", "Id"]
    # … then the rows, as the CLI asks next.
    rows = sf.query(soql)["records"]
    assert rows[0]["blng__Account__r"]["Name"] == "Columns Inc"
    count = requests.get(f"{salesforce.url}/services/data/v59.0/query", timeout=10,
                         params={"q": "SELECT COUNT() FROM Account", "columns": "true"},
                         headers={"Authorization": f"Bearer {session_id(salesforce)}"}).json()
    assert count["columnMetadata"][0]["aggregate"] is True


def test_an_sobject_tree_creates_parents_with_children_all_or_none(
        salesforce: SalesforceStandIn, sf: SF) -> None:
    """`sf data import tree`: POST /composite/tree/{sobject}."""
    gateway = sf.query("SELECT Id FROM blng__PaymentGateway__c LIMIT 1")["records"][0]["Id"]
    rel = next(r["relationshipName"] for r in sf.Account.describe()["childRelationships"]
               if r["childSObject"] == "blng__PaymentMethod__c")
    url = f"{salesforce.url}/services/data/v59.0/composite/tree/Account"
    headers = {"Authorization": f"Bearer {session_id(salesforce)}"}
    tree = {"records": [{
        "attributes": {"type": "Account", "referenceId": "acme"}, "Name": "Tree Acme",
        rel: {"records": [{"attributes": {"type": "blng__PaymentMethod__c",
                                          "referenceId": "acme-card"},
                           "blng__PaymentGateway__c": gateway,
                           "blng__PaymentType__c": "Credit Card"}]}}]}
    r = requests.post(url, json=tree, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    ids = {x["referenceId"]: x["id"] for x in r.json()["results"]}
    assert set(ids) == {"acme", "acme-card"}
    card = sf.blng__PaymentMethod__c.get(ids["acme-card"])
    assert card["blng__Account__c"] == ids["acme"]
    # One bad child: nothing of the tree is created.
    before = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    bad = {"records": [{**tree["records"][0], "Name": "Tree Two",
                        rel: {"records": [{"attributes": {"type": "blng__PaymentMethod__c",
                                                          "referenceId": "bad"},
                                           "blng__PaymentType__c": "Barter"}]}}]}
    r = requests.post(url, json=bad, headers=headers, timeout=10)
    assert r.status_code == 400
    assert r.json()["hasErrors"] is True
    assert r.json()["results"][0]["referenceId"] == "bad"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == before
