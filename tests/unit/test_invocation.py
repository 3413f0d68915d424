"""Specifications of how the handler reads an SQS batch of Stripe's events (pure)."""

from __future__ import annotations

import json

from sync_lambda import names
from sync_lambda.invocation import StripeEvents, stripe_events


def _record(body: object) -> dict[str, object]:
    return {"eventSource": "aws:sqs", "body": body if isinstance(body, str) else json.dumps(body)}


def test_a_schedule_or_operator_event_is_not_a_batch() -> None:
    assert stripe_events({}) is None
    assert stripe_events({"full": True}) is None
    assert stripe_events({"Records": "not a list"}) is None


def test_changes_start_a_run_and_pings_are_counted() -> None:
    events = stripe_events({"Records": [
        _record({"id": "evt_1", "type": "customer.created", "created": 1}),
        _record({"id": "evt_2", "type": names.EVENT_DESTINATION_PING, "created": 2})]})
    assert events == StripeEvents(count=2, pings=1, unreadable=0, ids=("evt_1",))
    assert events.starts_a_run


def test_a_batch_of_pings_only_starts_no_run() -> None:
    ping = _record({"id": "evt_1", "type": names.EVENT_DESTINATION_PING, "created": 1})
    events = stripe_events({"Records": [ping, ping]})
    assert events == StripeEvents(count=2, pings=2, unreadable=0)
    assert not events.starts_a_run


def test_an_unreadable_body_is_counted_and_starts_a_run() -> None:
    # (a run costs little and reads /v1/events: a message nobody understands is never lost)
    events = stripe_events({"Records": [_record("not json"), _record({"no": "type"}),
                                        {"eventSource": "aws:sqs"}]})
    assert events == StripeEvents(count=3, pings=0, unreadable=3)
    assert events.starts_a_run


def test_an_empty_batch_starts_no_run() -> None:
    events = stripe_events({"Records": []})
    assert events == StripeEvents(0, 0, 0)
    assert not events.starts_a_run
