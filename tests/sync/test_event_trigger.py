"""Stripe's events start the import (issue 23, the function's side): an SQS batch of queued
events starts one incremental run; a run that finds the lease held asks the holder to run once
more, so no trigger is lost; a batch of destination pings only records that the path works."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from sync_lambda import names
from tests.sync.lambda_runtime import AsyncQueue, Context

if TYPE_CHECKING:
    import pytest

    from tests.sync.harness import World


def _batch(*types: str) -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it: bodies in the queued form."""
    return {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": json.dumps(
        {"id": f"evt_{i}", "type": kind, "created": int(time.time())})}
        for i, kind in enumerate(types)]}


def test_a_burst_during_a_run_is_written_within_one_continuation(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a first import that takes several seconds (60 customers at 10 Stripe requests/s)
    for i in range(60):
        lambda_env.customer(name=f"Customer {i:03d}")
    monkeypatch.setenv("SFB_STRIPE_RATE", "10")
    queue = AsyncQueue()
    results: dict[str, dict[str, Any]] = {}
    first = threading.Thread(target=lambda: results.update(
        first=queue.handler({}, Context())))
    first.start()
    time.sleep(2.0)
    # WHEN a card is added in Stripe meanwhile, and its events arrive while the run holds the
    # lease (a burst: several messages in one batch, then another batch)
    late, _ = lambda_env.customer(name="Late Customer")
    burst = [queue.handler(_batch("customer.created", "payment_method.attached"), Context()),
             queue.handler(_batch("customer.updated"), Context())]
    first.join(120)
    # THEN the event runs did nothing but ask the holder to run again
    assert [b["kind"] for b in burst] == ["skipped", "skipped"]
    assert all(b["rerun_requested"] for b in burst)
    assert all(b["calls"]["salesforce"] == 0 for b in burst)
    # ... the holder found the request when it finished and started its successor
    assert results["first"]["rerun"] is True
    assert results["first"]["continuation"] == "started"
    assert results["first"]["outcome"] == "ok"
    # ... and that one continuation wrote the late customer
    done = queue.drain()
    assert len(done) == 1
    assert done[0].result["rerun"] is False
    assert late in lambda_env.accounts()
    assert lambda_env.state().take_rerun() is False  # no request left behind


def test_a_change_during_an_event_run_is_written_though_its_batch_was_throttled(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an imported org, then a run started by Stripe's events that takes seconds
    queue = AsyncQueue()
    assert queue.handler({}, Context())["kind"] == "full"
    for i in range(40):
        lambda_env.customer(name=f"Customer {i:03d}")
    monkeypatch.setenv("SFB_STRIPE_RATE", "10")
    results: dict[str, dict[str, Any]] = {}
    run = threading.Thread(target=lambda: results.update(
        first=queue.handler(_batch("customer.created"), Context())))
    run.start()
    time.sleep(2.0)
    # WHEN a card is added meanwhile, and its batch never reaches the handler (Lambda throttles
    # it while the run holds the one slot; it comes back only after the visibility timeout)
    late, _ = lambda_env.customer(name="Late Customer")
    run.join(120)
    # THEN the run found the change waiting in Stripe before it released, and its one
    # continuation wrote it, with no trigger and no schedule
    assert results["first"]["kind"] == "incremental"
    assert results["first"]["rerun_requested"] is False
    assert (results["first"]["rerun"], results["first"]["continuation"]) == (True, "started")
    done = queue.drain()
    assert len(done) == 1
    assert done[0].event.get("startedByEvents") is True
    assert late in lambda_env.accounts()
    # ... and that continuation, finding nothing newer, ends the chain
    assert done[0].result["rerun"] is False


def test_an_event_batch_with_the_lease_free_runs_at_once(lambda_env: World) -> None:
    cus, _ = lambda_env.customer(name="Ada Lovelace")
    queue = AsyncQueue()
    result = queue.handler(_batch("customer.created"), Context())
    assert result["kind"] == "full"  # the first run: no checkpoint yet
    assert result["rerun"] is False and result["rerun_requested"] is False
    assert cus in lambda_env.accounts()
    assert queue.pending == []
    assert lambda_env.state().last_event_received() is not None


def test_a_ping_records_the_event_and_starts_no_run(lambda_env: World) -> None:
    # GIVEN a destination ping arriving through the queue
    before_sf = lambda_env.salesforce.counters_json()["api_requests"]
    before_stripe = lambda_env.stripe_api.stats()["requests"]
    started = time.time()
    result = AsyncQueue().handler(_batch(names.EVENT_DESTINATION_PING), Context())
    # THEN it is recorded as received (what `sfbilling events ping` polls), and nothing ran
    assert result == {"kind": "ping", "messages": 1}
    received = lambda_env.state().last_event_received()
    assert received is not None and received >= int(started)
    assert lambda_env.salesforce.counters_json()["api_requests"] == before_sf
    assert lambda_env.stripe_api.stats()["requests"] == before_stripe


def test_pings_mixed_with_changes_start_a_run(lambda_env: World) -> None:
    cus, _ = lambda_env.customer(name="Grace Hopper")
    result = AsyncQueue().handler(_batch(names.EVENT_DESTINATION_PING, "customer.created"),
                                  Context())
    assert result["kind"] == "full"
    assert cus in lambda_env.accounts()


def test_a_batch_of_events_a_run_already_applied_needs_no_run(lambda_env: World) -> None:
    # GIVEN a run that applied a customer's events (the first run, then an incremental one)
    queue = AsyncQueue()
    queue.handler({}, Context())
    cus, _ = lambda_env.customer(name="Katherine Johnson")
    assert queue.handler({}, Context())["kind"] == "incremental"
    applied = [e.id for e in lambda_env.stripe.v1.events.list({"limit": 10}).data
               if e.type in names.EVENT_TYPES]
    assert applied
    before = lambda_env.salesforce.counters_json()["api_requests"]
    # WHEN their messages arrive later (a burst's tail) THEN they are acknowledged, no run
    message = {"Records": [{"messageId": str(i), "eventSource": "aws:sqs", "body": json.dumps(
        {"id": event_id, "type": "customer.created", "created": "1"})}
        for i, event_id in enumerate(applied)]}
    assert queue.handler(message, Context()) == {"kind": "applied", "messages": len(applied)}
    assert lambda_env.salesforce.counters_json()["api_requests"] == before
    # ... but one event not applied yet starts a run
    fresh = dict(message)
    fresh["Records"] = [*message["Records"], {"messageId": "x", "eventSource": "aws:sqs",
                                              "body": json.dumps({"id": "evt_unseen",
                                                                  "type": "customer.updated",
                                                                  "created": "1"})}]
    assert queue.handler(fresh, Context())["kind"] in ("incremental", "noop")
    assert cus in lambda_env.accounts()
