"""The state of an import that has never run, for a sampled dry run before the first deploy
(no state table exists yet): everything reads as empty, and any write is a bug, refused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from sync_lambda.state import SyncState

if TYPE_CHECKING:
    from sync_lambda.state import LeaseHolder, LedgerEntry, PendingDeactivation


class NoStateStore:
    """Implements `ports.StateStore` as a fresh, read-only state."""

    def _refuse(self, what: str) -> NoReturn:
        raise RuntimeError(f"a sampled dry run writes nothing, yet it tried to {what}")

    def acquire(self, owner: str, ttl_s: int, wait_s: float) -> float | None:
        del owner, ttl_s, wait_s
        self._refuse("take the lease")

    def holder(self) -> LeaseHolder | None:
        return None

    def renew(self, ttl_s: int) -> float:
        del ttl_s
        self._refuse("renew a lease")

    def release(self) -> None:
        self._refuse("release a lease")

    def load(self) -> SyncState:
        return SyncState()

    def save(self, state: SyncState) -> None:
        del state
        self._refuse("save the checkpoint")

    def ledger(self) -> list[LedgerEntry]:
        return []

    def record_failures(self, entries: Any) -> None:
        del entries
        self._refuse("record failures")

    def clear_failures(self, stripe_ids: Any) -> None:
        del stripe_ids
        self._refuse("clear failures")

    def add_seen(self, customer_ids: Any, *, scope: str = "full") -> None:
        del customer_ids, scope
        self._refuse("record progress")

    def seen(self, *, scope: str = "full") -> set[str]:
        del scope
        return set()

    def clear_seen(self, *, scope: str = "full") -> None:
        del scope
        self._refuse("clear progress")

    def load_reconcile(self) -> dict[str, Any] | None:
        return None

    def save_reconcile(self, progress: Any) -> None:
        del progress
        self._refuse("save a reconciliation's progress")

    def live_mode_customers(self) -> set[str]:
        return set()

    def add_live_mode_customers(self, customer_ids: Any) -> None:
        del customer_ids
        self._refuse("class live-mode customers")

    def clear_live_mode_customers(self) -> None:
        self._refuse("forget live-mode customers")

    def deactivations(self) -> list[PendingDeactivation]:
        return []

    def add_deactivations(self, rows: Any) -> None:
        del rows
        self._refuse("hold deactivations")

    def drop_deactivations(self, sf_ids: Any) -> None:
        del sf_ids
        self._refuse("drop deactivations")

    def request_rerun(self) -> None:
        self._refuse("request a rerun")

    def take_rerun(self) -> bool:
        return False

    def record_event_received(self, at: float) -> None:
        del at
        self._refuse("record an event")

    def last_event_received(self) -> float | None:
        return None

    def recorded_org(self) -> str | None:
        return None

    def record_org(self, org_id: str) -> None:
        del org_id
        self._refuse("record the org")

    def record_run(self, summary: Any) -> None:
        del summary
        self._refuse("record the run")
