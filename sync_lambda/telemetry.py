"""What a run tells CloudWatch: the metric namespace, the names the alarms watch, and the
metrics of one report. Pure: the handler emits them (Powertools EMF), the Pulumi program
alarms on them, and both take the names from here.

The metrics carry one dimension, `service`, which the Pulumi program sets to the function's
name (`POWERTOOLS_SERVICE_NAME`), so two stacks in one account never mix their figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

NAMESPACE: Final = "SfBillingSync"
SERVICE_ENV: Final = "POWERTOOLS_SERVICE_NAME"
DEFAULT_SERVICE: Final = "sfbilling-sync"
# Emitted on every run, 0 included, so the alarms on them always see data.
FAILED_ROWS: Final = "failed_rows"  # refused, unreadable or quarantined rows
HELD_BACK: Final = "mass_deactivation_held_back"  # deactivations waiting for confirmation
LEASE_LOST: Final = "lease_lost"  # another run took over the lease mid-run
# Seconds since the import's state last moved on (0 while a full import advances its cursor);
# missing while nothing is saved yet, and on runs that found the lease held.
CHECKPOINT_AGE: Final = "checkpoint_age_seconds"
# 1 when a run stopped for the org's daily Salesforce API limit (its budget share, or the limit).
API_BUDGET_STOP: Final = "api_budget_stop"
# The org's daily API usage as the run's last Salesforce response reported it (missing on
# runs that made no Salesforce call): the share in percent, and the two figures.
SF_API_USAGE: Final = "salesforce_api_usage_percent"
SF_API_USED: Final = "salesforce_api_used"
SF_API_LIMIT: Final = "salesforce_api_limit"
# Rows a scheduled run wrote (scheduled runs only): with Stripe's events on, events runs have
# already written every change, so a scheduled run that still finds some while EventBridge
# ingested no event means the destination is disabled or broken (the "no events" alarm).
SCHEDULED_RUN_CHANGES: Final = "ScheduledRunChanges"
COUNT, SECONDS, PERCENT = "Count", "Seconds", "Percent"
DURATION: Final = "duration"
# Rows written, by kind (the report's outcome counters, in the order of a plan's phases).
ACCOUNTS_WRITTEN: Final = ("accounts_linked", "accounts_created", "accounts_renamed")
PAYMENT_METHODS_WRITTEN: Final = ("autopay_cleared", "payment_methods_deactivated",
                                  "payment_methods_updated", "payment_methods_inserted")
# A dry run's planned changes, counted as `would_<action>`.
PLANNED_PREFIX: Final = "would_"
PLANNED_ACTIONS: Final = ("create_account", "link_account", "rename_account", "clear_autopay",
                          "deactivate", "update_payment_method", "insert_payment_method")
# The report's other counters (`failed`: rows refused or unreadable in this run).
UNCHANGED, FAILED, QUARANTINED, SKIPPED = "unchanged", "failed", "quarantined", "skipped"
LIVE_MODE: Final = "live_mode_customers"
STRIPE_429: Final = "stripe_rate_limited"
# How customers were matched (`matching.Scenario`'s values; a test keeps them equal).
SCENARIO_PREFIX: Final = "scenario_"
SCENARIOS: Final = ("already_linked", "existing_by_id", "existing_by_name", "new_customer",
                    "skipped")

# A reconciliation's categories (`reconciliation`): where Stripe and Salesforce disagree, and
# where they differ by design (not counted as disagreement). Emitted when a reconcile ends.
RECONCILE_PREFIX: Final = "reconcile_"
RECONCILE_DISAGREEMENTS: Final = "reconcile_disagreements"  # the sum of the disagreeing ones
RECONCILE_DISAGREEING: Final = (
    "unlinked_customers", "unknown_customers", "stale_active_methods", "missing_methods",
    "field_mismatches", "duplicate_accounts", "duplicate_methods")
RECONCILE_EXPECTED: Final = ("live_mode_customers", "held_back_deactivations",
                             "excluded_types", "deleted_customers")
RECONCILE_CATEGORIES: Final = RECONCILE_DISAGREEING + RECONCILE_EXPECTED


def emitted() -> dict[str, str]:
    """Every metric a run may emit, with its unit: the dashboard's widgets are built from
    these, and a test checks both ways that they are what `metrics_of` emits."""
    counts = (*ACCOUNTS_WRITTEN, *PAYMENT_METHODS_WRITTEN,
              *(PLANNED_PREFIX + a for a in PLANNED_ACTIONS),
              UNCHANGED, FAILED, QUARANTINED, SKIPPED, FAILED_ROWS, LIVE_MODE, STRIPE_429,
              HELD_BACK, LEASE_LOST, API_BUDGET_STOP, SF_API_USED, SF_API_LIMIT,
              *(SCENARIO_PREFIX + s for s in SCENARIOS), RECONCILE_DISAGREEMENTS,
              *(RECONCILE_PREFIX + c for c in RECONCILE_CATEGORIES), SCHEDULED_RUN_CHANGES)
    return {**dict.fromkeys(counts, COUNT), DURATION: SECONDS, CHECKPOINT_AGE: SECONDS,
            SF_API_USAGE: PERCENT}


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure of one run."""

    name: str
    unit: str  # a CloudWatch unit name
    value: float


def metrics_of(report: dict[str, Any], *, scheduled: bool = False) -> list[Metric]:
    """The metrics of one run's report (`Report.to_dict()`): counts only, no ids or names.
    `scheduled`: the run was started by the import's schedule (or continues one that was)."""
    out = [Metric(name, COUNT, value) for name, value in report["outcomes"].items()]
    if scheduled and not report["dry_run"]:
        out.append(Metric(SCHEDULED_RUN_CHANGES, COUNT, sum(
            report["outcomes"].get(n, 0) for n in (*ACCOUNTS_WRITTEN, *PAYMENT_METHODS_WRITTEN))))
    held = report["held_back"]["deactivations"] if report["held_back"] else 0
    out += [Metric(FAILED_ROWS, COUNT, report["outcomes"].get(FAILED_ROWS, 0)),
            Metric(HELD_BACK, COUNT, held),
            Metric(LEASE_LOST, COUNT, int(report["lease_lost"])),
            Metric(API_BUDGET_STOP, COUNT, int(report["api_budget"]))]
    found = report.get("reconcile")
    if found is not None:
        out.append(Metric(RECONCILE_DISAGREEMENTS, COUNT, found["disagreements"]))
        out += [Metric(RECONCILE_PREFIX + c, COUNT, n) for c, n in found["counts"].items()]
    usage = report["salesforce_api_usage"]
    if usage is not None:
        out += [Metric(SF_API_USAGE, PERCENT, round(100 * usage["share"], 2)),
                Metric(SF_API_USED, COUNT, usage["used"]),
                Metric(SF_API_LIMIT, COUNT, usage["limit"])]
    out += [Metric(f"{SCENARIO_PREFIX}{name}", COUNT, value)
            for name, value in report["scenarios"].items()]
    out.append(Metric(DURATION, SECONDS, report["duration_s"]))
    if report["checkpoint_age_s"] is not None:
        out.append(Metric(CHECKPOINT_AGE, SECONDS, report["checkpoint_age_s"]))
    # One value per name: the outcome counters already hold failed_rows.
    return list({m.name: m for m in out}.values())
