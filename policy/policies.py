"""The deployment invariants of an sfbilling stack, as Pulumi policies: what tests/infra checks of
the program, for a team's own `pulumi preview --policy-pack policy` (docs/deploy.md).

Plain policy objects: `policy/__main__.py` only builds the pack (`PolicyPack(...)` starts the
analyzer's server and never returns, so nothing here may call it).

What a policy sees: the resource's inputs as the policy server hands them over, deserialized
(secret markers removed) and behind its unknown-checking proxy, in the engine's camelCase names.
Because the markers are gone, "a secret value" is recognised by what the schema says: the schema
declares every variable the Lambda may get (`stackconfig.schema`: the keys' variables, none of
them a secret key's, plus the resources' ARNs and the runtime's own), so a variable it does not
declare may hold anything and fails; a `…_SECRET_ARN` variable must hold an ARN; and any value
shaped like a credential fails (a Stripe secret or restricted key, a webhook secret, a PEM
private key). The environment comes from the policy config (`environmentKind`), else from the
stack tag `environmentKind`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from stackconfig.schema import KEYS, RESOURCE_ENV, RUNTIME_ENV
from sync_lambda.telemetry import SERVICE_ENV

FUNCTION: Final = "aws:lambda/function:Function"
TABLE: Final = "aws:dynamodb/table:Table"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
INVOKE_CONFIG: Final = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_TARGET: Final = "aws:cloudwatch/eventTarget:EventTarget"
POLICY_DOCUMENTS: Final = {"aws:iam/rolePolicy:RolePolicy": "policy",
                           "aws:iam/policy:Policy": "policy",
                           "aws:sqs/queuePolicy:QueuePolicy": "policy",
                           "aws:iam/role:Role": "assumeRolePolicy"}
# What the schema lets into the Lambda's environment (no secret key has a variable).
DECLARED: Final = frozenset({k.env for k in KEYS if k.env and not k.secret}
                            | set(RESOURCE_ENV) | set(RUNTIME_ENV) | {SERVICE_ENV})
SECRET_VALUE: Final = re.compile(r"^((sk|rk)_(live|test)_|whsec_)|-----BEGIN [A-Z ]*PRIVATE KEY")
ARN: Final = re.compile(r"^arn:aws[a-z-]*:")
CONFIG: Final = PolicyConfigSchema(properties={
    "environmentKind": {"type": "string", "enum": ["production", "sandbox", "local"]}})

Validation = Callable[[ResourceValidationArgs, ReportViolation], None]


def _environment_kind(args: ResourceValidationArgs) -> str | None:
    kind = args.get_config().get("environmentKind") or args.stack_tags.get("environmentKind")
    return None if kind is None else str(kind)


def _only(resource_type: str, check: Validation) -> Validation:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == resource_type:
            check(args, report)
    return validate


# -- no secret value in a Lambda environment ---------------------------------------------------
def secret_variables(variables: Mapping[str, Any]) -> list[str]:
    """The variables that may hold a secret value: undeclared, a secret's ARN variable not
    holding an ARN, or a value shaped like a credential. Names only."""
    found = []
    for name, value in variables.items():
        text = str(value)
        if name not in DECLARED or SECRET_VALUE.search(text) or \
                (name.endswith("_SECRET_ARN") and not ARN.match(text)):
            found.append(name)
    return sorted(found)


def _lambda_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    variables = (args.props.get("environment") or {}).get("variables") or {}
    for name in secret_variables(variables):
        report(f"{args.name}: environment variable {name} holds a secret value; give the "
               "function the secret's ARN and let it read the value (Secrets Manager)", None)


# -- no `*` action or resource -----------------------------------------------------------------
def wildcards(document: Mapping[str, Any]) -> list[str]:
    """What an IAM document grants with a wildcard: `*` actions (also `service:*`), `*`
    resources, `NotAction` / `NotResource` (a grant of everything else)."""
    found = []
    statements = document.get("Statement") or []
    for s in statements if isinstance(statements, list) else [statements]:
        if s.get("Effect") != "Allow":
            continue
        actions = s.get("Action", [])
        resources = s.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                found.append(f"action {action}")
        for resource in [resources] if isinstance(resources, str) else resources:
            if resource == "*":
                found.append("resource *")
        found += [f"{k} (grants all but what it names)" for k in ("NotAction", "NotResource")
                  if k in s]
    return found


def _iam(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = POLICY_DOCUMENTS.get(args.resource_type)
    if key is None or args.props.get(key) is None:
        return
    raw = args.props[key]
    document = json.loads(raw) if isinstance(raw, str) else dict(raw)
    for grant in wildcards(document):
        report(f"{args.name}: {key} allows {grant}; name the exact actions and ARNs", None)


# -- reserved concurrency 1 ----------------------------------------------------------------------
def _concurrency(args: ResourceValidationArgs, report: ReportViolation) -> None:
    value = args.props.get("reservedConcurrentExecutions")
    if value is None or int(value) != 1:
        report(f"{args.name}: reserved concurrency is {value}, not 1: two runs at once would "
               "fight over the lease and the org's API budget", None)


# -- PITR on, deletion protection in production -------------------------------------------------
def _table(args: ResourceValidationArgs, report: ReportViolation) -> None:
    pitr = (args.props.get("pointInTimeRecovery") or {}).get("enabled")
    if pitr is not True:
        report(f"{args.name}: point-in-time recovery is off: the checkpoint and the failed-row "
               "ledger could not be restored", None)
    if _environment_kind(args) == "production" and \
            args.props.get("deletionProtectionEnabled") is not True:
        report(f"{args.name}: deletion protection is off in production", None)


# -- log retention ---------------------------------------------------------------------------------
def _retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    days = args.props.get("retentionInDays")
    if not days:
        report(f"{args.name}: no log retention (logs kept forever, and billed)", None)


# -- a DLQ on every asynchronous target ----------------------------------------------------------
def _dlq(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == SCHEDULE:
        arn = ((props.get("target") or {}).get("deadLetterConfig") or {}).get("arn")
    elif args.resource_type == INVOKE_CONFIG:
        arn = (((props.get("destinationConfig") or {}).get("onFailure") or {})
               .get("destination"))
    elif args.resource_type == EVENT_TARGET:
        arn = (props.get("deadLetterConfig") or {}).get("arn")
    else:
        return
    if not arn:
        report(f"{args.name}: an asynchronous target without a dead-letter queue: an event it "
               "cannot deliver is dropped", None)


POLICIES: Final = [
    ResourceValidationPolicy(
        name="no-secret-in-lambda-environment",
        description="A Lambda environment holds no secret value, only the secrets' ARNs.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_only(FUNCTION, _lambda_environment)),
    ResourceValidationPolicy(
        name="no-wildcard-iam",
        description="No `*` action or resource in an IAM or queue policy.",
        enforcement_level=EnforcementLevel.MANDATORY, validate=_iam),
    ResourceValidationPolicy(
        name="reserved-concurrency-one",
        description="The import's function runs one invocation at a time.",
        enforcement_level=EnforcementLevel.MANDATORY, validate=_only(FUNCTION, _concurrency)),
    ResourceValidationPolicy(
        name="state-table-protected",
        description="The state table has point-in-time recovery, and deletion protection in "
                    "production.",
        enforcement_level=EnforcementLevel.MANDATORY, config_schema=CONFIG,
        validate=_only(TABLE, _table)),
    ResourceValidationPolicy(
        name="log-retention-set",
        description="Every log group has a retention.",
        enforcement_level=EnforcementLevel.MANDATORY, validate=_only(LOG_GROUP, _retention)),
    ResourceValidationPolicy(
        name="dlq-on-async-targets",
        description="Every asynchronous target (schedule, async invoke, rule target) has a "
                    "dead-letter queue.",
        enforcement_level=EnforcementLevel.MANDATORY, validate=_dlq),
]
