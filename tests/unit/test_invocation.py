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


def _written(scheduled: bool, *, dry_run: bool = False, **outcomes: int) -> float | None:
    from sync_lambda import telemetry
    from sync_lambda.report import Report

    report = Report("r1", "create_and_link", dry_run=dry_run)
    report.outcomes.update(outcomes)
    found = {m.name: m.value for m in telemetry.metrics_of(report.to_dict(),
                                                          scheduled=scheduled)}
    return found.get(telemetry.SCHEDULED_RUN_CHANGES)


def test_a_scheduled_run_counts_the_rows_it_wrote_and_nothing_else() -> None:
    # given a scheduled run that linked, created and inserted, and left some rows alone
    value = _written(True, accounts_linked=2, accounts_created=1, payment_methods_inserted=4,
                     autopay_cleared=1, unchanged=50, failed=3)
    # then ScheduledRunChanges is the rows written (unchanged and failed ones are not changes)
    assert value == 8
    # and a scheduled run that wrote nothing says 0 (the alarm needs the datum, not a gap)
    assert _written(True, unchanged=5) == 0


def test_only_scheduled_runs_that_write_emit_scheduled_run_changes() -> None:
    assert _written(False, accounts_created=3) is None  # started by events or an operator
    assert _written(True, dry_run=True) is None  # a dry run writes nothing


def test_the_schedule_s_payload_marks_its_runs() -> None:
    from sync_lambda import invocation

    assert invocation.SCHEDULED == "scheduled"
    assert invocation.SCHEDULED not in invocation.payload(full=True, reconcile=True)
