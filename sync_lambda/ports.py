"""What the service and the handler need from the outside world (Stripe, Salesforce, the state
table, a way to start the next run)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from sync_lambda.api_usage import ApiUsage
    from sync_lambda.models import EventListing, OrgFacts, PlanOptions, Segment, Snapshot
    from sync_lambda.planning import Plan, SalesforceView
    from sync_lambda.state import (
        ApplyResult,
        LeaseHolder,
        LedgerEntry,
        PendingDeactivation,
        SyncState,
    )


class StripeSource(Protocol):
    """Read-only access to Stripe."""

    calls: int
    cost_per_customer: int  # payment-method listings per customer (one per type)

    @property
    def rate(self) -> float:
        """Payment-method listings per second it keeps to (the pace of a full import)."""
        ...

    @property
    def events_per_s(self) -> float:
        """Pages of events per second it keeps to."""
        ...

    def customers_per_s(self, *, fetch: bool) -> float:
        """Customers a second Stripe's limits allow: listed (`fetch` False: a page of 100,
        then their payment methods) or retrieved one by one, each with its payment methods."""
        ...

    @property
    def throttled(self) -> int:
        """429s Stripe answered so far."""
        ...

    def count_customers(self, starting_after: str | None, *,
                        on_page: Callable[[int], None]) -> int:
        """How many customers Stripe lists after `starting_after` (no payment methods read)."""
        ...

    def read_segment(self, starting_after: str | None, limit: int, *,
                     on_page: Callable[[int], None], stop: Callable[[], bool]) -> Segment:
        """Customers after a cursor (at least `limit` of them, whole pages, unless the listing
        ends) with their payment methods: pages are listed while the payment methods of the
        customers already listed are fetched, all within the request rate. `on_page(n)` after
        each page; `stop()` true ends the segment early (a run that is giving up)."""
        ...

    def fetch(self, customer_ids: Iterable[str], *,
              on_each: Callable[[int], None] | None = None) -> list[Snapshot]:
        """Current state of these customers (deleted ones come back marked deleted, ones Stripe
        cannot find come back with an error); `on_each(n)` as the n-th one is read."""
        ...

    def events_since(self, created_gte: int, *, newest_s: int | None = None,
                     created_lt: int | None = None,
                     max_pages: int | None = None) -> EventListing:
        """customer.* and payment_method.* events created at or after a second (and before
        `created_lt`), oldest first, with Stripe's clock at the start of the listing; with
        `newest_s`, only the pages holding events of the last `newest_s` seconds by that clock
        (newest come first); with `max_pages`, at most that many pages (the listing says
        whether it is complete)."""
        ...


class BillingSink(Protocol):
    """Salesforce Billing: reads for planning, writes for applying."""

    def facts(self) -> OrgFacts:
        """Gateway id, picklists and lengths of this org (cached per run)."""
        ...

    def view(self, snapshots: Sequence[Snapshot], detached: Iterable[str],
             options: PlanOptions) -> SalesforceView:
        """Everything Salesforce holds that the plan for these customers depends on."""
        ...

    def apply(self, plan: Plan, options: PlanOptions, on_job: Callable[[str, bool], None],
              guard: Callable[[], None]) -> ApplyResult:
        """Write the plan in order; `on_job(job_id, open)` tracks bulk jobs in flight;
        `guard()` runs before every write request (it raises when the run lost its lease)."""
        ...

    def customers_with_active_methods(self) -> set[str]:
        """Stripe customer ids of every active imported payment method."""
        ...

    def linked_customers(self) -> set[str]:
        """Stripe customer ids every Account carries."""
        ...

    def payment_method_tokens(self) -> Iterator[tuple[str, str, str]]:
        """(gateway token, row id, Stripe customer id) of every payment-method row holding a
        token, a page at a time."""
        ...

    def count_active_payment_methods(self) -> int:
        """How many payment methods of the org are active (imported or not)."""
        ...

    def count_linked_accounts(self) -> int:
        """How many Accounts carry a Stripe customer id."""
        ...

    def settle(self, job_ids: Sequence[str]) -> None:
        """Wait for (or abort) bulk jobs a previous, interrupted run left in flight."""
        ...

    def calls(self) -> int:
        """Salesforce API calls made so far."""
        ...

    def api_usage(self) -> ApiUsage | None:
        """The org's daily API usage as Salesforce last reported it (None before a call)."""
        ...


class StateStore(Protocol):
    """The DynamoDB state table. Every write after `acquire` is conditional on still holding
    the lease: it raises LeaseLostError once another run holds it."""

    def acquire(self, owner: str, ttl_s: int, wait_s: float) -> float | None:
        """Take the lease (waiting up to `wait_s`); its expiry (epoch seconds), or None if
        another run keeps it."""
        ...

    def holder(self) -> LeaseHolder | None:
        """Who holds the lease, where, since and until when (None if nobody)."""
        ...

    def renew(self, ttl_s: int) -> float:
        """Extend our lease by `ttl_s` from now; the new expiry (LeaseLostError if not ours)."""
        ...

    def request_rerun(self) -> None:
        """Ask the lease holder to run once more when it finishes (a trigger arrived while
        it ran, and may concern changes it has already read past)."""
        ...

    def take_rerun(self) -> bool:
        """Whether a rerun was requested, clearing the request (atomically: one taker)."""
        ...

    def record_event_received(self, at: float) -> None:
        """A Stripe event reached the function at `at` (epoch seconds): the path works."""
        ...

    def last_event_received(self) -> float | None:
        """When a Stripe event last reached the function (None: never)."""
        ...

    def release(self) -> None:
        """Give the lease back (only if still ours)."""
        ...

    def load(self) -> SyncState:
        """The bookmark (a fresh one on the first run)."""
        ...

    def save(self, state: SyncState) -> None:
        """Store the bookmark."""
        ...

    def ledger(self) -> list[LedgerEntry]:
        """Every failed row on record (resolved ones excluded)."""
        ...

    def record_failures(self, entries: Sequence[LedgerEntry]) -> None:
        """Add or update failed rows."""
        ...

    def clear_failures(self, stripe_ids: Iterable[str]) -> None:
        """Mark rows that have now succeeded as resolved."""
        ...

    def add_seen(self, customer_ids: Iterable[str], *, scope: str = "full") -> None:
        """Remember customers a multi-run full import (or, `scope` "reconcile", a
        reconciliation) has seen."""
        ...

    def seen(self, *, scope: str = "full") -> set[str]:
        """Customers the full import (or reconciliation) in progress has seen."""
        ...

    def clear_seen(self, *, scope: str = "full") -> None:
        """Forget them (the pass finished, or starts again)."""
        ...

    def load_reconcile(self) -> dict[str, Any] | None:
        """A reconciliation's saved progress (None: none in progress)."""
        ...

    def save_reconcile(self, progress: Mapping[str, Any] | None) -> None:
        """Save a reconciliation's progress (None: it finished; forget it)."""
        ...

    def live_mode_customers(self) -> set[str]:
        """Customers classed as live-mode only (a test key in a refreshed sandbox)."""
        ...

    def add_live_mode_customers(self, customer_ids: Iterable[str]) -> None:
        """Class these customers as live-mode only: later runs skip them."""
        ...

    def clear_live_mode_customers(self) -> None:
        """Forget the classing (`sfbilling sync --recheck-unknown`)."""
        ...

    def deactivations(self) -> list[PendingDeactivation]:
        """Deactivations decided but not yet applied."""
        ...

    def add_deactivations(self, rows: Sequence[PendingDeactivation]) -> None:
        """Hold these deactivations until the run ends."""
        ...

    def drop_deactivations(self, sf_ids: Iterable[str]) -> None:
        """Forget held deactivations (applied, or the payment method is attached again)."""
        ...

    def recorded_org(self) -> str | None:
        """The org id the state was written for (None before the first write)."""
        ...

    def record_org(self, org_id: str) -> None:
        """Remember the org id the state is written for."""
        ...

    def record_run(self, summary: Mapping[str, Any]) -> None:
        """Remember the last run's summary (counts and ids only), for `sfbilling status`."""
        ...


class Continuation(Protocol):
    """How a run that stopped at its deadline with work left starts its successor at once."""

    def start_next(self, event: Mapping[str, Any]) -> None:
        """Start the next run with `event` (asynchronously: it begins once this one has
        ended)."""
        ...
