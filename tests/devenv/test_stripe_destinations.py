"""The Stripe stand-in's v2 event destinations, through the real `stripe` SDK, delivering to the
AWS stand-in's EventBridge as Stripe does: a partner source named after the destination, a bus
associated with it, a rule with an input transformer to SQS (the path issue 23 provisions)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import stripe

from sync_lambda import names

if TYPE_CHECKING:
    from devenv.aws import AwsStandIn
    from devenv.stripe import StripeStandIn

ACCOUNT = "123456789012"  # moto's default account


def _wait(check: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _destination(client: stripe.StripeClient, events: list[str]) -> Any:
    return client.v2.core.event_destinations.create({
        "name": "sfbilling-test", "type": "amazon_eventbridge", "event_payload": "snapshot",
        "enabled_events": events,
        "amazon_eventbridge": {"aws_account_id": ACCOUNT, "aws_region": "us-east-1"}})


def _path(aws: AwsStandIn, source: str) -> str:
    """The AWS half as the Pulumi program builds it: bus (the association), rule, SQS."""
    events = boto3.client("events", **aws.client_kwargs())
    sqs = boto3.client("sqs", **aws.client_kwargs())
    _wait(lambda: _described(events, source), "the partner event source")
    events.create_event_bus(Name=source, EventSourceName=source)
    queue_url = sqs.create_queue(QueueName="stripe-events")["QueueUrl"]
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


def _described(events: Any, source: str) -> bool:
    try:
        events.describe_event_source(Name=source)
    except events.exceptions.ResourceNotFoundException:
        return False
    return True


def _drain(aws: AwsStandIn, queue_url: str, want: int) -> list[str]:
    sqs = boto3.client("sqs", **aws.client_kwargs())
    bodies: list[str] = []

    def more() -> bool:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  WaitTimeSeconds=0).get("Messages", [])
        bodies.extend(m["Body"] for m in got)
        return len(bodies) >= want

    _wait(more, f"{want} queued messages")
    return bodies


def test_a_destination_delivers_only_the_queued_fields_of_its_events(
        stripe_api: StripeStandIn, stripe_client: stripe.StripeClient,
        aws: AwsStandIn) -> None:
    # GIVEN a destination for customer events, and the AWS half associated with its source
    stripe_api.deliver_to(aws.endpoint_url, source_delay_s=0.3)
    dest = _destination(stripe_client, ["customer.created"])
    assert dest.id.startswith("ed_test_")
    assert dest.status == "enabled"
    source = f"aws.partner/stripe.com/{dest.id}"
    assert dest.amazon_eventbridge is not None
    assert dest.amazon_eventbridge.aws_event_source_arn.endswith(f":event-source/{source}")
    queue_url = _path(aws, source)
    seen = stripe_client.v2.core.event_destinations.retrieve(dest.id).amazon_eventbridge
    assert seen is not None
    assert seen.aws_event_source_status == "active"
    # WHEN a customer with a marker name is created in Stripe
    marker = "Marker Customer 7c1e"
    customer = stripe_client.v1.customers.create({"name": marker, "email": "m@example.com"})
    # THEN one message reaches the queue, holding the event's id, type and created only
    [body] = _drain(aws, queue_url, 1)
    message = json.loads(body)
    assert set(message) == {"id", "type", "created"}
    assert message["type"] == "customer.created"
    assert message["id"].startswith("evt_")
    assert message["created"].isdigit()  # a v1 event's epoch seconds, as text
    assert marker not in body and customer.id not in body and "m@example.com" not in body


def test_ping_disable_enable_update_list_delete(
        stripe_api: StripeStandIn, stripe_client: stripe.StripeClient,
        aws: AwsStandIn) -> None:
    stripe_api.deliver_to(aws.endpoint_url, source_delay_s=0.1)
    service = stripe_client.v2.core.event_destinations
    dest = _destination(stripe_client, ["customer.created"])
    queue_url = _path(aws, f"aws.partner/stripe.com/{dest.id}")
    # A ping goes through the whole path
    service.ping(dest.id)
    assert json.loads(_drain(aws, queue_url, 1)[0])["type"] == names.EVENT_DESTINATION_PING
    # A disabled destination delivers nothing and says why
    disabled = service.disable(dest.id)
    assert disabled.status == "disabled"
    assert disabled.status_details is not None
    assert disabled.status_details.disabled is not None
    assert disabled.status_details.disabled.reason == "user"
    stripe_client.v1.customers.create({"name": "Unseen"})
    time.sleep(1.0)
    sqs = boto3.client("sqs", **aws.client_kwargs())
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages") is None
    assert service.enable(dest.id).status == "enabled"
    # Update, list, delete
    updated = service.update(dest.id, {"enabled_events": ["customer.created",
                                                          "customer.updated"]})
    assert updated.enabled_events == ["customer.created", "customer.updated"]
    assert [d.id for d in service.list().data] == [dest.id]
    service.delete(dest.id)
    with pytest.raises(stripe.InvalidRequestError):
        service.retrieve(dest.id)


def test_writes_need_a_secret_key_and_reads_take_a_restricted_one(
        stripe_api: StripeStandIn, stripe_client: stripe.StripeClient) -> None:
    stripe_api.deliver_to(None)
    dest = _destination(stripe_client, ["customer.created"])
    restricted = stripe.StripeClient(stripe_api.api_key.replace("sk_", "rk_", 1),
                                     base_addresses={"api": stripe_api.api_base},
                                     max_network_retries=0)
    assert restricted.v2.core.event_destinations.retrieve(dest.id).id == dest.id
    with pytest.raises(stripe.PermissionError):
        _destination(restricted, ["customer.created"])
    with pytest.raises(stripe.PermissionError):
        restricted.v2.core.event_destinations.disable(dest.id)


def test_a_bad_create_is_a_clear_error(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="12-digit AWS account id"):
        stripe_client.v2.core.event_destinations.create({
            "name": "x", "type": "amazon_eventbridge", "event_payload": "snapshot",
            "enabled_events": ["customer.created"],
            "amazon_eventbridge": {"aws_account_id": "42", "aws_region": "us-east-1"}})
