"""The I/O of the Stripe event destination resource: Stripe's v2 event destinations API through
the `stripe` SDK, and EventBridge's `DescribeEventSource` through boto3.

This is the one module of `infra/` that imports `stripe` and `boto3` (docs/architecture.md):
the dynamic provider (`infra/event_destination.py`) runs in the engine's provider process and
has no other way to reach them; everything it decides is pure and lives there. Nothing here is
kept between calls: the engine pickles the provider, and a client holds the deploy key.
"""

from __future__ import annotations

from typing import Any, Final

import boto3
import stripe
from botocore.exceptions import BotoCoreError, ClientError

# The SDK's own retries (network errors, 429, 409): a deploy may wait a little.
RETRIES: Final = 2


class DestinationApiError(Exception):
    """Stripe or AWS refused a call: the message says which call and why (never the key)."""


def _plain(obj: Any) -> dict[str, Any]:
    return dict(obj.to_dict(recursive=True))


class DestinationApi:
    """Stripe's event destinations, with the deploy key."""

    def __init__(self, api_key: str, api_base: str | None) -> None:
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base} if api_base else None,
            max_network_retries=RETRIES)
        self._service = self._client.v2.core.event_destinations

    def _call(self, what: str, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except stripe.StripeError as exc:
            # user_message / the error's own text: Stripe never echoes the key.
            detail = exc.user_message or str(exc).strip() or type(exc).__name__
            status = f"HTTP {exc.http_status}" if exc.http_status else type(exc).__name__
            raise DestinationApiError(f"Stripe refused {what} ({status}): {detail}") from None

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/core/event_destinations."""
        return _plain(self._call("creating the event destination", self._service.create,
                                 params))

    def retrieve(self, dest_id: str) -> dict[str, Any]:
        """GET /v2/core/event_destinations/:id."""
        return _plain(self._call(f"reading event destination {dest_id}",
                                 self._service.retrieve, dest_id))

    def update(self, dest_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/core/event_destinations/:id."""
        return _plain(self._call(f"updating event destination {dest_id}",
                                 self._service.update, dest_id, params))

    def set_enabled(self, dest_id: str, *, enabled: bool) -> dict[str, Any]:
        """POST …/:id/enable or …/:id/disable."""
        verb = "enable" if enabled else "disable"
        return _plain(self._call(f"{verb}-ing event destination {dest_id}",
                                 getattr(self._service, verb), dest_id))

    def ping(self, dest_id: str) -> dict[str, Any]:
        """POST …/:id/ping: Stripe sends a v2.core.event_destination.ping event."""
        return _plain(self._call(f"pinging event destination {dest_id}", self._service.ping,
                                 dest_id))

    def delete(self, dest_id: str) -> None:
        """DELETE /v2/core/event_destinations/:id (an absent one is already gone)."""
        try:
            self._service.delete(dest_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise DestinationApiError(f"Stripe refused deleting event destination "
                                          f"{dest_id}: {exc.user_message or exc}") from None
        except stripe.StripeError as exc:
            raise DestinationApiError(f"Stripe refused deleting event destination {dest_id}: "
                                      f"{exc.user_message or exc}") from None


def event_source_state(name: str, *, region: str, endpoint_url: str | None) -> str | None:
    """The partner event source's state (PENDING, ACTIVE, DELETED), None while it does not
    exist. The deploy credentials need events:DescribeEventSource on it."""
    events = boto3.client("events", region_name=region, endpoint_url=endpoint_url)
    try:
        answer = events.describe_event_source(Name=name)
    except events.exceptions.ResourceNotFoundException:
        return None
    except (ClientError, BotoCoreError) as exc:
        raise DestinationApiError(f"AWS refused events:DescribeEventSource on {name} in "
                                  f"{region}: {exc}") from None
    return str(answer.get("State") or "UNKNOWN")
