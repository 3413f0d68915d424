"""Keeping a run's lease for as long as the run works: at most one writer, for the whole run.

A background thread renews the lease every third of its TTL (a conditional update on this run's
owner token). If a renewal is refused, the lease now belongs to another run: `check()`, called
before every write, raises LeaseLostError from then on, and the run ends cleanly. `check()` also
refuses to start a write when the lease would expire before one slow request could finish.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from sync_lambda.errors import LeaseLostError, SyncError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync_lambda.ports import StateStore


def next_renewal_s(ttl_s: float, *, renewed: bool) -> float:
    """Seconds until the next renewal: a third of the TTL after a renewal (two more chances
    before it runs out), a thirtieth (at least 1 s) after a transient failure."""
    return ttl_s / 3 if renewed else max(1.0, ttl_s / 30)


def lease_problem(*, lost: str | None, expires: float, now: float,
                  min_left_s: float) -> str | None:
    """Why this run may not start a write (None: it may): the lease was taken, or it runs out
    before one slow request could finish."""
    if lost is not None:
        return lost
    left = expires - now
    if left < min_left_s:
        return (f"the lease runs out in {max(left, 0):.0f} s without a renewal; stopping "
                "before another run may start")
    return None


class LeaseKeeper:
    """Renews one held lease until stopped."""

    def __init__(self, store: StateStore, *, ttl_s: float, expires: float, min_left_s: float,
                 clock: Callable[[], float] = time.time, stop_timeout_s: float = 30.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._expires = expires
        self._min_left_s = min_left_s
        self._clock = clock
        # stop() waits at most this long for a renewal in flight (one hung in a request must
        # not hold the run's end; the run releases the lease itself right after).
        self._stop_timeout_s = stop_timeout_s
        self._lost: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)

    @property
    def expires(self) -> float:
        """When the lease runs out unless renewed (epoch seconds)."""
        with self._lock:
            return self._expires

    def start(self) -> LeaseKeeper:
        """Start renewing in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (the run releases the lease itself)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._stop_timeout_s)

    def renew_now(self) -> None:
        """One renewal, in the caller's thread (LeaseLostError if the lease is gone)."""
        try:
            expires = self._store.renew(int(self._ttl_s))
        except LeaseLostError as exc:
            with self._lock:
                self._lost = str(exc)
            raise
        with self._lock:
            self._expires = expires

    def _loop(self) -> None:
        interval = next_renewal_s(self._ttl_s, renewed=True)
        while not self._stop.wait(interval):
            try:
                self.renew_now()
                interval = next_renewal_s(self._ttl_s, renewed=True)
            except LeaseLostError:
                return
            except SyncError:
                # A transient failure: try again soon; `check` stops the run if the lease
                # runs out before a renewal succeeds.
                interval = next_renewal_s(self._ttl_s, renewed=False)

    def check(self) -> None:
        """Raise LeaseLostError unless this run still holds the lease with time to spare."""
        with self._lock:
            lost, expires = self._lost, self._expires
        problem = lease_problem(lost=lost, expires=expires, now=self._clock(),
                                min_left_s=self._min_left_s)
        if problem is not None:
            raise LeaseLostError(problem)
