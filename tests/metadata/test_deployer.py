"""plan / apply / validate / doctor against the stand-in org."""

from __future__ import annotations

import json
import os
from dataclasses import replace as replace_record
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from simple_salesforce.api import Salesforce

from metadata.deployer import DeployFailedError, OrgConfigError, OrgDeployer, summarize
from metadata.render import render_release
from metadata.validations import ValidationRecord
from sfbilling.cli import main
from tests.conftest import SF, session_id
from tests.metadata.conftest import config, make_deployer

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn

REPO = Path(__file__).resolve().parents[2]


def _sf(salesforce: SalesforceStandIn) -> SF:
    return Salesforce(session_id=session_id(salesforce), instance_url=salesforce.url)


def _batch_size(sf: SF) -> Any:
    return sf.query("SELECT blng__NumberValue__c FROM blng__BillingConfig__c WHERE Name = "
                    "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["blng__NumberValue__c"]


def _routes(salesforce: SalesforceStandIn) -> dict[str, int]:
    return dict(salesforce.counters_json()["routes"])


def _faults(salesforce: SalesforceStandIn, plan: dict[str, Any]) -> None:
    requests.put(salesforce.url + "/_admin/faults", json=plan, timeout=10).raise_for_status()


def test_apply_creates_fields_and_sets_the_batch_size(salesforce: SalesforceStandIn,
                                                      deployer: OrgDeployer) -> None:
    release = render_release(config())
    plan = deployer.plan(release)
    assert "Payment creation batch size: 50 → 70" in plan.render()
    assert "Account.Stripe_Customer_Id__c: create" in plan.render()
    deployer.apply(release)
    sf = _sf(salesforce)
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    f = fields["Stripe_Customer_Id__c"]
    assert (f["externalId"], f["unique"], f["caseSensitive"]) == (True, True, True)
    pm_fields = {f["name"] for f in sf.blng__PaymentMethod__c.describe()["fields"]}
    assert {"Stripe_Payment_Method_Id__c", "Stripe_Customer_Id__c"} <= pm_fields
    assert _batch_size(sf) == 70.0
    stamp = sf.query("SELECT Content_Hash__c, Payment_Batch_Size__c FROM "
                     "Sfbilling_Release__mdt")["records"][0]
    assert stamp["Content_Hash__c"] == release.content_hash
    perms = sf.query("SELECT Field FROM FieldPermissions WHERE Parent.Name = "
                     "'Stripe_Billing_Sync'")["records"]
    assert "blng__PaymentMethod__c.blng__PaymentGatewayToken__c" in {p["Field"] for p in perms}
    assigned = sf.query("SELECT Assignee.Username FROM PermissionSetAssignment WHERE "
                        "PermissionSet.Name = 'Stripe_Billing_Sync'")["records"]
    assert [a["Assignee"]["Username"] for a in assigned] == [salesforce.app.username]
    assert "assign PermissionSet Stripe_Billing_Sync to" in plan.render()


def test_second_apply_deploys_and_writes_nothing(salesforce: SalesforceStandIn,
                                                 deployer: OrgDeployer) -> None:
    release = render_release(config())
    deployer.apply(release)
    before = _routes(salesforce)
    plan = deployer.apply(release)
    after = _routes(salesforce)
    assert plan.render() == "  no changes"
    assert after.get("soap.metadata", 0) == before.get("soap.metadata", 0)
    assert after.get("rest.collections", 0) == before.get("rest.collections", 0)
    changed = {k for k in after if after[k] != before.get(k, 0)}
    assert changed <= {"rest.query", "rest.describe"}  # only reads


def test_drift_made_in_setup_is_reported(salesforce: SalesforceStandIn,
                                         deployer: OrgDeployer) -> None:
    release = render_release(config())
    deployer.apply(release)
    sf = _sf(salesforce)
    rid = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                   "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["Id"]
    sf.blng__BillingConfig__c.update(rid, {"blng__NumberValue__c": 50})
    plan = deployer.plan(release)
    text = plan.render()
    assert "Payment creation batch size: 50 → 70" in text
    assert f"drift: Payment creation batch size changed in Setup since release " \
           f"{release.content_hash[:12]}: 70 → 50" in text
    deployer.apply(release)
    assert _batch_size(sf) == 70.0
    assert deployer.plan(release).render() == "  no changes"


def test_component_failures_are_reported_per_file(salesforce: SalesforceStandIn,
                                                  deployer: OrgDeployer) -> None:
    release = render_release(config(accountCustomerField="blng__Stripe__c"))
    with pytest.raises(DeployFailedError) as exc:
        deployer.apply(release)
    assert "objects/Account.object: Cannot create a new component with the namespace: blng" \
        in str(exc.value)
    assert exc.value.failures[0].file == "objects/Account.object"
    assert _batch_size(_sf(salesforce)) == 50.0  # nothing after a failed deploy


def test_session_expiry_while_polling_is_survived(salesforce: SalesforceStandIn,
                                                  deployer: OrgDeployer) -> None:
    deployer.plan(render_release(config()))  # logged in
    _faults(salesforce, {"rules": [{"route": "soap.metadata", "error": "INVALID_SESSION_ID",
                                    "times": 1}]})
    deployer.apply(render_release(config()))
    assert _routes(salesforce)["auth.token"] >= 2
    assert _batch_size(_sf(salesforce)) == 70.0


def test_deploy_stuck_in_progress_times_out_clearly(salesforce: SalesforceStandIn) -> None:
    _faults(salesforce, {"deploy_stuck": True})
    deployer = make_deployer(salesforce, poll_timeout_s=1.0)
    with pytest.raises(OrgConfigError, match=r"still InProgress after 1 s; see Setup"):
        deployer.apply(render_release(config()))


def test_validate_then_quick_deploy(salesforce: SalesforceStandIn, deployer: OrgDeployer,
                                    tmp_path: Path) -> None:
    release = render_release(config())
    record = deployer.validate(release, env="sandbox")
    assert ValidationRecord.from_json(record.to_json()) == record  # what the stack key holds
    assert "\n" not in record.to_json()
    assert (record.release, record.org_id) == (release.content_hash,
                                               salesforce.org.profile.org_id)
    sf = _sf(salesforce)
    assert "Stripe_Customer_Id__c" not in {f["name"] for f in sf.Account.describe()["fields"]}
    deployer.apply(release, validated=record)
    del tmp_path
    assert "Stripe_Customer_Id__c" in {f["name"] for f in sf.Account.describe()["fields"]}
    assert deployer.plan(release).render() == "  no changes"


def _deploys(salesforce: SalesforceStandIn) -> int:
    return int(salesforce.counters_json()["routes"].get("soap.metadata", 0))


@pytest.mark.parametrize("case", ["other-release", "other-org", "expired"])
def test_quick_deploy_refused_before_touching_the_org(salesforce: SalesforceStandIn,
                                                      tmp_path: Path, case: str) -> None:
    # GIVEN a validation recorded for one release and this org
    later = {"now": datetime.now(UTC)}
    deployer = make_deployer(salesforce, now=lambda: later["now"])
    validated = render_release(config())
    record = deployer.validate(validated, env="sandbox")
    wanted = validated
    if case == "other-release":
        wanted = render_release(config(paymentCreationBatchSize=50))
    elif case == "other-org":
        record = replace_record(record, org_id="00D000000000999AAA")
    else:
        later["now"] += timedelta(days=10, minutes=1)
    del tmp_path
    before = _deploys(salesforce)
    # WHEN it is quick-deployed THEN apply refuses, says what to run, and deploys nothing
    with pytest.raises(OrgConfigError) as exc:
        deployer.apply(wanted, validated=record, env="sandbox")
    assert "sfbilling validate --env sandbox" in str(exc.value)
    assert {"other-release": "not this config's",
            "other-org": "ran against org 00D000000000999AAA",
            "expired": "10-day quick-deploy window"}[case] in str(exc.value)
    assert _deploys(salesforce) == before
    assert "Stripe_Customer_Id__c" not in {f["name"] for f in
                                           _sf(salesforce).Account.describe()["fields"]}


def test_missing_settings_record_lists_what_exists(deployer: OrgDeployer) -> None:
    with pytest.raises(OrgConfigError) as exc:
        deployer.apply(render_release(config(paymentBatchSizeRecord="BATCH")))
    message = str(exc.value)
    assert "BATCH: no such blng__BillingConfig__c record" in message
    assert "PAYMENT_CREATION_BATCH_SIZE" in message
    assert "CARD_MAPPING" in message
    assert "sfbilling:paymentBatchSizeRecord" in message


def test_doctor_names_each_problem_once(deployer: OrgDeployer) -> None:
    checks = deployer.doctor(render_release(config(paymentBatchSizeRecord="BATCH")))
    failing = [c.what for c in checks if not c.ok]
    assert "field Account.Stripe_Customer_Id__c: missing" in failing
    setting = next(c for c in checks if c.what.startswith("package setting BATCH"))
    assert setting.what.startswith("package setting BATCH: no such blng__BillingConfig__c "
                                   "record; ")
    assert "records of category Payment in this org: ALLOW_MULTIPLE_AUTOPAY, CARD_MAPPING, " \
           "PAYMENT_CREATION_BATCH_SIZE" in setting.what
    assert setting.fix == "set sfbilling:paymentBatchSizeRecord to one of those records"
    assert all(c.what.count("Stripe_Customer_Id__c") <= 1 for c in checks)


def test_plan_shows_drift_without_a_no_op_stamp_line(salesforce: SalesforceStandIn,
                                                     deployer: OrgDeployer) -> None:
    release = render_release(config())
    deployer.apply(release)
    sf = _sf(salesforce)
    row = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                   "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]
    sf.blng__BillingConfig__c.update(row["Id"], {"blng__NumberValue__c": 25})
    text = deployer.plan(release).render()
    assert "Payment creation batch size: 25 → 70" in text
    assert "drift: Payment creation batch size changed in Setup" in text
    assert "release stamp" not in text


def test_doctor(salesforce: SalesforceStandIn, deployer: OrgDeployer) -> None:
    release = render_release(config())
    checks = deployer.doctor(release)
    failing = [c.what for c in checks if not c.ok]
    assert "field Account.Stripe_Customer_Id__c: missing" in failing
    deployer.apply(release)
    assert all(c.ok for c in deployer.doctor(release))
    sf = _sf(salesforce)
    gw = sf.query("SELECT Id FROM blng__PaymentGateway__c")["records"][0]["Id"]
    sf.blng__PaymentGateway__c.update(gw, {"blng__Active__c": False})
    broken = [c for c in deployer.doctor(release) if not c.ok]
    assert [c.what for c in broken] == ["gateway 'Stripe' is active"]
    assert broken[0].fix == "tick Active on the gateway record"
    user = next(c for c in checks if c.what.startswith("integration user"))
    assert user.ok and "'Minimum Access - Salesforce'" in user.what


def test_doctor_warns_about_an_administrator_as_integration_user(
        salesforce: SalesforceStandIn, deployer: OrgDeployer) -> None:
    import dataclasses

    salesforce.reset(dataclasses.replace(salesforce.base_profile,
                                         integration_profile="System Administrator"))
    checks = deployer.doctor(render_release(config()))
    warned = [c for c in checks if c.warning and not c.ok]
    assert len(warned) == 1
    assert "'System Administrator'" in warned[0].what
    assert "alert duplicate rules" in warned[0].fix
    assert "WARN integration user" in summarize(checks)


def _local_state(salesforce: SalesforceStandIn, tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    # Org commands need only Salesforce: the Stripe and AWS endpoints are never called.
    doc = {"salesforce": salesforce.info(),
           "stripe": {"api_key": "sk_test_x", "api_base": "http://127.0.0.1:9"},
           "aws": {"access_key_id": "testing", "secret_access_key": "testing",
                   "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1"},
           "ca_bundle": os.environ["REQUESTS_CA_BUNDLE"]}
    (state / "endpoints.json").write_text(json.dumps(doc))
    return state


def test_cli_plan_apply_doctor(salesforce: SalesforceStandIn, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    common = ["--env", "local", "--root", str(REPO), "--state-dir",
              str(_local_state(salesforce, tmp_path))]
    assert main(["plan", *common]) == 8  # changes to make
    assert "Payment creation batch size: 50 → 70" in capsys.readouterr().out
    assert main(["doctor", *common]) == 1
    assert "Payment Center cannot create a payment method" in capsys.readouterr().out
    assert main(["apply", *common]) == 0
    capsys.readouterr()
    assert main(["plan", *common]) == 0
    assert capsys.readouterr().out.endswith("  no changes\n")
    assert main(["doctor", *common]) == 0


def test_bad_config_fails_before_any_request(salesforce: SalesforceStandIn, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.bad.yaml").write_text(
        "config:\n  sfbilling:paymentCreationBatchSize: 71\n"
        "  sfbilling:permissionSetName: 'not valid'\n  sfbilling:typo: 1\n")
    before = salesforce.counters_json()
    for command in ("plan", "apply", "validate", "doctor"):
        assert main([command, "--env", "bad", "--root", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "sfbilling:paymentCreationBatchSize: must be between 1 and 70, got 71" in err
        assert "sfbilling:permissionSetName: must be an API name" in err
        assert "sfbilling:typo: unknown key" in err
        assert "sfbilling:environmentKind is not set, and it is required" in err
    assert main(["render", "--env", "bad", "--root", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 2
    assert salesforce.counters_json() == before


def test_a_refreshed_sandbox_is_refused_before_any_change(salesforce: SalesforceStandIn,
                                                         tmp_path: Path) -> None:
    """The org id the stack names is not the org's (a sandbox refresh gives a new one)."""
    deployer = make_deployer(salesforce, expected_org_id="00D000000000OLDEAA")
    before = _deploys(salesforce)
    for attempt in (lambda: deployer.apply(render_release(config()), env="sandbox"),
                    lambda: deployer.validate(render_release(config()), env="sandbox")):
        with pytest.raises(OrgConfigError) as exc:
            attempt()
        assert f"the org is {salesforce.org.profile.org_id}, but sfbilling:salesforceOrgId is " \
               "00D000000000OLDEAA" in str(exc.value)
        assert "set sfbilling:salesforceOrgId" in str(exc.value)
        assert "`sfbilling sync --env sandbox --full`" in str(exc.value)
    assert _deploys(salesforce) == before
    assert _batch_size(_sf(salesforce)) == 50.0
    same = make_deployer(salesforce, expected_org_id=salesforce.org.profile.org_id[:15])
    same.apply(render_release(config()))
    assert _batch_size(_sf(salesforce)) == 70.0
