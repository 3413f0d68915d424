"""The near-real-time path under Pulumi's mocks: with `eventDestination: create` (or adopt) the
program registers the destination, the partner bus named after its source, the rule, the
queue with its DLQ and policies, the mapping, and the two alarms; with it off, none of them.
The IAM documents are checked in tests/infra/test_iam_contract.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pulumi.runtime.rpc import is_rpc_secret

from infra.alarms import NO_EVENTS_EXPRESSION
from infra.lambda_package import PACKAGE_VAR
from sfbilling.event_queue import MappingConfig, program_config
from sync_lambda import names
from tests.infra.program import (
    ACCOUNT,
    ADMIN_MARKERS,
    DESTINATION,
    MOCK_DESTINATION_ID,
    REGION,
    ProgramRun,
    plain,
    run_program,
    stack_config,
)

if TYPE_CHECKING:
    from infra.lambda_package import Package

SOURCE = f"aws.partner/stripe.com/{MOCK_DESTINATION_ID}"
PATH_TYPES = {DESTINATION, "aws:cloudwatch/eventBus:EventBus",
              "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget",
              "aws:sqs/queuePolicy:QueuePolicy", "aws:lambda/eventSourceMapping:EventSourceMapping",
              "sfbilling:index:EventPath"}


def _run(env: str, package: Package, **changes: str | None) -> ProgramRun:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PACKAGE_VAR, str(package.path))
        config, secret_keys = stack_config(env, **changes)
        return run_program(env, config, secret_keys)


@pytest.fixture(scope="module")
def created(lambda_package: Package) -> ProgramRun:
    return _run("sandbox", lambda_package, eventDestination="create")


def test_events_off_registers_none_of_the_path(lambda_package: Package) -> None:
    run = _run("sandbox", lambda_package)
    assert {r.typ for r in run.resources} & PATH_TYPES == set()
    assert "eventDestinationId" not in run.exports
    assert plain(run.one("aws:scheduler/schedule:Schedule", "sync-schedule").inputs[
        "scheduleExpression"]) == "rate(15 minutes)"


def test_the_destination_sends_the_import_s_events_to_this_account(created: ProgramRun) -> None:
    dest = created.one(DESTINATION)
    inputs = plain(dest.inputs)
    assert (inputs["mode"], inputs.get("adopt_id")) == ("create", None)  # nulls dropped
    assert inputs["enabled_events"] == list(names.EVENT_TYPES)
    assert (inputs["aws_account_id"], inputs["aws_region"]) == (ACCOUNT, REGION)
    assert inputs["environment_kind"] == "sandbox" and inputs["name"] == "sfbilling-sandbox"
    # The deploy key: a secret input, and secret again in the state.
    assert is_rpc_secret(dest.inputs["api_key"])
    assert plain(dest.inputs["api_key"]) == ADMIN_MARKERS["sandbox"]
    assert "api_key" in dest.secret_outputs
    assert dest.parent.endswith("::events")


def test_the_bus_is_the_association_named_from_the_destination(created: ProgramRun) -> None:
    bus = created.one("aws:cloudwatch/eventBus:EventBus")
    assert plain(bus.inputs)["name"] == plain(bus.inputs)["eventSourceName"] == SOURCE
    rule = created.one("aws:cloudwatch/eventRule:EventRule")
    assert plain(rule.inputs)["eventBusName"] == SOURCE
    assert json.loads(plain(rule.inputs)["eventPattern"]) == {
        "source": [SOURCE],
        "detail-type": [*names.EVENT_TYPES, names.EVENT_DESTINATION_PING]}


def test_only_id_type_and_created_reach_the_queue(created: ProgramRun) -> None:
    target = plain(created.one("aws:cloudwatch/eventTarget:EventTarget").inputs)
    queue = created.one("aws:sqs/queue:Queue", "events-queue").state
    dlq = created.one("aws:sqs/queue:Queue", "events-dlq").state
    assert target["arn"] == queue["arn"]
    assert target["inputTransformer"] == {"inputPaths": names.QUEUED_EVENT_FIELDS,
                                          "inputTemplate": names.QUEUED_EVENT_TEMPLATE}
    assert target["deadLetterConfig"] == {"arn": dlq["arn"]}
    assert target["retryPolicy"] == {"maximumRetryAttempts": 185,
                                     "maximumEventAgeInSeconds": 86_400}


def test_the_queue_outlasts_throttling_and_only_the_rule_may_send(created: ProgramRun) -> None:
    queue = plain(created.one("aws:sqs/queue:Queue", "events-queue").inputs)
    timeout = plain(created.function.inputs)["timeout"]
    assert queue["visibilityTimeoutSeconds"] >= 6 * timeout
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive["maxReceiveCount"] >= 10
    assert redrive["deadLetterTargetArn"] == created.one("aws:sqs/queue:Queue",
                                                         "events-dlq").state["arn"]
    rule_arn = created.one("aws:cloudwatch/eventRule:EventRule").state["arn"]
    for policy in created.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        [statement] = json.loads(plain(policy.inputs)["policy"])["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    assert len(created.of_type("aws:sqs/queuePolicy:QueuePolicy")) == 2


def test_the_mapping_follows_import_enabled(created: ProgramRun,
                                            lambda_package: Package) -> None:
    mapping = plain(created.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs)
    assert mapping["enabled"] is False  # the stack file deploys paused
    assert mapping["functionName"] == created.function.state["arn"]
    assert mapping["eventSourceArn"] == created.one("aws:sqs/queue:Queue",
                                                    "events-queue").state["arn"]
    on = _run("sandbox", lambda_package, eventDestination="create", importEnabled="true")
    assert plain(on.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs)["enabled"]


def test_the_local_runner_reads_its_figures_from_the_registered_mapping(
        created: ProgramRun) -> None:
    config = MappingConfig.registered(
        plain(created.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs),
        plain(created.one("aws:sqs/queue:Queue", "events-queue").inputs),
        plain(created.function.inputs))
    assert config == MappingConfig(batch_size=100, window_s=10.0, concurrency=1,
                                   visibility_timeout_s=5400, max_receives=10)
    assert config.scaled(1 / 300).visibility_timeout_s == 18
    # ... the same figures the demo takes from infra/event_figures.py without the mocks
    assert program_config(900) == config


def test_the_schedule_becomes_the_safety_net(created: ProgramRun) -> None:
    schedule = plain(created.one("aws:scheduler/schedule:Schedule", "sync-schedule").inputs)
    assert schedule["scheduleExpression"] == "rate(1 hour)"
    assert json.loads(schedule["target"]["input"]) == {"scheduled": True}


def test_the_no_events_alarm_and_the_event_dlq_alarm(created: ProgramRun) -> None:
    alarm = plain(created.one("aws:cloudwatch/metricAlarm:MetricAlarm",
                              "alarms-no-events").inputs)
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    assert queries["events"]["metric"]["namespace"] == "AWS/Events"
    assert queries["events"]["metric"]["metricName"] == "Events"
    assert queries["events"]["metric"]["dimensions"] == {"EventSourceName": SOURCE}
    assert queries["changes"]["metric"]["metricName"] == "ScheduledRunChanges"
    assert queries["changes"]["metric"]["dimensions"] == {"service": "sfbilling-sandbox-sync"}
    assert queries["silent"]["expression"] == NO_EVENTS_EXPRESSION
    assert queries["events"]["metric"]["period"] == 3 * 3600  # three hourly gaps
    dlq = plain(created.one("aws:cloudwatch/metricAlarm:MetricAlarm",
                            "alarms-event-dead-letters").inputs)
    assert dlq["dimensions"] == {"QueueName": "sfbilling-sandbox-events-dlq"}


def test_the_exports_and_no_deploy_key_anywhere_else(created: ProgramRun) -> None:
    assert created.exports["eventDestinationId"] == MOCK_DESTINATION_ID
    assert created.exports["eventSourceName"] == SOURCE
    assert created.exports["eventQueueName"] == "sfbilling-sandbox-events"
    key = ADMIN_MARKERS["sandbox"]
    for r in created.resources:
        if r.typ == DESTINATION:
            continue
        assert key not in json.dumps(plain(r.inputs), default=repr), r.name
    assert key not in json.dumps(created.exports)


def test_adopt_registers_the_id_and_production_takes_a_live_key(
        lambda_package: Package) -> None:
    run = _run("prod", lambda_package, eventDestination="adopt",
               eventDestinationId="ed_61ProdDashboardMade")
    inputs: dict[str, Any] = plain(run.one(DESTINATION).inputs)
    assert (inputs["mode"], inputs["adopt_id"]) == ("adopt", "ed_61ProdDashboardMade")
    assert inputs["environment_kind"] == "production"
    assert inputs["api_key"] == ADMIN_MARKERS["prod"]


def test_deploy_credentials_by_arn_keep_every_deploy_key_out_of_the_stack(
        lambda_package: Package) -> None:
    # GIVEN the deploy keys in Secrets Manager, the stack holding only their ARNs
    org_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sfbilling-sandbox/deploy-Ab1"
    stripe_arn = org_arn.replace("deploy-Ab1", "stripe-admin-Cd2")
    run = _run("sandbox", lambda_package, eventDestination="create",
               salesforceDeployPrivateKey=None, salesforceDeploySecretArn=org_arn,
               stripeAdminApiKey=None, stripeAdminSecretArn=stripe_arn)
    # THEN the providers get the ARNs (read at apply time) and no key as an input
    org = plain(run.one("pulumi-python:dynamic/salesforce:OrgConfig").inputs)
    assert org["credential_arn"] == org_arn
    assert "private_key" not in org and "consumer_secret" not in org
    dest = plain(run.one(DESTINATION).inputs)
    assert dest["api_key_arn"] == stripe_arn and "api_key" not in dest
    # AND the only secrets left in the stack are the import's own (the Lambda's)
    assert {r.name for r in run.resources
            if any(is_rpc_secret(v) for k, v in r.inputs.items() if k != "__provider")} == {
        "sync-stripe-value", "sync-salesforce-value"}
