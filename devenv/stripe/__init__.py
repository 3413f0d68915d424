"""Stripe stand-in: localstripe with documented extensions, run as a child process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from devenv.process import ChildServer

if TYPE_CHECKING:
    from pathlib import Path


class StripeStandIn:
    """Controls one `python -m devenv.stripe` process."""

    def __init__(self, *, port: int = 0, log_file: Path | None = None) -> None:
        self._child = ChildServer("devenv.stripe", ["--port", str(port)], name="localstripe",
                                  log_file=log_file)
        self._http = requests.Session()

    def spawn(self) -> None:
        """Start the process without waiting (see `wait`)."""
        self._child.spawn()

    def wait(self) -> StripeStandIn:
        """Wait until the process announced its endpoint."""
        self._child.wait()
        return self

    def start(self) -> StripeStandIn:
        """Start and wait until it listens."""
        self.spawn()
        return self.wait()

    def stop(self) -> None:
        """Stop the process."""
        self._child.stop()
        self._http.close()

    def __enter__(self) -> StripeStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        """Base URL to give `stripe.StripeClient(base_addresses={"api": ...})`."""
        return str(self._child.info["api_base"])

    @property
    def api_key(self) -> str:
        """A test-mode secret key the stand-in accepts."""
        return str(self._child.info["api_key"])

    def info(self) -> dict[str, Any]:
        """Connection info, as printed by `sfbilling local up`."""
        return dict(self._child.info)

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

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        """Requests counted per route since the last reset."""
        method = self._http.delete if reset else self._http.get
        r = method(self.api_base + "/_config/stats", timeout=10)
        r.raise_for_status()
        return dict(r.json())
