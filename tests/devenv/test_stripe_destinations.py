"""The Stripe stand-in's v2 event destinations, through the real `stripe` SDK, delivering to the
AWS stand-in's EventBridge as Stripe does: a partner source named after the destination, a bus
associated with it, a rule with an input transformer to SQS (the path issue 23 provisions)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import boto3
import pytest
import stripe

from sync_lambda import names
from tests.eventpath import create_destination, drain_queue, provision_event_path

if TYPE_CHECKING:
    from devenv.aws import AwsStandIn
    from devenv.stripe import StripeStandIn

def test_a_destination_delivers_only_the_queued_fields_of_its_events(
        stripe_api: StripeStandIn, stripe_client: stripe.StripeClient,
        aws: AwsStandIn) -> None:
    # GIVEN a destination for customer events, and the AWS half associated with its source
    stripe_api.deliver_to(aws.endpoint_url, source_delay_s=0.3)
    dest = create_destination(stripe_client, ["customer.created"])
    assert dest.id.startswith("ed_test_")
    assert dest.status == "enabled"
    source = f"aws.partner/stripe.com/{dest.id}"
    assert dest.amazon_eventbridge is not None
    assert dest.amazon_eventbridge.aws_event_source_arn.endswith(f":event-source/{source}")
    queue_url = provision_event_path(aws, source)
    seen = stripe_client.v2.core.event_destinations.retrieve(dest.id).amazon_eventbridge
    assert seen is not None
    assert seen.aws_event_source_status == "active"
    # WHEN a customer with a marker name is created in Stripe
    marker = "Marker Customer 7c1e"
    customer = stripe_client.v1.customers.create({"name": marker, "email": "m@example.com"})
    # THEN one message reaches the queue, holding the event's id, type and created only
    [body] = drain_queue(aws, queue_url, 1)
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
    dest = create_destination(stripe_client, ["customer.created"])
    queue_url = provision_event_path(aws, f"aws.partner/stripe.com/{dest.id}")
    # A ping goes through the whole path
    service.ping(dest.id)
    assert json.loads(drain_queue(aws, queue_url, 1)[0])["type"] == names.EVENT_DESTINATION_PING
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
    dest = create_destination(stripe_client, ["customer.created"])
    restricted = stripe.StripeClient(stripe_api.api_key.replace("sk_", "rk_", 1),
                                     base_addresses={"api": stripe_api.api_base},
                                     max_network_retries=0)
    assert restricted.v2.core.event_destinations.retrieve(dest.id).id == dest.id
    with pytest.raises(stripe.PermissionError):
        create_destination(restricted, ["customer.created"])
    with pytest.raises(stripe.PermissionError):
        restricted.v2.core.event_destinations.disable(dest.id)


def test_a_bad_create_is_a_clear_error(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="12-digit AWS account id"):
        stripe_client.v2.core.event_destinations.create({
            "name": "x", "type": "amazon_eventbridge", "event_payload": "snapshot",
            "enabled_events": ["customer.created"],
            "amazon_eventbridge": {"aws_account_id": "42", "aws_region": "us-east-1"}})
