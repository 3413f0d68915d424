"""Faults on demand and call statistics for the Stripe stand-in (pure state, no aiohttp)."""

from __future__ import annotations

import collections
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

KNOWN = frozenset({"seed", "latency_ms", "rate_limit_per_s", "error_rate", "error_status",
                   "error_times", "paths", "permission"})
# 4xx faults Stripe answers to a well-formed request: 400 (invalid request) and 403 (a restricted
# key lacking a permission); 401 and 404 come from real conditions (a wrong key, a missing id).
CLIENT_ERRORS = frozenset({400, 403})
# The permission a restricted key needs per resource, as Stripe names it in its 403 message.
PERMISSIONS = {"/v1/customers": "rak_customer_read", "/v1/payment_methods":
               "rak_payment_method_read", "/v1/events": "rak_event_read"}


class FaultConfigError(ValueError):
    """The fault plan is malformed."""


@dataclass(slots=True)
class StripeFaults:
    """Added latency, 429 above a request rate, and a deterministic fraction of 5xx answers.

    `paths` limits the faults to request paths starting with one of the prefixes (default: all
    /v1/ paths). `error_times` caps the number of error answers. `error_status` is a 5xx, or 400
    or 403 (answered in Stripe's shape; a 403 names the restricted-key `permission` missing,
    by default the one the path needs).
    """

    seed: int = 0
    latency_ms: int = 0
    rate_limit_per_s: float | None = None
    error_rate: float = 0.0
    error_status: int = 500
    error_times: int | None = None
    paths: tuple[str, ...] = ("/v1/",)
    permission: str | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _window: collections.deque[float] = field(default_factory=collections.deque)
    _errors: int = 0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StripeFaults:
        """Validate and build (raises FaultConfigError naming every problem)."""
        problems = [f"unknown key {k!r} (allowed: {sorted(KNOWN)})" for k in raw if k not in KNOWN]
        rate = float(raw.get("error_rate", 0.0))
        if not 0 <= rate <= 1:
            problems.append("error_rate must be within 0..1")
        status = int(raw.get("error_status", 500))
        if not (500 <= status <= 599 or status in CLIENT_ERRORS):
            problems.append("error_status must be a 5xx status, 400 or 403")
        limit = raw.get("rate_limit_per_s")
        if limit is not None and float(limit) <= 0:
            problems.append("rate_limit_per_s must be positive")
        if problems:
            raise FaultConfigError("; ".join(problems))
        plan = cls(seed=int(raw.get("seed", 0)), latency_ms=int(raw.get("latency_ms", 0)),
                   rate_limit_per_s=None if limit is None else float(limit), error_rate=rate,
                   error_status=status, error_times=raw.get("error_times"),
                   paths=tuple(raw.get("paths", ("/v1/",))), permission=raw.get("permission"))
        plan._rng = random.Random(plan.seed)
        return plan

    def applies(self, path: str) -> bool:
        """Whether faults apply to `path`."""
        return path.startswith(self.paths)

    def rate_limited(self, now: float | None = None) -> bool:
        """Count one request; True if it exceeds the per-second limit (sliding 1 s window)."""
        if self.rate_limit_per_s is None:
            return False
        t = time.monotonic() if now is None else now
        while self._window and t - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= self.rate_limit_per_s:
            return True
        self._window.append(t)
        return False

    def error(self) -> int | None:
        """An error status for this request, or None."""
        if self.error_rate <= 0 or (self.error_times is not None
                                    and self._errors >= self.error_times):
            return None
        if self._rng.random() < self.error_rate:
            self._errors += 1
            return self.error_status
        return None

    def to_json(self) -> dict[str, Any]:
        """The plan as the config API shows it."""
        return {"seed": self.seed, "latency_ms": self.latency_ms,
                "rate_limit_per_s": self.rate_limit_per_s, "error_rate": self.error_rate,
                "error_status": self.error_status, "error_times": self.error_times,
                "paths": list(self.paths), "permission": self.permission,
                "errors_sent": self._errors}

    def error_body(self, status: int, path: str, api_key: str) -> dict[str, Any]:
        """Stripe's error object for an injected `status` on `path`."""
        if status == 403:
            needed = self.permission or next(
                (p for prefix, p in PERMISSIONS.items() if path.startswith(prefix)),
                "rak_customer_read")
            shown = f"{api_key[:8]}{'*' * 24}{api_key[-4:]}"
            return {"message": f"The provided key '{shown}' does not have the required "
                               "permissions for this endpoint on account 'acct_1Standin0000000"
                               f"'. Having the '{needed}' permission would allow this request "
                               "to continue.", "type": "invalid_request_error"}
        if status == 400:
            return {"message": "Invalid request (injected by the stand-in's fault plan)",
                    "type": "invalid_request_error"}
        return {"message": "An unknown error occurred", "type": "api_error"}


@dataclass(slots=True)
class Stats:
    """Requests seen per `METHOD /path-template`, and how many were faulted."""

    routes: collections.Counter[str] = field(default_factory=collections.Counter)
    rate_limited: int = 0
    errors: int = 0
    first: float | None = None
    last: float | None = None

    def count(self, route: str) -> None:
        """Record one request."""
        now = time.monotonic()
        self.first = self.first if self.first is not None else now
        self.last = now
        self.routes[route] += 1

    def to_json(self) -> dict[str, Any]:
        """Counters as the config API shows them."""
        total = sum(self.routes.values())
        span = (self.last - self.first) if self.first is not None and self.last else 0.0
        return {"requests": total, "routes": dict(self.routes),
                "rate_limited": self.rate_limited, "errors": self.errors,
                "span_s": round(span, 3)}
