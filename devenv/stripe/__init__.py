"""Stripe stand-in: localstripe with documented extensions, run as a child process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from devenv.process import ChildStandIn

if TYPE_CHECKING:
    from pathlib import Path


class StripeStandIn(ChildStandIn):
    """Controls one `python -m devenv.stripe` process."""

    module = "devenv.stripe"
    display_name = "localstripe"

    def __init__(self, *, port: int = 0, log_file: Path | None = None) -> None:
        super().__init__(port=port, log_file=log_file)
        self._http = requests.Session()

    def stop(self) -> None:
        """Stop the process."""
        super().stop()
        self._http.close()

    def ready_url(self) -> str:
        """The fault plan: answered by the same server that answers the API."""
        return self.api_base + "/_config/faults"

    @property
    def api_base(self) -> str:
        """Base URL to give `stripe.StripeClient(base_addresses={"api": ...})`."""
        return str(self._child.info["api_base"])

    @property
    def api_key(self) -> str:
        """A test-mode secret key the stand-in accepts."""
        return str(self._child.info["api_key"])

    def reset(self) -> None:
        """Forget every object, event, fault and counter."""
        self._http.delete(self.api_base + "/_config/data", timeout=10).raise_for_status()

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        """Install a fault plan (see devenv.stripe.faults.StripeFaults)."""
        r = self._http.put(self.api_base + "/_config/faults", json=plan, timeout=10)
        if r.status_code != 200:
            raise ValueError(r.json().get("error", r.text))
        return dict(r.json())

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._http.delete(self.api_base + "/_config/faults", timeout=10).raise_for_status()

    def seed(self, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create customers with cards in bulk (see `POST /_config/seed`)."""
        r = self._http.post(self.api_base + "/_config/seed", json={"customers": customers},
                            timeout=600)
        r.raise_for_status()
        return list(r.json()["customers"])

    def history(self, events: list[dict[str, Any]]) -> int:
        """Backdated `customer.updated` events (see `POST /_config/history`)."""
        r = self._http.post(self.api_base + "/_config/history", json={"events": events},
                            timeout=600)
        r.raise_for_status()
        return int(r.json()["events"])

    def set_limits(self, *, global_per_s: float, endpoint_per_s: float) -> dict[str, Any]:
        """Stripe's rate limits from now on (see `PUT /_config/limits`)."""
        r = self._http.put(self.api_base + "/_config/limits", timeout=10, json={
            "global_per_s": global_per_s, "endpoint_per_s": endpoint_per_s})
        r.raise_for_status()
        return dict(r.json())

    def limits(self) -> dict[str, Any]:
        """The limits, and the 429s answered per endpoint."""
        r = self._http.get(self.api_base + "/_config/limits", timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def live_mode(self, customer_ids: list[str]) -> None:
        """Customers that exist only in live mode (see `POST /_config/live_mode`)."""
        self._http.post(self.api_base + "/_config/live_mode", json={"customers": customer_ids},
                        timeout=10).raise_for_status()

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        """Requests counted per route since the last reset."""
        method = self._http.delete if reset else self._http.get
        r = method(self.api_base + "/_config/stats", timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def deliver_to(self, endpoint_url: str | None, *, region: str = "us-east-1",
                   source_delay_s: float = 0.5) -> None:
        """Where event destinations deliver (the AWS stand-in; see `POST /_config/aws`)."""
        self._http.post(self.api_base + "/_config/aws", timeout=10, json={
            "endpoint_url": endpoint_url, "region": region,
            "source_delay_s": source_delay_s}).raise_for_status()
