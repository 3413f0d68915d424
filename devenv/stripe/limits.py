"""Stripe's rate limits, as the stand-in enforces them (pure).

Stripe limits each account globally (live mode 100 requests/s, test mode 25/s) and, on top,
each named API operation ("endpoint"): "API endpoints have a default limit of 25 requests per
second", so listing customer A's payment methods and customer B's draw on one budget. Stripe does
not publish its algorithm; a token bucket per limit, holding one second's worth, is assumed
(docs/stand-ins.md)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TEST_MODE_GLOBAL_PER_S = 25.0  # the stand-in's keys are test keys
ENDPOINT_PER_S = 25.0


@dataclass
class RateLimits:
    """One bucket for the account and one per endpoint (`GET /v1/customers/{cus}` style)."""

    global_per_s: float = TEST_MODE_GLOBAL_PER_S
    endpoint_per_s: float = ENDPOINT_PER_S
    refused: Counter[str] = field(default_factory=Counter)  # 429s per endpoint
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RateLimits:
        """From `{"global_per_s", "endpoint_per_s"}` (ValueError when not positive)."""
        unknown = sorted(set(raw) - {"global_per_s", "endpoint_per_s"})
        if unknown:
            raise ValueError(f"unknown keys {unknown}")
        global_per_s = float(raw.get("global_per_s", TEST_MODE_GLOBAL_PER_S))
        endpoint_per_s = float(raw.get("endpoint_per_s", ENDPOINT_PER_S))
        if min(global_per_s, endpoint_per_s) <= 0:
            raise ValueError("limits must be positive")
        return cls(global_per_s, endpoint_per_s)

    def to_json(self) -> dict[str, Any]:
        """The limits and the 429s answered so far."""
        with self._lock:
            return {"global_per_s": self.global_per_s, "endpoint_per_s": self.endpoint_per_s,
                    "refused": dict(self.refused)}

    def set(self, *, global_per_s: float, endpoint_per_s: float) -> None:
        """New limits from now on (the buckets keep what they hold, up to the new size)."""
        with self._lock:
            self.global_per_s, self.endpoint_per_s = global_per_s, endpoint_per_s

    def _take(self, name: str, rate: float, now: float, *, commit: bool) -> bool:
        tokens, at = self._buckets.get(name, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[name] = (tokens, now)
            return False
        self._buckets[name] = (tokens - 1.0 if commit else tokens, now)
        return True

    def admit(self, endpoint: str, now: float) -> str | None:
        """Count one request at `now`; None if admitted, else the limit it broke
        ("endpoint" or "global")."""
        with self._lock:
            if not self._take(f"endpoint {endpoint}", self.endpoint_per_s, now, commit=False):
                self.refused[endpoint] += 1
                return "endpoint"
            if not self._take("global", self.global_per_s, now, commit=True):
                self.refused[endpoint] += 1
                return "global"
            self._take(f"endpoint {endpoint}", self.endpoint_per_s, now, commit=True)
            return None
