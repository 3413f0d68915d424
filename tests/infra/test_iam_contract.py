"""The IAM contract: least privilege is also enough privilege.

1. The stack's table, secrets, queue and log group are created in moto first (moto gives the
   secrets their random ARN suffix).
2. The Pulumi program runs under mocks that answer those ARNs.
3. Its Lambda environment and its role's policy document are taken from what it registered.
4. The real handler runs in-process against the stand-ins with exactly that environment: a
   first import with failed rows that continues past its deadline, then an incremental run.
5. Every AWS call it makes is recorded with botocore's event hooks (service and operation →
   IAM action, and the resource's ARN); the continuation is recorded through its port.
6. The policy must permit every call (IAM's own evaluation, as moto implements it), and every
   granted action must have been used, except those the Lambda service itself uses with the
   function's role, listed below.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Final

import boto3
import pytest
import requests
from moto.iam.access_control import IAMPolicy, PermissionResult

from devenv.aws import REGION
from devenv.stripe.samples import create_customer
from infra.org_config import OrgConfigProvider
from sync_lambda.adapters import secrets as secrets_module
from sync_lambda.adapters.dynamodb_state import create_table
from tests.conftest import deploy_keys
from tests.infra.program import Cloud, plain, run_program, stack_config
from tests.infra.test_org_config import props
from tests.sync.harness import World
from tests.sync.lambda_runtime import AsyncQueue, Context

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from devenv.aws import AwsStandIn
    from devenv.salesforce import SalesforceStandIn
    from devenv.stripe import StripeStandIn

ENV: Final = "sandbox"
PREFIX: Final = f"sfbilling-{ENV}"
MOTO_ACCOUNT: Final = "123456789012"
# Used with the function's role by the Lambda service, not by the handler's code: writing the
# function's logs, and sending a failed asynchronous invocation to the on-failure destination.
RUNTIME_GRANTS: Final = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
# A transaction is authorized per action inside it (DynamoDB's IAM documentation).
_TRANSACT: Final = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem",
                    "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem"}


class CallRecorder:
    """Every AWS request a client of the default session makes: (IAM action, resource ARN)."""

    def __init__(self, table_arns: dict[str, str]) -> None:
        self.table_arns = table_arns
        self.calls: list[tuple[str, str]] = []
        self.unmapped: list[str] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.signing_name
        operation = model.name
        if service == "dynamodb" and operation.startswith("Transact"):
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                self.calls.append((f"dynamodb:{_TRANSACT[kind]}",
                                   self.table_arns[body["TableName"]]))
        elif service == "dynamodb" and "TableName" in params:
            self.calls.append((f"dynamodb:{operation}", self.table_arns[params["TableName"]]))
        elif service == "secretsmanager" and "SecretId" in params:
            self.calls.append((f"secretsmanager:{operation}", params["SecretId"]))
        else:
            self.unmapped.append(f"{service}:{operation} {sorted(params)}")


@pytest.fixture
def recorder(aws: AwsStandIn) -> Iterator[CallRecorder]:
    table = f"{PREFIX}-state"
    recorder = CallRecorder({table: f"arn:aws:dynamodb:{REGION}:{MOTO_ACCOUNT}:table/{table}"})
    session = boto3.Session()
    session.events.register("before-parameter-build.*.*", recorder)
    boto3.DEFAULT_SESSION = session  # what `boto3.client(...)` in the adapters uses
    yield recorder
    boto3.DEFAULT_SESSION = None


def _moto_resources(aws: AwsStandIn, salesforce: SalesforceStandIn,
                    stripe_api: StripeStandIn) -> dict[str, str]:
    """The stack's stateful resources, made in moto the way the program declares them."""
    kw = aws.client_kwargs()
    create_table(boto3.client("dynamodb", **kw), f"{PREFIX}-state")
    table = boto3.client("dynamodb", **kw).describe_table(TableName=f"{PREFIX}-state")
    sm = boto3.client("secretsmanager", **kw)
    key_file = salesforce.app.private_key_file
    assert key_file is not None
    stripe = sm.create_secret(Name=f"{PREFIX}/stripe", SecretString=stripe_api.api_key)
    sf = sm.create_secret(Name=f"{PREFIX}/salesforce",
                          SecretString=json.dumps({"private_key": key_file.read_text()}))
    sqs = boto3.client("sqs", **kw)
    url = sqs.create_queue(QueueName=f"{PREFIX}-dead-letters")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    logs = boto3.client("logs", **kw)
    logs.create_log_group(logGroupName=f"/aws/lambda/{PREFIX}-sync")
    group = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{PREFIX}-sync")[
        "logGroups"][0]
    arns = {f"{PREFIX}-state": table["Table"]["TableArn"], f"{PREFIX}/stripe": stripe["ARN"],
            f"{PREFIX}/salesforce": sf["ARN"], f"{PREFIX}-dead-letters": queue_arn,
            f"/aws/lambda/{PREFIX}-sync": group["arn"],
            f"{PREFIX}-sync": f"arn:aws:lambda:{REGION}:{MOTO_ACCOUNT}:function:{PREFIX}-sync"}
    assert stripe["ARN"].rsplit("-", 1)[-1] != "Ab12Cd"  # moto's own random suffix
    return arns


def _deadline(stripe_api: StripeStandIn, budget: int) -> Callable[[], float]:
    start = int(stripe_api.stats()["requests"])
    return lambda: 10.0 + (budget - (int(stripe_api.stats()["requests"]) - start)) / 500.0


def test_the_functions_policy_allows_every_call_it_makes_and_grants_nothing_unused(
        salesforce: SalesforceStandIn, stripe_api: StripeStandIn, aws: AwsStandIn,
        recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    arns = _moto_resources(aws, salesforce, stripe_api)
    key_file = salesforce.app.private_key_file
    assert key_file is not None
    config, secret_keys = stack_config(
        ENV, **{"aws:region": REGION, "salesforceLoginUrl": salesforce.url,
                "salesforceUsername": salesforce.app.username,
                "salesforceConsumerKey": salesforce.app.consumer_key,
                "salesforceOrgId": salesforce.org.profile.org_id,
                "stripeApiBase": stripe_api.api_base, "awsEndpointUrl": aws.endpoint_url,
                "stripeRatePerSecond": "500", "stripeEndpointRatePerSecond": "500",
                "stripeReserveShare": "0", "deadlineReserveSeconds": "10",
                "bulkThreshold": "50",
                "stripeApiKey": stripe_api.api_key,
                "salesforcePrivateKey": key_file.read_text(), **deploy_keys(salesforce)})
    run = run_program(ENV, config, secret_keys, Cloud(arns))
    policy = run.policy("sync-policy")
    variables = plain(run.function.inputs["environment"]["variables"])
    function_arn = run.exports["functionArn"]
    assert function_arn == arns[f"{PREFIX}-sync"]
    assert variables["SFB_STRIPE_SECRET_ARN"] == arns[f"{PREFIX}/stripe"]

    # The org as `pulumi up` leaves it: the OrgConfig resource's own create.
    OrgConfigProvider().create(props(salesforce))
    for name in [n for n in os.environ if n.startswith("SFB_")]:
        monkeypatch.delenv(name)
    for name, value in {**variables, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    secrets_module.clear_cache()

    # A first import with failed rows, longer than one invocation, continued through the port:
    # a JCB card (the org's picklist lacks it: quarantined) and a Bulk API job that fails
    # (its rows wait in the ledger); then an incremental run, which writes them.
    client = World(salesforce, stripe_api, aws).stripe
    create_customer(client, name="Linus", cards=("pm_card_jcb", "pm_card_visa"))
    for i in range(250):
        create_customer(client, name=f"Backfill {i:03d}")
    queue = AsyncQueue(context=lambda: Context(
        remaining=_deadline(stripe_api, 100), function_arn=function_arn))
    requests.put(f"{salesforce.url}/_admin/faults", json={"bulk_fail_jobs": 1},
                 timeout=10).raise_for_status()
    recorder.calls.clear()  # from here on, only the handler's calls
    recorder.unmapped.clear()
    queue.pending.append({})
    first = queue.drain()
    assert len(first) >= 2
    assert sum(r.result["outcomes"].get("quarantined", 0) for r in first) == 1
    retried = sum(len(r.result["failures"]) for r in first)
    assert retried > 0
    create_customer(client, name="Late")
    queue.pending.append({})
    incremental = queue.drain()[-1].result
    assert (incremental["kind"], incremental["failures"]) == ("incremental", [])
    assert len(World(salesforce, stripe_api, aws).payment_methods()) == 252

    calls = set(recorder.calls) | set(queue.calls)
    assert recorder.unmapped == []
    evaluated = IAMPolicy(json.dumps(policy))
    denied = [c for c in sorted(calls)
              if evaluated.is_action_permitted(*c) is not PermissionResult.PERMITTED]
    assert denied == []
    used_actions = {action for action, _ in calls}
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    assert granted - used_actions == RUNTIME_GRANTS
    # Every statement is needed for the calls it is there for (none is a duplicate).
    for statement in policy["Statement"]:
        alone = IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        assert statement["Action"][0] in RUNTIME_GRANTS or any(
            alone.is_action_permitted(*c) is PermissionResult.PERMITTED for c in calls), \
            statement["Sid"]


# -- the near-real-time path: what the event source mapping does with the function's role ----
_SQS_ACTIONS: Final = {"DeleteMessageBatch": "DeleteMessage"}  # authorized per message


class QueueRecorder:
    """Every SQS request: (IAM action, the queue's ARN)."""

    def __init__(self, queue_arns: dict[str, str]) -> None:
        self.queue_arns = queue_arns  # queue URL → ARN
        self.calls: list[tuple[str, str]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.service_model.signing_name == "sqs" and "QueueUrl" in params:
            action = _SQS_ACTIONS.get(model.name, model.name)
            self.calls.append((f"sqs:{action}", self.queue_arns.get(params["QueueUrl"], "?")))


def test_the_event_consumer_policy_allows_the_mapping_s_calls_and_nothing_more(
        aws: AwsStandIn) -> None:
    from sfbilling.event_queue import EventSourceMapping, MappingConfig

    # GIVEN the stack with Stripe's events on, its queue made in moto first
    sqs = boto3.client("sqs", **aws.client_kwargs())
    url = sqs.create_queue(QueueName=f"{PREFIX}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    config, secret_keys = stack_config(ENV, eventDestination="create")
    run = run_program(ENV, config, secret_keys, Cloud({f"{PREFIX}-events": queue_arn}))
    policy = run.policy("events-consumer-policy")
    assert [s["Resource"] for s in policy["Statement"]] == [[queue_arn]]  # exact, no wildcard
    registered = MappingConfig.registered(
        plain(run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs),
        plain(run.one("aws:sqs/queue:Queue", "events-queue").inputs),
        plain(run.function.inputs))
    # WHEN the mapping drains a few messages into a function (its calls are the role's)
    recorder = QueueRecorder({url: queue_arn})
    client = boto3.client("sqs", **aws.client_kwargs())
    client.meta.events.register("before-parameter-build.sqs.*", recorder)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(
            {"id": f"evt_{i}", "type": "customer.created", "created": "1"}))
    got: list[dict[str, Any]] = []

    def make(continuation: Any) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        del continuation

        def handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            got.append(event)
            return {}

        return handle

    mapping = EventSourceMapping(client, url, make, registered.scaled(1 / 300)).start()
    try:
        for _ in range(100):
            if sum(len(e["Records"]) for e in got) == 3:
                break
            time.sleep(0.1)
    finally:
        mapping.stop()
    assert sum(len(e["Records"]) for e in got) == 3
    # THEN the policy permits every call, and grants no action the mapping did not use
    evaluated = IAMPolicy(json.dumps(policy))
    calls = set(recorder.calls)
    assert [c for c in sorted(calls)
            if evaluated.is_action_permitted(*c) is not PermissionResult.PERMITTED] == []
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    assert granted == {action for action, _ in calls}
