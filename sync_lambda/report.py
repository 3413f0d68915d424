"""What a run did, as a structured report (returned by the handler, printed by the CLI)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sync_lambda import telemetry

if TYPE_CHECKING:
    from sync_lambda.api_usage import ApiUsage
    from sync_lambda.planning import Plan
    from sync_lambda.reconciliation import Findings
    from sync_lambda.state import RowResult

# How many items of each list a report carries (counts are always complete).
MAX_ITEMS = 500


class Outcome(StrEnum):
    """How a run ended, worst first; the CLI's exit code and the Lambda's metrics follow it."""

    LEASE_LOST = "lease_lost"  # another run took the lease: this one stopped writing
    HELD_BACK = "held_back"  # a mass deactivation waits for an operator's confirmation
    FAILED_ROWS = "failed_rows"  # rows Salesforce refused, Stripe could not read, or quarantined
    API_BUDGET = "api_budget"  # stopped at the Salesforce daily API budget; the next run goes on
    DISAGREEMENT = "disagreement"  # a reconciliation found Stripe and Salesforce disagree
    INCOMPLETE = "incomplete"  # a reconciliation out of time: it says nothing yet, continues
    SKIPPED = "skipped"  # another run holds the lease; nothing done
    OK = "ok"


@dataclass(slots=True)
class Report:
    """Counts per scenario and outcome, and the rows that need a human, with reasons."""

    run_id: str
    mode: str
    kind: str = "incremental"  # full | incremental | noop | skipped
    dry_run: bool = False
    continued: bool = False  # stopped before the deadline; the next run continues
    lease_lost: bool = False
    # The lease was held, so this run asked the holder to run again (no trigger lost).
    rerun_requested: bool = False
    # The holder found such a request when it finished: the next run starts at once.
    rerun: bool = False
    # Stopped for the org's daily Salesforce API limit (the import's share of it, or the limit
    # itself): progress saved; the next scheduled run continues (no continuation at once).
    api_budget: bool = False
    salesforce_api: ApiUsage | None = None  # the org's daily usage, as last reported
    findings: Findings | None = None  # a reconciliation's, once it ended
    held_back: int = 0  # deactivations held back by the mass-deactivation limit
    held_back_of: int = 0  # ... out of this many active payment methods
    held_back_sample: list[str] = field(default_factory=list)
    # Customers Stripe knows only in live mode (a test key in a refreshed sandbox): classed,
    # stored, skipped by later runs; no failed rows.
    live_mode_customers: int = 0
    # A sampled dry run's projection of the full import (customers, rate, seconds).
    projection: dict[str, Any] | None = None
    stripe_throttled: int = 0  # 429s Stripe answered (the import slowed down for each)
    scenarios: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    customers: int = 0
    stripe_calls: int = 0
    salesforce_calls: int = 0
    duration_s: float = 0.0
    message: str = ""
    # How long ago the state last stood still: seconds since the incremental checkpoint, or 0
    # while a full import moves its cursor (an alarm watches it grow).
    checkpoint_age_s: int | None = None

    @property
    def failed_rows(self) -> int:
        """Rows that did not make it: refused by Salesforce, unreadable in Stripe, or
        quarantined by the import itself (all need a human or a later run)."""
        return len(self.failures) + len(self.quarantined)

    @property
    def outcome(self) -> Outcome:
        """The worst thing that happened."""
        if self.lease_lost:
            return Outcome.LEASE_LOST
        if self.held_back:
            return Outcome.HELD_BACK
        if self.failed_rows:
            return Outcome.FAILED_ROWS
        if self.api_budget:
            return Outcome.API_BUDGET
        if self.findings is not None and self.findings.disagreements:
            return Outcome.DISAGREEMENT
        if self.kind == "reconcile" and self.findings is None:
            return Outcome.INCOMPLETE
        if self.kind == "skipped":
            return Outcome.SKIPPED
        return Outcome.OK

    def add_plan(self, plan: Plan) -> None:
        """Count a batch's plan (and keep its rows, for a dry run's listing)."""
        for scenario in plan.scenarios.values():
            self.scenarios[scenario.value] += 1
        self.customers += len(plan.scenarios)
        self.outcomes[telemetry.UNCHANGED] += plan.unchanged
        self.skipped += [{"customer": i.customer_id, "reason": i.reason} for i in plan.skipped]
        self.quarantined += [{"stripe_id": i.stripe_id, "customer": i.customer_id,
                              "reason": i.reason} for i in plan.quarantined]
        self.notes += [{"stripe_id": i.stripe_id, "customer": i.customer_id,
                        "note": i.reason} for i in plan.notes]
        self.failures += [{"stripe_id": i.stripe_id, "customer": i.customer_id,
                           "kind": "customer", "reason": i.reason, "retryable": True}
                          for i in plan.read_failures]
        self.outcomes[telemetry.FAILED] += len(plan.read_failures)
        self.live_mode_customers += len(plan.live_mode)
        if self.dry_run:
            # In telemetry.PLANNED_ACTIONS' order (their counters are metrics too).
            planned: tuple[list[tuple[str, Any]], ...] = (
                [(a.customer_id, a.name) for a in plan.account_creates],
                [(a.customer_id, f"{a.scenario.value} → {a.account_id}")
                 for a in plan.account_links],
                [(a.customer_id, f"{a.account_id} → {a.name}") for a in plan.account_updates],
                [(w.customer_id, w.sf_id) for w in plan.autopay_clears],
                [(w.customer_id, w.stripe_id) for w in plan.deactivations],
                [(w.customer_id, f"{w.stripe_id}: {', '.join(sorted(w.values))}")
                 for w in plan.pm_updates],
                [(w.customer_id, w.stripe_id) for w in plan.pm_inserts])
            for action, rows in zip(telemetry.PLANNED_ACTIONS, planned, strict=True):
                self.planned += [{"action": action, "customer": c, "detail": d}
                                 for c, d in rows]
                self.outcomes[f"{telemetry.PLANNED_PREFIX}{action}"] += len(rows)

    def add_results(self, plan: Plan, rows: list[RowResult]) -> None:
        """Count what was written (per-row results read back from Salesforce)."""
        ok = {(r.kind, r.stripe_id) for r in rows if r.ok}
        for name, accounts in zip(telemetry.ACCOUNTS_WRITTEN, (
                plan.account_links, plan.account_creates, plan.account_updates), strict=True):
            self.outcomes[name] += sum(("account", a.customer_id) in ok for a in accounts)
        for name, writes in zip(telemetry.PAYMENT_METHODS_WRITTEN, (
                plan.autopay_clears, plan.deactivations, plan.pm_updates, plan.pm_inserts),
                strict=True):
            self.outcomes[name] += sum(("payment_method", w.stripe_id) in ok for w in writes)
        failed = [r for r in rows if not r.ok]
        self.outcomes[telemetry.FAILED] += len(failed)
        self.failures += [{"stripe_id": r.stripe_id, "customer": r.customer_id, "kind": r.kind,
                           "reason": r.reason, "retryable": r.retryable} for r in failed]

    def to_dict(self, *, whole: bool = False) -> dict[str, Any]:
        """JSON-ready; lists are capped at MAX_ITEMS (their full counts are in `outcomes`),
        unless `whole` (the CLI's --json: a dry run's every planned change)."""
        cap = None if whole else MAX_ITEMS
        self.outcomes[telemetry.QUARANTINED] = len(self.quarantined)
        self.outcomes[telemetry.SKIPPED] = len(self.skipped)
        self.outcomes[telemetry.FAILED_ROWS] = self.failed_rows
        self.outcomes[telemetry.LIVE_MODE] = self.live_mode_customers
        self.outcomes[telemetry.STRIPE_429] = self.stripe_throttled
        return {
            "run_id": self.run_id, "mode": self.mode, "kind": self.kind,
            "outcome": self.outcome.value, "dry_run": self.dry_run,
            "continued": self.continued, "lease_lost": self.lease_lost,
            "rerun_requested": self.rerun_requested, "rerun": self.rerun,
            "held_back": {"deactivations": self.held_back, "active": self.held_back_of,
                          "sample": self.held_back_sample} if self.held_back else None,
            "message": self.message, "customers": self.customers, "events": self.events,
            "scenarios": dict(sorted(self.scenarios.items())),
            "outcomes": {k: v for k, v in sorted(self.outcomes.items()) if v},
            "failures": self.failures[:cap], "skipped": self.skipped[:cap],
            "quarantined": self.quarantined[:cap], "notes": self.notes[:cap],
            "planned": self.planned[:cap],
            "calls": {"stripe": self.stripe_calls, "salesforce": self.salesforce_calls,
                      "stripe_rate_limited": self.stripe_throttled},
            "api_budget": self.api_budget,
            "salesforce_api_usage": None if self.salesforce_api is None
            else self.salesforce_api.to_dict(),
            "projection": self.projection,
            "reconcile": None if self.findings is None else self.findings.to_dict(cap),
            "duration_s": round(self.duration_s, 2),
            "checkpoint_age_s": self.checkpoint_age_s,
        }

    def render(self) -> str:
        """A human-readable summary for the terminal."""
        d = self.to_dict()
        head = f"{'DRY RUN ' if self.dry_run else ''}{self.kind} run {self.run_id} " \
               f"({self.mode}) in {d['duration_s']} s"
        lines = [head]
        if self.message:
            lines.append(f"  {self.message}")
        lines.append(f"  customers {self.customers}, events {self.events}; calls: Stripe "
                     f"{self.stripe_calls}, Salesforce {self.salesforce_calls}")
        if self.salesforce_api is not None:
            u = self.salesforce_api
            lines.append(f"  Salesforce API usage (the org's, last 24 h): {u.used} of "
                         f"{u.limit} ({u.share:.1%})")
        if d["scenarios"]:
            lines.append("  scenarios: " + ", ".join(f"{k} {v}" for k, v in
                                                     d["scenarios"].items()))
        if d["outcomes"]:
            lines.append("  outcomes:  " + ", ".join(f"{k} {v}" for k, v in
                                                     d["outcomes"].items()))
        for title, items, key in (("planned", d["planned"], "detail"),
                                  ("skipped", d["skipped"], "reason"),
                                  ("quarantined (failed rows)", d["quarantined"], "reason"),
                                  ("failed rows", d["failures"], "reason"),
                                  ("notes", d["notes"], "note")):
            if items:
                lines.append(f"  {title}:")
                for item in items[:50]:
                    subject = item.get("action") or item.get("stripe_id") or item["customer"]
                    owner = "" if subject == item["customer"] else f" [{item['customer']}]"
                    lines.append(f"    {subject}{owner}: {item[key]}")
                if len(items) > 50:
                    lines.append(f"    … and {len(items) - 50} more (see --json)")
        if self.held_back:
            lines.append(f"  held back: {', '.join(self.held_back_sample[:10])}"
                         + (" …" if self.held_back > 10 else ""))
        if self.failed_rows:
            lines.append(f"  {self.failed_rows} failed rows: {len(self.failures)} refused or "
                         f"unreadable (retried by later runs), {len(self.quarantined)} "
                         "quarantined (fix the org's picklists, then run --full)")
        if self.live_mode_customers:
            lines.append(f"  {self.live_mode_customers} linked customers exist only in Stripe's "
                         "live mode (a sandbox refreshed from production?): skipped from now "
                         "on, nothing deactivated; docs/sync.md, \"After a sandbox refresh\"")
        if self.findings is not None:
            lines += self.findings.render()
        if self.continued:
            lines.append("  the run continues on the next invocation (progress saved)")
        return "\n".join(lines)
