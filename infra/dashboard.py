"""The stack's CloudWatch dashboard: what the import did, run by run, on one page.

Its widgets are built from the metric names the Lambda emits (`sync_lambda.telemetry`), so a
metric renamed there moves here too; a test checks both ways that every metric the Lambda emits
is on some widget and every widget's metric is one the Lambda emits. The body follows
CloudWatch's dashboard body structure: `widgets`, each with `type`, a grid position (24 columns)
and `properties` holding `metrics` arrays (`[namespace, name, dimension, value, {options}]`),
`region`, `view` and `title`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pulumi
import pulumi_aws as aws

from sync_lambda import telemetry

if TYPE_CHECKING:
    from collections.abc import Sequence

TOKEN: Final = "sfbilling:index:Dashboard"  # noqa: S105 - a type token
GRID_COLUMNS: Final = 24
WIDTH, HEIGHT = 12, 6
PERIOD_S: Final = 300


@dataclass(frozen=True, slots=True)
class DashboardArgs:
    """What the dashboard shows, and the lines drawn on it."""

    service: str  # the import's metric dimension: the function's name
    function_name: str
    region: str
    timeout_s: int
    deadline_reserve_s: int
    stuck_after_s: int  # the "stuck" alarm's threshold on the checkpoint age
    api_budget_share: float  # sfbilling:salesforceApiBudgetShare
    reconcile_threshold: int  # the reconcile alarm's threshold


def _ours(args: DashboardArgs, names: Sequence[str], stat: str) -> list[list[Any]]:
    return [[telemetry.NAMESPACE, name, "service", args.service, {"stat": stat, "label": name}]
            for name in names]


def _widget(title: str, metrics: list[list[Any]], region: str, *, view: str = "timeSeries",
            horizontal: Sequence[tuple[str, float]] = (), stacked: bool = False,
            stat: str = "Sum") -> dict[str, Any]:
    props: dict[str, Any] = {"title": title, "metrics": metrics, "region": region,
                             "view": view, "stacked": stacked, "period": PERIOD_S,
                             "stat": stat}
    if horizontal:
        props["annotations"] = {"horizontal": [{"label": label, "value": value}
                                               for label, value in horizontal]}
    return {"type": "metric", "properties": props}


def dashboard_body(args: DashboardArgs, dead_letter_queue: str) -> dict[str, Any]:
    """The dashboard body (pure: the component serialises it once the queue's name is
    known)."""
    t, r = telemetry, args.region
    lam = [["AWS/Lambda", name, "FunctionName", args.function_name,
            {"stat": "Sum", "label": label}]
           for name, label in (("Invocations", "runs"), ("Errors", "failed runs"))]
    widgets = [
        _widget("Runs and how they ended", lam + _ours(
            args, (t.LEASE_LOST, t.API_BUDGET_STOP, t.HELD_BACK), "Sum"), r),
        _widget("Run duration against the timeout (s)", _ours(args, (t.DURATION,), "Maximum"),
                r, horizontal=(("timeout", args.timeout_s),
                               ("the run's deadline", args.timeout_s - args.deadline_reserve_s)),
                stat="Maximum"),
        _widget("Rows written", _ours(args, (*t.ACCOUNTS_WRITTEN, *t.PAYMENT_METHODS_WRITTEN,
                                             t.UNCHANGED), "Sum"), r, stacked=True),
        _widget("Rows failed, quarantined or skipped", _ours(
            args, (t.FAILED, t.FAILED_ROWS, t.QUARANTINED, t.SKIPPED, t.LIVE_MODE), "Sum"), r),
        _widget("Customers by scenario", _ours(
            args, tuple(t.SCENARIO_PREFIX + s for s in t.SCENARIOS), "Sum"), r, stacked=True),
        _widget("Dry runs: planned changes", _ours(
            args, tuple(t.PLANNED_PREFIX + a for a in t.PLANNED_ACTIONS), "Sum"), r,
            stacked=True),
        _widget("Checkpoint age (s)", _ours(args, (t.CHECKPOINT_AGE,), "Maximum"), r,
                horizontal=(("stuck alarm", args.stuck_after_s),), stat="Maximum"),
        _widget("Stripe 429s", _ours(args, (t.STRIPE_429,), "Sum"), r),
        # With Stripe's events on, scheduled runs should find nothing left to write.
        _widget("Rows scheduled runs wrote", _ours(args, (t.SCHEDULED_RUN_CHANGES,), "Sum"), r),
        _widget("Salesforce daily API usage (% of the org's limit)",
                _ours(args, (t.SF_API_USAGE,), "Maximum"), r,
                horizontal=(("the import's budget", round(100 * args.api_budget_share, 2)),),
                stat="Maximum"),
        _widget("Salesforce daily API requests", _ours(args, (t.SF_API_USED, t.SF_API_LIMIT),
                                                       "Maximum"), r, stat="Maximum"),
        _widget("Reconcile: disagreements by category", _ours(
            args, (t.RECONCILE_DISAGREEMENTS,
                   *(t.RECONCILE_PREFIX + c for c in t.RECONCILE_CATEGORIES)), "Maximum"), r,
                horizontal=(("alarm", args.reconcile_threshold),), stat="Maximum"),
        _widget("Dead-letter queue (messages)", [[
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dead_letter_queue,
            {"stat": "Maximum", "label": "dead letters"}]], r, stat="Maximum"),
    ]
    for i, w in enumerate(widgets):
        w.update(x=(i % 2) * WIDTH, y=(i // 2) * HEIGHT, width=WIDTH, height=HEIGHT)
    return {"widgets": widgets}


def dashboard_url(region: str, name: str) -> str:
    """Where the dashboard opens in the AWS console."""
    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name={name}")


class Dashboard(pulumi.ComponentResource):
    """One dashboard per stack, named after the function."""

    dashboard: aws.cloudwatch.Dashboard
    url: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardArgs, dead_letter_queue: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        body = pulumi.Output.from_input(dead_letter_queue).apply(
            lambda queue: json.dumps(dashboard_body(args, queue), sort_keys=True))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-board", dashboard_name=args.service, dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self))
        self.url = self.dashboard.dashboard_name.apply(
            lambda n: dashboard_url(args.region, n))
        self.register_outputs({"url": self.url})
