"""Logging in with simple-salesforce's own JWT bearer / client-credentials code, to any login
host: simple-salesforce only builds `https://{domain}.salesforce.com` URLs, so a login URL on
another host (a proxy, the local stand-in) is reached through a host-rewriting adapter."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.login import SalesforceLogin

SALESFORCE_SUFFIX = ".salesforce.com"


class LoginHostAdapter(HTTPAdapter):
    """Sends requests for `https://*.salesforce.com/...` to `target` instead."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target = urlsplit(target)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        if parts.hostname and parts.hostname.endswith(SALESFORCE_SUFFIX):
            request.url = urlunsplit((self._target.scheme, self._target.netloc, parts.path,
                                      parts.query, parts.fragment))
        return super().send(request, **kwargs)


def login_session(login_url: str) -> tuple[requests.Session, str | None]:
    """A session for `login_url`, and the simple-salesforce `domain` to use with it (None means
    the host is not a Salesforce one and the session redirects to it)."""
    session = requests.Session()
    host = urlsplit(login_url).hostname or ""
    if host.endswith(SALESFORCE_SUFFIX):
        return session, host[: -len(SALESFORCE_SUFFIX)]
    session.mount("https://", LoginHostAdapter(login_url))
    return session, None


def login(*, flow: str, login_url: str, username: str | None, consumer_key: str,
          private_key: str | None, consumer_secret: str | None,
          version: str) -> tuple[str, str, requests.Session]:
    """(session id, instance host[:port], the HTTP session to keep using)."""
    session, domain = login_session(login_url)
    if flow == "jwt":
        session_id, instance = SalesforceLogin(
            username=username, consumer_key=consumer_key, privatekey=private_key,
            domain=domain or "login", session=session, sf_version=version)
    else:
        # Client credentials needs a My Domain; any non-login/test domain name works for the
        # redirected case.
        session_id, instance = SalesforceLogin(
            consumer_key=consumer_key, consumer_secret=consumer_secret,
            domain=domain or "standin.my", session=session, sf_version=version)
    return session_id, instance, session
