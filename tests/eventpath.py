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

ACCOUNT = "123456789012"  # moto's default account
MAX_RECEIVES = 10  # the queue's redrive: throttled batches are received again, never lost


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


def provision_event_path(aws: AwsStandIn, source: str) -> str:
    """The AWS half as the Pulumi program builds it: bus (the association), rule, SQS."""
    events = boto3.client("events", **aws.client_kwargs())
    sqs = boto3.client("sqs", **aws.client_kwargs())
    wait_for(lambda: event_source_exists(events, source), "the partner event source")
    events.create_event_bus(Name=source, EventSourceName=source)
    dlq_url = sqs.create_queue(QueueName="stripe-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="stripe-events", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(MAX_RECEIVES)})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name="stripe", EventBusName=source, EventPattern=json.dumps(
        {"source": [{"prefix": "aws.partner/stripe.com"}],
         "detail-type": [*names.EVENT_TYPES, names.EVENT_DESTINATION_PING]}))
    events.put_targets(Rule="stripe", EventBusName=source, Targets=[{
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
