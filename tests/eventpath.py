"""The near-real-time path's AWS half, as the Pulumi program builds it, on the stand-ins: shared
by the stand-in tests, the end-to-end test and `make bench`."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import boto3

from sync_lambda import names

if TYPE_CHECKING:
    import stripe

    from devenv.aws import AwsStandIn
    from sfbilling.event_queue import MappingConfig

ACCOUNT = "123456789012"  # moto's default account
MAX_RECEIVES = 10  # the queue's redrive: throttled batches are received again, never lost


# Runs on the stand-ins take seconds where the visibility timeout is sized for a 900-s function:
# the queue's timeout is shortened by this factor (5,400 s → 18 s), keeping about AWS's ratio
# of visibility timeout to run time.
TIME_SCALE = 1 / 300


def registered_config(package_path: str) -> MappingConfig:
    """The mapping's figures as the Pulumi program registers them (the sandbox stack with
    eventDestination: create, under Pulumi's mocks), shortened by TIME_SCALE."""
    import os

    from infra.lambda_package import PACKAGE_VAR
    from sfbilling.event_queue import MappingConfig
    from tests.infra.program import plain, run_program, stack_config

    saved = os.environ.get(PACKAGE_VAR)
    os.environ[PACKAGE_VAR] = package_path
    try:
        config, secret_keys = stack_config("sandbox", eventDestination="create")
        run = run_program("sandbox", config, secret_keys)
    finally:
        if saved is None:
            os.environ.pop(PACKAGE_VAR, None)
        else:
            os.environ[PACKAGE_VAR] = saved
    return MappingConfig.registered(
        plain(run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs),
        plain(run.one("aws:sqs/queue:Queue", "events-queue").inputs),
        plain(run.function.inputs)).scaled(TIME_SCALE)


def wait_for(check: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def create_destination(client: stripe.StripeClient, events: list[str]) -> Any:
    return client.v2.core.event_destinations.create({
        "name": "sfbilling-test", "type": "amazon_eventbridge", "event_payload": "snapshot",
        "enabled_events": events,
        "amazon_eventbridge": {"aws_account_id": ACCOUNT, "aws_region": "us-east-1"}})


def provision_event_path(aws: AwsStandIn, source: str,
                         config: MappingConfig | None = None, *, rule: str = "stripe",
                         queue: str = "stripe-events") -> str:
    """The AWS half as the Pulumi program builds it: bus (the association), rule, SQS (with the
    visibility timeout and redrive of `config`, default: SQS's 30 s and MAX_RECEIVES)."""
    events = boto3.client("events", **aws.client_kwargs())
    sqs = boto3.client("sqs", **aws.client_kwargs())
    wait_for(lambda: event_source_exists(events, source), "the partner event source")
    events.create_event_bus(Name=source, EventSourceName=source)
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=queue, Attributes={
        "VisibilityTimeout": str(config.visibility_timeout_s if config else 30),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(
            config.max_receives if config else MAX_RECEIVES)})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventBusName=source, EventPattern=json.dumps(
        {"source": [{"prefix": "aws.partner/stripe.com"}],
         "detail-type": [*names.EVENT_TYPES, names.EVENT_DESTINATION_PING]}))
    events.put_targets(Rule=rule, EventBusName=source, Targets=[{
        "Id": "queue", "Arn": queue_arn, "InputTransformer": {
            "InputPathsMap": dict(names.QUEUED_EVENT_FIELDS),
            "InputTemplate": names.QUEUED_EVENT_TEMPLATE}}])
    return queue_url


def event_source_exists(events: Any, source: str) -> bool:
    try:
        events.describe_event_source(Name=source)
    except events.exceptions.ResourceNotFoundException:
        return False
    return True


def drain_queue(aws: AwsStandIn, queue_url: str, want: int) -> list[str]:
    sqs = boto3.client("sqs", **aws.client_kwargs())
    bodies: list[str] = []

    def more() -> bool:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  WaitTimeSeconds=0).get("Messages", [])
        bodies.extend(m["Body"] for m in got)
        return len(bodies) >= want

    wait_for(more, f"{want} queued messages")
    return bodies
