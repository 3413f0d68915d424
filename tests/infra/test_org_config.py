"""The OrgConfig dynamic provider, called directly (the engine's part is replaced by these calls;
under mocks its methods never run) against the Salesforce stand-in org over HTTPS."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import dill
import pytest
from simple_salesforce.api import Salesforce

from infra.org_config import (
    VALIDATIONS_VAR,
    OrgConfigArgs,
    OrgConfigProvider,
    inputs_of,
)
from metadata.deployer import OrgConfigError
from metadata.render import render_release
from metadata.validations import ValidationLog
from tests.conftest import session_id
from tests.metadata.conftest import config, credentials

if TYPE_CHECKING:
    from pathlib import Path

    from devenv.salesforce import SalesforceStandIn


def props(salesforce: SalesforceStandIn, kind: str = "sandbox", org_id: str | None = None,
          **keys: Any) -> dict[str, Any]:
    """The inputs as the provider receives them: plain values (the engine strips the secret
    markers for a Python provider), None values absent."""
    creds = credentials(salesforce)
    args = OrgConfigArgs(config=config(**keys), env="sandbox" if kind != "production" else "prod",
                         environment_kind=kind, org_id=org_id or salesforce.org.profile.org_id,
                         credentials=replace(creds, private_key=None),
                         private_key=creds.private_key, consumer_secret=None)
    return {k: v for k, v in inputs_of(args).items() if v is not None}


def _sf(salesforce: SalesforceStandIn) -> Any:
    return Salesforce(session_id=session_id(salesforce), instance_url=salesforce.url,
                      version="59.0")


def _batch_size(salesforce: SalesforceStandIn) -> float:
    rows = _sf(salesforce).query("SELECT blng__NumberValue__c FROM blng__BillingConfig__c "
                                 "WHERE Name = 'PAYMENT_CREATION_BATCH_SIZE'")["records"]
    return float(rows[0]["blng__NumberValue__c"])


def _account_fields(salesforce: SalesforceStandIn) -> set[str]:
    return {f["name"] for f in _sf(salesforce).Account.describe()["fields"]}


def _check_only_deploys(salesforce: SalesforceStandIn) -> int:
    return sum(1 for d in salesforce.metadata.deployments.values() if d.check_only)


def test_create_diff_update_read_delete(salesforce: SalesforceStandIn) -> None:
    provider = OrgConfigProvider()
    news = props(salesforce)
    assert provider.check({}, news).failures == []
    created = provider.create(news)
    assert created.id == salesforce.org.profile.org_id
    outs = created.outs
    assert outs is not None
    assert outs["content_hash"] == news["content_hash"]
    assert outs["deployed_org_id"] == salesforce.org.profile.org_id
    assert any("Payment creation batch size: 50 → 70" in line for line in outs["applied"])
    assert _batch_size(salesforce) == 70.0
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)
    # Nothing changed: no diff (the engine passes the stored outputs as olds).
    assert provider.diff(created.id, outs, news).changes is False

    # A changed setting: a diff, and the update brings the org there, full outputs kept.
    changed = props(salesforce, paymentCreationBatchSize=60)
    diff = provider.diff(created.id, outs, changed)
    assert (diff.changes, diff.replaces) == (True, [])
    updated = provider.update(created.id, outs, changed).outs
    assert updated is not None
    assert set(updated) >= set(outs)
    assert updated["content_hash"] == changed["content_hash"]
    assert _batch_size(salesforce) == 60.0
    assert provider.diff(created.id, updated, changed).changes is False

    # Refresh: nothing changed, no drift.
    fresh = provider.read(created.id, updated).outs
    assert fresh is not None
    assert (fresh["drift"], fresh["content_hash"]) == ([], changed["content_hash"])

    # Someone changes the setting over REST: refresh reports it, the next up applies again.
    sf = _sf(salesforce)
    rid = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                   "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["Id"]
    sf.blng__BillingConfig__c.update(rid, {"blng__NumberValue__c": 45})
    drifted = provider.read(created.id, updated).outs
    assert drifted is not None
    assert any("Payment creation batch size" in d and "60 → 45" in d for d in drifted["drift"])
    assert provider.diff(created.id, drifted, changed).changes is True
    provider.update(created.id, drifted, changed)
    assert _batch_size(salesforce) == 60.0

    # Delete leaves the org as it is.
    provider.delete(created.id, updated)
    assert _batch_size(salesforce) == 60.0
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)


def test_another_org_is_a_replacement_and_a_wrong_org_is_refused(
        salesforce: SalesforceStandIn) -> None:
    provider = OrgConfigProvider()
    news = props(salesforce)
    outs = provider.create(news).outs
    assert outs is not None
    other = {**news, "org_id": "00D000000000OTHEAA"}
    assert provider.diff("x", outs, other).replaces == ["org_id"]
    before = _batch_size(salesforce)
    with pytest.raises(OrgConfigError, match="but sfbilling:salesforceOrgId is "
                                             "00D000000000OTHEAA"):
        provider.create(props(salesforce, org_id="00D000000000OTHEAA",
                              paymentCreationBatchSize=55))
    assert _batch_size(salesforce) == before


def test_a_rotated_credential_is_stored_again(salesforce: SalesforceStandIn) -> None:
    provider = OrgConfigProvider()
    news = props(salesforce)
    outs = provider.create(news).outs
    assert outs is not None
    assert provider.diff("x", outs, {**news, "private_key": "another key"}).changes is True


def test_production_validates_first_then_quick_deploys(salesforce: SalesforceStandIn,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "validations.jsonl"
    monkeypatch.setenv(VALIDATIONS_VAR, str(log))
    provider = OrgConfigProvider()
    news = props(salesforce, kind="production")
    outs = provider.create(news).outs
    assert outs is not None
    records = ValidationLog(log).records()
    assert [(r.release, r.org_id, r.env) for r in records] == [
        (news["content_hash"], salesforce.org.profile.org_id, "prod")]
    assert outs["deploy_mode"] == f"validated {records[0].validation_id}, then quick deploy"
    assert _check_only_deploys(salesforce) == 1
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)
    assert _batch_size(salesforce) == 70.0


def test_production_quick_deploys_a_recorded_validation(salesforce: SalesforceStandIn,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`sfbilling validate --env prod` ran before (e.g. in the change window's prep)."""
    from tests.metadata.conftest import make_deployer

    log = ValidationLog(tmp_path / "validations.jsonl")
    monkeypatch.setenv(VALIDATIONS_VAR, str(log.path))
    news = props(salesforce, kind="production")
    record = make_deployer(salesforce).validate(render_release(config()), validations=log,
                                                env="prod")
    outs = OrgConfigProvider().create(news).outs
    assert outs is not None
    assert outs["deploy_mode"] == f"quick deploy of recorded validation {record.validation_id}"
    assert len(log.records()) == 1
    assert _check_only_deploys(salesforce) == 1
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)


def test_check_reports_a_release_the_templates_do_not_render(
        salesforce: SalesforceStandIn) -> None:
    news = {**props(salesforce), "content_hash": "0" * 64}
    failures = OrgConfigProvider().check({}, news).failures
    assert len(failures) == 1
    assert "the provider's templates differ from the program's" in failures[0].reason


def test_the_pickled_provider_holds_nothing(salesforce: SalesforceStandIn) -> None:
    provider = OrgConfigProvider()
    news = props(salesforce)
    provider.create(news)
    provider.read("x", news)
    # As the SDK serializes it: by reference, a few dozen bytes, no secret, no client.
    data = dill.dumps(provider, recurse=True)
    assert len(data) < 200
    assert b"infra.org_config" in data
    assert news["private_key"].encode() not in data
    assert vars(provider) == {}
    assert news["private_key"] not in base64.b64encode(data).decode()


def test_a_relative_validations_file_is_refused_before_any_call(
        salesforce: SalesforceStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a relative record path (the plugin once read it against infra/, silently)
    monkeypatch.setenv(VALIDATIONS_VAR, "releases/validations.jsonl")
    calls_before = salesforce.api_calls
    # WHEN production's resource is created THEN it stops, naming the variable
    with pytest.raises(OrgConfigError, match=f"{VALIDATIONS_VAR}='releases/validations.jsonl' "
                                             "is a relative path"):
        OrgConfigProvider().create(props(salesforce, kind="production"))
    assert _check_only_deploys(salesforce) == 0
    assert salesforce.api_calls == calls_before
