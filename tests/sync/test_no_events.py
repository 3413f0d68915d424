"""The "no events" alarm (issue 23): a destination disabled on purpose stops Stripe's events;
the schedule keeps data flowing, its runs report the changes they had to write
(ScheduledRunChanges, in the handler's EMF output), and the alarm the Pulumi program registers
fires on exactly that. CloudWatch's evaluation of the alarm's metric math is tests/metric_math.py
(moto evaluates no alarm)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from infra.lambda_package import PACKAGE_VAR
from sync_lambda import names, telemetry
from sync_lambda.handler import make_handler
from tests.eventpath import create_destination, provision_event_path
from tests.infra.program import plain, run_program, stack_config
from tests.metric_math import alarm_state
from tests.sync.lambda_runtime import Context

if TYPE_CHECKING:
    from infra.lambda_package import Package
    from tests.sync.harness import World


def _no_events_alarm(package: Package) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PACKAGE_VAR, str(package.path))
        config, secret_keys = stack_config("sandbox", eventDestination="create")
        run = run_program("sandbox", config, secret_keys)
    return dict(plain(run.one("aws:cloudwatch/metricAlarm:MetricAlarm",
                              "alarms-no-events").inputs))


def _emitted(out: str, name: str) -> float | None:
    """The value of a metric in the handler's EMF output (None: not emitted)."""
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            doc = json.loads(line)
            if name in doc:
                value = doc[name]
                return float(value[0] if isinstance(value, list) else value)
    return None


def _messages(sqs: Any, queue_url: str) -> int:
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                              WaitTimeSeconds=1).get("Messages", [])
    return len(got)


def test_a_disabled_destination_raises_no_events_and_the_schedule_carries_on(
        lambda_env: World, lambda_package: Package, capsys: pytest.CaptureFixture[str]) -> None:
    alarm = _no_events_alarm(lambda_package)
    customer, _ = lambda_env.customer(name="Ada Lovelace", cards=())
    handler = make_handler()
    assert handler({"scheduled": True}, Context())["kind"] == "full"
    lambda_env.stripe_api.deliver_to(lambda_env.aws.endpoint_url, source_delay_s=0.1)
    dest = create_destination(lambda_env.stripe, [*names.EVENT_TYPES])
    queue_url = provision_event_path(lambda_env.aws, f"aws.partner/stripe.com/{dest.id}")
    sqs = boto3.client("sqs", **lambda_env.aws.client_kwargs())

    # GIVEN the destination disabled on purpose (as in the Dashboard)
    lambda_env.stripe.v2.core.event_destinations.disable(dest.id)
    # WHEN a card is added in Stripe
    pm = lambda_env.stripe.v1.payment_methods.attach("pm_card_visa", {"customer": customer})
    time.sleep(1.0)
    # THEN no event reaches EventBridge's target (so AWS/Events `Events` has no datum)
    assert _messages(sqs, queue_url) == 0
    # AND the next scheduled run writes the card: the schedule keeps data flowing
    capsys.readouterr()
    result = handler({"scheduled": True}, Context())
    assert result["kind"] == "incremental"
    assert lambda_env.payment_methods()[pm.id][names.PM_ACTIVE] is True
    changes = _emitted(capsys.readouterr().out, telemetry.SCHEDULED_RUN_CHANGES)
    assert changes is not None and changes >= 1
    # AND the registered alarm, evaluated on those figures, fires
    assert alarm_state(alarm, {"events": None, "changes": changes}) == "ALARM"

    # GIVEN the destination enabled again WHEN the next change arrives THEN an event does, and
    # the run it starts writes it: the scheduled run after it finds nothing, and all is OK
    lambda_env.stripe.v2.core.event_destinations.enable(dest.id)
    pm2 = lambda_env.stripe.v1.payment_methods.attach("pm_card_mastercard",
                                                      {"customer": customer})
    batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                WaitTimeSeconds=5).get("Messages", [])
    assert batch
    records = {"Records": [{"messageId": m["MessageId"], "body": m["Body"],
                            "eventSource": "aws:sqs"} for m in batch]}
    assert handler(records, Context())["kind"] == "incremental"
    assert pm2.id in lambda_env.payment_methods()
    capsys.readouterr()
    handler({"scheduled": True}, Context())
    quiet = _emitted(capsys.readouterr().out, telemetry.SCHEDULED_RUN_CHANGES)
    assert quiet == 0
    assert alarm_state(alarm, {"events": float(len(batch)), "changes": quiet}) == "OK"
    # ... and events flowing while a scheduled run still writes (an event lost) is no alarm
    assert alarm_state(alarm, {"events": 1.0, "changes": 3.0}) == "OK"
