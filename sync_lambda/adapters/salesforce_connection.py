"""The Salesforce connection: the one module both the import's sink and the org-config deployer
talk to an org through. Login with simple-salesforce's own JWT bearer / client-credentials code
to any login host, one `call` wrapper that re-authenticates on INVALID_SESSION_ID and backs off
on 503 and the concurrent-request limit (the daily one stops the run: `api_usage`), reads the
org's API usage off every response, and puts a default timeout on every request.

simple-salesforce only builds `https://{domain}.salesforce.com` login URLs, so a login URL on
another host (a proxy, the local stand-in) is reached through a host-rewriting adapter.
"""

from __future__ import annotations

import functools
import html
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from simple_salesforce.login import SalesforceLogin
from simple_salesforce.util import exception_handler

from sync_lambda import names
from sync_lambda.adapters.retry import backoff
from sync_lambda.api_usage import ApiUsage, is_daily_limit, parse_limit_info
from sync_lambda.errors import (
    ApiBudgetError,
    FatalSyncError,
    RetriableSyncError,
    UnreachableError,
)
from sync_lambda.login_hosts import (
    AUDIENCE_KEY,
    SALESFORCE_SUFFIX,
    login_hosts,
    salesforce_prefix,
)
from sync_lambda.redact import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sync_lambda.settings import Secrets, Settings

T = TypeVar("T")
MAX_ATTEMPTS = 6
CHUNK_BYTES = 64 * 1024
SMALL_CHUNK_BYTES = 1024


@dataclass(frozen=True, slots=True)
class SalesforceCredentials:
    """How to reach one org: the OAuth flow, its parameters and the secret it needs."""

    flow: str  # jwt | client_credentials
    login_url: str
    consumer_key: str
    username: str | None
    api_version: str
    timeout_s: float
    audience: str = "login"  # the JWT aud: login | test | mydomain | https://….salesforce.com
    private_key: str | None = field(default=None, repr=False)
    consumer_secret: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, settings: Settings, secrets: Secrets) -> SalesforceCredentials:
        """The import's credentials."""
        return cls(settings.salesforce_auth, settings.salesforce_login_url,
                   settings.salesforce_consumer_key, settings.salesforce_username,
                   settings.salesforce_api_version, settings.salesforce_timeout_s,
                   settings.jwt_audience, secrets.salesforce_private_key,
                   secrets.salesforce_consumer_secret)


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


def login_session(login_url: str,
                  timeout_s: float = 30.0) -> tuple[requests.Session, str | None]:
    """A session for `login_url` whose requests time out (the token request too: a login that
    never answers would otherwise hold the run, and its lease, forever), and the
    simple-salesforce `domain` to use with it (None means the host is not a Salesforce one and
    the session redirects to it)."""
    session = TimeoutSession(timeout_s)
    domain = salesforce_prefix(login_url)
    if domain is None:
        session.mount("https://", LoginHostAdapter(login_url))
    return session, domain


def login(credentials: SalesforceCredentials) -> tuple[str, str]:
    """(session id, instance host[:port])."""
    c = credentials
    session, domain = login_session(c.login_url, c.timeout_s)
    if c.flow == "jwt":
        hosts = login_hosts(c.login_url, c.audience)
        # The token request goes to the login URL (instance_url); the JWT names the audience
        # (domain). For a login URL outside salesforce.com the session redirects every
        # *.salesforce.com request to it, so the token host is only a placeholder there.
        return SalesforceLogin(
            username=c.username, consumer_key=c.consumer_key, privatekey=c.private_key,
            domain=hosts.audience_domain, instance_url=hosts.token_domain or "login",
            session=session, sf_version=c.api_version)
    # Client credentials needs a My Domain; any non-login/test domain name works for the
    # redirected case.
    return SalesforceLogin(
        consumer_key=c.consumer_key, consumer_secret=c.consumer_secret,
        domain=domain or "standin.my", session=session, sf_version=c.api_version)


class TimeoutSession(requests.Session):
    """A session whose requests time out by default: simple-salesforce's own calls (login,
    query, describe, Metadata SOAP) would otherwise wait forever on a hung connection.

    requests' timeout bounds each socket read, not the request: a server that drips a byte
    per read would hold a call (and the lease it runs under) for ever. So the body is read here
    against a deadline for the whole request; with the wait for the headers (one read timeout
    at most per read) a request is bounded by about twice `timeout_s`."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        if kwargs.get("stream"):
            return super().request(method, url, *args, **kwargs)
        deadline = time.monotonic() + float(self.timeout_s)
        response = super().request(method, url, *args, **{**kwargs, "stream": True})
        chunks = []
        # read1 returns what has arrived (urllib3 2); an older urllib3 reads small pieces.
        read1 = getattr(response.raw, "read1", None)
        pieces = iter(lambda: read1(CHUNK_BYTES, decode_content=True), b"") \
            if read1 is not None else response.iter_content(SMALL_CHUNK_BYTES)
        try:
            for chunk in pieces:
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"no whole answer within {self.timeout_s:g} s")
                chunks.append(chunk)
        except BaseException:
            response.close()
            raise
        # What requests itself does once a body is read, so .json() and .text work.
        response._content = b"".join(chunks)  # noqa: SLF001
        response._content_consumed = True  # type: ignore[attr-defined]  # noqa: SLF001
        return response


class SalesforceConnection:
    """One org, one session at a time (renewed when Salesforce says it expired)."""

    def __init__(self, credentials: SalesforceCredentials, *,
                 sleep: Callable[[float], None] = time.sleep, fail_fast: bool = False) -> None:
        self._credentials = credentials
        self._sleep = sleep
        # An operator at a terminal (the CLI) wants an unreachable or untrusted org said at
        # once; the Lambda keeps retrying, as a transient outage deserves.
        self._fail_fast = fail_fast
        self._reached = False
        self._sf: Salesforce | None = None
        self._calls = 0
        self.usage: ApiUsage | None = None  # the last Sforce-Limit-Info reading
        self.version = credentials.api_version
        self.timeout_s = credentials.timeout_s

    def login(self) -> Salesforce:
        """A fresh session (FatalSyncError when the org refuses the credentials)."""
        try:
            session_id, instance = login(self._credentials)
        except SalesforceError as exc:
            raise FatalSyncError(self._login_failed(str(exc))) from None
        except ValueError as exc:
            raise FatalSyncError(f"Salesforce login: {exc}") from None
        except Exception as exc:
            if type(exc).__name__ == "SalesforceAuthenticationFailed":
                raise FatalSyncError(self._login_failed(str(exc))) from None
            raise
        session = TimeoutSession(self.timeout_s)
        session.hooks["response"].append(self._read_usage)
        self._sf = Salesforce(session_id=session_id, instance=instance, version=self.version,
                              session=session)
        return self._sf

    def _read_usage(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        """Keep the org's API usage from every response that reports it (REST and Bulk do;
        the Metadata API does not)."""
        usage = parse_limit_info(response.headers.get(names.LIMIT_INFO_HEADER))
        if usage is not None:
            self.usage = usage

    def _login_failed(self, text: str) -> str:
        """The refusal, and the setting an operator changes for it."""
        c = self._credentials
        message = f"Salesforce login failed: {redact(text)}"
        if c.flow != "jwt" or "invalid_grant" not in text:
            return message
        if "audience" in text:
            aud = login_hosts(c.login_url, c.audience).audience_url
            return (f"{message}; the JWT audience was {aud} ({AUDIENCE_KEY} {c.audience}): "
                    "a connected app takes login (production) or test (sandbox), an External "
                    "Client App on an org without legacy hostnames only mydomain")
        # The import's user or the org config's deploy user: the username says which.
        return (f"{message}; check the user {c.username} is pre-authorised on the connected "
                f"app of consumer key {c.consumer_key[:12]}… (its policies: admin approved "
                "users) and the app's certificate matches the private key")

    @property
    def calls(self) -> int:
        """Salesforce API calls made so far (each attempt counts)."""
        return self._calls

    def call(self, fn: Callable[[Salesforce], T]) -> T:
        """`fn(sf)` with a live session: logs in when needed, again on an expired session,
        and backs off on 503 and REQUEST_LIMIT_EXCEEDED (RetriableSyncError when they last)."""
        relogins = 0
        for attempt in range(MAX_ATTEMPTS):
            try:
                sf = self._sf or self.login()
                self._calls += 1
                result = fn(sf)
                self._reached = True
                return result
            except SalesforceExpiredSession:
                relogins += 1
                if relogins > 2:
                    raise FatalSyncError("Salesforce keeps refusing fresh sessions") from None
                self.login()
                continue
            except SalesforceRefusedRequest as exc:
                if "REQUEST_LIMIT_EXCEEDED" not in repr(exc.content):
                    raise FatalSyncError("Salesforce refused the request: "
                                         f"{redact(repr(exc.content))}") from None
                if is_daily_limit(repr(exc.content)):
                    raise ApiBudgetError(self._daily_limit()) from None
                last: Exception = exc
            except SalesforceGeneralError as exc:
                if "INVALID_SESSION_ID" in repr(exc.content):
                    # The Metadata API reports an expired session as a SOAP fault (HTTP 500).
                    relogins += 1
                    if relogins > 2:
                        raise FatalSyncError("Salesforce keeps refusing fresh sessions") from None
                    self.login()
                    continue
                fault = soap_fault(exc.content)
                if fault is not None and fault[0] == "REQUEST_LIMIT_EXCEEDED" \
                        and is_daily_limit(fault[1]):
                    raise ApiBudgetError(self._daily_limit()) from None
                if fault is not None and fault[0] not in TRANSIENT_FAULTS:
                    # A SOAP fault names its cause (e.g. INSUFFICIENT_ACCESS): no retry helps.
                    raise FatalSyncError(f"Salesforce refused the call: {fault[0]}: "
                                         f"{redact(fault[1])}") from None
                if exc.status not in (500, 502, 503, 504):
                    raise FatalSyncError(f"Salesforce answered {exc.status}: "
                                         f"{redact(repr(exc.content))}") from None
                last = exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if self._fail_fast and not self._reached:
                    raise UnreachableError(self._unreachable(exc)) from None
                last = exc
            except SalesforceMalformedRequest as exc:
                # A query or write the org refuses outright: retrying cannot help.
                raise FatalSyncError("Salesforce refused a request: "
                                     f"{redact(repr(exc.content))}") from None
            self._sleep(backoff(attempt, base=0.5, cap=15))
        # The errors name the operation and ids, never the query or the URL that carried
        # customer names (and `from None`: the chained original would print them again).
        detail = redact(repr(last.content) if isinstance(last, SalesforceError) else str(last))
        raise RetriableSyncError(f"Salesforce kept failing after {MAX_ATTEMPTS} attempts: "
                                 f"{type(last).__name__}: {detail}") from None

    def _daily_limit(self) -> str:
        usage = "" if self.usage is None else \
            f" ({self.usage.used} of {self.usage.limit} requests in the last 24 hours)"
        return (f"Salesforce refused the call: the org's daily API request limit is used up"
                f"{usage}; the next run continues once usage falls (a rolling 24 hours)")

    def _unreachable(self, exc: Exception) -> str:
        text = repr(exc)
        reason = ("its certificate is not trusted (set REQUESTS_CA_BUNDLE for a private CA)"
                  if isinstance(exc, requests.exceptions.SSLError) else
                  "its name does not resolve" if "NameResolution" in text
                  or "Name or service not known" in text else
                  "the connection was refused" if "Connection refused" in text
                  or "ConnectionRefused" in text else
                  "it did not answer in time" if isinstance(exc, requests.Timeout) else
                  f"the connection failed ({type(exc).__name__})")
        return (f"cannot reach Salesforce at {self._credentials.login_url}: {reason}; check "
                "sfbilling:salesforceLoginUrl")

    def url(self, sf: Salesforce, path: str) -> str:
        """The REST URL of `path` on this org."""
        return f"https://{sf.sf_instance}/services/data/v{self.version}/{path}"

    def http(self, sf: Salesforce, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One REST request (Salesforce's errors raised as simple-salesforce's exceptions)."""
        headers = {"Authorization": f"Bearer {sf.session_id}", **kwargs.pop("headers", {})}
        result = sf.session.request(method, self.url(sf, path), headers=headers,
                                    timeout=self.timeout_s, **kwargs)
        if result.status_code >= 300:
            exception_handler(result, name=path)
        return result

    def text(self, sf: Salesforce, *, path: str) -> str:
        """A REST response's body as text (CSV results of bulk jobs)."""
        return self.http(sf, "GET", path).text

    def json(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        """A REST call with a JSON body, through `call`."""
        result = self.call(lambda sf: self.http(
            sf, method, path, json=body,
            headers={"Content-Type": "application/json", **(headers or {})}))
        return result.json() if result.content else None

    # -- reads -----------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every row of a SOQL query (all pages)."""
        return list(self.rows(soql))

    def rows(self, soql: str) -> Iterator[dict[str, Any]]:
        """The rows of a SOQL query as plain dicts, one page in memory at a time."""
        result = self.call(lambda sf: sf.query(soql))
        while True:
            for record in result["records"]:
                # simple-salesforce parses into OrderedDicts, twice the size of a dict.
                yield dict(record)
            if result["done"]:
                return
            next_url = str(result["nextRecordsUrl"])
            result = self.call(functools.partial(_query_more, url=next_url))

    def count(self, soql: str) -> int:
        """The totalSize of a COUNT() query."""
        return int(self.call(lambda sf: sf.query(soql))["totalSize"])


# SOAP faults (HTTP 500) worth another attempt; any other fault is the org's answer.
TRANSIENT_FAULTS: frozenset[str] = frozenset({
    "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "UNABLE_TO_LOCK_ROW"})
_FAULT = re.compile(r"<faultcode>(?:\w+:)?(\w+)</faultcode>\s*<faultstring>(.*?)</faultstring>",
                    re.DOTALL)


def soap_fault(content: Any) -> tuple[str, str] | None:
    """(fault code, fault string) of a SOAP fault body, None for anything else."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    match = _FAULT.search(text)
    return (match.group(1), html.unescape(match.group(2))) if match else None


def _query_more(sf: Salesforce, *, url: str) -> Any:
    return sf.query_more(url, identifier_is_url=True)
