"""Metadata API of the stand-in through simple-salesforce: deploy changes the org, validation +
quick deploy, per-file component failures, faults during polling."""

from __future__ import annotations

import base64
import io
import re
import time
import zipfile
from typing import TYPE_CHECKING, Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceGeneralError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devenv.salesforce import SalesforceStandIn
    from tests.conftest import SF

NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'
XSI = ('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
       'xmlns:xsd="http://www.w3.org/2001/XMLSchema"')

ACCOUNT_FIELD = f"""<?xml version="1.0" encoding="UTF-8"?>
<CustomObject {NS}>
  <fields>
    <fullName>Stripe_Customer_Id__c</fullName>
    <label>Stripe Customer ID</label>
    <type>Text</type>
    <length>255</length>
    <externalId>true</externalId>
    <unique>true</unique>
    <caseSensitive>true</caseSensitive>
  </fields>
</CustomObject>"""
PERMSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<PermissionSet {NS}>
  <label>Stripe Sync Integration</label>
  <fieldPermissions><editable>true</editable><field>Account.Stripe_Customer_Id__c</field>
    <readable>true</readable></fieldPermissions>
  <objectPermissions><allowCreate>true</allowCreate><allowDelete>false</allowDelete>
    <allowEdit>true</allowEdit><allowRead>true</allowRead>
    <object>blng__PaymentMethod__c</object></objectPermissions>
</PermissionSet>"""
MDT_TYPE = f"""<?xml version="1.0" encoding="UTF-8"?>
<CustomObject {NS}>
  <label>Sync Release</label>
  <pluralLabel>Sync Releases</pluralLabel>
  <visibility>Public</visibility>
  <fields><fullName>Content_Hash__c</fullName><label>Content Hash</label><type>Text</type>
    <length>64</length></fields>
  <fields><fullName>Batch_Size__c</fullName><label>Batch Size</label><type>Number</type>
    <precision>3</precision><scale>0</scale></fields>
</CustomObject>"""
MDT_RECORD = f"""<?xml version="1.0" encoding="UTF-8"?>
<CustomMetadata {NS} {XSI}>
  <label>Current</label>
  <protected>false</protected>
  <values><field>Content_Hash__c</field><value xsi:type="xsd:string">abc123</value></values>
  <values><field>Batch_Size__c</field><value xsi:type="xsd:double">70</value></values>
</CustomMetadata>"""


def package(types: Mapping[str, list[str]]) -> str:
    body = "".join(f"<types>{''.join(f'<members>{m}</members>' for m in members)}"
                   f"<name>{name}</name></types>" for name, members in types.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><Package {NS}>{body}<version>59.0</version>' \
           "</Package>"


def zipped(files: Mapping[str, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    buf.seek(0)
    return buf


FULL = {
    "package.xml": package({
        "CustomField": ["Account.Stripe_Customer_Id__c"],
        "CustomObject": ["Sync_Release__mdt"],
        "PermissionSet": ["Stripe_Sync_Integration"],
        "CustomMetadata": ["Sync_Release.Current"]}),
    "objects/Account.object": ACCOUNT_FIELD,
    "objects/Sync_Release__mdt.object": MDT_TYPE,
    "permissionsets/Stripe_Sync_Integration.permissionset": PERMSET,
    "customMetadata/Sync_Release.Current.md": MDT_RECORD,
}


def deploy(sf: SF, files: Mapping[str, str], **opts: Any) -> dict[str, Any]:
    """Deploy and poll to completion, as a deployer would."""
    started = sf.deploy(zipped(files), sandbox=True, **{"rollbackOnError": True, **opts})
    sf._generate_headers()  # simple-salesforce leaks SOAP headers into later REST calls
    return wait(sf, started["asyncId"])


def wait(sf: SF, async_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = sf.checkDeployStatus(async_id)
        sf._generate_headers()
        if status["state"] in ("Succeeded", "SucceededPartial", "Failed", "Canceled"):
            return status
        assert time.monotonic() < deadline, f"deploy still {status['state']}"
        time.sleep(0.02)


def test_deploy_changes_the_org(sf: SF) -> None:
    result = deploy(sf, FULL)
    assert result["state"] == "Succeeded", result
    # Salesforce counts each field as a component: 1 + 1 type + 2 type fields + 1 + 1 record.
    assert result["deployment_detail"]["deployed_count"] == "6"
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    f = fields["Stripe_Customer_Id__c"]
    assert (f["externalId"], f["unique"], f["caseSensitive"], f["length"]) == (True, True, True,
                                                                               255)
    assert sf.Account.upsert("Stripe_Customer_Id__c/cus_1", {"Name": "A"}) == 201
    release = sf.query("SELECT DeveloperName, Content_Hash__c, Batch_Size__c FROM "
                       "Sync_Release__mdt")["records"]
    assert [(r["DeveloperName"], r["Content_Hash__c"], r["Batch_Size__c"]) for r in release] == [
        ("Current", "abc123", 70.0)]
    perms = sf.query("SELECT Field, PermissionsRead, PermissionsEdit, Parent.Name FROM "
                     "FieldPermissions")["records"]
    assert perms[0]["Field"] == "Account.Stripe_Customer_Id__c"
    assert perms[0]["Parent"]["Name"] == "Stripe_Sync_Integration"
    assert perms[0]["PermissionsEdit"] is True


def test_redeploy_is_idempotent(sf: SF) -> None:
    deploy(sf, FULL)
    again = deploy(sf, FULL)
    assert again["state"] == "Succeeded"
    assert sf.query("SELECT COUNT() FROM Sync_Release__mdt")["totalSize"] == 1
    assert sf.query("SELECT COUNT() FROM PermissionSet")["totalSize"] == 1
    assert sf.query("SELECT COUNT() FROM FieldPermissions")["totalSize"] == 1


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"objects/Account.object": ACCOUNT_FIELD.replace(
        "<type>Text</type>", "<type>Textual</type>")},
        "'Textual' is not a valid value for the enum 'FieldType'", id="bad-type"),
    pytest.param({"objects/Account.object": ACCOUNT_FIELD.replace("<length>255</length>", "")},
                 "Length is required", id="missing-length"),
    pytest.param({"objects/Account.object": ACCOUNT_FIELD.replace("</fields>", "</field>")},
                 "Error parsing file", id="malformed-xml"),
    pytest.param({"objects/Account.object": ACCOUNT_FIELD.replace(
        "<externalId>", "<externalID>").replace("</externalId>", "</externalID>")},
        "Element {http://soap.sforce.com/2006/04/metadata}externalID invalid", id="typo"),
])
def test_component_failures_per_file(sf: SF, files: dict[str, str],
                                     expected: str) -> None:
    files = {"package.xml": package({"CustomField": ["Account.Stripe_Customer_Id__c"]}), **files}
    result = deploy(sf, files)
    assert result["state"] == "Failed"
    errors = result["deployment_detail"]["errors"]
    assert errors[0]["file"] == "objects/Account.object"
    assert expected in errors[0]["message"]
    assert "Stripe_Customer_Id__c" not in {f["name"] for f in sf.Account.describe()["fields"]}


def test_rollback_on_error_applies_nothing(sf: SF) -> None:
    files = dict(FULL)
    files["permissionsets/Stripe_Sync_Integration.permissionset"] = PERMSET.replace(
        "Account.Stripe_Customer_Id__c", "Account.Nope__c")
    result = deploy(sf, files)
    assert result["state"] == "Failed"
    assert result["deployment_detail"]["errors"][0]["message"] == (
        "In field: field - no CustomField named Account.Nope__c found")
    assert "Stripe_Customer_Id__c" not in {f["name"] for f in sf.Account.describe()["fields"]}


def test_managed_namespace_and_missing_manifest_member(sf: SF) -> None:
    namespaced = ACCOUNT_FIELD.replace("Stripe_Customer_Id__c", "blng__Mine__c")
    result = deploy(sf, {"package.xml": package({"CustomField": ["Account.blng__Mine__c",
                                                                 "Account.Other__c"]}),
                         "objects/Account.object": namespaced})
    messages = [e["message"] for e in result["deployment_detail"]["errors"]]
    assert any("namespace: blng" in m for m in messages)
    assert any("'Account.Other__c' of type CustomField was named in package.xml" in m
               for m in messages)


def test_no_package_xml(sf: SF) -> None:
    result = deploy(sf, {"objects/Account.object": ACCOUNT_FIELD})
    assert result["deployment_detail"]["errors"][0]["message"] == "No package.xml found"


def _soap(salesforce: SalesforceStandIn, sf: SF, op: str, inner: str) -> requests.Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:met="http://soap.sforce.com/2006/04/metadata"><soapenv:Header><met:SessionHeader>'
        f"<met:sessionId>{sf.session_id}</met:sessionId></met:SessionHeader></soapenv:Header>"
        f"<soapenv:Body><met:{op}>{inner}</met:{op}></soapenv:Body></soapenv:Envelope>")
    return requests.post(salesforce.url + "/services/Soap/m/59.0", data=body.encode(),
                         headers={"Content-Type": "text/xml", "SOAPAction": '""'}, timeout=10)


def _quick_deploy(salesforce: SalesforceStandIn, sf: SF, validation_id: str
                  ) -> requests.Response:
    return _soap(salesforce, sf, "deployRecentValidation",
                 f"<met:validationId>{validation_id}</met:validationId>")


def test_validate_then_quick_deploy(sf: SF, salesforce: SalesforceStandIn) -> None:
    started = sf.deploy(zipped(FULL), sandbox=False, checkOnly=True, testLevel="RunLocalTests")
    sf._generate_headers()
    validation = wait(sf, started["asyncId"])
    assert validation["state"] == "Succeeded"
    assert "Stripe_Customer_Id__c" not in {f["name"] for f in sf.Account.describe()["fields"]}
    r = _quick_deploy(salesforce, sf, started["asyncId"])
    assert r.status_code == 200, r.text
    quick_id = r.text.split("<result>")[1].split("</result>")[0]
    assert wait(sf, quick_id)["state"] == "Succeeded"
    assert "Stripe_Customer_Id__c" in {f["name"] for f in sf.Account.describe()["fields"]}
    # A validation quick-deploys once.
    again = _quick_deploy(salesforce, sf, started["asyncId"])
    assert again.status_code == 500 and "INVALID_ID_FIELD" in again.text


def test_quick_deploy_needs_tests_and_expires_after_10_days(sf: SF,
                                                            salesforce: SalesforceStandIn,
                                                            admin: requests.Session) -> None:
    no_tests = sf.deploy(zipped(FULL), sandbox=True, checkOnly=True)
    sf._generate_headers()
    wait(sf, no_tests["asyncId"])
    r = _quick_deploy(salesforce, sf, no_tests["asyncId"])
    assert r.status_code == 500 and "ran no tests" in r.text
    tested = sf.deploy(zipped(FULL), sandbox=True, checkOnly=True, testLevel="RunLocalTests")
    sf._generate_headers()
    wait(sf, tested["asyncId"])
    admin.post(admin.base + "/clock", json={"advance_s": 10 * 86400 + 60})  # type: ignore[attr-defined]
    r = _quick_deploy(salesforce, sf, tested["asyncId"])
    assert r.status_code == 500 and "older than 10 days" in r.text


@pytest.mark.parametrize("element", ["String", "id"])  # the WSDL's name; jsforce's and the CLI's
def test_deploy_stuck_in_progress_and_cancel(sf: SF, salesforce: SalesforceStandIn,
                                             admin: requests.Session, element: str) -> None:
    admin.put(admin.base + "/faults", json={"deploy_stuck": True})  # type: ignore[attr-defined]
    started = sf.deploy(zipped(FULL), sandbox=True)
    sf._generate_headers()
    time.sleep(0.2)
    for _ in range(3):
        assert sf.checkDeployStatus(started["asyncId"])["state"] == "InProgress"
    r = _soap(salesforce, sf, "cancelDeploy",
              f"<met:{element}>{started['asyncId']}</met:{element}>")
    assert "<done>true</done>" in r.text
    assert sf.checkDeployStatus(started["asyncId"])["state"] == "Canceled"


def test_session_expiry_during_deploy_polling(sf: SF, admin: requests.Session) -> None:
    started = sf.deploy(zipped(FULL), sandbox=True)
    sf._generate_headers()
    admin.post(admin.base + "/sessions/expire")  # type: ignore[attr-defined]
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.checkDeployStatus(started["asyncId"])
    assert exc.value.status == 500
    assert "INVALID_SESSION_ID" in str(exc.value)


def test_list_and_read_metadata(sf: SF, salesforce: SalesforceStandIn) -> None:
    deploy(sf, FULL)
    listed = sf.mdapi.list_metadata({"type": "PermissionSet"})
    assert [m.fullName for m in listed] == ["Stripe_Sync_Integration"]
    r = _soap(salesforce, sf, "readMetadata", "<met:type>CustomField</met:type>"
              "<met:fullNames>Account.Stripe_Customer_Id__c</met:fullNames>")
    assert "<externalId>true</externalId>" in r.text


def test_without_rollback_on_error_the_valid_part_deploys(sf: SF) -> None:
    files = dict(FULL)
    files["permissionsets/Stripe_Sync_Integration.permissionset"] = PERMSET.replace(
        "<label>Stripe Sync Integration</label>", "")
    result = deploy(sf, files, rollbackOnError=False)
    assert result["state"] == "SucceededPartial"
    assert result["deployment_detail"]["errors"][0]["message"] == (
        "Required field is missing: label")
    assert "Stripe_Customer_Id__c" in {f["name"] for f in sf.Account.describe()["fields"]}


def _successes(sf: SF, salesforce: SalesforceStandIn,
               files: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Deploy, then read the component successes with details, as the Salesforce CLI does."""
    started = sf.deploy(zipped(files), sandbox=True, rollbackOnError=True)
    sf._generate_headers()
    wait(sf, started["asyncId"])
    r = _soap(salesforce, sf, "checkDeployStatus",
              f"<met:asyncProcessId>{started['asyncId']}</met:asyncProcessId>"
              "<met:includeDetails>true</met:includeDetails>")
    found = re.findall(r"<componentSuccesses><changed>(\w+)</changed>.*?<created>(\w+)"
                       r"</created>.*?<fullName>([^<]+)</fullName>", r.text)
    return {name: (created, changed) for changed, created, name in found}


def test_a_redeploy_reports_changed_and_unchanged_not_created(
        sf: SF, salesforce: SalesforceStandIn) -> None:
    first = _successes(sf, salesforce, FULL)
    assert first["Account.Stripe_Customer_Id__c"] == ("true", "true")
    again = _successes(sf, salesforce, FULL)
    assert again["Account.Stripe_Customer_Id__c"] == ("false", "false")  # the same definition
    relabeled = dict(FULL)
    relabeled["objects/Account.object"] = FULL["objects/Account.object"].replace(
        "<label>Stripe Customer ID</label>", "<label>Stripe Customer</label>")
    assert relabeled != FULL
    changed = _successes(sf, salesforce, relabeled)
    assert changed["Account.Stripe_Customer_Id__c"] == ("false", "true")


def test_describe_metadata_lists_the_types_the_org_takes(sf: SF,
                                                        salesforce: SalesforceStandIn) -> None:
    r = _soap(salesforce, sf, "describeMetadata", "<met:asOfVersion>59.0</met:asOfVersion>")
    assert r.status_code == 200
    for kind in ("CustomObject", "PermissionSet", "CustomMetadata"):
        assert f"<xmlName>{kind}</xmlName>" in r.text
    assert "<childXmlNames>CustomField</childXmlNames>" in r.text
    assert "<testRequired>false</testRequired>" in r.text  # a sandbox


def test_retrieve_gives_back_what_was_deployed(sf: SF) -> None:
    deploy(sf, FULL)
    sf._generate_headers()
    # simple-salesforce's own retrieve calls (singlePackage true, as the CLI asks).
    retrieval_id, state = sf.mdapi.retrieve("", unpackaged={
        "CustomField": ["Account.Stripe_Customer_Id__c"], "PermissionSet": ["*"]})
    assert (state, retrieval_id is not None) == ("Queued", True)
    status, error, _messages = sf.mdapi.check_retrieve_status(retrieval_id)
    assert (status, error) == ("Succeeded", None)
    status, _error, _messages, data = sf.mdapi.retrieve_zip(retrieval_id)
    sf._generate_headers()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
        account = zf.read("objects/Account.object").decode()
        package = zf.read("package.xml").decode()
    assert names == ["objects/Account.object", "package.xml",
                     "permissionsets/Stripe_Sync_Integration.permissionset"]
    assert "<fullName>Stripe_Customer_Id__c</fullName>" in account
    assert "<externalId>true</externalId>" in account
    assert account.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns=')
    assert "<members>Account.Stripe_Customer_Id__c</members>" in package
    assert "<name>PermissionSet</name>" in package
    # What was retrieved deploys again, unchanged.
    again = {n: zipfile.ZipFile(io.BytesIO(data)).read(n).decode() for n in names}
    assert deploy(sf, again)["state"] == "Succeeded"


def test_retrieve_as_jsforce_asks_for_it(sf: SF, salesforce: SalesforceStandIn) -> None:
    """The Salesforce CLI (jsforce) names the element `request`, and wants `unpackaged/`."""
    deploy(sf, FULL)
    started = _soap(salesforce, sf, "retrieve",
                    "<met:request><met:apiVersion>66.0</met:apiVersion><met:unpackaged>"
                    "<met:types><met:members>Account.Stripe_Customer_Id__c</met:members>"
                    "<met:name>CustomField</met:name></met:types><met:version>66.0</met:version>"
                    "</met:unpackaged><met:singlePackage>false</met:singlePackage>"
                    "</met:request>")
    retrieval_id = re.search(r"<id>(\w+)</id>", started.text)
    assert retrieval_id is not None
    status = _soap(salesforce, sf, "checkRetrieveStatus",
                   f"<met:asyncProcessId>{retrieval_id.group(1)}</met:asyncProcessId>"
                   "<met:includeZip>true</met:includeZip>")
    zipped = re.search(r"<zipFile>([^<]+)</zipFile>", status.text)
    assert zipped is not None
    data = base64.b64decode(zipped.group(1))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["unpackaged/objects/Account.object",
                                         "unpackaged/package.xml"]
    assert "<fileName>unpackaged/objects/Account.object</fileName>" in status.text


def test_a_custom_metadata_value_longer_than_its_field_is_refused(sf: SF) -> None:
    # GIVEN a record whose text outgrows its 64-character field
    files = {**FULL, "customMetadata/Sync_Release.Current.md": MDT_RECORD.replace(
        ">abc123<", f">{'a' * 65}<")}
    # WHEN it is deployed THEN the deploy fails on that record, as Salesforce's does
    result = deploy(sf, files)
    assert result["state"] == "Failed"
    (error,) = result["deployment_detail"]["errors"]
    assert error["file"] == "customMetadata/Sync_Release.Current.md"
    assert "max length=64" in error["message"]
