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
COUNT, SECONDS = "Count", "Seconds"


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure of one run."""

    name: str
    unit: str  # a CloudWatch unit name
    value: float


def metrics_of(report: dict[str, Any]) -> list[Metric]:
    """The metrics of one run's report (`Report.to_dict()`): counts only, no ids or names."""
    out = [Metric(name, COUNT, value) for name, value in report["outcomes"].items()]
    held = report["held_back"]["deactivations"] if report["held_back"] else 0
    out += [Metric(FAILED_ROWS, COUNT, report["outcomes"].get(FAILED_ROWS, 0)),
            Metric(HELD_BACK, COUNT, held),
            Metric(LEASE_LOST, COUNT, int(report["lease_lost"]))]
    out += [Metric(f"scenario_{name}", COUNT, value)
            for name, value in report["scenarios"].items()]
    out.append(Metric("duration", SECONDS, report["duration_s"]))
    if report["checkpoint_age_s"] is not None:
        out.append(Metric(CHECKPOINT_AGE, SECONDS, report["checkpoint_age_s"]))
    # One value per name: the outcome counters already hold failed_rows.
    return list({m.name: m for m in out}.values())
