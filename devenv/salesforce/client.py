"""Client-side helpers for pointing simple-salesforce's login flows at the stand-in."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class LoginRedirectAdapter(HTTPAdapter):
    """Sends requests for `https://*.salesforce.com/...` to the stand-in instead.

    simple-salesforce builds its login URLs as `https://{domain}.salesforce.com/...`, so its
    real JWT, client-credentials, password and SOAP login code can only reach the stand-in
    through a session that rewrites the host.
    """

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target = urlsplit(target)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        if parts.hostname and parts.hostname.endswith(".salesforce.com"):
            request.url = urlunsplit((self._target.scheme, self._target.netloc, parts.path,
                                      parts.query, parts.fragment))
        return super().send(request, **kwargs)


def redirecting_session(standin_url: str) -> requests.Session:
    """A requests session whose `*.salesforce.com` calls land on `standin_url`."""
    session = requests.Session()
    session.mount("https://", LoginRedirectAdapter(standin_url))
    return session
