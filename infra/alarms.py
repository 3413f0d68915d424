"""Alarms: an SNS topic (with an email subscription when the stack names an address) and the
CloudWatch alarms on the import. What each means and what to do: README "Deploy", and
`ALARMS` below, which the README table follows.

Lambda and SQS publish their metrics only when there is something to count, and the import's
own metrics come once per run, so missing data means "nothing happened" (not breaching) — except
for the checkpoint age, where silence means no run finished at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pulumi
import pulumi_aws as aws

from sync_lambda import telemetry

if TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN: Final = "sfbilling:index:Alarms"  # noqa: S105 - a type token
RUN_PERIOD_S: Final = 300
THROTTLE_WINDOW_S: Final = 3600
DAY_S: Final = 86_400


# The "no events" alarm looks back this many of the schedule's gaps at once (at most a day).
NO_EVENTS_GAPS: Final = 3


@dataclass(frozen=True, slots=True)
class EventAlarmsArgs:
    """What the near-real-time path's alarms watch (issue 23)."""

    event_source_name: pulumi.Input[str]  # the partner source: AWS/Events' dimension
    dead_letter_queue_name: pulumi.Input[str]  # the event path's DLQ


def no_events_period(schedule_gap_s: int) -> int:
    """The "no events" alarm's one period: NO_EVENTS_GAPS schedule gaps, whole hours, at most
    a day (a scheduled run in it has had time to find what events should have brought)."""
    hours = math.ceil(NO_EVENTS_GAPS * schedule_gap_s / 3600)
    return min(DAY_S, max(1, hours) * 3600)


@dataclass(frozen=True, slots=True)
class AlarmsArgs:
    """What the alarms watch."""

    function_name: pulumi.Input[str]
    service: str  # the import's metric dimension: the function's name
    dead_letter_queue_name: pulumi.Input[str]
    timeout_s: int
    deadline_reserve_s: int
    schedule_gap_s: int  # the longest time the schedule leaves between two runs
    email: str | None
    reconcile_threshold: int = 0  # disagreements a reconciliation may find before it alarms
    tags: Mapping[str, str] = field(default_factory=dict)
    events: EventAlarmsArgs | None = None  # eventDestination on


class Alarms(pulumi.ComponentResource):
    """The topic and the alarms."""

    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: AlarmsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        self._name, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(f"{name}-topic", name=f"{args.service}-alarms",
                                   tags=dict(args.tags), opts=child)
        if args.email:
            # Stays "pending confirmation" until the recipient follows the link AWS mails.
            aws.sns.TopicSubscription(f"{name}-email", topic=self.topic.arn, protocol="email",
                                      endpoint=args.email, opts=child)
        self.alarms = {}
        self._lambda_alarms()
        self._import_alarms()
        if args.events is not None:
            self._event_alarms(args.events)
        self.register_outputs({"topicArn": self.topic.arn,
                               "alarmNames": [a.name for a in self.alarms.values()]})

    def _alarm(self, key: str, description: str, **kwargs: Any) -> None:
        self.alarms[key] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}", name=f"{self._args.service}-{key}",
            alarm_description=description, alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn], tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self), **kwargs)

    def _lambda_alarms(self) -> None:
        fn = {"FunctionName": self._args.function_name}
        self._alarm("errors", "The import's Lambda failed (a fatal error: see its logs). The "
                    "next scheduled run retries from the saved progress.",
                    namespace="AWS/Lambda", metric_name="Errors", dimensions=fn,
                    statistic="Sum", period=RUN_PERIOD_S, evaluation_periods=1, threshold=1,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching")
        # With reserved concurrency 1, a continuation or a trigger that arrives during a run is
        # throttled until the run ends: normal. Throttled for an hour with nothing running is
        # not (concurrency set to 0, or the account's limit).
        self._alarm("throttled", "The import's Lambda was throttled for an hour and did not "
                    "run at all.",
                    metric_queries=[
                        {"id": "throttles", "return_data": False, "metric": {
                            "namespace": "AWS/Lambda", "metric_name": "Throttles",
                            "dimensions": fn, "stat": "Sum", "period": THROTTLE_WINDOW_S}},
                        {"id": "invocations", "return_data": False, "metric": {
                            "namespace": "AWS/Lambda", "metric_name": "Invocations",
                            "dimensions": fn, "stat": "Sum", "period": THROTTLE_WINDOW_S}},
                        {"id": "stalled", "return_data": True, "label": "throttled, not running",
                         "expression": "IF(throttles > 0 AND invocations == 0, 1, 0)"}],
                    evaluation_periods=1, threshold=1,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching")
        # A run stops `deadline_reserve_s` before its timeout by design; one that ends past
        # half of that reserve did not stop in time and risks being killed mid-write.
        limit_ms = (self._args.timeout_s - self._args.deadline_reserve_s / 2) * 1000
        self._alarm("near-timeout", "A run ended close to the Lambda timeout: its deadline "
                    "reserve did not hold (a slow Salesforce or Stripe call).",
                    namespace="AWS/Lambda", metric_name="Duration", dimensions=fn,
                    statistic="Maximum", period=RUN_PERIOD_S, evaluation_periods=1,
                    threshold=limit_ms, comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching")
        self._alarm("dead-letters", "An event could not be delivered to, or failed in, the "
                    "import's Lambda: it is in the dead-letter queue.",
                    namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": self._args.dead_letter_queue_name},
                    statistic="Maximum", period=RUN_PERIOD_S, evaluation_periods=1,
                    threshold=0, comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching")

    def _run_metric(self, key: str, description: str, metric: str, *, threshold: float,
                    period: int = RUN_PERIOD_S, periods: int = 1,
                    missing: str = "notBreaching") -> None:
        self._alarm(key, description, namespace=telemetry.NAMESPACE, metric_name=metric,
                    dimensions={"service": self._args.service}, statistic="Maximum",
                    period=period, evaluation_periods=periods, datapoints_to_alarm=periods,
                    threshold=threshold, comparison_operator="GreaterThanThreshold",
                    treat_missing_data=missing)

    def _import_alarms(self) -> None:
        self._run_metric("failed-rows", "A run left failed or quarantined rows (Salesforce "
                         "refused them, Stripe could not be read, or a picklist lacks a value).",
                         telemetry.FAILED_ROWS, threshold=0)
        self._run_metric("held-back", "Deactivations wait for confirmation: the run would "
                         "deactivate more payment methods than the mass-deactivation limit.",
                         telemetry.HELD_BACK, threshold=0)
        self._run_metric("lease-lost", "A run lost its lease to another run and stopped "
                         "writing (a run outlived its lease, or a manual run overlapped).",
                         telemetry.LEASE_LOST, threshold=0)
        self._run_metric("api-budget", "A run stopped at the Salesforce daily API budget "
                         "(salesforceApiBudgetShare of the org's limit, or the limit itself): "
                         "progress is saved and the next scheduled run continues, but the org "
                         "is short of API requests.", telemetry.API_BUDGET_STOP, threshold=0)
        self._run_metric("reconcile", "A reconciliation found Stripe and Salesforce disagree "
                         "more than reconcileAlarmThreshold: `sfbilling reconcile --env ENV` "
                         "lists them by category.", telemetry.RECONCILE_DISAGREEMENTS,
                         threshold=self._args.reconcile_threshold)
        # Twice the schedule's longest gap, looked back over the same length. No data in a
        # period counts as breaching, so the alarm fires only when every period of the window
        # breached: no run reported a fresh checkpoint in the whole window. Up to a day that is
        # one period; beyond, whole days (a period of an hour or more may be evaluated over
        # seven days at most: the schema refuses schedules whose window would not fit).
        window = 2 * self._args.schedule_gap_s
        if window <= DAY_S:
            period, periods = max(RUN_PERIOD_S, window - window % 60), 1
        else:
            period, periods = DAY_S, math.ceil(window / DAY_S)
        self._run_metric("stuck", "The import's checkpoint is older than twice the schedule "
                         "period, or no run has reported in that time: the import is stuck.",
                         telemetry.CHECKPOINT_AGE, threshold=window, period=period,
                         periods=periods, missing="breaching")

    def _event_alarms(self, events: EventAlarmsArgs) -> None:
        # EventBridge publishes `Events` only when non-zero, so a missing datum is 0 (FILL);
        # ScheduledRunChanges comes from scheduled runs only. Events ingested: none; changes a
        # scheduled run still had to write: some. The destination is disabled or broken, and
        # the schedule is carrying the import alone.
        period = no_events_period(self._args.schedule_gap_s)
        self._alarm("no-events", "Stripe's events stopped: EventBridge ingested none from the "
                    "destination while scheduled runs still found changes to write. The "
                    "schedule keeps the import going; `sfbilling doctor --env ENV` shows the "
                    "destination's status, `sfbilling events ping --env ENV` tests the path.",
                    metric_queries=[
                        {"id": "events", "return_data": False, "metric": {
                            "namespace": "AWS/Events", "metric_name": "Events",
                            "dimensions": {"EventSourceName": events.event_source_name},
                            "stat": "Sum", "period": period}},
                        {"id": "changes", "return_data": False, "metric": {
                            "namespace": telemetry.NAMESPACE,
                            "metric_name": telemetry.SCHEDULED_RUN_CHANGES,
                            "dimensions": {"service": self._args.service}, "stat": "Sum",
                            "period": period}},
                        {"id": "silent", "return_data": True,
                         "label": "no events, yet scheduled runs wrote changes",
                         "expression": NO_EVENTS_EXPRESSION}],
                    evaluation_periods=1, threshold=1,
                    comparison_operator="GreaterThanOrEqualToThreshold",
                    treat_missing_data="notBreaching")
        self._alarm("event-dead-letters", "Stripe events could not be delivered to the queue, "
                    "or were received 10 times without being taken: they are in the event "
                    "dead-letter queue. Nothing is lost (runs read /v1/events); look for why.",
                    namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": events.dead_letter_queue_name},
                    statistic="Maximum", period=RUN_PERIOD_S, evaluation_periods=1,
                    threshold=0, comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching")


NO_EVENTS_EXPRESSION: Final = "IF(FILL(events, 0) == 0 AND FILL(changes, 0) > 0, 1, 0)"
