"""The OrgConfig dynamic provider, called directly (the engine's part is replaced by these calls;
under mocks its methods never run) against the Salesforce stand-in org over HTTPS."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
import dill
import pytest

from devenv.salesforce.schema import text
from infra.org_config import (
    OrgConfigArgs,
    OrgConfigProvider,
    inputs_of,
)
from metadata.deployer import OrgConfigError
from metadata.render import render_release
from tests.conftest import batch_size, org_client
from tests.metadata.conftest import config, credentials

if TYPE_CHECKING:
    from devenv.aws import AwsStandIn
    from devenv.salesforce import SalesforceStandIn


def props(salesforce: SalesforceStandIn, kind: str = "sandbox", org_id: str | None = None,
          **keys: Any) -> dict[str, Any]:
    """The inputs as the provider receives them: plain values (the engine strips the secret
    markers for a Python provider), None values absent."""
    creds = credentials(salesforce)
    args = OrgConfigArgs(config=config(**keys), env="sandbox" if kind != "production" else "prod",
                         environment_kind=kind, org_id=org_id or salesforce.org.profile.org_id,
                         credentials=replace(creds, private_key=None),
                         assignee=salesforce.app.username,
                         private_key=creds.private_key, consumer_secret=None)
    return {k: v for k, v in inputs_of(args).items() if v is not None}




def _account_fields(salesforce: SalesforceStandIn) -> set[str]:
    return {f["name"] for f in org_client(salesforce).Account.describe()["fields"]}


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
    assert batch_size(salesforce) == 70.0
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
    assert batch_size(salesforce) == 60.0
    assert provider.diff(created.id, updated, changed).changes is False

    # Refresh: nothing changed, no drift.
    fresh = provider.read(created.id, updated).outs
    assert fresh is not None
    assert (fresh["drift"], fresh["content_hash"]) == ([], changed["content_hash"])

    # Someone changes the setting over REST: refresh reports it, the next up applies again.
    sf = org_client(salesforce)
    rid = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                   "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["Id"]
    sf.blng__BillingConfig__c.update(rid, {"blng__NumberValue__c": 45})
    drifted = provider.read(created.id, updated).outs
    assert drifted is not None
    assert any("Payment creation batch size" in d and "60 → 45" in d for d in drifted["drift"])
    assert provider.diff(created.id, drifted, changed).changes is True
    provider.update(created.id, drifted, changed)
    assert batch_size(salesforce) == 60.0

    # Delete leaves the org as it is.
    provider.delete(created.id, updated)
    assert batch_size(salesforce) == 60.0
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)


def test_another_org_is_a_replacement_and_a_wrong_org_is_refused(
        salesforce: SalesforceStandIn) -> None:
    provider = OrgConfigProvider()
    news = props(salesforce)
    outs = provider.create(news).outs
    assert outs is not None
    other = {**news, "org_id": "00D000000000OTHEAA"}
    assert provider.diff("x", outs, other).replaces == ["org_id"]
    before = batch_size(salesforce)
    with pytest.raises(OrgConfigError, match="but sfbilling:salesforceOrgId is "
                                             "00D000000000OTHEAA"):
        provider.create(props(salesforce, org_id="00D000000000OTHEAA",
                              paymentCreationBatchSize=55))
    assert batch_size(salesforce) == before


def test_a_rotated_credential_is_stored_again(salesforce: SalesforceStandIn) -> None:
    provider = OrgConfigProvider()
    news = props(salesforce)
    outs = provider.create(news).outs
    assert outs is not None
    assert provider.diff("x", outs, {**news, "private_key": "another key"}).changes is True


def test_a_credential_by_arn_is_read_at_apply_time_and_never_stored(
        salesforce: SalesforceStandIn, aws: AwsStandIn) -> None:
    # GIVEN the deploy user's key in Secrets Manager, the inputs holding only its ARN
    key = credentials(salesforce).private_key
    assert key is not None
    arn = boto3.client("secretsmanager", **aws.client_kwargs()).create_secret(
        Name="sfbilling-sandbox/deploy", SecretString=key)["ARN"]
    news = {k: v for k, v in props(salesforce).items() if k != "private_key"}
    news.update(credential_arn=arn, aws_endpoint_url=aws.endpoint_url)
    # WHEN the resource is created THEN the org runs the release, and no output holds the key
    outs = OrgConfigProvider().create(news).outs
    assert outs is not None
    assert batch_size(salesforce) == 70.0
    assert key.splitlines()[1] not in repr(outs)
    assert OrgConfigProvider().diff("x", outs, news).changes is False
    # AND a preview's Check needs no credential at all
    assert OrgConfigProvider().check({}, news).failures == []
    # AND an ARN it may not read stops it with which secret, never a value
    with pytest.raises(OrgConfigError, match=r"^the deploy user's credential: reading "
                                             r"arn:aws:secretsmanager:.*missing"):
        OrgConfigProvider().create({**news, "credential_arn": arn.replace("deploy", "missing")})


def _check_only_ids(salesforce: SalesforceStandIn) -> list[str]:
    return [d.id for d in salesforce.metadata.deployments.values() if d.check_only]


def test_production_validates_first_then_quick_deploys(salesforce: SalesforceStandIn) -> None:
    # GIVEN production, and no validation recorded in its stack
    provider = OrgConfigProvider()
    news = props(salesforce, kind="production")
    # WHEN the resource is created THEN it validates, then quick-deploys that validation
    outs = provider.create(news).outs
    assert outs is not None
    (validation,) = _check_only_ids(salesforce)
    assert outs["deploy_mode"] == f"validated {validation}, then quick deploy"
    assert outs["quick_deployed_id"] == validation
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)
    assert batch_size(salesforce) == 70.0


def _unmark_external_id(salesforce: SalesforceStandIn) -> None:
    """Someone edits the field in Setup: no longer a unique external id (drift)."""
    salesforce.org.add_field("Account", text("Stripe_Customer_Id__c", "Stripe Customer ID", 255))


def _external_id(salesforce: SalesforceStandIn) -> bool:
    fields = {f["name"]: f for f in org_client(salesforce).Account.describe()["fields"]}
    return bool(fields["Stripe_Customer_Id__c"]["externalId"])


def _recorded(salesforce: SalesforceStandIn) -> str:
    """`sfbilling validate --env prod` ran before: the record the stack file holds."""
    from tests.metadata.conftest import make_deployer

    record = make_deployer(salesforce).validate(render_release(config()), env="prod")
    return record.to_json()


def test_production_quick_deploys_the_recorded_validation(
        salesforce: SalesforceStandIn) -> None:
    validation = _recorded(salesforce)
    news = {**props(salesforce, kind="production"), "validation": validation}
    outs = OrgConfigProvider().create(news).outs
    assert outs is not None
    (vid,) = _check_only_ids(salesforce)
    assert outs["deploy_mode"] == f"quick deploy of recorded validation {vid}"
    assert outs["quick_deployed_id"] == vid
    assert "Stripe_Customer_Id__c" in _account_fields(salesforce)


def test_a_quick_deployed_validation_is_never_tried_again(
        salesforce: SalesforceStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN production created from its recorded validation
    provider = OrgConfigProvider()
    news = {**props(salesforce, kind="production"), "validation": _recorded(salesforce)}
    outs = provider.create(news).outs
    assert outs is not None
    first = outs["quick_deployed_id"]
    # WHEN a field is removed by hand (drift) and the next `pulumi up` repairs it, the stack
    # still recording the same validation
    _unmark_external_id(salesforce)
    drifted = provider.read("x", outs).outs
    assert drifted is not None
    assert drifted["drift"]
    repaired = provider.update("x", drifted, news).outs
    # THEN it does not quick-deploy the used validation (Salesforce would refuse it for days):
    # it validates again and quick-deploys that one
    assert repaired is not None
    assert repaired["quick_deployed_id"] not in (None, first)
    assert repaired["deploy_mode"] == (f"validated {repaired['quick_deployed_id']}, then quick "
                                       "deploy")
    assert _external_id(salesforce)
    progress = capsys.readouterr().err
    assert f"validation {first} was already quick-deployed" in progress
    assert "refused" not in progress  # it was never sent to Salesforce


def test_a_retry_after_a_failed_up_validates_again_when_salesforce_refuses(
        salesforce: SalesforceStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a validation quick-deployed by an `up` whose outputs were never stored (it failed
    # after the quick deploy), then the metadata removed again
    validation = _recorded(salesforce)
    news = {**props(salesforce, kind="production"), "validation": validation}
    OrgConfigProvider().create(news)
    _unmark_external_id(salesforce)
    # WHEN the retry creates the resource again, with no outputs to say the id was used
    outs = OrgConfigProvider().create(news).outs
    # THEN Salesforce's refusal of the used validation leads to a fresh validation, not a
    # failed deploy
    assert outs is not None
    assert "refused" in capsys.readouterr().err
    assert outs["deploy_mode"].startswith("validated ")
    assert len(_check_only_ids(salesforce)) == 2
    assert _external_id(salesforce)


def test_refresh_reads_the_stored_release_after_a_template_change(
        salesforce: SalesforceStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an applied stack
    provider = OrgConfigProvider()
    outs = provider.create(props(salesforce)).outs
    assert outs is not None
    # WHEN a template of this checkout changes (a new release renders another hash)
    from metadata import render

    original = render._render
    monkeypatch.setattr(render, "_render",
                        lambda template, **kw: original(template, **kw) + "\n<!-- v2 -->")
    assert render_release(config()).content_hash != outs["content_hash"]
    # THEN `pulumi refresh` still reads the org against the stored release: no drift
    fresh = provider.read("x", outs).outs
    assert fresh is not None
    assert (fresh["drift"], fresh["content_hash"]) == ([], outs["content_hash"])
    # ... and a change made by hand is drift against that release
    sf = org_client(salesforce)
    rid = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                   "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["Id"]
    sf.blng__BillingConfig__c.update(rid, {"blng__NumberValue__c": 45})
    drifted = provider.read("x", outs).outs
    assert drifted is not None
    assert any("70 → 45" in d for d in drifted["drift"]), drifted["drift"]


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
