"""What the service needs from the outside world (Stripe, Salesforce, the state table)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from sync_lambda.models import Customer, Event, OrgFacts, Snapshot
    from sync_lambda.planning import Plan, PlanOptions, SalesforceView
    from sync_lambda.state import ApplyResult, LedgerEntry, SyncState


class StripeSource(Protocol):
    """Read-only access to Stripe."""

    calls: int

    def list_customers(self, starting_after: str | None) -> tuple[list[Customer], bool]:
        """One page of customers (newest first) and whether more follow."""
        ...

    def snapshots(self, customers: Sequence[Customer]) -> list[Snapshot]:
        """The attached payment methods of each customer (fetched concurrently)."""
        ...

    def fetch(self, customer_ids: Iterable[str]) -> list[Snapshot]:
        """Current state of these customers (deleted ones come back marked deleted)."""
        ...

    def events_since(self, created_gte: int) -> list[Event]:
        """customer.* and payment_method.* events created at or after a second, oldest first."""
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

    def apply(self, plan: Plan, options: PlanOptions,
              on_job: Callable[[str, bool], None]) -> ApplyResult:
        """Write the plan in order; `on_job(job_id, open)` tracks bulk jobs in flight."""
        ...

    def customers_with_active_methods(self) -> set[str]:
        """Stripe customer ids of every active imported payment method."""
        ...

    def settle(self, job_ids: Sequence[str]) -> None:
        """Wait for (or abort) bulk jobs a previous, interrupted run left in flight."""
        ...

    def calls(self) -> int:
        """Salesforce API calls made so far."""
        ...


class StateStore(Protocol):
    """The DynamoDB state table."""

    def acquire(self, owner: str, ttl_s: int, wait_s: float) -> bool:
        """Take the lease (waiting up to `wait_s`); False if another run keeps it."""
        ...

    def release(self, owner: str) -> None:
        """Give the lease back (only if still ours)."""
        ...

    def load(self) -> SyncState:
        """The bookmark (a fresh one on the first run)."""
        ...

    def save(self, state: SyncState) -> None:
        """Store the bookmark."""
        ...

    def ledger(self) -> list[LedgerEntry]:
        """Every failed row on record."""
        ...

    def record_failures(self, entries: Sequence[LedgerEntry]) -> None:
        """Add or update failed rows."""
        ...

    def clear_failures(self, stripe_ids: Iterable[str]) -> None:
        """Forget rows that have now succeeded."""
        ...

    def add_seen(self, customer_ids: Iterable[str]) -> None:
        """Remember customers a multi-run full import has seen."""
        ...

    def seen(self) -> set[str]:
        """Customers the full import in progress has seen."""
        ...

    def clear_seen(self) -> None:
        """Forget them (the full import finished)."""
        ...
