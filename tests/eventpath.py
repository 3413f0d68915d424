"""The near-real-time path's AWS half, as the Pulumi program builds it, on the stand-ins: shared
by the stand-in tests, the end-to-end test and `make bench`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3

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
    """The AWS half as the Pulumi program builds it (sfbilling.event_queue.provision), with
    `config`'s visibility timeout and redrive (default: SQS's 30 s and MAX_RECEIVES)."""
    from sfbilling.event_queue import MappingConfig, provision

    config = config or MappingConfig(batch_size=10, window_s=0.5, concurrency=1,
                                     visibility_timeout_s=30, max_receives=MAX_RECEIVES)
    return provision(boto3.client("events", **aws.client_kwargs()),
                     boto3.client("sqs", **aws.client_kwargs()), source, config, rule=rule,
                     queue=queue)


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
