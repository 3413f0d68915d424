"""`make bench` (events part): the near-real-time path on the stand-ins, end to end — a change in
Stripe → event destination → partner bus → rule (input transformer) → SQS → the event source
mapping's stand-in (`sfbilling.event_queue`) → the real handler → Salesforce. No schedule runs.

Measured (issue 23):
- latency from a card attached in Stripe to its payment method in Salesforce, p50 and p95, over
  200 changes spread over 60 s; target p95 <= 60 s. The mapping's batch size, batching
  window and concurrency are those the Pulumi program registers (read under its mocks), its
  pollers look every POLL_S seconds, and the queue's visibility timeout is the registered one
  shortened by tests.eventpath.TIME_SCALE; Salesforce is read every WATCH_S seconds, so a
  latency is known to within that.
- a burst of 1,000 events: invocations, and runs that did work (at most 2), with nothing in the
  dead-letter queue.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import requests
import stripe

from bench.continuation import prepare_lambda
from bench.planning import row
from bench.sync import standins
from infra.lambda_package import build
from sfbilling.event_queue import EventSourceMapping, MappingConfig
from sync_lambda import names
from sync_lambda.handler import make_handler
from tests.eventpath import (
    TIME_SCALE,
    create_destination,
    provision_event_path,
    registered_config,
    wait_for,
)
from tests.sync.lambda_runtime import Context

if TYPE_CHECKING:
    from pathlib import Path

    from devenv.aws import AwsStandIn
    from devenv.stripe import StripeStandIn

CHANGES = 200
SPREAD_S = 60.0
BURST = 1000
POLL_S = 0.5
WATCH_S = 0.5
TABLE = "bench-events"
WORK = ("incremental", "full")  # a run that read Stripe's events (not skipped, not a ping)


def main() -> None:
    """Run the events benchmark against stand-ins in their own processes."""
    with standins("bench-events-") as (work, info, stripe_api, aws):
        config = registered_config(str(build(out=work / "lambda.zip").path))
        print(f"events benchmark ({CHANGES} changes over {SPREAD_S:g} s, then a burst of "
              f"{BURST:,} events; the registered mapping: batches of {config.batch_size}, "
              f"batching window {config.window_s:g} s, concurrency {config.concurrency}; "
              f"pollers every {POLL_S:g} s; visibility timeout {config.visibility_timeout_s} s "
              f"(the registered one x {TIME_SCALE:.4g}), {config.max_receives} receives "
              "before the DLQ)")
        _run(work, info, stripe_api, aws, config)


def _run(work: Path, info: dict[str, Any], stripe_api: StripeStandIn, aws: AwsStandIn,
         config: MappingConfig) -> None:
    prepare_lambda(work, info, stripe_api, aws, table=TABLE, environment={})
    client = stripe.StripeClient(stripe_api.api_key, base_addresses={"api": stripe_api.api_base})
    customers = [client.v1.customers.create({"name": f"Customer {i:03d}"}).id
                 for i in range(CHANGES)]
    first = make_handler()({}, Context())
    assert first["kind"] == "full", first["message"]
    stripe_api.deliver_to(aws.endpoint_url, source_delay_s=0.1)
    dest = create_destination(client, [*names.EVENT_TYPES])
    queue_url = provision_event_path(aws, f"aws.partner/stripe.com/{dest.id}", config)
    sqs = boto3.client("sqs", **aws.client_kwargs())
    mapping = EventSourceMapping(sqs, queue_url, make_handler, config, pollers=2,
                                 poll_interval_s=POLL_S, timeout_s=900).start()
    try:
        _latency(client, customers, info["login_url"])
        _burst(client, customers, mapping, sqs, queue_url)
    finally:
        mapping.stop()


def _pm_ids(login_url: str) -> set[str]:
    r = requests.get(f"{login_url}/_admin/records/{names.PAYMENT_METHOD}", timeout=30)
    r.raise_for_status()
    return {p[names.DEFAULT_PM_EXTERNAL_ID_FIELD] for p in r.json()["records"]}


def _latency(client: Any, customers: list[str], login_url: str) -> None:
    attached: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            now = time.monotonic()
            for pm in _pm_ids(login_url) & set(attached):
                seen.setdefault(pm, now)
            time.sleep(WATCH_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    for i, customer in enumerate(customers):
        time.sleep(max(0.0, start + i * SPREAD_S / CHANGES - time.monotonic()))
        pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer})
        attached[pm.id] = time.monotonic()
    wait_for(lambda: len(seen) == len(attached), "every change in Salesforce", timeout=300)
    done.set()
    watcher.join()
    latencies = sorted(seen[pm] - attached[pm] for pm in attached)
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * len(latencies)) - 1]
    row(f"Stripe change → Salesforce write, p50 ({CHANGES} changes over {SPREAD_S:g} s)",
        p50, "s", "-", True)
    row(f"  ... p95 (Salesforce read every {WATCH_S:g} s)", p95, "s", "<= 60", p95 <= 60)


def _burst(client: Any, customers: list[str], mapping: EventSourceMapping, sqs: Any,
           queue_url: str) -> None:
    before = len(mapping.stats.results)
    invocations = mapping.stats.invocations
    rounds = BURST // len(customers)
    # Eight at a time: the burst lands within seconds, as a bulk change in Stripe would.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda args: client.v1.customers.update(
            args[1], {"metadata": {"burst": str(args[0])}}),
            [(r, c) for r in range(rounds) for c in customers]))

    def settled() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])[
            "Attributes"]
        return all(int(v) == 0 for v in attrs.values())

    wait_for(settled, "the queue to drain", timeout=300)
    time.sleep(3 * mapping.config.window_s)  # a continuation started by the last run
    results = mapping.stats.results[before:]
    worked = sum(1 for r in results if r.get("kind") in WORK)
    dlq = sqs.get_queue_url(QueueName="stripe-events-dlq")["QueueUrl"]
    dead = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    row(f"burst of {rounds * len(customers):,} events: invocations",
        mapping.stats.invocations - invocations, "", "-", True)
    row("  ... runs that did work", worked, "", "<= 2", worked <= 2)
    row(f"  ... throttled batches (returned to the queue; {mapping.stats.throttled} in all)",
        mapping.stats.throttled, "", "-", True)
    row("  ... messages in the dead-letter queue", dead, "", "0", dead == 0)


if __name__ == "__main__":
    main()
