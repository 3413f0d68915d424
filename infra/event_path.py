"""The near-real-time path, as one component: Stripe's event destination → its partner event
bus → a rule → an SQS queue (a DLQ behind the rule target and the queue) → the sync function,
through an SQS event source mapping. docs/deploy.md "Stripe's events" says how to turn it on.

- The bus is named after the destination's partner source, from the destination resource's
  output: creating it is the association, so Stripe's 7-day deadline cannot pass unnoticed.
- The rule matches only that source, and only the event types the import reads plus the
  destination's ping. Its input transformer forwards `{id, type, created}`: no customer field
  reaches the queue or a DLQ.
- Reserved concurrency 1 and the mapping's pollers fight: batches the function cannot take are
  throttled and received again after the visibility timeout. So the timeout is
  `VISIBILITY_FACTOR` times the function's, and a message goes to the DLQ only after
  `MAX_RECEIVES` receives: throttling never fills it.
- The mapping is enabled only while `importEnabled` is: the destination may exist while imports
  are paused (its events wait in the queue, up to `RETENTION_S`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import pulumi
import pulumi_aws as aws

from infra.event_destination import StripeEventDestination, StripeEventDestinationArgs
from infra.event_figures import (
    BATCH_SIZE,
    BATCHING_WINDOW_S,
    DLQ_RETENTION_S,
    MAX_RECEIVES,
    RETENTION_S,
    TARGET_EVENT_AGE_S,
    TARGET_RETRIES,
    VISIBILITY_FACTOR,
    event_pattern,
)
from infra.policies import event_consumer_policy, queue_from_rule_policy
from sync_lambda import names

if TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN: Final = "sfbilling:index:EventPath"  # noqa: S105 - a type token
@dataclass(frozen=True, slots=True)
class EventPathArgs:
    """The destination, and the function its events start."""

    destination: StripeEventDestinationArgs
    rule_name: str
    queue_name: str
    function_arn: pulumi.Input[str]
    role_name: pulumi.Input[str]  # the function's role (the mapping polls with it)
    timeout_s: int  # the function's
    import_enabled: bool
    tags: Mapping[str, str] = field(default_factory=dict)


class EventPath(pulumi.ComponentResource):
    """Destination, bus, rule, queues, mapping."""

    destination: StripeEventDestination
    bus: aws.cloudwatch.EventBus
    rule: aws.cloudwatch.EventRule
    queue: aws.sqs.Queue
    dead_letters: aws.sqs.Queue
    mapping: aws.lambda_.EventSourceMapping

    def __init__(self, name: str, args: EventPathArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        tags = dict(args.tags)

        def child(**kwargs: object) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

        self.destination = StripeEventDestination(f"{name}-destination", args.destination,
                                                  opts=child())
        source = self.destination.event_source_name
        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=source, event_source_name=source,
                                           tags=tags, opts=child())
        self.dead_letters = aws.sqs.Queue(
            f"{name}-dlq", name=f"{args.queue_name}-dlq",
            message_retention_seconds=DLQ_RETENTION_S, sqs_managed_sse_enabled=True, tags=tags,
            opts=child())
        self.queue = aws.sqs.Queue(
            f"{name}-queue", name=args.queue_name,
            visibility_timeout_seconds=VISIBILITY_FACTOR * args.timeout_s,
            message_retention_seconds=RETENTION_S, sqs_managed_sse_enabled=True,
            redrive_policy=self.dead_letters.arn.apply(lambda arn: json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVES})),
            tags=tags, opts=child())
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule", name=args.rule_name,
            description="Stripe's events for the import (ids and types only reach the queue)",
            event_bus_name=self.bus.name, event_pattern=source.apply(event_pattern),
            tags=tags, opts=child())
        policies = [aws.sqs.QueuePolicy(
            f"{name}-{part}-policy", queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, self.rule.arn).apply(
                lambda a: json.dumps(queue_from_rule_policy(queue_arn=a[0], rule_arn=a[1]))),
            opts=child()) for part, queue in (("queue", self.queue), ("dlq", self.dead_letters))]
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target", rule=self.rule.name, event_bus_name=self.bus.name,
            target_id="sfbilling-queue", arn=self.queue.arn,
            input_transformer={"input_paths": dict(names.QUEUED_EVENT_FIELDS),
                               "input_template": names.QUEUED_EVENT_TEMPLATE},
            retry_policy={"maximum_retry_attempts": TARGET_RETRIES,
                          "maximum_event_age_in_seconds": TARGET_EVENT_AGE_S},
            dead_letter_config={"arn": self.dead_letters.arn},
            opts=child(depends_on=policies))
        consumer = aws.iam.RolePolicy(
            f"{name}-consumer-policy", role=args.role_name,
            policy=self.queue.arn.apply(lambda arn: json.dumps(
                event_consumer_policy(queue_arn=arn))), opts=child())
        # Reserved concurrency 1 already bounds it (ScalingConfig's minimum is 2).
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping", event_source_arn=self.queue.arn, function_name=args.function_arn,
            batch_size=BATCH_SIZE, maximum_batching_window_in_seconds=BATCHING_WINDOW_S,
            enabled=args.import_enabled, opts=child(depends_on=[consumer]))
        self.register_outputs({"destinationId": self.destination.destination_id,
                               "eventSourceName": source, "queueUrl": self.queue.url})
