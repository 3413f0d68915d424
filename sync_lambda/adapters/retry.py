"""Backoff and request pacing shared by the Stripe and Salesforce adapters."""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class RateLimiter:
    """Spaces calls evenly at `rate` per second across threads (a leaky bucket)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._slowed_at = -1e9
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def slow_down(self, factor: float = 0.5, *, floor: float = 1.0) -> None:
        """Lower the rate after the server said "too many requests" (kept for the run)."""
        with self._lock:
            now = self._clock()
            if now - self._slowed_at < 1.0:
                return  # one cut per second, however many calls were refused at once
            self._slowed_at = now
            rate = max(floor, (1.0 / self._interval) * factor)
            self._interval = 1.0 / rate

    @property
    def rate(self) -> float:
        """The current rate, in calls per second."""
        return 1.0 / self._interval

    def acquire(self) -> None:
        """Block until this caller's slot comes."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


def backoff(attempt: int, *, base: float = 0.25, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter for retry number `attempt` (0-based)."""
    return random.uniform(0, min(cap, base * 2 ** attempt))
