"""One run of the import: lease, full or incremental, plan, write, ledger, checkpoint.

No SDK is imported here: Stripe, Salesforce and the state table come in through `ports`.

Guarantees, and where they come from:
- at most one writer: the lease is renewed while the run works (`lease.LeaseKeeper`), and every
  Salesforce write and state write first checks the run still holds it;
- no lost event: checkpoints come from Stripe's clock (minus a margin), never the host's; they
  only move past events whose customers were read after the event;
- no endless backlog: full and incremental runs work in segments, check the deadline before each,
  and save progress after each, so the next invocation resumes where this one stopped;
- nothing mass-deactivated by mistake: deactivations are held until the run's end and counted
  against a limit over the whole run, over all its segments.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sync_lambda import names
from sync_lambda.api_usage import ApiBudget
from sync_lambda.errors import ApiBudgetError, LeaseLostError, OrgIdentityError
from sync_lambda.guards import DeactivationLimit, StateOrg, state_org, state_org_problem
from sync_lambda.lease import LeaseKeeper
from sync_lambda.report import Report
from sync_lambda.state import LedgerEntry, LedgerStatus, PendingDeactivation, RowResult, SyncState

if TYPE_CHECKING:
    from sync_lambda.models import (
        Event,
        EventListing,
        Mode,
        OrgFacts,
        PlanOptions,
        Segment,
        Snapshot,
    )
    from sync_lambda.planning import Plan, PmWrite
    from sync_lambda.ports import BillingSink, StateStore, StripeSource

# A checkpoint this much younger than Stripe's 30-day retention is still trusted.
RETENTION_MARGIN_S = 86400
# Checkpoints stay this far behind Stripe's clock: events that Stripe's servers stamp a little
# late or list a little late are read again next run (and skipped by id if already applied).
EVENT_MARGIN_S = 300
# A full run reads every customer's state after Stripe's clock said T0: changes stamped before
# T0 are in what it reads, whether their events are listed yet or not. Its checkpoint only
# allows for Stripe's own servers disagreeing on the time by a few seconds.
CLOCK_SKEW_S = 2
# At most this many applied event ids are remembered (the bookmark is one DynamoDB item of at
# most 400 KB); older ones are just read again, which is harmless.
MAX_SEEN_EVENTS = 5000
# A run started by events continues for events not applied yet that were created at most this
# long before it started (Stripe lists an event a little after creating it) or during it; older
# ones are the checkpoint's business, so a burst larger than MAX_SEEN_EVENTS cannot chain runs
# for events it already applied once.
FOLLOW_LOOKBACK_S = 60
# A backlog of events is listed in windows: a window may take this share of the time left (the
# rest applies it), and is sized to fill this share of that (a backlog's density varies).
LISTING_SHARE = 0.75
WINDOW_FILL = 0.8
# The open listing (everything up to Stripe's clock) may take this share of that: an ordinary
# run lists a page or two, and a backlog too large for it shows its density in these pages.
OPEN_SHARE = 0.25
# (stage, done, total, seconds left at the configured rate — None when not known)
Progress = Callable[[str, int, int | None, float | None], None]


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
    request_timeout_s: float
    deactivation_limit: DeactivationLimit = field(default_factory=DeactivationLimit)
    api_budget: ApiBudget = field(default_factory=ApiBudget)  # of the daily API limit
    # A sampled dry run: plan at most this many customers, then project the full import.
    sample: int | None = None


def _no_progress(stage: str, done: int, total: int | None, eta_s: float | None) -> None:
    del stage, done, total, eta_s


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
        self._lease: LeaseKeeper | None = None
        self._held: dict[str, PendingDeactivation] = {}  # held deactivations by Salesforce id
        self._org_checked = False
        self._explicit_full = False
        self._dry_held: list[PmWrite] = []
        self._budget_spent = False  # the org's API usage passed the import's budget

    def run(self, *, full: bool = False, dry_run: bool = False,
            allow_mass_deactivation: bool = False, recheck_unknown: bool = False,
            follow_events: bool = False) -> Report:
        """One run. Raises only for fatal or retriable failures; row failures are reported.
        A dry run reads the state but takes no lease: it writes nothing, so it never stands in
        a writer's way. `recheck_unknown`: customers classed as live-mode only are read
        again. `follow_events` (a run Stripe's events started): before it releases the lease
        it looks for events that arrived while it ran, and asks for a rerun if there are."""
        started = self._clock()
        self._org_checked, self._explicit_full, self._budget_spent = False, full, False
        run_id = uuid.uuid4().hex[:12]
        report = Report(run_id=run_id, mode=self._config.mode.value, dry_run=dry_run)
        if dry_run:
            self._lease = None
            try:
                self._run_within_budget(report, full=full, dry_run=True,
                                        allow_mass_deactivation=allow_mass_deactivation)
            finally:
                self._close(report, started)
            return report
        if not self._take_lease(report):
            # Ask the holder to run again, then look once more: if it released meanwhile (and
            # so may have missed the request), this run takes the lease itself.
            self._state.request_rerun()
            report.rerun_requested = True
            report.message += "; asked it to run once more when it finishes (no trigger lost)"
            if not self._take_lease(replace(report)):
                return report
            report.kind, report.message, report.rerun_requested = "incremental", "", False
        assert self._lease is not None
        waiting = False
        self._state.take_rerun()  # this run reads everything up to now: earlier requests met
        try:
            if recheck_unknown:
                self._state.clear_live_mode_customers()
            self._run_within_budget(report, full=full, dry_run=False,
                                    allow_mass_deactivation=allow_mass_deactivation)
            waiting = follow_events and self._events_waiting(
                report, since=int(started) - FOLLOW_LOOKBACK_S)
            saved = self._state.load()
            report.checkpoint_age_s = 0 if saved.full_cursor is not None else \
                None if saved.checkpoint is None else max(0, int(self._clock()) - saved.checkpoint)
            report.salesforce_api = self._sink.api_usage()  # the summary shows it too
            self._state.record_run(_summary(report, started, self._clock()))
        except LeaseLostError as exc:
            report.lease_lost = True
            report.message = f"stopped writing: {exc}. The run that holds the lease carries " \
                             "on; nothing this run planned but did not write is lost (it is " \
                             "planned again from Stripe and Salesforce)"
        finally:
            self._lease.stop()
            self._state.release()
            # After the release: a request made before it is seen here, one made after it
            # finds the lease free (see above). Either way a run follows.
            report.rerun = (self._state.take_rerun() or waiting) and not report.lease_lost
            self._close(report, started)
        return report

    def _events_waiting(self, report: Report, *, since: int) -> bool:
        """Whether Stripe holds events this run has not applied (they arrived while it ran).
        Lambda throttles the queue's batches while this run holds the function's one slot,
        and they come back only after the queue's visibility timeout: without this look, a
        change made during a run would wait for that, or for the schedule. One page of
        /v1/events; not when the run stopped early (its continuation follows anyway)."""
        saved = self._state.load()
        if report.continued or report.api_budget or saved.checkpoint is None \
                or saved.full_cursor is not None:
            return False
        listing = self._stripe.events_since(max(saved.checkpoint, since), max_pages=1)
        applied = set(saved.seen_event_ids)
        return any(e.id not in applied for e in listing.events)

    def events_applied(self, event_ids: Iterable[str]) -> bool:
        """Whether a run has already applied every one of these Stripe events (the state
        remembers the ids it applied since its checkpoint): a burst's later messages then
        need no run of their own."""
        wanted = set(event_ids)
        return bool(wanted) and wanted <= set(self._state.load().seen_event_ids)

    def record_event_received(self) -> None:
        """A Stripe event reached the function now (what `sfbilling events ping` waits for)."""
        self._state.record_event_received(self._clock())

    def _take_lease(self, report: Report) -> bool:
        """Take the lease and keep renewing it; False (the report says who holds it) when
        another run keeps it."""
        expires = self._state.acquire(report.run_id, self._config.lease_ttl_s,
                                      self._config.lease_wait_s)
        if expires is None:
            holder = self._state.holder()
            who = "" if holder is None else (
                f" (run {holder.run_id} on {holder.host or 'an unknown host'}"
                + (f", since {_iso(holder.started)}" if holder.started else "")
                + f", until {_iso(holder.expires)})")
            report.kind = "skipped"
            report.message = f"another run holds the lease{who}; nothing done (at most one " \
                             "writer)"
            return False
        self._lease = LeaseKeeper(self._state, ttl_s=self._config.lease_ttl_s, expires=expires,
                                  min_left_s=self._config.request_timeout_s,
                                  clock=self._clock).start()
        return True

    def reconcile(self, *, restart: bool = False) -> Report:
        """Compare Stripe with Salesforce, writing nothing to Salesforce (`reconciliation`).
        It holds the lease (so it never competes with the import for Stripe's budget, nor
        reads an org the import is halfway through changing) and works in segments from a
        saved cursor: out of time, it saves its progress and the next reconcile run
        continues; `restart` begins again."""
        started = self._clock()
        self._org_checked, self._explicit_full, self._budget_spent = False, False, False
        report = Report(run_id=uuid.uuid4().hex[:12], mode=self._config.mode.value)
        if not self._take_lease(report):
            return report
        assert self._lease is not None
        report.kind = "reconcile"
        try:
            from sync_lambda.reconcile_pass import PassHooks, ReconcilePass  # noqa: PLC0415

            hooks = PassHooks(org=lambda: self._org(dry_run=True), time_left=self._time_left,
                              capacity=lambda fetch: self._capacity(fetch=fetch),
                              stop=self._stop, progress=self._progress)
            try:
                ReconcilePass(self._stripe, self._sink, self._state, self._config.options,
                              report, hooks).run(restart=restart)
            except ApiBudgetError as exc:
                _stopped_by_the_daily_limit(report, exc)
        except LeaseLostError as exc:
            report.lease_lost = True
            report.message = f"stopped: {exc}; the next reconcile run continues"
        finally:
            self._lease.stop()
            self._state.release()
            self._close(report, started)
        return report

    def _run_within_budget(self, report: Report, *, full: bool, dry_run: bool,
                           allow_mass_deactivation: bool) -> None:
        """`_run`, stopped at once (progress as last saved) when Salesforce refuses for the
        org's daily API limit: the segment in flight is planned and written again next run."""
        try:
            self._run(report, full=full, dry_run=dry_run,
                      allow_mass_deactivation=allow_mass_deactivation)
        except ApiBudgetError as exc:
            _stopped_by_the_daily_limit(report, exc)

    def _close(self, report: Report, started: float) -> None:
        report.stripe_calls = self._stripe.calls
        report.stripe_throttled = self._stripe.throttled
        report.salesforce_calls = self._sink.calls()
        report.salesforce_api = self._sink.api_usage()
        report.duration_s = self._clock() - started

    def _run(self, report: Report, *, full: bool, dry_run: bool,
             allow_mass_deactivation: bool) -> None:
        state = self._state.load()
        if state.jobs and not dry_run:
            self._org(dry_run=dry_run)
            self._guard()
            self._sink.settle(state.jobs)
            state = state.with_jobs(())
            self._state.save(state)
        self._held = {p.sf_id: p for p in self._state.deactivations()}
        now = int(self._clock())
        stale = state.checkpoint is not None and \
            now - state.checkpoint > names.EVENT_RETENTION_S - RETENTION_MARGIN_S
        if full or state.checkpoint is None or state.full_cursor is not None or stale:
            report.kind = "full"
            if stale and not full:
                report.message = "checkpoint older than Stripe's event retention: full reconcile"
            finished = self._full(state, report, dry_run=dry_run, restart=full)
        else:
            finished = self._incremental(state, report, dry_run=dry_run)
        if finished:
            self._finish_deactivations(report, dry_run=dry_run, allowed=allow_mass_deactivation)

    def _guard(self) -> None:
        if self._lease is not None:
            self._lease.check()

    # -- deadline --------------------------------------------------------------------------
    def _seconds_left(self) -> float | None:
        remaining = self._remaining_s()
        return None if remaining is None else remaining - self._config.deadline_reserve_s

    def _time_left(self) -> bool:
        """Whether another segment may start: time before the deadline, and Salesforce API
        requests within the import's budget."""
        if self._over_budget():
            return False
        left = self._seconds_left()
        return left is None or left > 0

    def _over_budget(self) -> bool:
        """Whether the org's API usage, as Salesforce last reported it, passed the import's
        share of the daily limit (a run then stops as at its deadline, progress saved)."""
        if self._config.api_budget.spent(self._sink.api_usage()):
            self._budget_spent = True
        return self._budget_spent

    def _capacity(self, *, fetch: bool) -> int:
        """Customers this invocation can still read from Stripe: the time left (minus the
        reserve) times the customers a second Stripe's limits allow (`fetch`: retrieved one
        by one, else listed)."""
        left = self._seconds_left()
        if left is None:
            return self._config.segment_size
        fits = int(left * self._stripe.customers_per_s(fetch=fetch))
        return max(1, min(self._config.segment_size, fits))

    def _each(self, stage: str, before: int, total: int) -> Callable[[int], None]:
        """Progress per customer retrieved, with the time the rest takes at the configured
        limits."""
        per_customer_s = 1 / self._stripe.customers_per_s(fetch=True)

        def report(n: int) -> None:
            done = before + n
            self._progress(stage, done, total, (total - done) * per_customer_s)

        return report

    def _stop(self, report: Report, what: str) -> None:
        report.continued = True
        usage = self._sink.api_usage()
        if self._budget_spent and usage is not None:
            report.api_budget = True
            report.message = (
                f"stopped at the Salesforce API budget after {what}: the org has used "
                f"{usage.used} of its {usage.limit} daily API requests, past the import's "
                f"share ({self._config.api_budget.share:.0%}, sfbilling:salesforceApiBudgetShare"
                "); the next run continues from the saved progress")
            return
        report.message = f"stopped before the deadline after {what}; the next run continues " \
                         "from the saved progress"

    # -- full ------------------------------------------------------------------------------
    def _full(self, state: SyncState, report: Report, *, dry_run: bool, restart: bool) -> bool:
        # A full run always reads the org (at the latest for the customers Stripe no longer
        # lists): check it is the right one before anything, the state included, changes.
        self._org(dry_run=dry_run)
        continuing = state.full_cursor is not None and not restart
        if not continuing:
            # Changes up to now are in the state about to be read: the checkpoint at the end is
            # this moment, by Stripe's clock (the events of its last seconds marked applied).
            # Only the newest pages: the events of the last seconds, by Stripe's clock.
            listing = self._stripe.events_since(int(self._clock()) - 60,
                                                newest_s=CLOCK_SKEW_S)
            started_at = listing.stripe_time - CLOCK_SKEW_S
            applied = tuple(e.id for e in listing.events if e.created >= started_at)
            state = SyncState(checkpoint=state.checkpoint, full_started_at=started_at,
                              seen_event_ids=applied[-MAX_SEEN_EVENTS:],
                              last_full_at=state.last_full_at)
            if not dry_run:
                self._state.clear_seen()
        seen_now: set[str] = set()
        if not (continuing and state.full_listed):
            state = self._list_all(state, state.full_cursor if continuing else None, seen_now,
                                   report, dry_run=dry_run)
            if not state.full_listed:
                return False
        seen = seen_now | (set() if dry_run else self._state.seen())
        if not self._reconcile_gone(seen, report, dry_run=dry_run):
            return False
        if not dry_run:
            self._state.clear_seen()
            self._state.save(SyncState(checkpoint=state.full_started_at,
                                       seen_event_ids=state.seen_event_ids[-MAX_SEEN_EVENTS:],
                                       last_full_at=int(self._clock())))
        return True

    def _list_all(self, state: SyncState, cursor: str | None, seen_now: set[str],
                  report: Report, *, dry_run: bool) -> SyncState:
        """Read every customer, segment by segment, and write each segment while the next one
        is read from Stripe (Stripe's rate is the floor of a full run; Salesforce's writes hide
        behind it). Progress is saved after each written segment; a run out of time stops
        there and the next one resumes from the saved cursor."""
        stop = threading.Event()

        sample = self._config.sample

        def read(after: str | None) -> Segment:
            done = len(seen_now)
            capacity = self._capacity(fetch=False)
            limit = capacity if sample is None else max(1, min(capacity, sample - done))
            return self._stripe.read_segment(
                after, limit, stop=stop.is_set,
                on_page=lambda n: self._progress("reading Stripe customers", done + n, None,
                                                 None))

        with ThreadPoolExecutor(1, thread_name_prefix="stripe-reader") as reader:
            if not self._time_left():
                self._stop(report, "0 customers")
                return state
            ahead: Future[Segment] | None = reader.submit(read, cursor)
            try:
                while ahead is not None:
                    segment = ahead.result()
                    ahead = None
                    sampled = sample is not None and \
                        len(seen_now) + len(segment.snapshots) >= sample
                    if segment.has_more and self._time_left() and not sampled:
                        ahead = reader.submit(read, segment.cursor)
                    self._batch(segment.snapshots, report, dry_run=dry_run)
                    ids = [snap.customer.id for snap in segment.snapshots]
                    seen_now.update(ids)
                    state = replace(state, full_cursor=segment.cursor or "",
                                    full_listed=not segment.has_more)
                    if not dry_run:
                        self._state.add_seen(ids)
                        self._state.save(state)
                    if sample is not None and (sampled or not segment.has_more):
                        self._project(report, segment.cursor if segment.has_more else None,
                                      len(seen_now))
                    elif segment.has_more and ahead is None:
                        self._stop(report, f"{len(seen_now)} customers")
            finally:
                stop.set()  # a segment read ahead for nothing ends at its next page
        return state

    def _project(self, report: Report, cursor: str | None, sampled: int) -> None:
        """The rest of a sampled dry run: count the customers not planned (the listing alone,
        100 a request) and project a full import from the configured limits."""
        rest = 0 if cursor is None else self._stripe.count_customers(
            cursor, on_page=lambda n: self._progress("counting Stripe customers", sampled + n,
                                                     None, None))
        total = sampled + rest
        rate, cost = self._stripe.rate, self._stripe.cost_per_customer
        floor_s = total / self._stripe.customers_per_s(fetch=False)
        report.projection = {"customers_sampled": sampled, "customers": total,
                             "payment_method_listings_per_customer": cost,
                             "payment_method_listings_per_s": round(rate, 2),
                             "full_import_s": round(floor_s)}
        report.message = (
            f"sampled {sampled} of {total} customers; a full import takes at least "
            f"{_duration(floor_s)} ({total} customers x {cost} payment-method listing"
            f"{'s' if cost > 1 else ''} / {rate:g}/s, Stripe's per-endpoint limit less the "
            "reserve and this dry run's share)")

    def _reconcile_gone(self, seen: set[str], report: Report, *, dry_run: bool) -> bool:
        """Customers with imported payment methods that the full listing did not return are
        deleted (or gone): check each with Stripe, in segments that check the deadline; a
        segment done is added to the seen set, so a continued run resumes after it."""
        # Customers classed as live-mode only are not gone: a test key cannot see them.
        gone = sorted(self._sink.customers_with_active_methods() - seen
                      - self._state.live_mode_customers())
        start = 0
        while start < len(gone):
            if not self._time_left():
                self._stop(report, f"checking {start} of {len(gone)} customers Stripe no "
                                   "longer lists")
                return False
            segment = gone[start:start + self._capacity(fetch=True)]
            stage = "checking customers Stripe no longer lists"
            self._batch(self._stripe.fetch(segment, on_each=self._each(stage, start, len(gone))),
                        report, dry_run=dry_run)
            if not dry_run:
                self._state.add_seen(segment)
            start += len(segment)
        return True

    # -- incremental -----------------------------------------------------------------------
    def _incremental(self, state: SyncState, report: Report, *, dry_run: bool) -> bool:
        """Apply the events since the checkpoint. Normally one listing up to Stripe's clock; a
        backlog too large to list and apply in the time left goes in windows of `created`
        seconds, oldest first, each applied and checkpointed before the next is listed (Stripe
        lists newest first, so a checkpoint can only move on a window listed whole)."""
        assert state.checkpoint is not None
        pending = sorted({e.customer_id for e in self._state.ledger()
                          if e.status is LedgerStatus.PENDING})
        first = True
        while True:
            found = self._event_window(state, dry_run=dry_run)
            if found is None:
                self._stop(report, f"{report.events} events" if report.events else
                           "listing a backlog of events")
                return False
            listing, end, page_s = found
            applied = set(state.seen_event_ids)
            events = [e for e in listing.events if e.id not in applied]
            report.events += len(events)
            if first and end is None:
                if not events and not pending:
                    report.kind = "noop"
                    report.message = "no Stripe changes since the checkpoint and no failed " \
                                     "rows pending"
                    self._advance(state, listing, applied, boundary=None, page_s=None,
                                  dry_run=dry_run)
                    return True
                changed = {e.customer_id for e in events if e.customer_id} | set(pending)
                created = {e.customer_id for e in events
                           if e.type == names.EVENT_CUSTOMER_CREATED}
                if self._full_is_cheaper(len(changed), len(created), dry_run=dry_run):
                    report.kind = "full"
                    report.message = (f"{len(changed)} customers changed since the checkpoint: "
                                      "a full reconcile costs less (continued across runs if "
                                      "needed)")
                    return self._full(state, report, dry_run=dry_run, restart=True)
            state, finished = self._apply_events(state, listing, events,
                                                 pending if first else [], (end, page_s),
                                                 report, dry_run=dry_run)
            if not finished:
                return False
            if end is None:
                return True
            first = False

    def _listing_pages(self) -> int | None:
        """Pages of events this invocation may list and still have time to apply them
        (None: no deadline)."""
        left = self._seconds_left()
        return None if left is None else \
            max(1, int(left * self._stripe.events_per_s * LISTING_SHARE))

    def _time_for_a_window(self) -> bool:
        """Whether there is time to list one page and read one customer: a window listed
        with less is listed again by the next run, for nothing."""
        if self._over_budget():
            return False
        left = self._seconds_left()
        return left is None or left >= 1 / self._stripe.events_per_s \
            + 1 / self._stripe.customers_per_s(fetch=True)

    def _event_window(self, state: SyncState, *,
                      dry_run: bool) -> tuple[EventListing, int | None, float | None] | None:
        """The events of the oldest window [checkpoint, end) listed whole within the page
        budget, its end (None: up to Stripe's clock) and the density it showed (seconds of
        events one page holds; None when the listing reached Stripe's clock); None when time
        ran out first.

        With no backlog known the window is open (one listing, as an ordinary run makes). With
        one, the window is sized from its density to fill the page budget. A window too dense
        to list in the time left is at least halved, narrower still when its oldest page shows
        it is denser than that, and listed again; the density learnt is kept for the next run
        even when no window fit in this one."""
        assert state.checkpoint is not None
        start, page_s = state.checkpoint, state.event_page_s
        cap: int | None = None  # after a miss, the next window ends at most halfway
        while self._time_for_a_window():
            pages = self._listing_pages()
            end: int | None = None
            if pages is not None and (page_s is not None or cap is not None):
                end = start + max(1, int(pages * (page_s or 0) * WINDOW_FILL))
                end = end if cap is None else min(end, cap)
            elif pages is not None:
                pages = max(1, int(pages * OPEN_SHARE))  # what a miss may cost, at most
            listing = self._stripe.events_since(start, created_lt=end, max_pages=pages)
            if listing.complete:
                if end is None or end > listing.stripe_time:
                    return listing, None, None
                measured = (end - start) / listing.pages
                # An empty stretch says little of what follows: grow at most sixteenfold.
                return listing, end, measured if page_s is None else min(measured, 16 * page_s)
            top = end if end is not None else listing.stripe_time + 1
            if top - start <= 1:
                if not self._time_left():
                    break
                # One second is the finest window Stripe filters on: list it whole.
                return self._stripe.events_since(start, created_lt=start + 1), start + 1, \
                    page_s
            # The pages listed are the newest of the window; the oldest of them is the nearest
            # to what is left, and its span tells that part's density.
            page_s = float(listing.oldest_page_s or 1)
            cap = start + max(1, (top - start) // 2)
        if page_s != state.event_page_s and not dry_run:
            self._state.save(replace(state, event_page_s=page_s))
        return None

    def _apply_events(self, state: SyncState, listing: EventListing, events: list[Event],
                      pending: list[str], window: tuple[int | None, float | None],
                      report: Report, *, dry_run: bool) -> tuple[SyncState, bool]:
        """Fetch and write the customers the events name, in segments sized by the time left;
        the checkpoint moves after each (to the window's end after the last). `window`: its
        end (None: Stripe's clock) and the density it showed."""
        end, page_s = window
        applied = set(state.seen_event_ids)
        done: set[str] = set()
        first = True
        rest = events
        while first or rest:
            if not self._time_left():
                self._stop(report, f"{len(done)} changed customers")
                return state, False
            segment, rest = _segment(rest, self._capacity(fetch=True))
            customers = {e.customer_id for e in segment if e.customer_id} - done
            if first:
                customers |= set(pending)
            detached = {e.object_id for e in segment if e.type == names.EVENT_PM_DETACHED}
            total = len(done) + len(customers) + len({e.customer_id for e in rest})
            each = self._each("fetching changed customers from Stripe", len(done), total)
            each(0)
            self._batch(self._stripe.fetch(sorted(customers), on_each=each), report,
                        dry_run=dry_run, detached=detached)
            done |= customers
            applied |= {e.id for e in segment}
            # Every event older than the first one left is applied (a second may be split: the
            # applied events of that second are remembered by id). A window applied whole
            # moves the checkpoint to its end.
            boundary = rest[0].created if rest else end
            state = self._advance(state, listing, applied, boundary=boundary, page_s=page_s,
                                  dry_run=dry_run)
            first = False
        return state, True

    def _full_is_cheaper(self, changed: int, created: int, *, dry_run: bool) -> bool:
        """Hand a backlog to the full path when reading every customer takes less time than
        reading the changed ones (Stripe customers are at least the linked Accounts plus the
        ones created since the checkpoint), judged only when the backlog does not fit in this
        invocation (so an ordinary run makes no extra call)."""
        if changed <= self._capacity(fetch=True):
            return False
        self._org(dry_run=dry_run)  # a count of the wrong org would decide for it
        known = self._sink.count_linked_accounts() + created
        # Both paths list each customer's payment methods, on one endpoint whose limit sets
        # the pace; the full path's customer listing and the changed path's retrievals run on
        # endpoints of their own. So the full path is cheaper when it lists no more customers
        # (on a tie too: a page of 100 customers costs one request, 100 retrievals 100).
        return known <= changed

    def _advance(self, state: SyncState, listing: EventListing, applied: set[str], *,
                 boundary: int | None, page_s: float | None, dry_run: bool) -> SyncState:
        """Move the checkpoint as far as this run's work allows: to `boundary` (the first event
        not applied yet, or the end of a window applied whole), or, when every listed event is
        applied, to Stripe's clock at the listing; never past Stripe's clock minus the margin.
        Applied events at or after the checkpoint are remembered, so they are not applied
        again. Saved unless this is a dry run (which still moves on, in memory)."""
        assert state.checkpoint is not None
        limit = listing.stripe_time - EVENT_MARGIN_S
        checkpoint = max(state.checkpoint, min(limit, boundary if boundary is not None
                                                   else listing.stripe_time))
        created = {e.id: e.created for e in listing.events}
        keep = sorted((i for i in applied if created.get(i, checkpoint) >= checkpoint),
                      key=lambda i: (created.get(i, 0), i))[-MAX_SEEN_EVENTS:]
        if boundary is not None and boundary > limit:
            page_s = None  # the window reached Stripe's clock: the next listing is open again
        state = replace(state, checkpoint=checkpoint, seen_event_ids=tuple(keep),
                        event_page_s=page_s)
        if not dry_run:
            self._state.save(state)
        return state

    def _org(self, *, dry_run: bool) -> OrgFacts:
        """Both org checks, before this run's first Salesforce read, count or write, whatever
        path the run takes: the org is the one the stack names (`sink.facts` stops otherwise),
        and the one the state was written for (`_check_org`)."""
        facts = self._sink.facts()
        self._check_org(facts.org_id, dry_run=dry_run)
        return facts

    def _check_org(self, org_id: str, *, dry_run: bool) -> None:
        """Stop before writing when the state was written for another org (a refreshed
        sandbox); an explicit full reconcile is the operator's confirmation, and from then on
        the state belongs to this org."""
        if self._org_checked or not org_id:
            return
        recorded = self._state.recorded_org()
        verdict = state_org(recorded, org_id, explicit_full=self._explicit_full,
                            dry_run=dry_run)
        if verdict is StateOrg.REFUSE:
            raise OrgIdentityError(state_org_problem(recorded or "", org_id))
        if verdict is StateOrg.RECORD:
            self._guard()
            self._state.record_org(org_id)
        self._org_checked = True

    # -- one batch -------------------------------------------------------------------------
    def _batch(self, snapshots: Sequence[Snapshot], report: Report, *, dry_run: bool,
               detached: Iterable[str] = ()) -> None:
        detached = set(detached)
        if not snapshots and not detached:
            return
        # Planning is imported with the first batch: a run with nothing to do never needs it.
        from sync_lambda.planning import build_plan  # noqa: PLC0415

        options = replace(self._config.options, reconcile=True)
        facts = self._org(dry_run=dry_run)
        self._progress("reading Salesforce", 0, len(snapshots), None)
        view = self._sink.view(snapshots, detached, options)
        plan = build_plan(snapshots, view, facts, options, detached=detached)
        report.add_plan(plan)
        if plan.live_mode and not dry_run:
            self._state.add_live_mode_customers(plan.live_mode)
        if dry_run:
            self._dry_held += plan.deactivations
            return
        writes = plan.without_deactivations()
        result = None
        if writes.writes:
            self._progress("writing Salesforce", 0, writes.writes, None)
            result = self._sink.apply(writes, options, self._track_job, self._guard)
            report.add_results(writes, result.rows)
            self._progress("writing Salesforce", writes.writes, writes.writes, None)
        self._update_ledger(plan, result.rows if result else [])
        self._hold(plan)

    def _hold(self, plan: Plan) -> None:
        """Hold this batch's deactivations; forget held ones whose payment method is wanted
        active again."""
        back = [sf_id for sf_id, p in self._held.items() if p.stripe_id in plan.active]
        if back:
            self._state.drop_deactivations(back)
            for sf_id in back:
                del self._held[sf_id]
        new = [PendingDeactivation(w.sf_id or "", w.stripe_id, w.customer_id)
               for w in plan.deactivations if w.sf_id and w.sf_id not in self._held]
        if new:
            self._state.add_deactivations(new)
            self._held.update({p.sf_id: p for p in new})

    def _finish_deactivations(self, report: Report, *, dry_run: bool, allowed: bool) -> None:
        """Apply the deactivations held over the whole run, unless they cross the limit."""
        from sync_lambda.planning import Plan, PmWrite  # noqa: PLC0415 - see _batch
        held = [PmWrite(p.stripe_id, p.customer_id,
                        {names.PM_ACTIVE: False, names.PM_AUTOPAY: False}, p.sf_id)
                for p in self._held.values()]
        if dry_run:
            held = list({w.sf_id: w for w in (*held, *self._dry_held)}.values())
        if not held:
            return
        self._org(dry_run=dry_run)
        limit = self._config.deactivation_limit
        active = (self._sink.count_active_payment_methods()
                  if limit.needs_active_count(len(held)) else 0)
        if limit.holds_back(len(held), active, allowed=allowed):
            report.held_back = len(held)
            report.held_back_of = active
            report.held_back_sample = sorted(w.stripe_id for w in held)[:50]
            report.message = limit.held_back_message(len(held), active, dry_run=dry_run)
            return
        if dry_run:
            return
        plan = Plan(deactivations=sorted(held, key=lambda w: w.customer_id))
        self._progress("deactivating payment methods", 0, len(held), None)
        result = self._sink.apply(plan, self._config.options, self._track_job, self._guard)
        report.add_results(plan, result.rows)
        self._update_ledger(plan, result.rows)
        self._state.drop_deactivations(self._held)
        self._held = {}

    def _track_job(self, job_id: str, open_: bool) -> None:
        state = self._state.load()
        jobs = tuple(j for j in state.jobs if j != job_id) + ((job_id,) if open_ else ())
        self._state.save(state.with_jobs(jobs))

    def _update_ledger(self, plan: Plan, rows: list[RowResult]) -> None:
        now = int(self._clock())
        known = {e.stripe_id: e for e in self._state.ledger()}
        entries: list[LedgerEntry] = []

        def entry(stripe_id: str, customer_id: str, kind: str, reason: str, *,
                  rejected: bool) -> LedgerEntry:
            old = known.get(stripe_id)
            attempts = (old.attempts + 1) if old else 1
            status = LedgerStatus.REJECTED if rejected or attempts >= self._config.max_attempts \
                else LedgerStatus.PENDING
            return LedgerEntry(stripe_id, customer_id, kind, reason, attempts, status,
                               old.first_failed if old else now, now)

        entries += [entry(r.stripe_id, r.customer_id, r.kind, r.reason or "", rejected=False)
                    for r in rows if not r.ok]
        entries += [entry(i.stripe_id, i.customer_id, "customer", i.reason, rejected=False)
                    for i in plan.read_failures]
        entries += [entry(q.stripe_id, q.customer_id, "payment_method", q.reason,
                          rejected=True) for q in plan.quarantined]
        if entries:
            self._state.record_failures(entries)
        failed_customers = {e.customer_id for e in entries}
        # Customers this batch handled without failure: their old entries are resolved.
        handled = set(plan.scenarios) | {r.stripe_id for r in rows if r.ok}
        resolved = [sid for sid, e in known.items()
                    if sid not in {x.stripe_id for x in entries}
                    and (sid in handled or e.customer_id in handled)
                    and e.customer_id not in failed_customers]
        if resolved:
            self._state.clear_failures(resolved)


def _stopped_by_the_daily_limit(report: Report, exc: ApiBudgetError) -> None:
    """Salesforce refused for the org's daily API limit: the run stopped at once, with the
    progress it had saved; the next (scheduled) run continues."""
    report.api_budget = True
    report.continued = True
    report.message = f"stopped: {exc}"


def _summary(report: Report, started: float, finished: float) -> dict[str, object]:
    """What `sfbilling status` shows of a run: counts and ids, never names or emails."""
    d = report.to_dict()
    return {"run_id": d["run_id"], "kind": d["kind"], "outcome": d["outcome"],
            "continued": d["continued"], "started": int(started), "finished": int(finished),
            "outcomes": d["outcomes"], "events": d["events"], "customers": d["customers"],
            "checkpoint_age_s": d["checkpoint_age_s"],
            "salesforce_api_usage": d["salesforce_api_usage"]}


def _segment(events: list[Event], capacity: int) -> tuple[list[Event], list[Event]]:
    """Every event of the first `capacity` customers to change (oldest first), and the rest.
    A customer's events all go in one segment: a customer is fetched once, whatever the order
    of its events among others'."""
    chosen: set[str] = set()
    for e in events:
        if len(chosen) >= capacity:
            break
        chosen.add(e.customer_id or e.object_id)
    segment = [e for e in events if (e.customer_id or e.object_id) in chosen]
    rest = [e for e in events if (e.customer_id or e.object_id) not in chosen]
    return segment, rest
