"""The CloudWatch dashboard: its body has CloudWatch's structure, and its metrics and the
Lambda's match both ways (one source: sync_lambda.telemetry)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from infra.dashboard import GRID_COLUMNS, DashboardArgs, dashboard_body
from infra.lambda_package import PACKAGE_VAR
from sync_lambda import telemetry
from sync_lambda.matching import Scenario
from sync_lambda.report import Report
from tests.infra.program import run_program, stack_config

if TYPE_CHECKING:
    from infra.lambda_package import Package
    from tests.infra.program import ProgramRun

ARGS = DashboardArgs(service="sfbilling-prod-sync", function_name="sfbilling-prod-sync",
                     region="eu-west-1", timeout_s=900, deadline_reserve_s=90,
                     stuck_after_s=1800, api_budget_share=0.8, reconcile_threshold=0)
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer"}
VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}


def _metric_names(body: dict[str, Any], namespace: str) -> set[str]:
    return {m[1] for w in body["widgets"] for m in w["properties"].get("metrics", [])
            if m[0] == namespace}


def test_the_body_has_cloudwatch_structure() -> None:
    body = dashboard_body(ARGS, "sfbilling-prod-dead-letters")
    assert set(body) == {"widgets"}
    for w in body["widgets"]:
        assert w["type"] in WIDGET_TYPES
        assert all(isinstance(w[k], int) for k in ("x", "y", "width", "height"))
        assert w["x"] >= 0 and w["x"] + w["width"] <= GRID_COLUMNS
        props = w["properties"]
        assert props["region"] == "eu-west-1"
        assert props["view"] in VIEWS and props["title"]
        assert props["period"] % 60 == 0
        assert props["metrics"], props["title"]
        for m in props["metrics"]:
            # [namespace, name, (dimension name, value)*, {options}?]
            *names, options = m if isinstance(m[-1], dict) else (*m, {})
            assert len(names) >= 2 and len(names) % 2 == 0
            assert all(isinstance(part, str) and part for part in names)
            assert set(options) <= {"stat", "label", "period", "color", "yAxis", "visible"}
        for line in props.get("annotations", {}).get("horizontal", []):
            assert isinstance(line["value"], int | float) and line["label"]
    positions = {(w["x"], w["y"]) for w in body["widgets"]}
    assert len(positions) == len(body["widgets"])  # no two widgets on one spot
    json.dumps(body)  # serialisable as CloudWatch takes it


def test_every_metric_the_lambda_emits_is_on_a_widget_and_nothing_else() -> None:
    body = dashboard_body(ARGS, "q")
    ours = _metric_names(body, telemetry.NAMESPACE)
    assert ours == set(telemetry.emitted())
    # Every widget metric of ours carries the stack's service dimension.
    for w in body["widgets"]:
        for m in w["properties"]["metrics"]:
            if m[0] == telemetry.NAMESPACE:
                assert m[2:4] == ["service", ARGS.service]
    dlq = [m for w in body["widgets"] for m in w["properties"]["metrics"] if m[0] == "AWS/SQS"]
    assert dlq == [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "q",
                    {"stat": "Maximum", "label": "dead letters"}]]


def _reports() -> list[dict[str, Any]]:
    """Reports that exercise every metric: a run with every outcome, a dry run with every
    planned action, and an ended reconciliation (with the Salesforce usage)."""
    from sync_lambda.api_usage import ApiUsage
    from sync_lambda.reconciliation import Findings

    run = Report("r1", "create_and_link", salesforce_api=ApiUsage(10, 100),
                 checkpoint_age_s=5, findings=Findings(), live_mode_customers=1,
                 stripe_throttled=1)
    run.quarantined.append({"stripe_id": "pm_1", "customer": "cus_1", "reason": "r"})
    run.skipped.append({"customer": "cus_2", "reason": "r"})
    for name in (*telemetry.ACCOUNTS_WRITTEN, *telemetry.PAYMENT_METHODS_WRITTEN,
                 telemetry.UNCHANGED, telemetry.FAILED):
        run.outcomes[name] = 1
    for scenario in Scenario:
        run.scenarios[scenario.value] = 1
    dry = Report("r2", "create_and_link", dry_run=True)
    for action in telemetry.PLANNED_ACTIONS:
        dry.outcomes[telemetry.PLANNED_PREFIX + action] = 1
    return [run.to_dict(), dry.to_dict()]


def test_the_declared_metrics_are_what_the_lambda_emits() -> None:
    seen: dict[str, str] = {}
    for report in _reports():
        seen.update({m.name: m.unit for m in telemetry.metrics_of(
            report, scheduled=not report["dry_run"])})
    assert seen == telemetry.emitted()
    assert set(telemetry.SCENARIOS) == {s.value for s in Scenario}


@pytest.mark.parametrize("env", ["sandbox", "prod"])
def test_the_stack_registers_its_dashboard(env: str, lambda_package: Package,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PACKAGE_VAR, str(lambda_package.path))
    config, secrets = stack_config(env)
    run: ProgramRun = run_program(env, config, secrets)
    board = run.one("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(board.inputs["dashboardBody"])
    assert board.inputs["dashboardName"] == f"sfbilling-{env}-sync"
    assert _metric_names(body, telemetry.NAMESPACE) == set(telemetry.emitted())
    region = config["aws:region"]
    assert {w["properties"]["region"] for w in body["widgets"]} == {region}


def test_a_reconcile_schedule_only_when_configured(lambda_package: Package,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PACKAGE_VAR, str(lambda_package.path))
    schedules = "aws:scheduler/schedule:Schedule"
    config, secrets = stack_config("prod")
    assert [r.name for r in run_program("prod", config, secrets).of_type(schedules)] == [
        "sync-schedule"]
    config, secrets = stack_config("prod", reconcileSchedule="cron(0 3 ? * SUN *)",
                                   reconcileAlarmThreshold="25")
    run = run_program("prod", config, secrets)
    weekly = run.one(schedules, "sync-reconcile-schedule")
    assert weekly.inputs["scheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert json.loads(weekly.inputs["target"]["input"]) == {"reconcile": True}
    assert weekly.inputs["target"]["arn"] == run.one(schedules, "sync-schedule").inputs[
        "target"]["arn"]
    alarm = run.one("aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-reconcile")
    assert (alarm.inputs["metricName"], alarm.inputs["threshold"]) == (
        "reconcile_disagreements", 25)
