"""Two identities: the org config deploys as an admin (the deploy user, its own connected
app); the import runs as the integration user, which holds only the permission set the org
config assigns it. The stand-in enforces the difference as Salesforce does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest

from metadata.deployer import OrgDeployer
from metadata.render import render_release
from sync_lambda import names
from sync_lambda.adapters.salesforce_connection import SalesforceConnection
from sync_lambda.errors import FatalSyncError
from tests.metadata.conftest import config, credentials, make_deployer

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn
    from tests.conftest import SF
    from tests.sync.harness import World


def test_the_integration_user_alone_cannot_deploy_the_org_config(
        salesforce: SalesforceStandIn) -> None:
    # GIVEN the org config's deployer logged in as the import's user
    deployer = OrgDeployer(SalesforceConnection(credentials(salesforce, integration=True)),
                           assignee=salesforce.app.username)
    # WHEN it applies the release THEN the Metadata API refuses it, as Salesforce does
    with pytest.raises(FatalSyncError) as exc:
        deployer.apply(render_release(config()), env="local")
    assert "INSUFFICIENT_ACCESS" in str(exc.value)
    assert "ModifyAllData or ModifyMetadata" in str(exc.value)
    assert salesforce.metadata.deployments == {}


def test_a_quick_deploy_by_the_integration_user_is_refused(salesforce: SalesforceStandIn,
                                                          sf: SF, integration_sf: SF) -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv='
            '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:met='
            '"http://soap.sforce.com/2006/04/metadata"><soapenv:Header><met:SessionHeader>'
            "<met:sessionId>{sid}</met:sessionId></met:SessionHeader></soapenv:Header>"
            "<soapenv:Body><met:deployRecentValidation><met:validationId>0Af000000000001AAA"
            "</met:validationId></met:deployRecentValidation></soapenv:Body>"
            "</soapenv:Envelope>")
    url = f"{salesforce.url}/services/Soap/m/59.0"
    refused = requests.post(url, data=body.format(sid=integration_sf.session_id), timeout=10,
                            headers={"Content-Type": "text/xml", "SOAPAction": "x"})
    assert refused.status_code == 500
    assert "<faultcode>sf:INSUFFICIENT_ACCESS</faultcode>" in refused.text
    # The admin's call reaches the Metadata API (and is answered on its merits).
    answered = requests.post(url, data=body.format(sid=sf.session_id), timeout=10,
                             headers={"Content-Type": "text/xml", "SOAPAction": "x"})
    assert "INSUFFICIENT_ACCESS" not in answered.text


def test_the_integration_user_cannot_write_the_package_settings(integration_sf: SF,
                                                                sf: SF) -> None:
    row = sf.query("SELECT Id FROM blng__BillingConfig__c LIMIT 1")["records"][0]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        getattr(integration_sf, names.BILLING_CONFIG).update(
            row["Id"], {"blng__NumberValue__c": 10})
    content: Any = exc.value.content
    assert content[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    # … nor assign itself more permission sets.
    result = integration_sf.restful("composite/sobjects", method="POST", json={
        "allOrNone": False, "records": [{"attributes": {"type": "PermissionSetAssignment"},
                                         "AssigneeId": row["Id"], "PermissionSetId": row["Id"]}]})
    assert result[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"


def test_a_bulk_job_runs_with_the_rights_of_the_user_who_closed_it(
        sf: SF, integration_sf: SF) -> None:
    row = sf.query("SELECT Id FROM blng__BillingConfig__c LIMIT 1")["records"][0]
    change = [{"Id": row["Id"], "blng__NumberValue__c": 10}]
    # GIVEN a Bulk API 2.0 job by the integration user THEN its row is refused, as through REST
    refused = integration_sf.bulk2.blng__BillingConfig__c.update(records=change)
    assert refused[0]["numberRecordsFailed"] == 1
    failed = integration_sf.bulk2.blng__BillingConfig__c.get_failed_records(
        refused[0]["job_id"])
    assert "INSUFFICIENT_ACCESS_OR_READONLY" in failed
    # ... and the deploy user's same job goes through
    done = sf.bulk2.blng__BillingConfig__c.update(records=change)
    assert done[0]["numberRecordsFailed"] == 0


def test_the_import_user_needs_exactly_what_its_permission_set_grants(world: World) -> None:
    # GIVEN the org config applied by the deploy user: fields, permission set, assignment
    make_deployer(world.salesforce).apply(render_release(config()), env="local")
    # WHEN the import runs every scenario as the integration user
    world.seed_account(Name="Globex")
    world.customer(name="Globex", cards=("pm_card_visa",))
    cus, pms = world.customer(name="Ada", email="ada@example.com",
                              cards=("pm_card_visa", "pm_card_mastercard"), default=1)
    world.run()
    world.stripe.v1.payment_methods.detach(pms[0])
    world.customer(name="Bulk", cards=("pm_card_visa", "pm_card_amex"))
    world.run(SFB_BULK_THRESHOLD="1")  # the Bulk API path writes with the same rights
    # THEN it wrote only the objects its permission set grants, and its permission set grants
    # no custom field the import does not write
    sf = world.salesforce
    ps = world.salesforce.org.index_lookup("PermissionSet", "Name", "Stripe_Billing_Sync")
    assert len(ps) == 1
    granted_objects = {r["SobjectType"] for r in sf.org.all("ObjectPermissions")
                       if r["ParentId"] in ps and r["PermissionsEdit"]}
    granted_fields = {r["Field"] for r in sf.org.all("FieldPermissions")
                      if r["ParentId"] in ps and r["PermissionsEdit"]}
    written = sf.org.restricted_writes
    assert set(written) == granted_objects == {names.ACCOUNT, names.PAYMENT_METHOD}
    custom_written = {f"{obj}.{f}" for obj, fields in written.items() for f in fields
                      if f.endswith("__c") and not f.startswith("blng__")}
    assert custom_written <= granted_fields
    assert {f for f in granted_fields if not f.split(".")[1].startswith("blng__")} == \
        custom_written
    assert cus
