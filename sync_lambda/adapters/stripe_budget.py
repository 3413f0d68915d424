"""Stripe's rate limits as Stripe states them, and this client's share of them.

Stripe limits an account globally (live mode 100 requests/s, test mode 25/s) and each named API
operation on top: "API endpoints have a default limit of 25 requests per second". An endpoint is
(HTTP method, path template): listing customer A's payment methods and customer B's is one
endpoint, `GET /v1/payment_methods`. The import lists every customer's payment methods, so that
endpoint, not the global limit, is the floor of a full import: customers x payment-method types
/ its rate.

Every consumer of Stripe calls (the scheduled import, dry runs, event-driven runs,
reconciliation) takes its requests from one `StripeBudget`: a bucket per endpoint under a
global one, each kept below Stripe's limit by a share left free for the account's other
clients."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sync_lambda import names
from sync_lambda.adapters.retry import RateLimiter

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True)
class StripeLimits:
    """Stripe's limits for one account, and the share this client leaves to others."""

    global_per_s: float  # the account's limit (live 100/s, test 25/s unless Stripe raised it)
    endpoint_per_s: float = names.STRIPE_ENDPOINT_RATE_LIMIT
    reserve_share: float = 0.1  # kept free for the account's other clients

    @classmethod
    def for_key(cls, api_key: str, *, global_per_s: float | None,
                endpoint_per_s: float = names.STRIPE_ENDPOINT_RATE_LIMIT,
                reserve_share: float = 0.1) -> StripeLimits:
        """The limits of the account `api_key` belongs to (its mode decides the global
        default)."""
        live = api_key.startswith(names.STRIPE_LIVE_KEY_PREFIXES)
        default = names.STRIPE_LIVE_RATE_LIMIT if live else names.STRIPE_TEST_RATE_LIMIT
        return cls(global_per_s or default, endpoint_per_s, reserve_share)

    @property
    def ours_global_per_s(self) -> float:
        """The global rate this client keeps to."""
        return self.global_per_s * (1 - self.reserve_share)

    @property
    def ours_endpoint_per_s(self) -> float:
        """The rate this client keeps to on each endpoint."""
        return min(self.endpoint_per_s * (1 - self.reserve_share), self.ours_global_per_s)

    def share(self, fraction: float) -> StripeLimits:
        """A consumer that may use only `fraction` of this budget (a dry run beside the
        scheduled import)."""
        kept = 1 - (1 - self.reserve_share) * fraction
        return replace(self, reserve_share=kept)


class StripeBudget:
    """The buckets: one per endpoint under a global one, shared by every thread of a run."""

    def __init__(self, limits: StripeLimits, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limits = limits
        self._clock, self._sleep = clock, sleep
        self._global = RateLimiter(limits.ours_global_per_s, clock=clock, sleep=sleep)
        self._endpoints: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self.throttled = 0  # 429s Stripe answered

    def _endpoint(self, endpoint: str) -> RateLimiter:
        with self._lock:
            limiter = self._endpoints.get(endpoint)
            if limiter is None:
                limiter = RateLimiter(self.limits.ours_endpoint_per_s, clock=self._clock,
                                      sleep=self._sleep)
                self._endpoints[endpoint] = limiter
            return limiter

    def acquire(self, endpoint: str) -> None:
        """Block until one request to `endpoint` fits both its bucket and the global one."""
        self._endpoint(endpoint).acquire()
        self._global.acquire()

    def throttled_by_stripe(self, endpoint: str) -> None:
        """Stripe answered 429: it does not say which limit, so the endpoint slows down (the
        likelier one, as the import spends most on one endpoint) and the whole client a little
        (another client of the account may be using the global limit)."""
        with self._lock:
            self.throttled += 1
        self._endpoint(endpoint).slow_down(0.5)
        self._global.slow_down(0.8)

    @property
    def global_rate(self) -> float:
        """Requests per second the whole client gets now."""
        return self._global.rate

    def rate(self, endpoint: str) -> float:
        """Requests per second `endpoint` gets now."""
        return min(self._endpoint(endpoint).rate, self._global.rate)
