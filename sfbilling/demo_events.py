"""`make demo`, Stripe's events: a card added in Stripe reaches Salesforce through the
near-real-time path on the stand-ins, with no schedule, and the seconds it took are printed.

The destination is created by the same provider `pulumi up` runs (infra/event_destination.py);
the AWS half is built as the program builds it (sfbilling.event_queue.provision, with the
program's figures); the real handler runs behind the local event source mapping, with the
environment Lambda would give it (its secrets in the AWS stand-in's Secrets Manager).
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Final

import boto3
from simple_salesforce.format import format_soql

from infra.event_destination import StripeEventDestinationProvider, source_name
from sfbilling.event_queue import EventSourceMapping, program_config, provision
from stackconfig.resolve import lambda_environment
from sync_lambda import names
from sync_lambda.adapters import secrets as secrets_module
from sync_lambda.handler import make_handler

if TYPE_CHECKING:
    from collections.abc import Callable

    import stripe

    from devenv.local import LocalEnv
    from sfbilling.environments import SyncTarget

ACCOUNT: Final = "123456789012"  # the AWS stand-in's account
SCALE: Final = 1 / 300  # the queue's visibility timeout, shortened (tests/eventpath says why)
WAIT_S: Final = 60.0


def _handler_environment(doc: dict[str, Any], target: SyncTarget) -> dict[str, str]:
    """What Lambda gives the function: the stack's variables, the table, the secrets' ARNs."""
    aws = doc["aws"]
    sm = boto3.client("secretsmanager", region_name=aws["region"],
                      endpoint_url=aws["endpoint_url"])
    prefix = target.stack.resource_prefix
    stripe_arn = sm.create_secret(Name=f"{prefix}/stripe",
                                  SecretString=target.secrets.stripe_api_key)["ARN"]
    sf_arn = sm.create_secret(Name=f"{prefix}/salesforce", SecretString=json.dumps(
        {"private_key": target.secrets.salesforce_private_key}))["ARN"]
    return {**lambda_environment(target.stack), "SFB_TABLE_NAME": target.stack.table_name,
            "SFB_STRIPE_SECRET_ARN": stripe_arn, "SFB_SF_SECRET_ARN": sf_arn,
            "AWS_REGION": aws["region"]}


def run(env: LocalEnv, doc: dict[str, Any], target: SyncTarget, client: stripe.StripeClient,
        sf: Any, customer_id: str, say: Callable[[str], None]) -> None:
    """Create the path, add a card, wait for it in Salesforce; tear the destination down."""
    assert env.stripe is not None
    aws = doc["aws"]
    env.stripe.deliver_to(aws["endpoint_url"], region=aws["region"], source_delay_s=0.3)
    provider = StripeEventDestinationProvider()
    created = provider.create({
        "mode": "create", "adopt_id": None, "api_key": doc["stripe"]["api_key"],
        "api_base": doc["stripe"]["api_base"], "aws_account_id": ACCOUNT,
        "aws_region": aws["region"], "aws_endpoint_url": aws["endpoint_url"],
        "name": target.stack.resource_prefix, "description": "sfbilling demo",
        "environment_kind": target.stack.kind, "enabled_events": list(names.EVENT_TYPES),
        "enabled": True, "source_timeout_s": 30})
    dest_id = created.id
    say(f"event destination {dest_id} created (the provider `pulumi up` runs), its partner "
        "source in AWS")
    config = program_config(int(target.stack["lambdaTimeoutSeconds"]), scale=SCALE)
    events = boto3.client("events", region_name=aws["region"], endpoint_url=aws["endpoint_url"])
    sqs = boto3.client("sqs", region_name=aws["region"], endpoint_url=aws["endpoint_url"])
    queue_url = provision(events, sqs, source_name(dest_id), config,
                          rule=target.stack.events_rule_name,
                          queue=target.stack.events_queue_name)
    say(f"partner bus {source_name(dest_id)}, rule {target.stack.events_rule_name} (ids and "
        f"types only reach the queue), queue {target.stack.events_queue_name} with its DLQ; "
        f"mapping: batches of {config.batch_size}, window {config.window_s:g} s, "
        f"concurrency {config.concurrency}")
    os.environ.update(_handler_environment(doc, target))
    secrets_module.clear_cache()
    mapping = EventSourceMapping(sqs, queue_url, make_handler, config, pollers=2,
                                 timeout_s=float(target.stack["lambdaTimeoutSeconds"])).start()
    try:
        started = time.monotonic()
        pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer_id})
        say(f"added a Visa {pm.id} to {customer_id} in Stripe; no schedule runs here")
        soql = format_soql("SELECT Id FROM {:literal} WHERE {:literal} = {}",
                           names.PAYMENT_METHOD, names.DEFAULT_PM_EXTERNAL_ID_FIELD, pm.id)
        while not sf.query(soql)["records"]:
            if time.monotonic() - started > WAIT_S:
                raise RuntimeError(f"the card did not reach Salesforce within {WAIT_S:g} s")
            time.sleep(0.2)
        seconds = time.monotonic() - started
    finally:
        mapping.stop()
    say(f"in Salesforce {seconds:.1f} s later: Stripe → destination → partner bus → rule → SQS "
        f"→ handler → Salesforce ({mapping.stats.invocations} invocation(s))")
    provider.delete(dest_id, created.outs or {})
