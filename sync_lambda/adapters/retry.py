"""Backoff and request pacing shared by the Stripe and Salesforce adapters."""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class RateLimiter:
    """Spaces calls evenly at `rate` per second across threads (a leaky bucket). After the
    server said "too many requests" it slows down at once, then climbs back to `rate` a tenth
    of it a second while no refusal comes (additive increase, multiplicative decrease): a
    squeeze that passes does not slow the rest of the run."""

    RECOVERY_PER_S = 0.1  # of the configured rate, per second without a refusal

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._max = rate
        self._rate = rate
        self._next = 0.0
        self._slowed_at = -1e9
        self._recovered_at = -1e9
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def slow_down(self, factor: float = 0.5, *, floor: float = 1.0) -> None:
        """Lower the rate after the server said "too many requests"."""
        with self._lock:
            now = self._clock()
            if now - self._slowed_at < 1.0:
                return  # one cut per second, however many calls were refused at once
            self._slowed_at = self._recovered_at = now
            self._rate = max(min(floor, self._max), self._rate * factor)

    def _recover(self, now: float) -> None:
        if self._rate >= self._max or now - self._slowed_at < 1.0:
            return
        gained = self._max * self.RECOVERY_PER_S * (now - self._recovered_at)
        self._rate = min(self._max, self._rate + gained)
        self._recovered_at = now

    @property
    def rate(self) -> float:
        """The current rate, in calls per second."""
        with self._lock:
            self._recover(self._clock())
            return self._rate

    def acquire(self) -> None:
        """Block until this caller's slot comes."""
        with self._lock:
            now = self._clock()
            self._recover(now)
            slot = max(now, self._next)
            self._next = slot + 1.0 / self._rate
        if slot > now:
            self._sleep(slot - now)


def backoff(attempt: int, *, base: float = 0.25, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter for retry number `attempt` (0-based)."""
    return random.uniform(0, min(cap, base * 2 ** attempt))
