"""SyncFunction: the scheduled import on AWS — its Lambda, log group, state table, secrets,
dead-letter queue, schedule and the two roles, as one component.

Retries are set on purpose, because two layers stack (EventBridge Scheduler invokes Lambda
asynchronously):
- the schedule retries only *delivery* (the Invoke call failing: throttled API, a missing
  permission), a few times within an hour, then hands the event to the dead-letter queue;
- Lambda's own asynchronous retries of a *failed run* are off (0). A failed run has saved its
  progress and released its lease; re-running it one and two minutes later mostly repeats the
  failure, and the next scheduled run recovers anyway. The failed event goes to the same
  dead-letter queue, where an alarm sees it. Events still queued because the function is busy
  (reserved concurrency 1: a continuation waits for the run before it) are kept for an hour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pulumi
import pulumi_aws as aws

from infra.policies import assume_role, function_policy, schedule_group_arn, scheduler_policy
from sync_lambda import invocation
from sync_lambda.state_table import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from sync_lambda.telemetry import SERVICE_ENV

if TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN: Final = "sfbilling:index:SyncFunction"  # noqa: S105 - a type token
RUNTIME: Final = "python3.12"
ARCHITECTURE: Final = "arm64"
HANDLER: Final = "sync_lambda.handler.lambda_handler"
# Scheduler: delivery retries (see the module docstring).
SCHEDULE_RETRIES: Final = 5
SCHEDULE_EVENT_AGE_S: Final = 3600
# Lambda: no retry of a failed run; a queued event (function busy) waits up to an hour.
ASYNC_RETRIES: Final = 0
ASYNC_EVENT_AGE_S: Final = 3600
DLQ_RETENTION_S: Final = 14 * 86_400  # SQS's maximum: two weeks to look at a failed event


@dataclass(frozen=True, slots=True)
class SyncFunctionArgs:
    """Everything the component needs; values, not config lookups."""

    function_name: str
    table_name: str
    resource_prefix: str
    package_path: str  # the built zip (infra.lambda_package)
    package_hash: str  # its base64 SHA-256: the code changes only when the zip does
    memory_mb: int
    timeout_s: int
    log_retention_days: int
    schedule: str  # rate(…) or cron(…)
    environment: Mapping[str, str]  # the configured variables (never a secret)
    stripe_api_key: pulumi.Input[str]  # secret
    # secret: JSON {"private_key"} or {"consumer_secret"}, as the Lambda reads it
    salesforce_credential: pulumi.Input[str]
    production: bool
    region: str
    import_enabled: bool = False
    reconcile_schedule: str | None = None  # rate(…) or cron(…) of the reconciliation
    tags: Mapping[str, str] = field(default_factory=dict)


class SyncFunction(pulumi.ComponentResource):
    """The Lambda, its schedule, its state, its secrets and its permissions."""

    function: aws.lambda_.Function
    table: aws.dynamodb.Table
    dead_letters: aws.sqs.Queue
    schedule: aws.scheduler.Schedule
    reconcile_schedule: aws.scheduler.Schedule | None
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: SyncFunctionArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        self._name = name
        self._args = args
        self._tags = dict(args.tags)
        self.table = self._state_table()
        self.stripe_secret, self.salesforce_secret = self._secrets()
        self.dead_letters = aws.sqs.Queue(
            f"{name}-dead-letters", name=f"{args.resource_prefix}-dead-letters",
            message_retention_seconds=DLQ_RETENTION_S, sqs_managed_sse_enabled=True,
            tags=self._tags, opts=self._child())
        # The log group exists (with its retention) before Lambda could create it without one.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days, tags=self._tags, opts=self._child())
        self.role = aws.iam.Role(
            f"{name}-role", assume_role_policy=json.dumps(assume_role("lambda.amazonaws.com")),
            description=f"{args.function_name}: the Stripe → Salesforce Billing import",
            tags=self._tags, opts=self._child())
        self.function = self._function()
        self.role_policy = self._function_policy()
        self.invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async", function_name=self.function.name,
            maximum_retry_attempts=ASYNC_RETRIES,
            maximum_event_age_in_seconds=ASYNC_EVENT_AGE_S,
            destination_config={"on_failure": {"destination": self.dead_letters.arn}},
            # Lambda checks at once that the role may send to the destination.
            opts=self._child(depends_on=[self.role_policy]))
        self.schedule = self._schedule()
        self.register_outputs({
            "functionName": self.function.name, "functionArn": self.function.arn,
            "tableName": self.table.name, "scheduleName": self.schedule.name,
            "deadLetterQueueArn": self.dead_letters.arn})

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _state_table(self) -> aws.dynamodb.Table:
        """Checkpoint, lease, failed-row ledger: on demand, recoverable, expiring what may."""
        return aws.dynamodb.Table(
            f"{self._name}-state", name=self._args.table_name, billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY, range_key=SORT_KEY,
            attributes=[{"name": PARTITION_KEY, "type": "S"}, {"name": SORT_KEY, "type": "S"}],
            point_in_time_recovery={"enabled": True},
            ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
            deletion_protection_enabled=self._args.production,
            tags=self._tags, opts=self._child())

    def _secrets(self) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.Secret]:
        """The Stripe key and the Salesforce credential; their values only in the versions."""
        # Production keeps a deleted secret restorable for the longest window AWS allows.
        window = 30 if self._args.production else 7
        out = []
        for part, what, value in (
                ("stripe", "Stripe restricted key", self._args.stripe_api_key),
                ("salesforce", "Salesforce connected app credential",
                 self._args.salesforce_credential)):
            secret = aws.secretsmanager.Secret(
                f"{self._name}-{part}", name=f"{self._args.resource_prefix}/{part}",
                description=f"{what} of the Stripe → Salesforce Billing import",
                recovery_window_in_days=window, tags=self._tags, opts=self._child())
            aws.secretsmanager.SecretVersion(
                f"{self._name}-{part}-value", secret_id=secret.id,
                secret_string=pulumi.Output.secret(value), opts=self._child())
            out.append(secret)
        return out[0], out[1]

    def _function(self) -> aws.lambda_.Function:
        args = self._args
        variables: dict[str, pulumi.Input[str]] = {
            **args.environment, "SFB_TABLE_NAME": self.table.name,
            "SFB_STRIPE_SECRET_ARN": self.stripe_secret.arn,
            "SFB_SF_SECRET_ARN": self.salesforce_secret.arn, SERVICE_ENV: args.function_name}
        return aws.lambda_.Function(
            f"{self._name}-function", name=args.function_name, role=self.role.arn,
            runtime=RUNTIME, architectures=[ARCHITECTURE], handler=HANDLER,
            code=pulumi.FileArchive(args.package_path), source_code_hash=args.package_hash,
            memory_size=args.memory_mb, timeout=args.timeout_s,
            # One run at a time; a continuation or a late trigger waits its turn.
            reserved_concurrent_executions=1,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=self.log_group.name),
            tags=self._tags, opts=self._child(depends_on=[self.log_group]))

    def _function_policy(self) -> aws.iam.RolePolicy:
        policy = pulumi.Output.all(
            self.table.arn, self.stripe_secret.arn, self.salesforce_secret.arn,
            self.dead_letters.arn, self.function.arn, self.log_group.arn,
        ).apply(lambda a: json.dumps(function_policy(
            table_arn=a[0], secret_arns=[a[1], a[2]], dlq_arn=a[3], function_arn=a[4],
            log_group_arn=a[5])))
        return aws.iam.RolePolicy(f"{self._name}-policy", role=self.role.id, policy=policy,
                                  opts=self._child())

    def _schedule(self) -> aws.scheduler.Schedule:
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        role = aws.iam.Role(
            f"{self._name}-scheduler-role",
            # Only this account's schedules in this region's default group may use the role
            # (confused-deputy guard: aws:SourceAccount and aws:SourceArn).
            assume_role_policy=account.account_id.apply(lambda acct: json.dumps(
                assume_role("scheduler.amazonaws.com", account=acct,
                            source_arn=schedule_group_arn(region=self._args.region,
                                                          account=acct)))),
            description=f"{self._args.function_name}: the schedule's right to start it",
            tags=self._tags, opts=self._child())
        policy = aws.iam.RolePolicy(
            f"{self._name}-scheduler-policy", role=role.id,
            policy=pulumi.Output.all(self.function.arn, self.dead_letters.arn).apply(
                lambda a: json.dumps(scheduler_policy(function_arn=a[0], dlq_arn=a[1]))),
            opts=self._child())
        # The reconciliation writes nothing to Salesforce: it runs whenever it is scheduled.
        self.reconcile_schedule = None if self._args.reconcile_schedule is None else \
            aws.scheduler.Schedule(
                f"{self._name}-reconcile-schedule",
                name=f"{self._args.resource_prefix}-reconcile",
                description="Stripe ↔ Salesforce Billing reconciliation (read-only)",
                schedule_expression=self._args.reconcile_schedule,
                flexible_time_window={"mode": "OFF"},
                target={"arn": self.function.arn, "role_arn": role.arn,
                        "input": json.dumps({invocation.RECONCILE: True}),
                        "retry_policy": {"maximum_retry_attempts": SCHEDULE_RETRIES,
                                         "maximum_event_age_in_seconds": SCHEDULE_EVENT_AGE_S},
                        "dead_letter_config": {"arn": self.dead_letters.arn}},
                opts=self._child(depends_on=[policy, self.invoke_config]))
        return aws.scheduler.Schedule(
            f"{self._name}-schedule", name=f"{self._args.resource_prefix}-sync",
            description="Stripe → Salesforce Billing import",
            schedule_expression=self._args.schedule, flexible_time_window={"mode": "OFF"},
            target={"arn": self.function.arn, "role_arn": role.arn,
                    "input": json.dumps({invocation.SCHEDULED: True}),
                    "retry_policy": {"maximum_retry_attempts": SCHEDULE_RETRIES,
                                     "maximum_event_age_in_seconds": SCHEDULE_EVENT_AGE_S},
                    "dead_letter_config": {"arn": self.dead_letters.arn}},
            # Paused until the environment says so (importEnabled): a first `pulumi up` deploys
            # everything and imports nothing until someone has read a dry run.
            state="ENABLED" if self._args.import_enabled else "DISABLED",
            opts=self._child(depends_on=[policy, self.invoke_config]))
