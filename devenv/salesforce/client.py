"""Client-side helper for pointing simple-salesforce's login flows at the stand-in.

The stand-ins depend on nothing of the product (a referee that reuses the player's code can
hide the player's bugs), so these few lines exist twice on purpose: the import has its own
host-rewriting adapter in `sync_lambda.adapters.salesforce_connection`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class _ToStandIn(HTTPAdapter):
    """Sends `https://*.salesforce.com/...` requests to the stand-in instead."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target = urlsplit(target)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        if (parts.hostname or "").endswith(".salesforce.com"):
            request.url = urlunsplit((self._target.scheme, self._target.netloc, parts.path,
                                      parts.query, parts.fragment))
        return super().send(request, **kwargs)


def redirecting_session(standin_url: str) -> requests.Session:
    """A requests session whose `*.salesforce.com` calls land on `standin_url`."""
    session = requests.Session()
    session.mount("https://", _ToStandIn(standin_url))
    return session
