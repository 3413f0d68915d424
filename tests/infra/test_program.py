"""The Pulumi program under Pulumi's mocks, for the sandbox and the production stack files as
committed (placeholders filled in): every resource and its key properties, no secret where it
does not belong, the two stacks differing only where their config does, bad config stopping
the program before any resource, and an unchanged build giving no diff."""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING, Any

import pulumi
import pytest
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

from infra.lambda_package import PACKAGE_VAR, build
from infra.paths import ROOT
from metadata.config import OrgConfig
from metadata.render import render_release
from stackconfig.resolve import lambda_environment, resolve
from stackconfig.schedule import longest_gap_s
from stackconfig.schema import RESOURCE_ENV
from stackconfig.stackfile import RawValue
from tests.infra.program import (
    ACCOUNT,
    ADMIN_MARKERS,
    LIVE_STRIPE_MARKER,
    MARKERS,
    REGION,
    Cloud,
    ProgramRun,
    Registered,
    plain,
    run_program,
    stack_config,
)

if TYPE_CHECKING:
    from infra.lambda_package import Package

ENVS = ("sandbox", "prod")
ALL_MARKERS = (*MARKERS.values(), LIVE_STRIPE_MARKER, *ADMIN_MARKERS.values())
DYNAMIC = "pulumi-python:dynamic/salesforce:OrgConfig"
EXPECTED = {  # (type, logical name), for each stack
    ("sfbilling:index:SyncFunction", "sync"), ("sfbilling:index:Alarms", "alarms"),
    (DYNAMIC, "org-config"),
    ("aws:dynamodb/table:Table", "sync-state"),
    ("aws:secretsmanager/secret:Secret", "sync-stripe"),
    ("aws:secretsmanager/secret:Secret", "sync-salesforce"),
    ("aws:secretsmanager/secretVersion:SecretVersion", "sync-stripe-value"),
    ("aws:secretsmanager/secretVersion:SecretVersion", "sync-salesforce-value"),
    ("aws:sqs/queue:Queue", "sync-dead-letters"),
    ("aws:cloudwatch/logGroup:LogGroup", "sync-logs"),
    ("aws:iam/role:Role", "sync-role"), ("aws:iam/rolePolicy:RolePolicy", "sync-policy"),
    ("aws:iam/role:Role", "sync-scheduler-role"),
    ("aws:iam/rolePolicy:RolePolicy", "sync-scheduler-policy"),
    ("aws:lambda/function:Function", "sync-function"),
    ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "sync-async"),
    ("aws:scheduler/schedule:Schedule", "sync-schedule"),
    ("sfbilling:index:Dashboard", "dashboard"),
    ("aws:cloudwatch/dashboard:Dashboard", "dashboard-board"),
    ("aws:sns/topic:Topic", "alarms-topic"),
    ("aws:sns/topicSubscription:TopicSubscription", "alarms-email"),
    *(("aws:cloudwatch/metricAlarm:MetricAlarm", f"alarms-{a}") for a in (
        "errors", "throttled", "near-timeout", "dead-letters", "failed-rows", "held-back",
        "lease-lost", "api-budget", "reconcile", "stuck")),
}


def _run(env: str, **changes: str | None) -> ProgramRun:
    config, secret_keys = stack_config(env, **changes)
    return run_program(env, config, secret_keys)


@pytest.fixture(scope="module", params=ENVS)
def stack(request: pytest.FixtureRequest, lambda_package: Package) -> tuple[str, ProgramRun]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PACKAGE_VAR, str(lambda_package.path))
        return request.param, _run(request.param)


def _state(run: ProgramRun, name: str) -> dict[str, Any]:
    return next(r.state for r in run.resources if r.name == name)


def test_every_resource_is_there_parented_and_its_components_register_outputs(
        stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    assert {(r.typ, r.name) for r in run.resources} == EXPECTED
    components = {r.name: r for r in run.resources if not r.custom}
    assert set(components) == {"sync", "alarms", "dashboard"}
    for r in run.resources:
        if r.name in components or r.typ == DYNAMIC:
            assert r.parent.endswith(f"pulumi:pulumi:Stack::sfbilling-{env}"), r.name
        else:  # every child under its component
            owner = r.name.split("-", 1)[0] if r.name.startswith(("alarms-", "dashboard-")) \
                else "sync"
            assert r.parent.endswith(f"::{owner}"), (r.name, r.parent)
    assert {u.rsplit("::", 1)[-1] for u in run.outputs_registered} >= {"sync", "alarms",
                                                                        "dashboard"}


def test_the_function(stack: tuple[str, ProgramRun], lambda_package: Package) -> None:
    env, run = stack
    fn = run.function.inputs
    assert fn["name"] == f"sfbilling-{env}-sync"
    assert (fn["runtime"], fn["architectures"], fn["handler"]) == (
        "python3.12", ["arm64"], "sync_lambda.handler.lambda_handler")
    assert (fn["memorySize"], fn["timeout"], fn["reservedConcurrentExecutions"]) == (
        512, 900, 1)
    assert isinstance(fn["code"], pulumi.FileArchive)
    assert fn["code"].path == str(lambda_package.path)
    assert fn["sourceCodeHash"] == lambda_package.code_hash
    assert base64.b64decode(fn["sourceCodeHash"]).hex() == lambda_package.sha256
    # The log group (with its retention) exists before the function.
    logs = run.one("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == f"/aws/lambda/{fn['name']}"
    assert logs.inputs["retentionInDays"] == {"sandbox": 30, "prod": 365}[env]
    assert fn["loggingConfig"] == {"logFormat": "JSON", "logGroup": logs.inputs["name"]}
    assert any(d.endswith("::sync-logs") for d in run.function.depends_on)
    # Names and ARNs, never a secret value: exactly the variables the schema assigns.
    variables = fn["environment"]["variables"]
    config, secret_keys = stack_config(env)
    stackcfg = resolve({k: RawValue(v, k in secret_keys) for k, v in config.items()}, env=env,
                       source="test")
    assert set(variables) == set(lambda_environment(stackcfg)) | set(RESOURCE_ENV) | {
        "POWERTOOLS_SERVICE_NAME"}
    assert variables["SFB_TABLE_NAME"] == f"sfbilling-{env}-state"
    assert variables["SFB_STRIPE_SECRET_ARN"] == _state(run, "sync-stripe")["arn"]
    assert variables["SFB_SF_SECRET_ARN"] == _state(run, "sync-salesforce")["arn"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == fn["name"]
    assert not any(is_rpc_secret(v) for v in variables.values())


def test_the_schedule_targets_the_function_with_retries_and_a_dead_letter_queue(
        stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    schedule = run.one("aws:scheduler/schedule:Schedule").inputs
    fn_arn = _state(run, "sync-function")["arn"]
    dlq_arn = _state(run, "sync-dead-letters")["arn"]
    assert schedule["scheduleExpression"] == "rate(15 minutes)"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule["target"]["arn"] == fn_arn
    assert schedule["target"]["roleArn"] == _state(run, "sync-scheduler-role")["arn"]
    assert schedule["target"]["deadLetterConfig"] == {"arn": dlq_arn}
    assert schedule["target"]["retryPolicy"] == {"maximumRetryAttempts": 5,
                                                 "maximumEventAgeInSeconds": 3600}
    assert json.loads(schedule["target"]["input"]) == {"scheduled": True}
    # The committed stack files deploy paused: nothing imports before someone enables it.
    assert schedule["state"] == "DISABLED"
    # Lambda's own async retries of a failed run are off; failures go to the same queue.
    invoke = run.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert invoke["functionName"] == f"sfbilling-{env}-sync"
    assert (invoke["maximumRetryAttempts"], invoke["maximumEventAgeInSeconds"]) == (0, 3600)
    assert invoke["destinationConfig"] == {"onFailure": {"destination": dlq_arn}}
    queue = run.one("aws:sqs/queue:Queue").inputs
    assert queue["sqsManagedSseEnabled"] is True
    assert "fifoQueue" not in queue  # the Scheduler takes only standard queues
    trust = json.loads(run.one("aws:iam/role:Role", "sync-scheduler-role").inputs[
        "assumeRolePolicy"])
    assert trust["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {
            "aws:SourceAccount": ACCOUNT,
            # Only schedules of the stack's region and group (the default one) may use it.
            "aws:SourceArn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/default"}}}]
    policy = run.policy("sync-scheduler-policy")
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (["lambda:InvokeFunction"], [fn_arn, f"{fn_arn}:*"]),
        (["sqs:SendMessage"], [dlq_arn])]


def test_the_state_table(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    table = run.one("aws:dynamodb/table:Table").inputs
    assert table["name"] == f"sfbilling-{env}-state"
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert (table["hashKey"], table["rangeKey"]) == ("pk", "sk")
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table["deletionProtectionEnabled"] is (env == "prod")


def test_the_secrets(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    secrets = {r.name: r.inputs for r in run.of_type("aws:secretsmanager/secret:Secret")}
    assert {s["name"] for s in secrets.values()} == {f"sfbilling-{env}/stripe",
                                                     f"sfbilling-{env}/salesforce"}
    assert {s["recoveryWindowInDays"] for s in secrets.values()} == {
        {"sandbox": 7, "prod": 30}[env]}
    versions = {r.name: r for r in run.of_type(
        "aws:secretsmanager/secretVersion:SecretVersion")}
    stripe = versions["sync-stripe-value"]
    assert is_rpc_secret(stripe.inputs["secretString"])
    assert unwrap_rpc_secret(stripe.inputs["secretString"]) == stack_config(env)[0][
        "sfbilling:stripeApiKey"]
    assert stripe.inputs["secretId"] == _state(run, "sync-stripe")["arn"]
    sf = versions["sync-salesforce-value"]
    assert is_rpc_secret(sf.inputs["secretString"])
    # The Lambda's format: JSON {"private_key"} for the JWT bearer flow.
    assert json.loads(unwrap_rpc_secret(sf.inputs["secretString"])) == {
        "private_key": MARKERS["sfbilling:salesforcePrivateKey"].strip()}


def test_the_alarms(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    topic_arn = _state(run, "alarms-topic")["arn"]
    email = run.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (email["protocol"], email["endpoint"], email["topic"]) == (
        "email", "billing-ops@example.com", topic_arn)
    alarms = {r.name.removeprefix("alarms-"): r.inputs
              for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    fn = f"sfbilling-{env}-sync"
    for a in alarms.values():
        assert a["alarmActions"] == [topic_arn]
        assert a["okActions"] == [topic_arn]
        assert a["alarmDescription"]
    assert (alarms["errors"]["metricName"], alarms["errors"]["dimensions"]) == (
        "Errors", {"FunctionName": fn})
    assert alarms["dead-letters"]["dimensions"] == {"QueueName": f"sfbilling-{env}-dead-letters"}
    assert (alarms["dead-letters"]["threshold"], alarms["dead-letters"]["comparisonOperator"]) \
        == (0, "GreaterThanThreshold")
    throttled = {q["id"]: q for q in alarms["throttled"]["metricQueries"]}
    assert throttled["throttles"]["metric"]["metricName"] == "Throttles"
    assert "IF(throttles > 0 AND invocations == 0" in throttled["stalled"]["expression"]
    # The run stops 90 s before the 900 s timeout; ending past 855 s means it did not.
    assert alarms["near-timeout"]["threshold"] == 855_000
    for key, metric in (("failed-rows", "failed_rows"),
                        ("held-back", "mass_deactivation_held_back"),
                        ("lease-lost", "lease_lost"), ("api-budget", "api_budget_stop"),
                        ("reconcile", "reconcile_disagreements")):
        assert (alarms[key]["namespace"], alarms[key]["metricName"], alarms[key]["dimensions"],
                alarms[key]["threshold"]) == ("SfBillingSync", metric, {"service": fn}, 0)
    stuck = alarms["stuck"]
    assert (stuck["metricName"], stuck["threshold"], stuck["period"],
            stuck["treatMissingData"]) == ("checkpoint_age_seconds", 1800, 1800, "breaching")
    assert {a["treatMissingData"] for k, a in alarms.items() if k != "stuck"} == {
        "notBreaching"}


@pytest.mark.parametrize(("schedule", "period", "periods"), [
    ("rate(15 minutes)", 1800, 1), ("rate(36 hours)", 86_400, 3), ("rate(2 days)", 86_400, 4),
    ("cron(0 9 ? * MON-FRI *)", 86_400, 6)])
def test_the_stuck_alarm_looks_back_twice_the_longest_gap(schedule: str, period: int,
                                                          periods: int) -> None:
    # A run every 36 hours, every other day, or on weekdays only leaves whole days without a
    # data point: the alarm fires only when every period of twice the gap breached.
    config, secrets = stack_config("sandbox", schedule=schedule)
    stuck = next(r for r in run_program("sandbox", config, secrets).of_type(
        "aws:cloudwatch/metricAlarm:MetricAlarm") if r.name.endswith("-stuck")).inputs
    assert (stuck["period"], stuck["evaluationPeriods"], stuck["datapointsToAlarm"]) == (
        period, periods, periods)
    assert stuck["threshold"] == 2 * longest_gap_s(schedule)
    assert stuck["period"] * stuck["evaluationPeriods"] <= 7 * 86_400  # CloudWatch's limit


def test_a_weekly_schedule_is_refused_before_any_resource() -> None:
    config, secrets = stack_config("sandbox", schedule="cron(0 9 ? * MON *)")
    with pytest.raises(pulumi.RunError, match="seven-day look-back"):
        run_program("sandbox", config, secrets)


def test_the_org_config_resource(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    org = run.one(DYNAMIC)
    config, secret_keys = stack_config(env)
    stackcfg = resolve({k: RawValue(v, k in secret_keys) for k, v in config.items()}, env=env,
                       source="test")
    release = render_release(OrgConfig.from_stack(stackcfg))
    assert org.inputs["content_hash"] == release.content_hash
    # What travels over gRPC keeps nulls: an unset Card Mapping is sent as null (the mocks'
    # deserialized `inputs` drop it; the engine keeps it, tests/infra/engine).
    assert org.wire["settings"] == {"Card Mapping": None, "Payment creation batch size": 70.0}
    assert org.inputs["environment_kind"] == {"sandbox": "sandbox", "prod": "production"}[env]
    assert org.inputs["org_id"] == config["sfbilling:salesforceOrgId"]
    assert is_rpc_secret(org.inputs["private_key"])
    assert "consumer_secret" not in org.inputs  # the JWT flow's stack holds no other secret
    assert set(org.secret_outputs) == {"private_key", "consumer_secret"}
    assert run.exports["orgReleaseHash"] == release.content_hash


def test_the_exports(stack: tuple[str, ProgramRun], lambda_package: Package) -> None:
    env, run = stack
    fn = _state(run, "sync-function")
    assert run.exports["functionName"] == fn["name"]
    assert run.exports["functionArn"] == fn["arn"]
    assert run.exports["scheduleName"] == f"sfbilling-{env}-sync"
    assert run.exports["tableName"] == f"sfbilling-{env}-state"
    assert run.exports["alarmTopicArn"] == _state(run, "alarms-topic")["arn"]
    assert run.exports["dashboardUrl"].endswith(f"#dashboards:name=sfbilling-{env}-sync")
    assert run.exports["packageSha256"] == lambda_package.sha256
    commit, config_hash, package = run.exports["releaseId"].split(".")
    assert package == lambda_package.sha256[:12]
    assert len(config_hash) == 12
    assert commit == "unknown" or len(commit.removesuffix("-dirty")) == 12


def _secret_free(value: Any, path: str, found: list[str]) -> None:
    """Collect the paths where a marker is readable (in clear, or secret-wrapped)."""
    text = json.dumps(plain(value), default=lambda o: getattr(o, "path", repr(o)))
    if any(m.strip() in text or json.dumps(m.strip())[1:-1] in text for m in ALL_MARKERS):
        found.append(path)


def test_no_secret_outside_the_secret_versions_and_the_org_configs_credentials(
        stack: tuple[str, ProgramRun]) -> None:
    _env, run = stack
    allowed = {("sync-stripe-value", "secretString"), ("sync-salesforce-value", "secretString"),
               ("org-config", "private_key")}
    found: list[str] = []
    for r in run.resources:
        for where, props in (("input", r.inputs), ("state", r.state)):
            for key, value in props.items():
                if (r.name, key) in allowed:
                    assert is_rpc_secret(value), f"{r.name}.{key} ({where}) is not secret"
                    continue
                _secret_free(value, f"{r.name}.{key} ({where})", found)
    _secret_free(run.exports, "exports", found)
    assert found == []
    # The pickled provider holds no secret either (and is small: pickled by reference).
    provider = base64.b64decode(plain(run.one(DYNAMIC).inputs["__provider"]))
    assert len(provider) < 200
    assert not any(m.strip().encode() in provider for m in ALL_MARKERS)


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items()
                for k, v in _flat(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value)
                for k, v in _flat(item, f"{path}[{i}]").items()}
    return {path: value}


def _comparable(r: Registered, env: str) -> dict[str, Any]:
    text = json.dumps(plain(r.inputs), default=lambda _archive: "<archive>")
    return {k: v for k, v in _flat(json.loads(text.replace(f"sfbilling-{env}", "sfbilling-ENV"))
                                   ).items() if k != "__provider"}


def test_sandbox_and_production_differ_only_where_their_config_differs() -> None:
    runs = {env: _run(env) for env in ENVS}
    inputs = {env: {r.name: _comparable(r, env) for r in run.resources}
              for env, run in runs.items()}
    differences = set()
    for name, sandbox in inputs["sandbox"].items():
        prod = inputs["prod"][name]
        differences |= {(name, k) for k in set(sandbox) | set(prod)
                        if sandbox.get(k) != prod.get(k)}
    tags = {(r.name, "tags.environment") for r in runs["sandbox"].resources if "tags" in r.inputs}
    by_config = {
        # environmentKind: production is protected and validated first
        ("sync-state", "deletionProtectionEnabled"), ("sync-stripe", "recoveryWindowInDays"),
        ("sync-salesforce", "recoveryWindowInDays"),
        ("sync-function", "environment.variables.SFB_ENVIRONMENT_KIND"),
        ("org-config", "environment_kind"), ("org-config", "env"),
        # stripeApiKey (test mode for the sandbox, live for production)
        ("sync-stripe-value", "secretString"),
        # logRetentionDays
        ("sync-logs", "retentionInDays"),
        # the org and how to log in to it
        *(("sync-function", f"environment.variables.SFB_SF_{v}")
          for v in ("LOGIN_URL", "USERNAME", "CONSUMER_KEY", "ORG_ID")),
        *(("org-config", k) for k in ("login_url", "username", "consumer_key", "org_id",
                                      "assignee")),
        # salesforceJwtAudience's default follows environmentKind: test, then login
        ("org-config", "audience"),
    }
    assert differences == by_config | tags


@pytest.mark.parametrize(("changes", "messages"), [
    ({"paymentCreationBatchSize": "71", "schedule": "every 5 minutes"},
     ["sfbilling:paymentCreationBatchSize: must be between 1 and 70, got 71",
      "sfbilling:schedule: must be a schedule expression"]),
    ({"stripeApiKey": None},
     ["sfbilling:stripeApiKey is not set: `pulumi config set --secret --stack sandbox "
      "sfbilling:stripeApiKey`"]),
    ({"sfbiling:syncMode": "create_and_link"},
     ["sfbiling:syncMode: namespace `sfbiling:` is not `sfbilling:`; did you mean "
      "`sfbilling:syncMode`?"]),
    ({"salesforceUsername": None},
     ["sfbilling:salesforceUsername is not set, and logging in to the org needs it"]),
    ({"environmentKind": "local"}, ["environmentKind is local"]),
])
def test_a_bad_stack_config_fails_with_the_schemas_message_before_any_resource(
        changes: dict[str, str | None], messages: list[str]) -> None:
    config, secret_keys = stack_config("sandbox", **changes)
    cloud = Cloud()
    with pytest.raises(pulumi.RunError) as exc:
        run_program("sandbox", config, secret_keys, cloud)
    for message in messages:
        assert message in str(exc.value)
    assert cloud.registered == []


@pytest.mark.parametrize(("env", "key", "message"), [
    ("sandbox", "rk_live_abc", "a live Stripe key (rk_live_…) in a sandbox environment"),
    ("prod", "rk_test_abc", "a test Stripe key (rk_test_…) in production"),
])
def test_a_stripe_key_of_the_wrong_mode_is_refused_without_showing_it(
        env: str, key: str, message: str) -> None:
    config, secret_keys = stack_config(env, stripeApiKey=key)
    cloud = Cloud()
    with pytest.raises(pulumi.RunError) as exc:
        run_program(env, config, secret_keys, cloud)
    assert message in str(exc.value)
    assert key not in str(exc.value)
    assert cloud.registered == []


def test_a_secret_set_in_clear_text_is_refused() -> None:
    config, _ = stack_config("sandbox")
    cloud = Cloud()
    with pytest.raises(pulumi.RunError) as exc:
        run_program("sandbox", config, ["sfbilling:salesforcePrivateKey"], cloud)
    assert "sfbilling:stripeApiKey is in clear text" in str(exc.value)
    assert cloud.registered == []


def test_the_language_hosts_environment_variables_are_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` passes the config as PULUMI_CONFIG and the encrypted keys as
    PULUMI_CONFIG_SECRET_KEYS (not through set_all_config)."""
    config, secret_keys = stack_config("sandbox", paymentCreationBatchSize="50")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(secret_keys))
    run = run_program("sandbox", {}, [])
    assert run.one(DYNAMIC).inputs["settings"]["Payment creation batch size"] == 50
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
    with pytest.raises(pulumi.RunError, match="is in clear text"):
        run_program("sandbox", {}, [])


def test_an_unchanged_build_gives_the_same_code_hash(
        lambda_package: Package, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _run("sandbox").function.inputs
    again = build(out=tmp_path / "again.zip")
    monkeypatch.setenv(PACKAGE_VAR, str(again.path))
    second = _run("sandbox")
    assert second.function.inputs["sourceCodeHash"] == first["sourceCodeHash"]
    assert second.exports["packageSha256"] == lambda_package.sha256
    assert second.function.inputs["code"].path != first["code"].path


def test_a_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Any) -> None:
    monkeypatch.setenv(PACKAGE_VAR, str(tmp_path / "nope.zip"))
    with pytest.raises(pulumi.RunError, match="no such file; build it with `make package`"):
        _run("sandbox")


def test_a_relative_package_path_is_read_from_the_project_root(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any, lambda_package: Package) -> None:
    # GIVEN a package path relative to the root, and a process that started somewhere else
    relative = os.path.relpath(lambda_package.path, ROOT)
    monkeypatch.setenv(PACKAGE_VAR, relative)
    monkeypatch.chdir(tmp_path)
    # WHEN the program runs
    run = _run("sandbox")
    # THEN it deploys the root's file, by its absolute path
    assert run.function.inputs["code"].path == str(lambda_package.path)
    assert run.exports["packageSha256"] == lambda_package.sha256


def test_a_missing_relative_package_names_the_given_and_the_resolved_path(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv(PACKAGE_VAR, "build/no-such.zip")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pulumi.RunError) as caught:
        _run("sandbox")
    message = str(caught.value)
    assert "'build/no-such.zip'" in message
    assert str(ROOT / "build" / "no-such.zip") in message



def test_the_region_is_the_stacks() -> None:
    assert _run("sandbox").exports["functionArn"].split(":")[3] == REGION


def test_an_enabled_environment_deploys_a_running_schedule() -> None:
    config, secrets = stack_config("sandbox", importEnabled="true")
    schedule = run_program("sandbox", config, secrets).one(
        "aws:scheduler/schedule:Schedule").inputs
    assert schedule["state"] == "ENABLED"


def test_import_enabled_is_never_promoted() -> None:
    from stackconfig.schema import Scope, key

    assert key("importEnabled").scope is Scope.PER_ENVIRONMENT
