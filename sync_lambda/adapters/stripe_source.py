"""Stripe, read-only, through `stripe.StripeClient`: paced, concurrent, retried."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import stripe

from sync_lambda import names
from sync_lambda.adapters.retry import RateLimiter, backoff
from sync_lambda.errors import FatalSyncError, RetriableSyncError
from sync_lambda.models import Customer, Event, Snapshot
from sync_lambda.stripe_objects import customer_from, event_from, payment_method_from

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

MAX_ATTEMPTS = 8


class StripeSourceAdapter:
    """Implements `ports.StripeSource` over the Stripe API."""

    def __init__(self, client: stripe.StripeClient, *, rate: float, concurrency: int,
                 include_bank_accounts: bool,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._limiter = RateLimiter(rate, sleep=sleep)
        self._concurrency = concurrency
        self._sleep = sleep
        self._types = ((names.STRIPE_CARD, names.STRIPE_US_BANK_ACCOUNT)
                       if include_bank_accounts else (names.STRIPE_CARD,))
        self._lock = threading.Lock()
        self.calls = 0

    @classmethod
    def connect(cls, api_key: str, *, api_base: str | None, rate: float, concurrency: int,
                include_bank_accounts: bool) -> StripeSourceAdapter:
        """A client with no global state; retries are ours (they also cover 429)."""
        client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0)
        return cls(client, rate=rate, concurrency=concurrency,
                   include_bank_accounts=include_bank_accounts)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(MAX_ATTEMPTS):
            self._limiter.acquire()
            with self._lock:
                self.calls += 1
            try:
                return fn(*args, **kwargs)
            except stripe.AuthenticationError as exc:
                raise FatalSyncError(f"Stripe refused the API key: {exc.user_message}") from exc
            except stripe.RateLimitError as exc:
                # Everyone slows down, not just this thread: the limit is per account.
                self._limiter.slow_down()
                last: Exception = exc
            except stripe.APIConnectionError as exc:
                last = exc
            except stripe.APIError as exc:
                if exc.http_status is not None and exc.http_status < 500:
                    raise
                last = exc
            self._sleep(backoff(attempt))
        raise RetriableSyncError(f"Stripe kept failing after {MAX_ATTEMPTS} attempts: "
                                 f"{type(last).__name__}: {last}")

    def list_customers(self, starting_after: str | None) -> tuple[list[Customer], bool]:
        params: dict[str, Any] = {"limit": names.STRIPE_PAGE_LIMIT}
        if starting_after:
            params["starting_after"] = starting_after
        page = self._call(self._client.v1.customers.list, params=params)
        return [customer_from(c.to_dict()) for c in page.data], bool(page.has_more)

    def _payment_methods(self, customer: Customer) -> Snapshot:
        pms = []
        for kind in self._types:
            after: str | None = None
            while True:
                params: dict[str, Any] = {"customer": customer.id, "type": kind,
                                          "limit": names.STRIPE_PAGE_LIMIT}
                if after:
                    params["starting_after"] = after
                page = self._call(self._client.v1.payment_methods.list, params=params)
                batch = [payment_method_from(p.to_dict()) for p in page.data]
                pms.extend(batch)
                if not page.has_more or not batch:
                    break
                after = batch[-1].id
        return Snapshot(customer, tuple(p for p in pms if p.customer in (None, customer.id)))

    def snapshots(self, customers: Sequence[Customer]) -> list[Snapshot]:
        with ThreadPoolExecutor(self._concurrency) as pool:
            return list(pool.map(self._payment_methods, customers))

    def _fetch_one(self, customer_id: str) -> Snapshot:
        try:
            obj = self._call(self._client.v1.customers.retrieve, customer_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                # Gone for good: handled like a deleted customer.
                return Snapshot(Customer(customer_id, deleted=True))
            raise
        customer = customer_from(obj.to_dict())
        if customer.deleted:
            return Snapshot(customer)
        return self._payment_methods(customer)

    def fetch(self, customer_ids: Iterable[str]) -> list[Snapshot]:
        ids = sorted(set(customer_ids))
        with ThreadPoolExecutor(self._concurrency) as pool:
            return list(pool.map(self._fetch_one, ids))

    def events_since(self, created_gte: int) -> list[Event]:
        events: list[Event] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"types": list(names.EVENT_TYPES),
                                      "created": {"gte": created_gte},
                                      "limit": names.STRIPE_PAGE_LIMIT}
            if after:
                params["starting_after"] = after
            page = self._call(self._client.v1.events.list, params=params)
            raw = [e.to_dict() for e in page.data]
            events.extend(ev for ev in (event_from(r) for r in raw) if ev is not None)
            if not page.has_more or not raw:
                break
            after = str(raw[-1]["id"])
        # Stripe lists newest first; apply oldest first.
        return sorted(events, key=lambda e: e.created)
