"""One reconciliation pass: every Stripe customer planned as the import would plan it, then
the customers only Salesforce names, then the rows sharing a gateway token; findings by
category (`reconciliation`). Nothing is written to Salesforce; progress (the listing's cursor,
the customers read, the findings so far) is saved after each segment, so a pass longer than one
invocation continues in the next.

Call cost, documented in docs/reconcile.md: Stripe as a full import (a page of 100 customers a
request, one payment-method listing per customer and type) plus one retrieval per customer
Salesforce names that Stripe did not list; Salesforce the import's lookups per segment, plus
one query page per 2,000 linked Accounts, imported payment methods and tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync_lambda.planning import build_plan
from sync_lambda.reconciliation import SAMPLES, Findings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sync_lambda.models import OrgFacts, PlanOptions, Snapshot
    from sync_lambda.ports import BillingSink, StateStore, StripeSource
    from sync_lambda.report import Report

SCOPE = "reconcile"  # the state's partition of the customers this pass has read


@dataclass(frozen=True, slots=True)
class PassHooks:
    """What the pass borrows from the service: the org checks, the deadline and API budget,
    the segment size, how a stop is reported, and progress output."""

    org: Callable[[], OrgFacts]
    time_left: Callable[[], bool]
    capacity: Callable[[bool], int]  # customers a segment may read (True: retrieved one by one)
    stop: Callable[[Report, str], None]
    progress: Callable[[str, int, int | None, float | None], None]


class ReconcilePass:
    """Runs one pass (or the rest of a saved one)."""

    def __init__(self, stripe: StripeSource, sink: BillingSink, state: StateStore,
                 options: PlanOptions, report: Report, hooks: PassHooks) -> None:
        self._stripe, self._sink, self._state = stripe, sink, state
        self._options, self._report, self._hooks = options, report, hooks
        self._findings = Findings()
        self._cursor: str | None = None
        self._listed = False
        self._facts: OrgFacts | None = None
        self._held: set[str] = set()

    def run(self, *, restart: bool) -> None:
        """The pass; the report carries its findings once it ends."""
        saved = None if restart else self._state.load_reconcile()
        if saved is None:
            self._state.clear_seen(scope=SCOPE)
        else:
            self._findings = Findings.from_dict(saved["findings"])
            self._cursor, self._listed = saved["cursor"], bool(saved["listed"])
            self._report.message = "continued a reconciliation from its saved progress " \
                                   "(earlier segments' samples are capped at " \
                                   f"{SAMPLES} a category)"
        self._facts = self._hooks.org()
        self._held = {p.sf_id for p in self._state.deactivations()}
        if not self._list_stripe() or not self._salesforce_only():
            return
        self._findings.add_duplicate_tokens(self._sink.payment_method_tokens())
        self._state.save_reconcile(None)
        self._state.clear_seen(scope=SCOPE)
        self._report.findings = self._findings

    def _save(self) -> None:
        self._state.save_reconcile({"cursor": self._cursor, "listed": self._listed,
                                    "findings": self._findings.to_dict(SAMPLES)})

    def _list_stripe(self) -> bool:
        """Every customer Stripe lists, segment by segment; False when out of time."""
        while not self._listed:
            if not self._hooks.time_left():
                self._hooks.stop(self._report, f"reconciling {self._report.customers} "
                                               "customers")
                self._save()
                return False
            segment = self._stripe.read_segment(self._cursor, self._hooks.capacity(False),
                                                stop=lambda: False, on_page=self._on_page)
            self._batch(segment.snapshots)
            self._state.add_seen([s.customer.id for s in segment.snapshots], scope=SCOPE)
            self._cursor, self._listed = segment.cursor, not segment.has_more
            self._save()
        return True

    def _on_page(self, n: int) -> None:
        self._hooks.progress("reading Stripe customers", self._report.customers + n, None,
                             None)

    def _salesforce_only(self) -> bool:
        """Customers Salesforce names (linked Accounts, active imported rows) that Stripe did
        not list: retrieved one by one (deleted, unknown, or live mode only)."""
        seen = self._state.seen(scope=SCOPE)
        named = (self._sink.linked_customers() | self._sink.customers_with_active_methods())
        live = self._state.live_mode_customers()
        rest = sorted(named - seen)
        for cid in (c for c in rest if c in live):
            self._findings.add("live_mode_customers", cid, cid, "classed by the import as "
                               "known to Stripe's live mode only (a refreshed sandbox)")
        self._state.add_seen([c for c in rest if c in live], scope=SCOPE)
        rest = [c for c in rest if c not in live]
        start = 0
        while start < len(rest):
            if not self._hooks.time_left():
                self._hooks.stop(self._report, f"checking {start} of {len(rest)} customers "
                                               "Stripe does not list")
                self._save()
                return False
            segment = rest[start:start + self._hooks.capacity(True)]
            self._batch(self._stripe.fetch(segment))
            self._state.add_seen(segment, scope=SCOPE)
            self._save()
            start += len(segment)
        return True

    def _batch(self, snapshots: Sequence[Snapshot]) -> None:
        if not snapshots:
            return
        assert self._facts is not None
        self._hooks.progress("reading Salesforce", 0, len(snapshots), None)
        view = self._sink.view(snapshots, (), self._options)
        plan = build_plan(snapshots, view, self._facts, self._options)
        self._findings.add_plan(plan, snapshots, view, self._options, held=self._held,
                                metadata_key=self._options.metadata_key)
        self._report.customers += len(snapshots)

