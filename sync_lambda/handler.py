"""AWS Lambda entry point: settings from the environment, secrets from Secrets Manager, one run,
and the next run started at once when this one stopped at its deadline with work left.

Event (from the EventBridge schedule, an operator's manual invoke, or a run's continuation):
    {}                              incremental run (a full import when there is no checkpoint yet)
    {"full": true}                  full reconcile
    {"dry_run": true}               plan only: no writes, no lease, half the Stripe budget
    {"recheckUnknown": true}        read again the customers classed as live-mode only
    {"allowMassDeactivation": true} confirm deactivations the mass-deactivation limit held back
    {"reconcile": true}             compare Stripe with Salesforce (writes nothing there), in
                                    segments from a saved cursor; its counts become metrics
    {"continuation": true}          started by the previous run; runs like {} (the saved progress,
                                    not the event, says where to go on)
    {"Records": [...]}              an SQS batch of Stripe's events (the event destination's
                                    queue): recorded as received, then an incremental run, which
                                    reads /v1/events as always; a batch of pings only records,
                                    and one whose events a run already applied needs no run
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
import jmespath
import urllib3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sync_lambda import invocation, telemetry
from sync_lambda.adapters.lambda_continuation import EVENT, LambdaContinuation
from sync_lambda.adapters.secrets import load_secrets, provider_for
from sync_lambda.errors import ConfigError
from sync_lambda.settings import Settings
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync_lambda.ports import Continuation

# The python3.12 runtime provides its SDK stack (not in the package: docs/lambda-package.md):
# boto3 at least as new as the runtime's first, and the urllib3 and jmespath that requests and
# Powertools need. Checked at cold start, so an older stack fails with this, not mid-run.
RUNTIME_FLOORS = {module.__name__: (str(getattr(module, "__version__", "0")), floor)
                  for module, floor in ((boto3, (1, 34)), (urllib3, (1, 26)), (jmespath, (1, 0)))}
for _name, (_version, _floor) in RUNTIME_FLOORS.items():
    if tuple(int(p) for p in _version.split(".")[:2]) < _floor:
        raise ConfigError(f"the runtime's {_name} {_version} is older than "
                          f"{'.'.join(map(str, _floor))}, the oldest this import works with: use "
                          "the python3.12 runtime's current SDK, or bundle a newer stack")

# The service (a metric dimension, a log key) is the function's name, set by the Pulumi program.
_SERVICE = os.environ.get(telemetry.SERVICE_ENV, telemetry.DEFAULT_SERVICE)
logger = Logger(service=_SERVICE)
metrics = Metrics(namespace=telemetry.NAMESPACE, service=_SERVICE)


def lambda_continuation(settings: Settings, function_arn: str) -> Continuation:
    """The continuation on AWS: an asynchronous invoke of this very function."""
    return LambdaContinuation(boto3.client("lambda", region_name=settings.aws_region,
                                           endpoint_url=settings.aws_endpoint_url),
                              function_arn)


def make_handler(continuation: Callable[[Settings, str], Continuation] = lambda_continuation,
                 ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler, with how it starts its successor (tests record it through the port)."""

    @metrics.log_metrics
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        settings = Settings.from_env(os.environ)
        secrets = load_secrets(provider_for(settings), settings)
        dry_run = event.get(invocation.DRY_RUN) is True
        service = build_service(
            settings, secrets, dry_run=dry_run,
            remaining_s=lambda: float(context.get_remaining_time_in_millis()) / 1000.0)
        allow = event.get(invocation.ALLOW_MASS_DEACTIVATION) is True
        reconcile = event.get(invocation.RECONCILE) is True
        scheduled = event.get(invocation.SCHEDULED) is True
        stripe_events = invocation.stripe_events(event)
        by_events = stripe_events is not None or event.get(invocation.STARTED_BY_EVENTS) is True
        if stripe_events is not None and not dry_run:
            service.record_event_received()
            if not stripe_events.starts_a_run:
                logger.info("event destination ping received",
                            extra={"messages": stripe_events.count})
                return {"kind": "ping", "messages": stripe_events.count}
            if not stripe_events.unreadable and service.events_applied(stripe_events.ids):
                # A run already read these (a burst arrives in many batches): nothing to do.
                logger.info("stripe events already applied",
                            extra={"messages": stripe_events.count})
                return {"kind": "applied", "messages": stripe_events.count}
        report = service.reconcile() if reconcile else service.run(
            full=event.get(invocation.FULL) is True, dry_run=dry_run,
            allow_mass_deactivation=allow,
            recheck_unknown=event.get(invocation.RECHECK_UNKNOWN) is True,
            follow_events=by_events and not dry_run)
        result = report.to_dict()
        result["continuation"] = None
        if report.api_budget:
            # Starting again at once would only stop again: the schedule's next run goes on
            # once the org's rolling 24-hour usage has fallen.
            result["continuation"] = "not started (Salesforce API budget); the next " \
                                     "scheduled run continues"
        elif (report.continued or report.rerun) and not dry_run:
            # The lease is released by now; with reserved concurrency 1 the successor starts
            # once this invocation has returned. If it cannot be started, the next scheduled
            # run continues from the same saved progress: only time is lost.
            # A confirmation of held-back deactivations covers the run it was given to, and
            # a continuation is that run going on.
            following = {**EVENT, **({invocation.ALLOW_MASS_DEACTIVATION: True} if allow
                                     else {}), **({invocation.RECONCILE: True} if reconcile
                                                  else {}),
                         **({invocation.SCHEDULED: True} if scheduled else {}),
                         **({invocation.STARTED_BY_EVENTS: True} if by_events else {})}
            try:
                continuation(settings, context.invoked_function_arn).start_next(following)
                result["continuation"] = "started"
            except Exception as exc:  # noqa: BLE001 - any failure leaves it to the schedule
                result["continuation"] = f"not started ({type(exc).__name__}); the next " \
                                         "scheduled run continues"
        for m in telemetry.metrics_of(result, scheduled=scheduled and not reconcile):
            metrics.add_metric(name=m.name, unit=MetricUnit(m.unit), value=m.value)
        # Counts and ids only: reports carry no names, emails or secrets into the logs.
        logger.info("sync finished", extra={
            "run_id": result["run_id"], "kind": result["kind"], "outcome": result["outcome"],
            "dry_run": result["dry_run"], "summary": result["message"],
            "started_by": "continuation" if event.get(invocation.CONTINUATION) is True
            else "stripe events" if stripe_events is not None
            else "schedule" if scheduled else "trigger",
            "stripe_events": None if stripe_events is None else {
                "messages": stripe_events.count, "pings": stripe_events.pings,
                "unreadable": stripe_events.unreadable},
            "rerun_requested": result["rerun_requested"], "rerun": result["rerun"],
            "continued": result["continued"], "continuation": result["continuation"],
            "outcomes": result["outcomes"], "scenarios": result["scenarios"],
            "calls": result["calls"], "checkpoint_age_s": result["checkpoint_age_s"],
            "salesforce_api_usage": result["salesforce_api_usage"],
            "reconcile": None if result["reconcile"] is None
            else result["reconcile"]["counts"],
            "failed_ids": [f["stripe_id"] for f in result["failures"]][:100]})
        return result

    return handle


lambda_handler = make_handler()
