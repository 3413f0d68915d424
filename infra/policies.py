"""The IAM policy documents of a stack, as plain dicts. Pure: no Pulumi, no AWS.

Least privilege: every statement names the exact ARNs of this stack's resources; no `*` action;
no `*` resource. What each grant is for is written next to it, and `tests/infra` proves the
function's grants are both enough (the real handler's calls are all allowed) and no more (every
grant is used, but for the runtime's own logging).
"""

from __future__ import annotations

from typing import Any, Final

# What the state table adapter calls (TransactWriteItems is authorized per action inside it).
TABLE_ACTIONS: Final = ("dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
                        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                        "dynamodb:UpdateItem")
# What the Lambda runtime itself does with the function's role.
LOG_ACTIONS: Final = ("logs:CreateLogStream", "logs:PutLogEvents")


def assume_role(service: str, *, account: str | None = None,
                source_arn: str | None = None) -> dict[str, Any]:
    """The trust policy letting `service` assume a role (only for `account`, and only on
    behalf of `source_arn`, when given: the confused-deputy guard)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service},
                                 "Action": "sts:AssumeRole"}
    conditions = {**({"aws:SourceAccount": account} if account is not None else {}),
                  **({"aws:SourceArn": source_arn} if source_arn is not None else {})}
    if conditions:
        statement["Condition"] = {"StringEquals": conditions}
    return {"Version": "2012-10-17", "Statement": [statement]}


def schedule_group_arn(*, region: str, account: str, group: str = "default") -> str:
    """The schedule group a schedule belongs to (the `aws:SourceArn` Scheduler presents)."""
    return f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}"


def log_group_arns(log_group_arn: str) -> list[str]:
    """The log group and its streams (PutLogEvents is authorized on the stream)."""
    base = log_group_arn.removesuffix(":*")
    return [base, f"{base}:*"]


def function_policy(*, table_arn: str, secret_arns: list[str], dlq_arn: str,
                    function_arn: str, log_group_arn: str) -> dict[str, Any]:
    """The sync function's own permissions."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "StateTable", "Effect": "Allow", "Action": list(TABLE_ACTIONS),
         "Resource": [table_arn]},
        {"Sid": "ReadItsSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": sorted(secret_arns)},
        # Lambda sends a failed asynchronous invocation's event here with the function's role.
        {"Sid": "FailedInvocationsToDeadLetterQueue", "Effect": "Allow",
         "Action": ["sqs:SendMessage"], "Resource": [dlq_arn]},
        # A run that stops at its deadline with work left starts its successor at once.
        {"Sid": "ContinueItself", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": [function_arn, f"{function_arn}:*"]},
        {"Sid": "WriteItsLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS),
         "Resource": log_group_arns(log_group_arn)},
    ]}


def scheduler_policy(*, function_arn: str, dlq_arn: str) -> dict[str, Any]:
    """The schedule's role: invoke this function, and hand undeliverable events to the DLQ."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "InvokeTheSyncFunction", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": [function_arn, f"{function_arn}:*"]},
        {"Sid": "UndeliveredToDeadLetterQueue", "Effect": "Allow",
         "Action": ["sqs:SendMessage"], "Resource": [dlq_arn]},
    ]}


def queue_from_rule_policy(*, queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """A queue EventBridge may send to, for this one rule only (`aws:SourceArn`): the queue of
    Stripe's events, and its DLQ (the rule target's dead-letter queue)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FromTheStripeEventsRuleOnly", "Effect": "Allow",
         "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}},
    ]}


# What Lambda's SQS event source mapping does with the function's role.
QUEUE_CONSUMER_ACTIONS: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage",
                                 "sqs:GetQueueAttributes")


def event_consumer_policy(*, queue_arn: str) -> dict[str, Any]:
    """The sync function's right to the queue of Stripe's events (its event source mapping
    polls it with the function's role)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadStripeEventsQueue", "Effect": "Allow",
         "Action": list(QUEUE_CONSUMER_ACTIONS), "Resource": [queue_arn]},
    ]}
