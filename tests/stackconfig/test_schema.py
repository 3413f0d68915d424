"""The stack schema read strictly: each bad-input class gives one clear error naming the key and
the fix; the text forms `pulumi config set` stores are accepted; every key is classified."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from metadata.config import OrgConfig
from metadata.render import render_release
from stackconfig.docs import DOC, render
from stackconfig.errors import StackConfigError
from stackconfig.resolve import lambda_environment, nearest, require_login, resolve
from stackconfig.schema import (
    INFRA,
    KEYS,
    LAMBDA,
    ORG,
    RESOURCE_ENV,
    RUNTIME_ENV,
    Key,
    Scope,
    key,
)
from stackconfig.stackfile import RawValue
from sync_lambda import settings as lambda_settings
from sync_lambda.values import (
    AUDIENCE,
    SECRET_ARN,
    Bool,
    Choice,
    Float,
    Int,
    Pattern,
    Secret,
    Text,
    Url,
)

BASE = {"sfbilling:environmentKind": "local"}


def _resolve(entries: dict[str, Any], **kw: Any) -> Any:
    raw = {k: v if isinstance(v, RawValue) else RawValue(v)
           for k, v in {**BASE, **entries}.items()}
    return resolve(raw, env="prod", source="Pulumi.prod.yaml", **kw)


def _problems(entries: dict[str, Any], **kw: Any) -> list[str]:
    with pytest.raises(StackConfigError) as exc:
        _resolve(entries, **kw)
    assert str(exc.value).startswith("Pulumi.prod.yaml:\n  ")
    return exc.value.problems


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize("namespace", ["sfbiling", "sfbillng", "sf-billing", "SFBilling",
                                       "sfbilling2"])
def test_a_namespace_close_to_ours_names_the_key_meant(namespace: str) -> None:
    problems = _problems({f"{namespace}:paymentCreationBatchSize": "70"})
    assert problems == [f"{namespace}:paymentCreationBatchSize: namespace `{namespace}:` is not "
                        "`sfbilling:`; did you mean `sfbilling:paymentCreationBatchSize`?"]


@pytest.mark.parametrize(("typo", "meant"), [
    ("paymentCreationBatchsize", "sfbilling:paymentCreationBatchSize"),
    ("batchSize", "sfbilling:paymentBatchSizeRecord"),
    ("syncMod", "sfbilling:syncMode"),
    ("stripeRate", "sfbilling:stripeRatePerSecond"),
])
def test_an_unknown_key_names_the_nearest_one_not_the_whole_list(typo: str, meant: str) -> None:
    problems = _problems({f"sfbilling:{typo}": "1"})
    assert problems == [f"sfbilling:{typo}: unknown key; did you mean `{meant}`?"]


def test_an_unknown_key_with_nothing_near_points_at_the_docs() -> None:
    assert _problems({"sfbilling:zzzz": "1"}) == [
        "sfbilling:zzzz: unknown key; the keys are listed in docs/configuration.md and by "
        "`sfbilling config --env ENV`"]


def test_pulumis_own_namespaces_pass() -> None:
    stack = _resolve({"aws:region": "eu-west-1", "aws:profile": "ops", "pulumi:tags": "x",
                      "aws-native:region": "eu-west-1", "random:seed": "1"})
    assert stack["aws:region"] == "eu-west-1"


def test_a_key_without_a_namespace_is_an_error() -> None:
    assert _problems({"syncMode": "create_and_link"}) == [
        "syncMode: a key without a namespace; did you mean `sfbilling:syncMode`?"]


def test_nearest_is_case_insensitive() -> None:
    assert nearest("PAYMENTCREATIONBATCHSIZE") == "sfbilling:paymentCreationBatchSize"


# -- values --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("entries", "expected"), [
    pytest.param({"sfbilling:paymentCreationBatchSize": "7_0"},
                 "sfbilling:paymentCreationBatchSize: must be a whole number between 1 and 70, "
                 "got '7_0'", id="underscore-int"),
    pytest.param({"sfbilling:paymentCreationBatchSize": "70.0"},
                 "sfbilling:paymentCreationBatchSize: must be a whole number between 1 and 70, "
                 "got '70.0'", id="float-for-int"),
    pytest.param({"sfbilling:paymentCreationBatchSize": "71"},
                 "sfbilling:paymentCreationBatchSize: must be between 1 and 70, got 71",
                 id="out-of-range"),
    pytest.param({"sfbilling:includeBankAccounts": "yes"},
                 "sfbilling:includeBankAccounts: must be true or false, got 'yes'",
                 id="yes-for-bool"),
    pytest.param({"sfbilling:includeBankAccounts": "True"},
                 "sfbilling:includeBankAccounts: must be true or false, got 'True'",
                 id="capital-bool"),
    pytest.param({"sfbilling:syncMode": "fast"},
                 "sfbilling:syncMode: must be one of create_and_link, link_existing, "
                 "payment_methods_only, got 'fast'", id="enum"),
    pytest.param({"sfbilling:gatewayName": {"a": "1"}},
                 "sfbilling:gatewayName: must be text, got a mapping", id="map-for-text"),
    pytest.param({"sfbilling:gatewayName": ["a"]},
                 "sfbilling:gatewayName: must be text, got a list", id="list-for-text"),
    pytest.param({"sfbilling:cardMapping": "x; y__c"},
                 "sfbilling:cardMapping: must be a custom field API name (…__c), got 'x; y__c'",
                 id="api-name-syntax"),
    pytest.param({"sfbilling:accountCustomerField": "blng__CardNumber__c"},
                 "sfbilling:accountCustomerField: blng__CardNumber__c holds card or bank "
                 "numbers: the import never writes it", id="card-number-field"),
    pytest.param({"sfbilling:stripeApiBase": "http://stripe.example.com"},
                 "sfbilling:stripeApiBase: must be https (http only for a loopback host), got "
                 "'http://stripe.example.com'", id="clear-text-url"),
    pytest.param({"sfbilling:schedule": "every 15 minutes"},
                 "sfbilling:schedule: must be a schedule expression: rate(15 minutes) or "
                 "cron(0/15 * * * ? *), got 'every 15 minutes'", id="schedule"),
])
def test_each_bad_value_gives_one_clear_error(entries: dict[str, Any], expected: str) -> None:
    assert _problems(entries) == [expected]


@pytest.mark.parametrize(("text", "value"), [("70", 70), (" 70 ", 70), ("1", 1)])
def test_the_text_forms_pulumi_stores_are_accepted(text: str, value: int) -> None:
    assert _resolve({"sfbilling:paymentCreationBatchSize": text})[
        "paymentCreationBatchSize"] == value


def test_booleans_numbers_and_words_in_their_text_form() -> None:
    stack = _resolve({"sfbilling:includeBankAccounts": "true",
                      "sfbilling:stripeRatePerSecond": "12.5",
                      "sfbilling:massDeactivationShare": "0", "sfbilling:syncMode":
                      "link_existing", "sfbilling:schedule": "cron(0/15 * * * ? *)"})
    assert (stack["includeBankAccounts"], stack["stripeRatePerSecond"],
            stack["massDeactivationShare"], stack["syncMode"]) == (True, 12.5, 0.0,
                                                                   "link_existing")


def test_null_for_an_optional_key_means_its_default() -> None:
    stack = _resolve({"sfbilling:paymentCreationBatchSize": None,
                      "sfbilling:gatewayName": None})
    assert stack["paymentCreationBatchSize"] == 70
    assert stack["gatewayName"] == "Stripe"
    assert stack.origins["paymentCreationBatchSize"] == "default"


def test_null_for_a_required_key_names_the_command_that_sets_it() -> None:
    raw = {"sfbilling:environmentKind": RawValue(None)}
    with pytest.raises(StackConfigError) as exc:
        resolve(raw, env="prod", source="Pulumi.prod.yaml")
    assert exc.value.problems == [
        "sfbilling:environmentKind has no value, and it is required: `pulumi config set "
        "--stack prod sfbilling:environmentKind VALUE`"]


def test_the_environment_kind_is_never_guessed_from_the_stack_name() -> None:
    with pytest.raises(StackConfigError) as exc:
        resolve({}, env="prod", source="Pulumi.prod.yaml")
    assert exc.value.problems == [
        "sfbilling:environmentKind is not set, and it is required: `pulumi config set --stack "
        "prod sfbilling:environmentKind VALUE`"]


def test_a_secret_in_clear_text_shows_the_secret_command() -> None:
    assert _problems({"sfbilling:stripeApiKey": "rk_live_abc"}) == [
        "sfbilling:stripeApiKey is in clear text: remove it from the stack file and set it "
        "encrypted with `pulumi config set --secret --stack prod sfbilling:stripeApiKey`"]


def test_an_encrypted_value_of_a_plain_key_is_an_error() -> None:
    assert _problems({"sfbilling:syncMode": RawValue(None, secure=True)}) == [
        "sfbilling:syncMode: encrypted, but it is not a secret: set it in clear with `pulumi "
        "config set --stack prod sfbilling:syncMode VALUE`"]


def test_a_placeholder_left_in_the_file_is_an_error() -> None:
    assert _problems({"sfbilling:salesforceUsername": "<integration user>"}) == [
        "sfbilling:salesforceUsername: the placeholder '<integration user>' is still in the "
        "stack file: `pulumi config set --stack prod sfbilling:salesforceUsername VALUE`"]


def test_every_problem_is_reported_at_once_one_line_each() -> None:
    problems = _problems({"sfbiling:syncMode": "x", "sfbilling:segmentSize": "5",
                          "sfbilling:stripeApiKey": "sk_test_x",
                          "sfbilling:alarmEmail": "<who>"})
    assert [p.split(":")[0] + ":" + p.split(":")[1].split(" ")[0] for p in problems] == [
        "sfbiling:syncMode", "sfbilling:alarmEmail", "sfbilling:stripeApiKey",
        "sfbilling:segmentSize"]


def test_production_and_sandbox_need_their_aws_region() -> None:
    assert _problems({"sfbilling:environmentKind": "sandbox"}) == [
        "aws:region is not set: `pulumi config set --stack prod aws:region VALUE`"]


def test_the_lease_must_outlast_three_salesforce_timeouts() -> None:
    assert _problems({"sfbilling:leaseTtlSeconds": "300",
                      "sfbilling:salesforceTimeoutSeconds": "120"}) == [
        "sfbilling:leaseTtlSeconds: must be at least three times "
        "sfbilling:salesforceTimeoutSeconds (360 s), so one slow request can never outlive the "
        "lease; got 300"]


def test_the_deadline_reserve_leaves_half_the_invocation_for_work() -> None:
    short = {"sfbilling:lambdaTimeoutSeconds": "120", "sfbilling:leaseTtlSeconds": "60",
             "sfbilling:salesforceTimeoutSeconds": "20"}
    assert _problems(short) == [
        "sfbilling:deadlineReserveSeconds: at most half of sfbilling:lambdaTimeoutSeconds "
        "(60 s), so each invocation has time to work before it stops for its deadline; got 90"]
    assert _resolve({**short, "sfbilling:lambdaTimeoutSeconds": "180"})[
        "lambdaTimeoutSeconds"] == 180


def test_the_lease_leaves_half_the_invocation_after_a_crash() -> None:
    # After a crash the next run watches the dead lease for a whole TTL before taking it.
    problems = _problems({"sfbilling:leaseTtlSeconds": "600"})
    assert problems == [
        "sfbilling:leaseTtlSeconds: at most half of sfbilling:lambdaTimeoutSeconds (450 s): "
        "after a crash the next run watches the dead run's lease for one TTL before taking "
        "it, and must still have time to work; got 600"]


def test_the_pulumi_program_needs_its_secrets() -> None:
    problems = _problems({}, require_secrets=True)
    assert problems == [
        "sfbilling:stripeApiKey is not set: `pulumi config set --secret --stack prod "
        "sfbilling:stripeApiKey`",
        "sfbilling:salesforcePrivateKey is not set: `pulumi config set --secret --stack prod "
        "sfbilling:salesforcePrivateKey`",
        "sfbilling:salesforceDeployPrivateKey is not set: `pulumi config set --secret --stack "
        "prod sfbilling:salesforceDeployPrivateKey` (or sfbilling:salesforceDeploySecretArn)"]
    stack = _resolve({"sfbilling:stripeApiKey": RawValue("rk_test_1", secure=True),
                      "sfbilling:salesforcePrivateKey": RawValue("-----BEGIN", secure=True),
                      "sfbilling:salesforceDeployPrivateKey": RawValue("-----BEGIN", secure=True)},
                     require_secrets=True)
    assert stack.secret("stripeApiKey") == "rk_test_1"
    assert "rk_test_1" not in repr(stack)


def test_logging_in_needs_the_consumer_key_and_for_jwt_the_user() -> None:
    with pytest.raises(StackConfigError) as exc:
        require_login(_resolve({}))
    assert exc.value.problems == [
        "sfbilling:salesforceConsumerKey is not set, and logging in to the org needs it: "
        "`pulumi config set --stack prod sfbilling:salesforceConsumerKey VALUE`",
        "sfbilling:salesforceUsername is not set, and logging in to the org needs it: "
        "`pulumi config set --stack prod sfbilling:salesforceUsername VALUE`"]
    require_login(_resolve({"sfbilling:salesforceConsumerKey": "3MVG9",
                            "sfbilling:salesforceAuth": "client_credentials"}))


# -- declarations ------------------------------------------------------------------------------
def test_every_key_is_classified_and_documented() -> None:
    for k in KEYS:
        assert k.doc, k.name
        assert k.consumers, k.name
        assert isinstance(k.scope, Scope)
        assert k.secret == isinstance(k.kind, Secret), k.name
        if k.secret:
            assert k.scope is Scope.PER_ENVIRONMENT, k.name
        if k.default is not None:
            k.kind.parse(k.default)  # every default is a valid value of its kind
    assert len({k.full for k in KEYS}) == len(KEYS)


def test_non_obvious_scopes_say_why() -> None:
    for name in ("stripeRatePerSecond", "stripeConcurrency", "deployTestLevel",
                 "logRetentionDays", "salesforceAuth", "gatewayName"):
        assert key(name).why, name


def test_the_lambda_reads_exactly_the_variables_the_schema_assigns_it() -> None:
    assigned = {k.env for k in KEYS if k.env is not None} | set(RESOURCE_ENV) | set(RUNTIME_ENV)
    read = {v.name for v in lambda_settings.ALL}
    assert assigned == read
    assert all(LAMBDA in k.consumers for k in KEYS if k.env is not None)


def test_the_lambda_and_the_schema_agree_on_kind_and_default() -> None:
    by_env = {v.name: v for v in lambda_settings.CONFIGURED}
    for k in KEYS:
        if k.env is None:
            continue
        var = by_env[k.env]
        assert var.kind == k.kind, k.name
        schema_default = None if k.default is None else k.kind.parse(k.default)
        assert var.default == schema_default, k.name


def test_the_lambda_environment_of_a_stack_is_what_the_lambda_reads() -> None:
    stack = _resolve({"sfbilling:salesforceConsumerKey": "3MVG9",
                      "sfbilling:salesforceUsername": "u@x.io",
                      "sfbilling:includeBankAccounts": "true",
                      "sfbilling:stripeRatePerSecond": "12.5"})
    env = lambda_environment(stack)
    assert "SFB_STRIPE_SECRET_ARN" not in env
    settings = lambda_settings.Settings.from_env({**env, "SFB_TABLE_NAME": "t"})
    assert (settings.include_bank_accounts, settings.stripe_rate, settings.environment_kind) \
        == (True, 12.5, "local")


def _another_value(k: Key) -> str:
    kind = k.kind
    current = k.default
    if isinstance(kind, Choice):
        return next(c for c in kind.choices if c != current)
    if isinstance(kind, Int):
        # Within the range and clear of the rules between keys (the lease and the timeout).
        return {"leaseTtlSeconds": "400", "lambdaTimeoutSeconds": "880"}.get(
            k.name, str(kind.lo + 1))
    if isinstance(kind, Float):
        return f"{kind.hi:g}"
    if isinstance(kind, Bool):
        return "true" if current != "true" else "false"
    if isinstance(kind, Url):
        return "https://other.example.com"
    if isinstance(kind, Pattern):
        return {"email address": "ops@example.com",
                "Salesforce org id (00D…)": "00D000000000001AAA",
                "resource name (lower case, digits, dashes; 2 to 40)": "other-prefix",
                "API name (letters, digits, single underscores)": "Other_Permission_Set",
                AUDIENCE.kind: "https://other.my.salesforce.com",
                SECRET_ARN.kind: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
                }.get(
            kind.kind, "rate(1 hour)" if "schedule" in kind.kind else "Other_Field__c")
    assert isinstance(kind, Text)
    return "Something else"


def test_every_key_that_changes_the_rendered_release_is_promotable() -> None:
    base = render_release(OrgConfig.from_stack(_resolve({}))).content_hash
    changing = []
    for k in KEYS:
        if k.secret or k.name == "environmentKind":
            continue
        # A reserve that fits the shortest timeout, so every other key's extreme is valid.
        fits = {} if k.name == "deadlineReserveSeconds" else {
            "sfbilling:deadlineReserveSeconds": "30"}
        value = _another_value(k)
        if k.name == "eventDestinationId":  # read only with adopt, and an ed_ id
            fits, value = {"sfbilling:eventDestination": "adopt"}, "ed_test_61Rk2abc"
        stack = _resolve({**fits, k.full: value})
        if render_release(OrgConfig.from_stack(stack)).content_hash != base:
            changing.append(k.name)
    assert "paymentCreationBatchSize" in changing  # the check does see changes
    assert [n for n in changing if key(n).scope is not Scope.PROMOTABLE] == []
    assert all(ORG in key(n).consumers for n in changing)


def test_consumers_are_the_three_parts() -> None:
    assert {c for k in KEYS for c in k.consumers} == {LAMBDA, ORG, INFRA}


def test_a_key_is_found_by_short_or_full_name() -> None:
    assert key("syncMode") is key("sfbilling:syncMode")
    assert key("aws:region").full == "aws:region"
    assert replace(key("syncMode"), name="x").full == "sfbilling:x"


def test_the_docs_table_is_generated_from_the_schema() -> None:
    text = DOC.read_text()
    assert render(text) == text, "run: python -m stackconfig.docs"
    for k in KEYS:
        assert f"| `{k.full}` |" in text
    assert render(text.replace("`sfbilling:syncMode`", "`sfbilling:syncMod`")) != \
        text.replace("`sfbilling:syncMode`", "`sfbilling:syncMod`")


@pytest.mark.parametrize(("changes", "refused"), [
    ({"stripeApiBase": "https://stripe-proxy.example.com"}, "stripeApiBase"),
    ({"stripeApiBase": "http://127.0.0.1:8420"}, "stripeApiBase"),
    ({"awsEndpointUrl": "https://dynamodb.example.com"}, "awsEndpointUrl"),
    ({"awsEndpointUrl": "http://127.0.0.1:5000"}, "awsEndpointUrl"),
    ({"awsEndpointUrl": "https://amazonaws.com.evil.example"}, "awsEndpointUrl"),
])
def test_production_sends_its_live_keys_to_stripe_and_aws_only(changes: dict[str, str],
                                                                refused: str) -> None:
    raw = {**_production(), **{f"sfbilling:{k}": RawValue(v) for k, v in changes.items()}}
    with pytest.raises(StackConfigError) as exc:
        resolve(raw, env="prod", source="test")
    assert any(p.startswith(f"sfbilling:{refused}: production") for p in exc.value.problems)


@pytest.mark.parametrize("changes", [
    {"stripeApiBase": "https://api.stripe.com"},
    {"awsEndpointUrl": "https://dynamodb-fips.us-east-1.amazonaws.com"},
    {"awsEndpointUrl": "https://vpce-0a1b-abc.dynamodb.eu-west-1.vpce.amazonaws.com"},
    {"awsEndpointUrl": "https://dynamodb.eu-west-1.api.aws"},
])
def test_production_accepts_stripe_and_aws_endpoints(changes: dict[str, str]) -> None:
    raw = {**_production(), **{f"sfbilling:{k}": RawValue(v) for k, v in changes.items()}}
    assert resolve(raw, env="prod", source="test").kind == "production"


def test_production_refuses_notestrun() -> None:
    raw = {**_production(), "sfbilling:deployTestLevel": RawValue("NoTestRun")}
    with pytest.raises(StackConfigError, match="NoTestRun is refused in production"):
        resolve(raw, env="prod", source="test")


def _production() -> dict[str, RawValue]:
    return {"sfbilling:environmentKind": RawValue("production"),
            "aws:region": RawValue("eu-west-1")}


def test_the_config_version_fits_the_stamps_field() -> None:
    assert _problems({"sfbilling:configVersion": "v" * 41}) == [
        "sfbilling:configVersion: at most 40 characters (the release stamp's field), got 41"]
    assert _resolve({"sfbilling:configVersion": "v" * 40})["configVersion"] == "v" * 40
