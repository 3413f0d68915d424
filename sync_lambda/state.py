"""What a run remembers between runs: checkpoint, continuation cursor, in-flight bulk jobs, and
the failed-row ledger. Values only; `adapters/dynamodb_state.py` stores them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class SyncState:
    """The run's bookmark.

    `checkpoint`: events created at or after this second are still to be applied (it never moves
    past a run's start). `seen_event_ids`: events at or after the checkpoint already applied.
    `full_cursor` / `full_started_at`: a full import in progress (continued by the next run);
    `full_listed`: its listing is done and only the customers Stripe no longer lists remain.
    `jobs`: Bulk API jobs submitted but not yet settled (a crashed run's jobs are waited for).
    `event_page_s`: a backlog of events too large to list in one invocation is applied in
    windows of `created` seconds, oldest first; this is how many seconds of the backlog one
    page of events held where it was last listed, which sizes the next window (None: no
    backlog, one listing up to Stripe's clock).
    """

    checkpoint: int | None = None
    seen_event_ids: tuple[str, ...] = ()
    full_cursor: str | None = None
    full_started_at: int | None = None
    full_listed: bool = False  # the full import read every customer; gone ones remain
    last_full_at: int | None = None
    jobs: tuple[str, ...] = ()
    event_page_s: float | None = None

    def with_jobs(self, jobs: tuple[str, ...]) -> SyncState:
        """A copy with another in-flight job list."""
        return replace(self, jobs=jobs)


class LedgerStatus(StrEnum):
    """Whether a failed row is retried."""

    PENDING = "pending"  # retried on every run until it succeeds or runs out of attempts
    REJECTED = "rejected"  # permanently rejected: retried only by a full run
    RESOLVED = "resolved"  # succeeded since; kept a while for the record, then expires


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One failed row: a Stripe object that did not make it into Salesforce, and why."""

    stripe_id: str
    customer_id: str
    kind: str  # "customer" (Stripe could not be read) | "account" | "payment_method"
    reason: str
    attempts: int = 1
    status: LedgerStatus = LedgerStatus.PENDING
    first_failed: int = 0
    last_failed: int = 0


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome of one written row, as read back from Salesforce."""

    stripe_id: str
    customer_id: str
    kind: str
    ok: bool
    reason: str | None = None
    retryable: bool = False
    sf_id: str | None = None


@dataclass(slots=True)
class ApplyResult:
    """Every row result of one batch, by phase."""

    rows: list[RowResult] = field(default_factory=list)

    @property
    def failed(self) -> list[RowResult]:
        """The rows that did not succeed."""
        return [r for r in self.rows if not r.ok]


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """The run that holds the lease: which, where, since and until when (epoch seconds)."""

    run_id: str
    host: str | None
    started: int | None
    expires: int


@dataclass(frozen=True, slots=True)
class PendingDeactivation:
    """A payment method a run decided to deactivate, held until the end of the run (or until an
    operator confirms a mass deactivation)."""

    sf_id: str
    stripe_id: str
    customer_id: str
