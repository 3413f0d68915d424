"""One run of the import: lease, full or incremental, plan, write, ledger, checkpoint.

No SDK is imported here: Stripe, Salesforce and the state table come in through `ports`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sync_lambda import names
from sync_lambda.planning import Plan, PlanOptions, build_plan
from sync_lambda.report import Report
from sync_lambda.state import LedgerEntry, LedgerStatus, RowResult, SyncState

if TYPE_CHECKING:
    from sync_lambda.models import Customer, Mode, Snapshot
    from sync_lambda.ports import BillingSink, StateStore, StripeSource

# A checkpoint this much younger than Stripe's 30-day retention is still trusted.
RETENTION_MARGIN_S = 86400
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What the service needs from the settings."""

    mode: Mode
    options: PlanOptions
    segment_size: int
    max_attempts: int
    deadline_reserve_s: float
    lease_ttl_s: int
    lease_wait_s: float


def _no_progress(stage: str, done: int, total: int | None) -> None:
    del stage, done, total


class SyncService:
    """Runs the import against the ports it is given."""

    def __init__(self, stripe: StripeSource, sink: BillingSink, state: StateStore,
                 config: RunConfig, *, clock: Callable[[], float] = time.time,
                 remaining_s: Callable[[], float | None] = lambda: None,
                 progress: Progress | None = None) -> None:
        self._stripe = stripe
        self._sink = sink
        self._state = state
        self._config = config
        self._clock = clock
        self._remaining_s = remaining_s
        self._progress = progress or _no_progress

    def run(self, *, full: bool = False, dry_run: bool = False) -> Report:
        """One run. Raises only for fatal or retriable failures; row failures are reported."""
        started = self._clock()
        run_id = uuid.uuid4().hex[:12]
        report = Report(run_id=run_id, mode=self._config.mode.value, dry_run=dry_run)
        if not self._state.acquire(run_id, self._config.lease_ttl_s, self._config.lease_wait_s):
            report.kind = "skipped"
            report.message = "another run holds the lease; nothing done (at most one writer)"
            return report
        try:
            state = self._state.load()
            if state.jobs and not dry_run:
                self._sink.settle(state.jobs)
                state = state.with_jobs(())
                self._state.save(state)
            now = int(started)
            stale = state.checkpoint is not None and \
                now - state.checkpoint > names.EVENT_RETENTION_S - RETENTION_MARGIN_S
            if full or state.checkpoint is None or state.full_cursor is not None or stale:
                report.kind = "full"
                if stale and not full:
                    report.message = "checkpoint older than Stripe's event retention: full " \
                                     "reconcile"
                self._full(state, now, report, dry_run=dry_run, restart=full)
            else:
                self._incremental(state, now, report, dry_run=dry_run)
        finally:
            self._state.release(run_id)
            report.stripe_calls = self._stripe.calls
            report.salesforce_calls = self._sink.calls()
            report.duration_s = self._clock() - started
        return report

    # -- full ------------------------------------------------------------------------------
    def _time_left(self) -> bool:
        remaining = self._remaining_s()
        return remaining is None or remaining > self._config.deadline_reserve_s

    def _full(self, state: SyncState, now: int, report: Report, *, dry_run: bool,
              restart: bool) -> None:
        continuing = state.full_cursor is not None and not restart
        cursor = state.full_cursor if continuing else None
        started_at = state.full_started_at if continuing and state.full_started_at else now
        if not continuing and not dry_run:
            self._state.clear_seen()
            # Events of this very second already show in the snapshot about to be read: they
            # are marked applied, so the next incremental run does not fetch them again.
            already = tuple(e.id for e in self._stripe.events_since(started_at))
            state = replace(state, seen_event_ids=already)
        seen_now: set[str] = set()
        done = False
        while not done:
            segment: list[Customer] = []
            while len(segment) < self._config.segment_size and self._time_left():
                page, has_more = self._stripe.list_customers(cursor)
                segment += page
                if page:
                    cursor = page[-1].id
                self._progress("reading Stripe customers", len(seen_now) + len(segment), None)
                if not has_more:
                    done = True
                    break
            snapshots = self._stripe.snapshots(segment)
            seen_now.update(c.id for c in segment)
            self._batch(snapshots, report, dry_run=dry_run, reconcile=True)
            if not dry_run:
                self._state.add_seen(c.id for c in segment)
                state = replace(state, full_cursor=cursor, full_started_at=started_at)
                self._state.save(state)
            if not done and not self._time_left():
                report.continued = True
                report.message = f"stopped before the deadline after {len(seen_now)} " \
                                 "customers; the next run continues"
                return
        seen = seen_now | (set() if dry_run else self._state.seen())
        self._reconcile_gone(seen, report, dry_run=dry_run)
        if not dry_run:
            self._state.clear_seen()
            self._state.save(SyncState(checkpoint=started_at, last_full_at=now,
                                       seen_event_ids=state.seen_event_ids))

    def _reconcile_gone(self, seen: set[str], report: Report, *, dry_run: bool) -> None:
        """Customers with imported payment methods that the full listing did not return are
        deleted (or gone): check each with Stripe, then deactivate what is no longer there."""
        gone = self._sink.customers_with_active_methods() - seen
        if gone:
            self._batch(self._stripe.fetch(sorted(gone)), report, dry_run=dry_run,
                        reconcile=True)

    # -- incremental -----------------------------------------------------------------------
    def _incremental(self, state: SyncState, now: int, report: Report, *,
                     dry_run: bool) -> None:
        assert state.checkpoint is not None
        listed = self._stripe.events_since(state.checkpoint)
        events = [e for e in listed if e.id not in set(state.seen_event_ids)]
        pending = [e for e in self._state.ledger() if e.status is LedgerStatus.PENDING]
        report.events = len(events)
        if not events and not pending:
            report.kind = "noop"
            report.message = "no Stripe changes since the checkpoint and no failed rows pending"
            return
        customers = {e.customer_id for e in events if e.customer_id}
        customers |= {e.customer_id for e in pending}
        if len(customers) > self._config.segment_size:
            # More changed customers than one batch: a full import pages through Stripe with a
            # continuation cursor, so even a Lambda deadline cannot make it start over forever.
            report.kind = "full"
            report.message = (f"{len(customers)} customers changed since the checkpoint: full "
                              "reconcile (continued across runs if needed)")
            self._full(state, now, report, dry_run=dry_run, restart=True)
            return
        detached = {e.object_id for e in events if e.type == names.EVENT_PM_DETACHED}
        self._progress("fetching changed customers from Stripe", 0, len(customers))
        snapshots = self._stripe.fetch(sorted(customers))
        for start in range(0, max(len(snapshots), 1), self._config.segment_size):
            self._batch(snapshots[start:start + self._config.segment_size], report,
                        dry_run=dry_run, reconcile=True, detached=detached if start == 0 else ())
        if not dry_run:
            # Everything listed is applied: the checkpoint moves to this run's start (never
            # past it); events of that very second are remembered as applied.
            seen = tuple(e.id for e in listed if e.created >= now)
            self._state.save(replace(state, checkpoint=now, seen_event_ids=seen))

    # -- one batch -------------------------------------------------------------------------
    def _batch(self, snapshots: Sequence[Snapshot], report: Report, *, dry_run: bool,
               reconcile: bool, detached: Iterable[str] = ()) -> None:
        if not snapshots and not detached:
            return
        options = replace(self._config.options, reconcile=reconcile)
        self._progress("reading Salesforce", 0, len(snapshots))
        view = self._sink.view(snapshots, detached, options)
        plan = build_plan(snapshots, view, self._sink.facts(), options, detached=detached)
        report.add_plan(plan)
        if dry_run:
            return
        self._progress("writing Salesforce", 0, plan.writes)
        result = self._sink.apply(plan, options, self._track_job)
        report.add_results(plan, result.rows)
        self._update_ledger(plan, result.rows)
        self._progress("writing Salesforce", plan.writes, plan.writes)

    def _track_job(self, job_id: str, open_: bool) -> None:
        state = self._state.load()
        jobs = tuple(j for j in state.jobs if j != job_id) + ((job_id,) if open_ else ())
        self._state.save(state.with_jobs(jobs))

    def _update_ledger(self, plan: Plan, rows: list[RowResult]) -> None:
        now = int(self._clock())
        known = {e.stripe_id: e for e in self._state.ledger()}
        entries: list[LedgerEntry] = []
        for r in rows:
            if r.ok:
                continue
            old = known.get(r.stripe_id)
            attempts = (old.attempts + 1) if old else 1
            status = LedgerStatus.REJECTED if attempts >= self._config.max_attempts else \
                LedgerStatus.PENDING
            entries.append(LedgerEntry(r.stripe_id, r.customer_id, r.kind, r.reason or "",
                                       attempts, status, old.first_failed if old else now, now))
        for q in plan.quarantined:
            old = known.get(q.stripe_id)
            entries.append(LedgerEntry(q.stripe_id, q.customer_id, "payment_method", q.reason,
                                       (old.attempts + 1) if old else 1, LedgerStatus.REJECTED,
                                       old.first_failed if old else now, now))
        self._state.record_failures(entries)
        failed = {e.stripe_id for e in entries}
        # Customers this batch handled without failure: their old entries are resolved.
        handled = set(plan.scenarios) | {r.stripe_id for r in rows if r.ok}
        resolved = [sid for sid, e in known.items()
                    if sid not in failed and (sid in handled or e.customer_id in handled)
                    and not any(e.customer_id == x.customer_id for x in entries)]
        self._state.clear_failures(resolved)
