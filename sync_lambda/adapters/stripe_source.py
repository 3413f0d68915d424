"""Stripe, read-only, through `stripe.StripeClient`: paced, concurrent, retried."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import stripe

from sync_lambda import names
from sync_lambda.adapters.retry import backoff
from sync_lambda.adapters.stripe_budget import StripeBudget, StripeLimits
from sync_lambda.errors import FatalSyncError, RetriableSyncError
from sync_lambda.models import Customer, Event, EventListing, Segment, Snapshot
from sync_lambda.stripe_objects import customer_from, event_from, payment_method_from

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAX_ATTEMPTS = 8
_PERMISSION = re.compile(r"Having the '([a-z_]+)' permission")


class _NotFoundError(FatalSyncError):
    """Stripe answered 404: per customer an error for that customer alone, elsewhere fatal."""


class _LiveModeOnlyError(_NotFoundError):
    """Stripe answered 404 because the object exists in live mode and this is a test key."""


def _refusal(exc: stripe.StripeError) -> FatalSyncError:
    """The import's own error for a request Stripe refused outright (4xx): retrying cannot help,
    so the run stops with a message that says what to fix."""
    status = exc.http_status
    message = exc.user_message or str(exc)
    if isinstance(exc, stripe.AuthenticationError):
        return FatalSyncError(f"Stripe refused the API key (401): {message}")
    if isinstance(exc, stripe.PermissionError):
        found = _PERMISSION.search(message)
        needed = found.group(1) if found else "read access to customers, payment methods and " \
                                                "events"
        return FatalSyncError(f"the Stripe key lacks a permission (403): give the restricted key "
                              f"{needed} (Dashboard > Developers > API keys); Stripe said: "
                              f"{message}")
    return FatalSyncError(f"Stripe refused a request ({status}, "
                          f"{type(exc).__name__}): {message}")


def _stripe_time(response: Any) -> int | None:
    """Stripe's clock, from the Date header of a response (None if absent)."""
    headers = getattr(response, "headers", None) or {}
    raw = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp())
    except (TypeError, ValueError):
        return None


class StripeSourceAdapter:
    """Implements `ports.StripeSource` over the Stripe API."""

    def __init__(self, client: stripe.StripeClient, *, budget: StripeBudget, concurrency: int,
                 include_bank_accounts: bool,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._budget = budget
        self._concurrency = concurrency
        self._sleep = sleep
        self._types = ((names.STRIPE_CARD, names.STRIPE_US_BANK_ACCOUNT)
                       if include_bank_accounts else (names.STRIPE_CARD,))
        self._lock = threading.Lock()
        self.calls = 0
        # A customer costs one payment-method listing per type, all on one endpoint: that
        # endpoint's rate is the pace of a full import (its customer listing, 100 a page, and
        # each retrieval of a gone customer draw on endpoints of their own).
        self.cost_per_customer = len(self._types)

    @property
    def rate(self) -> float:
        """Payment-method listings per second (the endpoint that sets the pace)."""
        return self._budget.rate(names.ENDPOINT_PAYMENT_METHODS)

    @property
    def events_per_s(self) -> float:
        """Pages of events per second."""
        return self._budget.rate(names.ENDPOINT_EVENTS)

    def customers_per_s(self, *, fetch: bool) -> float:
        """Customers a second: the payment-method endpoint's rate over the listings a customer
        takes, within the account's rate over all the requests a customer takes (a retrieval
        each when fetched, a hundredth of a page when listed) and, fetched, the retrieval
        endpoint's own rate."""
        listings = len(self._types)
        requests = listings + (1.0 if fetch else 1.0 / names.STRIPE_PAGE_LIMIT)
        pace = min(self._budget.rate(names.ENDPOINT_PAYMENT_METHODS) / listings,
                   self._budget.global_rate / requests)
        return min(pace, self._budget.rate(names.ENDPOINT_CUSTOMER)) if fetch else pace

    @property
    def throttled(self) -> int:
        """429s Stripe answered so far."""
        return self._budget.throttled

    @classmethod
    def connect(cls, api_key: str, *, api_base: str | None, limits: StripeLimits,
                concurrency: int, include_bank_accounts: bool) -> StripeSourceAdapter:
        """A client with no global state; retries are ours (they also cover 429)."""
        client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0)
        return cls(client, budget=StripeBudget(limits), concurrency=concurrency,
                   include_bank_accounts=include_bank_accounts)

    def _call(self, endpoint: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(MAX_ATTEMPTS):
            self._budget.acquire(endpoint)
            with self._lock:
                self.calls += 1
            try:
                return fn(*args, **kwargs)
            except stripe.RateLimitError as exc:
                # Every thread slows down, not just this one: the buckets are shared.
                self._budget.throttled_by_stripe(endpoint)
                last: Exception = exc
            except stripe.APIConnectionError as exc:
                last = exc
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404 and names.STRIPE_LIVE_MODE_ONLY in str(exc):
                    raise _LiveModeOnlyError(str(exc.user_message or exc)) from exc
                if exc.http_status == 404:
                    raise _NotFoundError(f"Stripe answered 404 (not in this account or mode: "
                                         f"check the API key): {exc.user_message or exc}") \
                        from exc
                raise _refusal(exc) from exc
            except stripe.StripeError as exc:
                if exc.http_status is None or exc.http_status < 500:
                    raise _refusal(exc) from exc
                last = exc
            self._sleep(backoff(attempt))
        raise RetriableSyncError(f"Stripe kept failing after {MAX_ATTEMPTS} attempts: "
                                 f"{type(last).__name__}: {last}")

    def list_customers(self, starting_after: str | None) -> tuple[list[Customer], bool]:
        params: dict[str, Any] = {"limit": names.STRIPE_PAGE_LIMIT}
        if starting_after:
            params["starting_after"] = starting_after
        page = self._call(names.ENDPOINT_CUSTOMERS, self._client.v1.customers.list,
                          params=params)
        return [customer_from(c.to_dict()) for c in page.data], bool(page.has_more)

    def count_customers(self, starting_after: str | None, *,
                        on_page: Callable[[int], None]) -> int:
        """How many customers follow `starting_after` (the listing alone: 100 a request)."""
        n, cursor, more = 0, starting_after, True
        while more:
            page, more = self.list_customers(cursor)
            n += len(page)
            on_page(n)
            if not page:
                break
            cursor = page[-1].id
        return n

    def _payment_methods(self, customer: Customer) -> Snapshot:
        pms = []
        for kind in self._types:
            after: str | None = None
            while True:
                params: dict[str, Any] = {"customer": customer.id, "type": kind,
                                          "limit": names.STRIPE_PAGE_LIMIT}
                if after:
                    params["starting_after"] = after
                try:
                    page = self._call(names.ENDPOINT_PAYMENT_METHODS,
                                      self._client.v1.payment_methods.list, params=params)
                except _LiveModeOnlyError:
                    return Snapshot(customer, live_mode=True)
                except _NotFoundError as exc:
                    return Snapshot(customer, error=str(exc))
                batch = [payment_method_from(p.to_dict()) for p in page.data]
                pms.extend(batch)
                if not page.has_more or not batch:
                    break
                after = batch[-1].id
        return Snapshot(customer, tuple(p for p in pms if p.customer in (None, customer.id)))

    def read_segment(self, starting_after: str | None, limit: int, *,
                     on_page: Callable[[int], None], stop: Callable[[], bool]) -> Segment:
        cursor, has_more = starting_after, True
        futures: list[Future[Snapshot]] = []
        # Listing stays in this thread (each page needs the last one's cursor) while the pool
        # fetches payment methods of the customers already listed: all share one rate limiter.
        with ThreadPoolExecutor(self._concurrency) as pool:
            try:
                while len(futures) < limit and has_more and not stop():
                    page, more = self.list_customers(cursor)
                    # At most `limit` customers: the rest of a page is the next segment's.
                    taken = page[:limit - len(futures)]
                    futures += [pool.submit(self._payment_methods, c) for c in taken]
                    if taken:
                        cursor = taken[-1].id
                    has_more = more or len(taken) < len(page)
                    on_page(len(futures))
                snapshots = tuple(f.result() for f in futures)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return Segment(snapshots, cursor, has_more)

    def _fetch_one(self, customer_id: str) -> Snapshot:
        try:
            obj = self._call(names.ENDPOINT_CUSTOMER, self._client.v1.customers.retrieve,
                             customer_id)
        except _LiveModeOnlyError:
            return Snapshot(Customer(customer_id), live_mode=True)
        except _NotFoundError as exc:
            # Not in this account or mode (a key for another account, test vs live): that says
            # nothing about the customer, so nothing is deactivated. Only `deleted: true` does.
            return Snapshot(Customer(customer_id), error=str(exc))
        customer = customer_from(obj.to_dict())
        if customer.deleted:
            return Snapshot(customer)
        return self._payment_methods(customer)

    def fetch(self, customer_ids: Iterable[str], *,
              on_each: Callable[[int], None] | None = None) -> list[Snapshot]:
        ids = sorted(set(customer_ids))
        if not ids:
            return []
        with ThreadPoolExecutor(self._concurrency) as pool:
            futures = [pool.submit(self._fetch_one, i) for i in ids]
            if on_each is not None:
                for n, _done in enumerate(as_completed(futures), 1):
                    on_each(n)
            return [f.result() for f in futures]

    def events_since(self, created_gte: int, *, newest_s: int | None = None,
                     created_lt: int | None = None,
                     max_pages: int | None = None) -> EventListing:
        events: list[Event] = []
        after: str | None = None
        stripe_time: int | None = None
        created: dict[str, int] = {"gte": created_gte}
        if created_lt is not None:
            created["lt"] = created_lt
        pages, complete, oldest_page_s = 0, True, None
        while True:
            params: dict[str, Any] = {"types": list(names.EVENT_TYPES), "created": created,
                                      "limit": names.STRIPE_PAGE_LIMIT}
            if after:
                params["starting_after"] = after
            page = self._call(names.ENDPOINT_EVENTS, self._client.v1.events.list, params=params)
            pages += 1
            if stripe_time is None:
                stripe_time = _stripe_time(page.last_response)
            raw = [e.to_dict() for e in page.data]
            events.extend(ev for ev in (event_from(r) for r in raw) if ev is not None)
            if raw:
                # Seconds from its newest to its oldest event (a page of a second counts 1).
                oldest_page_s = max(1, int(raw[0].get("created") or 0)
                                    - int(raw[-1].get("created") or 0))
            if not page.has_more or not raw:
                break
            if max_pages is not None and pages >= max_pages:
                complete = False  # the rest (older) is not listed: the caller narrows
                break
            if newest_s is not None and stripe_time is not None and \
                    int(raw[-1].get("created") or 0) < stripe_time - newest_s:
                break  # newest first: the rest is older than asked for
            after = str(raw[-1]["id"])
        if stripe_time is None:
            # No Date header: the newest event is the latest moment Stripe vouched for.
            stripe_time = max((e.created for e in events), default=created_gte)
        # Stripe lists newest first; apply oldest first.
        return EventListing(tuple(sorted(events, key=lambda e: (e.created, e.id))), stripe_time,
                            complete=complete, pages=pages, oldest_page_s=oldest_page_s)
