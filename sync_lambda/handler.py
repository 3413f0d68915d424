"""AWS Lambda entry point: settings from the environment, secrets from Secrets Manager, one run.

Event (from the EventBridge schedule, or an operator's manual invoke):
    {}                              incremental run (a full import when there is no checkpoint yet)
    {"full": true}                  full reconcile
    {"dry_run": true}               plan only, no writes
    {"allowMassDeactivation": true} confirm deactivations the mass-deactivation limit held back
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import jmespath
import urllib3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sync_lambda.adapters.secrets import load_secrets
from sync_lambda.errors import ConfigError
from sync_lambda.settings import Settings
from sync_lambda.wiring import build_service

# The python3.12 runtime provides its SDK stack (not in the package: docs/lambda-package.md):
# boto3 at least as new as the runtime's first, and the urllib3 and jmespath that requests and
# Powertools need. Checked at cold start, so an older stack fails with this, not mid-run.
RUNTIME_FLOORS = {"boto3": (boto3.__version__, (1, 34)),
                  "urllib3": (urllib3.__version__, (1, 26)),
                  "jmespath": (jmespath.__version__, (1, 0))}
for _name, (_version, _floor) in RUNTIME_FLOORS.items():
    if tuple(int(p) for p in _version.split(".")[:2]) < _floor:
        raise ConfigError(f"the runtime's {_name} {_version} is older than "
                          f"{'.'.join(map(str, _floor))}, the oldest this import works with: use "
                          "the python3.12 runtime's current SDK, or bundle a newer stack")

logger = Logger(service="sfbilling-sync")
metrics = Metrics(namespace="SfBillingSync", service="sync")


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run the import once and return its report."""
    settings = Settings.from_env(os.environ)
    secrets = load_secrets(boto3.client("secretsmanager", region_name=settings.aws_region,
                                        endpoint_url=settings.aws_endpoint_url), settings)
    service = build_service(
        settings, secrets,
        remaining_s=lambda: float(context.get_remaining_time_in_millis()) / 1000.0)
    report = service.run(full=event.get("full") is True, dry_run=event.get("dry_run") is True,
                         allow_mass_deactivation=event.get("allowMassDeactivation") is True)
    result = report.to_dict()
    # Emitted on every run, 0 included, so the alarms on them always see data.
    alarmed = {"failed_rows": report.failed_rows, "mass_deactivation_held_back": report.held_back,
               "lease_lost": int(report.lease_lost)}
    for name, value in {**result["outcomes"], **alarmed}.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for name, value in result["scenarios"].items():
        metrics.add_metric(name=f"scenario_{name}", unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="duration", unit=MetricUnit.Seconds, value=result["duration_s"])
    # Counts and ids only: reports carry no names, emails or secrets into the logs.
    logger.info("sync finished", extra={
        "run_id": result["run_id"], "kind": result["kind"], "outcome": result["outcome"],
        "dry_run": result["dry_run"], "summary": result["message"],
        "continued": result["continued"], "outcomes": result["outcomes"],
        "scenarios": result["scenarios"], "calls": result["calls"],
        "failed_ids": [f["stripe_id"] for f in result["failures"]][:100]})
    return result
