"""A Salesforce connection through simple-salesforce, shared by the import's sink and the
org-config deployer: login (JWT bearer or client credentials, any login host), and one `call`
wrapper that re-authenticates on INVALID_SESSION_ID and backs off on 503 and
REQUEST_LIMIT_EXCEEDED."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from simple_salesforce.util import exception_handler

from sync_lambda.adapters.retry import backoff
from sync_lambda.adapters.salesforce_login import login
from sync_lambda.errors import FatalSyncError, RetriableSyncError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync_lambda.settings import Secrets, Settings

T = TypeVar("T")
MAX_ATTEMPTS = 6


class TimeoutSession(requests.Session):
    """A session whose requests time out by default: simple-salesforce's own calls (query,
    describe, Metadata SOAP) would otherwise wait forever on a hung connection."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


class SalesforceApi:
    """One org, one session at a time (renewed when Salesforce says it expired)."""

    def __init__(self, settings: Settings, secrets: Secrets, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._settings = settings
        self._secrets = secrets
        self._sleep = sleep
        self._sf: Salesforce | None = None
        self._calls = 0
        self.version = settings.salesforce_api_version
        self.timeout_s = settings.salesforce_timeout_s

    def login(self) -> Salesforce:
        s = self._settings
        try:
            session_id, instance, _session = login(
                flow=s.salesforce_auth, login_url=s.salesforce_login_url,
                username=s.salesforce_username, consumer_key=s.salesforce_consumer_key,
                private_key=self._secrets.salesforce_private_key,
                consumer_secret=self._secrets.salesforce_consumer_secret, version=self.version)
        except SalesforceError as exc:
            raise FatalSyncError(f"Salesforce login failed: {exc}") from exc
        except Exception as exc:
            if type(exc).__name__ == "SalesforceAuthenticationFailed":
                raise FatalSyncError(f"Salesforce login failed: {exc}") from exc
            raise
        self._sf = Salesforce(session_id=session_id, instance=instance, version=self.version,
                              session=TimeoutSession(self.timeout_s))
        return self._sf

    @property
    def calls(self) -> int:
        """Salesforce API calls made so far (each attempt counts)."""
        return self._calls

    def call(self, fn: Callable[[Salesforce], T]) -> T:
        relogins = 0
        for attempt in range(MAX_ATTEMPTS):
            try:
                sf = self._sf or self.login()
                self._calls += 1
                return fn(sf)
            except SalesforceExpiredSession:
                relogins += 1
                if relogins > 2:
                    raise FatalSyncError("Salesforce keeps refusing fresh sessions") from None
                self.login()
                continue
            except SalesforceRefusedRequest as exc:
                if "REQUEST_LIMIT_EXCEEDED" not in repr(exc.content):
                    raise FatalSyncError(f"Salesforce refused the request: {exc.content!r}") \
                        from exc
                last: Exception = exc
            except SalesforceGeneralError as exc:
                if "INVALID_SESSION_ID" in repr(exc.content):
                    # The Metadata API reports an expired session as a SOAP fault (HTTP 500).
                    relogins += 1
                    if relogins > 2:
                        raise FatalSyncError("Salesforce keeps refusing fresh sessions") from None
                    self.login()
                    continue
                if exc.status not in (500, 502, 503, 504):
                    raise
                last = exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
            except SalesforceMalformedRequest as exc:
                # A query or write the org refuses outright: retrying cannot help.
                raise FatalSyncError(f"Salesforce refused a request: {exc.content!r}") from exc
            self._sleep(backoff(attempt, base=0.5, cap=15))
        raise RetriableSyncError(f"Salesforce kept failing after {MAX_ATTEMPTS} attempts: {last}")

    def url(self, sf: Salesforce, path: str) -> str:
        return f"https://{sf.sf_instance}/services/data/v{self.version}/{path}"

    def http(self, sf: Salesforce, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {sf.session_id}", **kwargs.pop("headers", {})}
        result = sf.session.request(method, self.url(sf, path), headers=headers,
                                    timeout=self.timeout_s, **kwargs)
        if result.status_code >= 300:
            exception_handler(result, name=path)
        return result

    def text(self, sf: Salesforce, *, path: str) -> str:
        return self.http(sf, "GET", path).text

    def json(self, method: str, path: str, body: Any = None) -> Any:
        result = self.call(lambda sf: self.http(
            sf, method, path, json=body, headers={"Content-Type": "application/json"}))
        return result.json() if result.content else None

    # -- reads -----------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict[str, Any]]:
        result = self.call(lambda sf: sf.query(soql))
        records = list(result["records"])
        while not result["done"]:
            next_url = str(result["nextRecordsUrl"])
            result = self.call(functools.partial(_query_more, url=next_url))
            records.extend(result["records"])
        return records

    def count(self, soql: str) -> int:
        return int(self.call(lambda sf: sf.query(soql))["totalSize"])


def _query_more(sf: Salesforce, *, url: str) -> Any:
    return sf.query_more(url, identifier_is_url=True)
