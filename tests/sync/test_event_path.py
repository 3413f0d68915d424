"""The near-real-time path on the stand-ins, end to end and with no schedule: a card added in
Stripe → Stripe's event destination → EventBridge (partner bus, rule, input transformer) → SQS →
the event source mapping's stand-in → the real handler → Salesforce."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import boto3

from sfbilling.event_queue import EventSourceMapping
from sync_lambda import names
from sync_lambda.handler import make_handler
from tests.eventpath import (
    create_destination,
    provision_event_path,
    registered_config,
    wait_for,
)
from tests.sync.lambda_runtime import Context

if TYPE_CHECKING:
    from infra.lambda_package import Package
    from tests.sync.harness import World


def test_a_card_added_in_stripe_reaches_salesforce_through_the_event_path(
        lambda_env: World, lambda_package: Package) -> None:
    # GIVEN an org imported once, and the event path provisioned
    customer, _ = lambda_env.customer(name="Ada Lovelace", cards=())
    first = make_handler()({}, Context())
    assert first["kind"] == "full"
    lambda_env.stripe_api.deliver_to(lambda_env.aws.endpoint_url, source_delay_s=0.1)
    dest = create_destination(lambda_env.stripe, [*names.EVENT_TYPES])
    # (the mapping's batch size, batching window and concurrency as the program registers them)
    config = registered_config(str(lambda_package.path))
    queue_url = provision_event_path(lambda_env.aws, f"aws.partner/stripe.com/{dest.id}",
                                     config)
    sqs = boto3.client("sqs", **lambda_env.aws.client_kwargs())
    mapping = EventSourceMapping(sqs, queue_url, make_handler, config, pollers=2,
                                 timeout_s=120).start()
    try:
        # WHEN a card is attached in Stripe (no schedule runs in this test)
        started = time.monotonic()
        pm = lambda_env.stripe.v1.payment_methods.attach("pm_card_mastercard",
                                                         {"customer": customer})
        # THEN it is in Salesforce, active, through the queue and the handler alone
        row = wait_for(lambda: lambda_env.payment_methods().get(pm.id),
                    "the payment method in Salesforce", timeout=60)
        seconds = time.monotonic() - started
    finally:
        mapping.stop()
    assert row[names.PM_ACTIVE] is True
    assert mapping.stats.invocations >= 1
    assert any(r.get("kind") == "incremental" for r in mapping.stats.results)
    assert seconds < config.window_s + 30, f"{seconds:.1f} s from Stripe to Salesforce"
    assert lambda_env.state().last_event_received() is not None
