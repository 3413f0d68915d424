"""The HTTPS Salesforce stand-in: one org, served over REST, Bulk API 2.0, SOAP and OAuth.

    org = SalesforceStandIn(port=0)        # 0 = any free port
    org.start()                            # returns once the socket listens (well under 1 s)
    org.url, org.ca_file, org.app          # what a client needs
    org.stop()

Run it as a process with `python -m devenv.salesforce`. Tests and the demo drive it through the
admin API under `/_admin/` (see `devenv.salesforce.admin`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import ssl
import tempfile
import threading
import time
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from devenv.process import wait_for_signal, wait_until_ready
from devenv.salesforce import duplicates
from devenv.salesforce import errors as codes
from devenv.salesforce.auth import (
    AUDIENCES,
    ConnectedApp,
    OAuthError,
    Sessions,
    TokenEndpoint,
    make_connected_app,
)
from devenv.salesforce.billing import BillingSetting, OrgProfile
from devenv.salesforce.bulk import BulkIngest
from devenv.salesforce.bulk_query import BulkQuery
from devenv.salesforce.duplicates import DuplicateRule
from devenv.salesforce.errors import RecordError, SalesforceError
from devenv.salesforce.faults import FaultConfigError, FaultPlan
from devenv.salesforce.metadata_api import MetadataApi, SoapFaultError
from devenv.salesforce.proxy import SALESFORCE_SUFFIX, ConnectProxy
from devenv.salesforce.rest import RestApi, record_error_response
from devenv.salesforce.store import Org
from devenv.salesforce.web import (
    Request,
    Response,
    Router,
    error_response,
    json_response,
    read_chunked,
)
from devenv.tls import CertPair, make_self_signed

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger("devenv.salesforce")
# Salesforce refuses a request line + headers above 16 KB; long IN lists must be chunked.
MAX_URI_BYTES = 16_384
API_VERSIONS = (31, 66)
_CATEGORIES = ("rest", "bulk", "soap", "auth")


def profile_from_json(raw: Mapping[str, Any]) -> OrgProfile:
    """An OrgProfile from admin-API JSON (lists become tuples; unknown keys are an error)."""
    names = {f.name for f in dataclasses.fields(OrgProfile)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ValueError(f"unknown profile keys {unknown}; allowed: {sorted(names)}")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "settings":
            kwargs[key] = tuple(BillingSetting(**s) for s in value)
        elif isinstance(value, list):
            kwargs[key] = tuple(str(v) for v in value)
        else:
            kwargs[key] = value
    return OrgProfile(**kwargs)


class SalesforceStandIn:
    """One stand-in org behind an HTTPS server on 127.0.0.1."""

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1",
                 profile: OrgProfile | None = None, state_dir: Path | None = None,
                 app: ConnectedApp | None = None, bulk_delay_s: float = 0.0,
                 deploy_delay_s: float = 0.05) -> None:
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="sf-standin-")
        self.state_dir = state_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.host = host
        self.requested_port = port
        self.clock_offset = timedelta()
        self.base_profile = profile or OrgProfile()
        self.org = Org(self.base_profile, clock=self.now)
        self.cert: CertPair = make_self_signed(self.state_dir / "tls")
        self.app = app or make_connected_app(self.state_dir / "oauth", self.org.profile.username)
        # The deploy user's own connected app: the integration user's key cannot log in as it.
        self.deploy_app = make_connected_app(self.state_dir / "oauth",
                                             self.org.profile.deploy_username, "deploy-app")
        self.sessions = Sessions(self.org.profile.org_id)
        self.faults = FaultPlan()
        self.counters: Counter[str] = Counter()
        self.token_hosts: Counter[str] = Counter()  # the Host of each token request
        self.api_calls = 0
        self._count_lock = threading.Lock()
        self.rest = RestApi(self.org, api_usage=self.api_usage)
        self.bulk = BulkIngest(self.org, lambda: self.faults, processing_delay_s=bulk_delay_s)
        self.metadata = MetadataApi(self.org, lambda: self.faults, now=self.now,
                                    deploy_delay_s=deploy_delay_s)
        self.router = Router()
        self.rest.register(self.router)
        self.bulk.register(self.router)
        self.bulk_query = BulkQuery(self.org)
        self.bulk_query.register(self.router)
        self._register_own_routes()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._proxy: ConnectProxy | None = None
        # Off: the org's legacy hostnames are disabled, and a JWT must name its My Domain.
        self.legacy_hostnames = True

    # -- lifecycle -------------------------------------------------------------------------
    def now(self) -> datetime:
        """The org's clock (wall clock plus the admin-set offset)."""
        return datetime.now(UTC) + self.clock_offset

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        assert self._httpd is not None, "not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """https://127.0.0.1:PORT: both the login and the instance URL of this org."""
        return f"https://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The certificate clients must trust (REQUESTS_CA_BUNDLE or a session's verify)."""
        return self.cert.cert_file

    def start(self) -> SalesforceStandIn:
        """Bind and serve on a background thread."""
        ctx = self.cert.server_context()
        handler = _make_handler(self)
        httpd = _TLSServer((self.host, self.requested_port), handler, ctx)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="sf-standin")
        self._thread.start()
        wait_until_ready(f"{self.url}/services/data/", name="Salesforce stand-in",
                         verify=str(self.ca_file))
        self._proxy = ConnectProxy((self.host, self.port), host=self.host).start()
        return self

    @property
    def proxy_url(self) -> str:
        """HTTPS_PROXY for reaching this org by its Salesforce host names (My Domain, login,
        test): see devenv/salesforce/proxy.py."""
        assert self._proxy is not None, "not started"
        return self._proxy.url

    @property
    def my_domain_url(self) -> str:
        """https://<My Domain>: the org's login URL as a real org has it (through the proxy)."""
        return f"https://{self.org.profile.my_domain_host}"

    @property
    def tunnels(self) -> list[str]:
        """host:port of every connection made through the proxy."""
        return self._proxy.tunnels if self._proxy else []

    def audiences(self) -> tuple[str, ...]:
        """The JWT audiences this org accepts now."""
        own = (self.my_domain_url,)
        return own if not self.legacy_hostnames else (*AUDIENCES, *own)

    def stop(self) -> None:
        """Stop serving and wait for background jobs."""
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self.bulk.join(5)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> SalesforceStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------
    def reset(self, profile: OrgProfile | None = None, *, sessions: bool = False) -> None:
        """A fresh Billing org (the start-up profile unless another is given); counters and
        faults cleared; sessions kept unless asked."""
        self.bulk.reset()
        self.bulk_query.reset()
        self.metadata.reset()
        self.rest.cursors.clear()
        self.org.profile = profile or self.base_profile
        self.org.reset()
        self.faults = FaultPlan()
        self.clock_offset = timedelta()
        self.legacy_hostnames = True
        with self._count_lock:
            self.counters.clear()
            self.token_hosts.clear()
            self.api_calls = 0
        if sessions:
            self.sessions.expire_all()

    def api_usage(self) -> tuple[int, int]:
        """(calls counted against DailyApiRequests, the org's daily limit)."""
        return self.api_calls, self.org.profile.daily_api_limit

    def counters_json(self) -> dict[str, Any]:
        """Calls per route and per category (what benchmarks and tests assert on)."""
        with self._count_lock:
            routes = dict(self.counters)
            api = self.api_calls
            hosts = dict(self.token_hosts)
        cats: Counter[str] = Counter()
        for name, n in routes.items():
            cats[name.split(".", 1)[0]] += n
        return {"routes": routes, "categories": dict(cats), "api_requests": api,
                "token_hosts": hosts}

    def info(self) -> dict[str, Any]:
        """Everything a client needs to connect (also printed by `sfbilling local up`)."""
        return {
            "instance_url": self.url, "login_url": self.url,
            "ca_file": str(self.ca_file.resolve()),
            "username": self.app.username, "password": self.app.password,
            "consumer_key": self.app.consumer_key, "consumer_secret": self.app.consumer_secret,
            "private_key_file": str(self.app.private_key_file.resolve())
            if self.app.private_key_file else "",
            "org_id": self.org.profile.org_id, "admin_url": self.url + "/_admin",
            "my_domain_url": self.my_domain_url, "proxy_url": self.proxy_url,
            "deploy": {"username": self.deploy_app.username,
                       "consumer_key": self.deploy_app.consumer_key,
                       "consumer_secret": self.deploy_app.consumer_secret,
                       "private_key_file": str(self.deploy_app.private_key_file.resolve())
                       if self.deploy_app.private_key_file else ""},
        }

    # -- routes that need the whole stand-in -----------------------------------------------
    def _register_own_routes(self) -> None:
        r = self.router
        r.add("POST", r"/services/oauth2/token", "auth.token", self._token)
        r.add("GET", r"/services/oauth2/userinfo", "auth.userinfo", self._userinfo)
        r.add("POST", r"/services/Soap/u/(?P<ver>\d+\.\d)(?:/[\w]+)?", "auth.soap_login",
              self._soap_login)
        r.add("POST", r"/services/Soap/m/(?P<ver>\d+\.\d)(?:/[\w]+)?(?:/deployRequest)?"
              r"(?:/(?P<async_id>\w+))?", "soap.metadata", self._soap)
        r.add("POST", r"/_admin/reset", "admin.reset", self._admin_reset)
        r.add("POST", r"/_admin/seed", "admin.seed", self._admin_seed)
        r.add("POST", r"/_admin/generate", "admin.generate", self._admin_generate)
        r.add("GET", r"/_admin/records/(?P<obj>\w+)", "admin.records", self._admin_records)
        r.add("GET", r"/_admin/counters", "admin.counters",
              lambda _req: json_response(200, self.counters_json()))
        r.add("POST", r"/_admin/counters/reset", "admin.counters", self._admin_counters_reset)
        r.add("GET", r"/_admin/faults", "admin.faults",
              lambda _req: json_response(200, self.faults.to_json()))
        r.add("PUT", r"/_admin/faults", "admin.faults", self._admin_faults)
        r.add("DELETE", r"/_admin/faults", "admin.faults", self._admin_faults_clear)
        r.add("POST", r"/_admin/sessions/expire", "admin.sessions", self._admin_expire)
        r.add("POST", r"/_admin/clock", "admin.clock", self._admin_clock)
        r.add("POST", r"/_admin/login-hosts", "admin.login_hosts", self._admin_login_hosts)
        r.add("POST", r"/_admin/api-usage", "admin.api_usage", self._admin_api_usage)
        r.add("POST", r"/_admin/duplicate-rule", "admin.duplicate_rule",
              self._admin_duplicate_rule)
        r.add("GET", r"/_admin/info", "admin.info", lambda _req: json_response(200, self.info()))

    def _token(self, req: Request) -> Response:
        # Reached by a Salesforce host name (through the proxy), the org answers as a real one
        # does: its API lives at its My Domain. Reached by address, at its address.
        host = (req.header("host") or "").partition(":")[0]
        with self._count_lock:
            self.token_hosts[host] += 1
        instance = self.my_domain_url if host.endswith(SALESFORCE_SUFFIX) else self.url
        try:
            body = TokenEndpoint((self.app, self.deploy_app), self.sessions,
                                 self.org.profile.org_id, self.org.user_ids,
                                 audiences=self.audiences(),
                                 ).token(req.form(), req.header("authorization"), instance)
        except OAuthError as err:
            return json_response(err.status, {"error": err.error,
                                              "error_description": err.description})
        return json_response(200, body)

    def _userinfo(self, req: Request) -> Response:
        """OpenID Connect UserInfo: who the access token belongs to (the Salesforce CLI asks
        after every access-token login, then reads sobjects/User/{user_id})."""
        try:
            username = self.sessions.check(req.bearer, expire_after_calls=None)
        except SalesforceError:
            return Response(403, b"Bad_OAuth_Token", "text/plain")
        org_id, user_id = self.org.profile.org_id, self.org.user_ids.get(username, "")
        version = f"{API_VERSIONS[1]}.0"
        base = f"{self.url}/services/data/v{version}"
        return json_response(200, {
            "sub": f"{self.url}/id/{org_id}/{user_id}", "user_id": user_id,
            "organization_id": org_id, "preferred_username": username,
            "nickname": username.split("@")[0], "name": username.split("@")[0].title(),
            "email": username, "email_verified": True,
            "given_name": username.split("@")[0].title(),
            "family_name": "User", "zoneinfo": "Europe/London", "locale": "en_GB",
            "language": "en_US", "active": True, "user_type": "STANDARD",
            "is_app_installed": True, "utcOffset": 0,
            "profile": f"{self.url}/{user_id}",
            "updated_at": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "urls": {"enterprise": f"{self.url}/services/Soap/c/{version}/{org_id}",
                     "metadata": f"{self.url}/services/Soap/m/{version}/{org_id}",
                     "partner": f"{self.url}/services/Soap/u/{version}/{org_id}",
                     "rest": f"{base}/", "sobjects": f"{base}/sobjects/",
                     "search": f"{base}/search/", "query": f"{base}/query/",
                     "profile": f"{self.url}/{user_id}"}})

    def _soap_login(self, req: Request) -> Response:
        endpoint = TokenEndpoint((self.app, self.deploy_app), self.sessions,
                                 self.org.profile.org_id, self.org.user_ids)
        try:
            xml = endpoint.soap_login(req.body.decode("utf-8", "replace"), self.url, req.version)
        except OAuthError as err:
            return Response(500, SoapFaultError("INVALID_LOGIN", err.description).xml(), "text/xml")
        return Response(200, xml.encode(), "text/xml; charset=utf-8")

    def _soap(self, req: Request) -> Response:
        op_name, op = self.metadata.operation(req.body)
        return Response(200, self.metadata.handle(op_name, op), "text/xml; charset=utf-8")

    def _admin_login_hosts(self, req: Request) -> Response:
        """{"legacy_hostnames": false}: the org's legacy hostnames off, so only its My Domain
        is a JWT audience it accepts (until the next reset)."""
        body = req.json() or {}
        value = body.get("legacy_hostnames")
        if not isinstance(value, bool):
            return json_response(400, {"error": "legacy_hostnames must be true or false"})
        self.legacy_hostnames = value
        return json_response(200, {"legacy_hostnames": value, "audiences": self.audiences()})

    def _admin_reset(self, req: Request) -> Response:
        body = req.json() or {}
        try:
            profile = profile_from_json(body["profile"]) if "profile" in body else None
        except (TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        self.reset(profile, sessions=bool(body.get("sessions", False)))
        return json_response(200, {"ok": True})

    def _admin_seed(self, req: Request) -> Response:
        body = req.json() or {}
        results: list[dict[str, Any]] = []
        failed = False
        for item in body.get("records", []):
            try:
                rid = self.org.insert(str(item["type"]), dict(item.get("fields", {})))
                results.append({"id": rid, "success": True})
            except RecordError as err:
                failed = True
                results.append({"id": None, "success": False,
                                "errors": [e.to_rest() for e in err.errors]})
        return json_response(400 if failed else 200, {"results": results})

    def _admin_generate(self, req: Request) -> Response:
        """Many records at once, made in-process (benchmarks of large orgs): `count` parents of
        `parent.type`, each with `per_parent` children of `child.type` linked through
        `child.link`; `{i}` in a field value is the parent's number, `{j}` the child's."""
        body = req.json() or {}
        parent, child = body["parent"], body.get("child")
        made = {"parents": 0, "children": 0}
        j = 0
        for i in range(int(parent["count"])):
            pid = self.org.insert(str(parent["type"]), {
                k: v.format(i=i) if isinstance(v, str) else v
                for k, v in parent.get("fields", {}).items()})
            made["parents"] += 1
            for _ in range(int(child["per_parent"]) if child else 0):
                assert child is not None
                self.org.insert(str(child["type"]), {
                    **{k: v.format(i=i, j=j) if isinstance(v, str) else v
                       for k, v in child.get("fields", {}).items()}, str(child["link"]): pid})
                made["children"] += 1
                j += 1
        return json_response(200, made)

    def _admin_records(self, req: Request) -> Response:
        try:
            with self.org.lock:
                rows = [dict(r) for r in self.org.all(
                    req.params["obj"], include_deleted=req.arg("deleted") == "true")]
        except RecordError as err:
            return record_error_response(err)
        return json_response(200, {"records": rows})

    def _admin_counters_reset(self, req: Request) -> Response:
        del req
        with self._count_lock:
            self.counters.clear()
            self.token_hosts.clear()
            self.api_calls = 0
        return json_response(200, {"ok": True})

    def _admin_duplicate_rule(self, req: Request) -> Response:
        """Switch the org's Account duplicate rule: {"active": bool, "action": alert|block}."""
        try:
            self.org.duplicate_rule = DuplicateRule.from_json(req.json() or {})
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
        rule = self.org.duplicate_rule
        return json_response(200, {"active": rule.active, "action": rule.action})

    def _admin_api_usage(self, req: Request) -> Response:
        """Set the org's daily API usage (`used`: the org's other integrations' share of the
        rolling 24 hours) and, optionally, its `limit`."""
        body = req.json() or {}
        used, limit = body.get("used"), body.get("limit")
        if not isinstance(used, int) or used < 0 or (
                limit is not None and (not isinstance(limit, int) or limit < 1)):
            return json_response(400, {"error": "expected {\"used\": int >= 0, \"limit\": "
                                                "int >= 1 (optional)}"})
        with self._count_lock:
            self.api_calls = used
            if limit is not None:
                self.org.profile = dataclasses.replace(self.org.profile,
                                                        daily_api_limit=limit)
        used, limit = self.api_usage()
        return json_response(200, {"used": used, "limit": limit})

    def _admin_faults(self, req: Request) -> Response:
        try:
            self.faults = FaultPlan.from_json(req.json() or {})
        except (FaultConfigError, TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, self.faults.to_json())

    def _admin_faults_clear(self, req: Request) -> Response:
        del req
        self.faults = FaultPlan()
        return json_response(200, self.faults.to_json())

    def _admin_expire(self, req: Request) -> Response:
        del req
        self.sessions.expire_all()
        return json_response(200, {"ok": True})

    def _admin_clock(self, req: Request) -> Response:
        body = req.json() or {}
        self.clock_offset += timedelta(seconds=float(body.get("advance_s", 0)))
        return json_response(200, {"now": self.now().isoformat()})

    # -- the request pipeline --------------------------------------------------------------
    def dispatch(self, method: str, raw_path: str, headers: Mapping[str, str],
                 body: bytes) -> Response:
        """Route one request through faults, auth, limits and the handler."""
        if len(raw_path.encode()) > MAX_URI_BYTES:
            return Response(414, b"414 URI Too Long", "text/plain")
        parts = urlsplit(raw_path)
        match = self.router.match(method, parts.path)
        if match is None:
            return error_response(SalesforceError.of(404, codes.NOT_FOUND,
                                                     "The requested resource does not exist"))
        if match is False:
            return error_response(SalesforceError.of(
                405, codes.METHOD_NOT_ALLOWED, f"HTTP Method '{method}' not allowed. Allowed are "
                "GET,PATCH,POST,PUT,DELETE as appropriate for the resource"))
        assert not isinstance(match, bool)
        route, params = match
        req = Request(method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                      headers, body, params, params.get("ver", "59.0"))
        category = route.name.split(".", 1)[0]
        if category == "admin":
            return self._run(route.handler, req, soap=False)
        with self._count_lock:
            self.counters[route.name] += 1
            if category in ("rest", "bulk", "soap"):
                self.api_calls += 1
        soap = category == "soap"
        decision = self.faults.decide(route.name)
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.error:
            return self._fault_response(decision.error, soap=soap)
        if "ver" in params:
            major = int(float(params["ver"]))
            if not API_VERSIONS[0] <= major <= API_VERSIONS[1]:
                return error_response(SalesforceError.of(404, codes.NOT_FOUND,
                                                         "The requested resource does not exist"))
        if category in ("rest", "bulk", "soap") and route.name != "rest.versions":
            token = req.bearer or (self.metadata.session_id(body) if soap else None)
            try:
                user = self.sessions.check(
                    token, expire_after_calls=self.faults.session_expires_after_calls)
            except SalesforceError as err:
                if soap:
                    return Response(500, SoapFaultError(
                        codes.INVALID_SESSION_ID, "Invalid Session ID found in SessionHeader: "
                        "Illegal Session").xml(), "text/xml")
                return error_response(err)
            used, limit = self.api_usage()
            if used > limit:
                # The daily allocation: refused until the rolling 24 hours bring usage down.
                return self._limit_info(self._daily_limit_response(soap=soap), category)
            restricted = user == self.app.username
            if soap and restricted:
                # Salesforce's answer to any Metadata API call by a user without Modify All
                # Data or Modify Metadata: the integration user holds only its permission set.
                return Response(500, SoapFaultError(
                    codes.INSUFFICIENT_ACCESS, "use of the Metadata API requires a user with the "
                    "ModifyAllData or ModifyMetadata permissions",
                ).xml(), "text/xml")
            allowed = duplicates.allow_save(headers.items())
            with self.org.acting_as(restricted=restricted), self.org.duplicate_header(allowed):
                resp = self._run(route.handler, req, soap=soap)
        else:
            resp = self._run(route.handler, req, soap=soap)
        return self._limit_info(resp, category)

    def _limit_info(self, resp: Response, category: str) -> Response:
        """Salesforce's usage header on REST and Bulk answers (refusals too: usage may read
        above the limit), with the per-app figure a connected app with its own allocation
        adds."""
        if category in ("rest", "bulk"):
            used, limit = self.api_usage()
            resp.headers["Sforce-Limit-Info"] = (
                f"api-usage={used}/{limit}; per-app-api-usage={used}/{limit}"
                "(appName=sfbilling-integration)")
        return resp

    @staticmethod
    def _daily_limit_response(*, soap: bool) -> Response:
        if soap:
            return Response(500, SoapFaultError(codes.REQUEST_LIMIT_EXCEEDED,
                                                "TotalRequests Limit exceeded.").xml(),
                            "text/xml")
        return json_response(403, [{"message": "TotalRequests Limit exceeded.",
                                    "errorCode": codes.REQUEST_LIMIT_EXCEEDED}])

    def _fault_response(self, error: str, *, soap: bool) -> Response:
        if error == "503":
            return json_response(503, [{"message": "Server unavailable",
                                        "errorCode": codes.SERVER_UNAVAILABLE}])
        if error == "REQUEST_LIMIT_EXCEEDED":
            # The concurrent long-request limit (25 at once in production): gone in seconds.
            # The daily allocation's refusal comes from the usage counter, not from faults.
            message = "ConcurrentPerOrgLongTxn Limit exceeded."
            if soap:
                return Response(500, SoapFaultError(codes.REQUEST_LIMIT_EXCEEDED,
                                                    message).xml(), "text/xml")
            return json_response(403, [{"message": message,
                                        "errorCode": codes.REQUEST_LIMIT_EXCEEDED}])
        if soap:
            return Response(500, SoapFaultError(codes.INVALID_SESSION_ID,
                                           "Invalid Session ID found in SessionHeader: Illegal "
                                           "Session").xml(), "text/xml")
        return json_response(401, [{"message": "Session expired or invalid",
                                    "errorCode": codes.INVALID_SESSION_ID}])

    def _run(self, handler: Any, req: Request, *, soap: bool) -> Response:
        try:
            resp: Response = handler(req)
        except SoapFaultError as fault:
            return Response(500, fault.xml(), "text/xml")
        except SalesforceError as err:
            return error_response(err)
        except RecordError as err:
            return record_error_response(err)
        except Exception:  # noqa: BLE001 - a stand-in bug must answer 500, not hang
            log.error("stand-in error on %s %s\n%s", req.method, req.path,
                      traceback.format_exc())
            if soap:
                return Response(500, SoapFaultError("UNKNOWN_EXCEPTION", "stand-in error").xml(),
                                "text/xml")
            return json_response(500, [{"message": "An unexpected error occurred",
                                        "errorCode": "UNKNOWN_EXCEPTION"}])
        return resp


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        super().__init__(addr, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs on the handler thread, so one slow client can't stall accept().
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def _make_handler(standin: SalesforceStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SalesforceStandIn/1.0"
        sys_version = ""

        def setup(self) -> None:
            conn = self.request
            assert isinstance(conn, ssl.SSLSocket)
            conn.settimeout(60)
            try:
                conn.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
            super().setup()

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def _body(self) -> bytes:
            # The Salesforce CLI streams uploads (Bulk API CSV, the JWT token POST) chunked;
            # a body left unread would also corrupt the next request on this connection.
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return read_chunked(self.rfile)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            resp = standin.dispatch(self.command, self.path, headers, body)
            self.send_response(resp.status)
            if resp.body or resp.status not in (204, 304):
                self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if resp.body:
                self.wfile.write(resp.body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - stdlib names

    return Handler


def serve_forever(port: int, state_dir: Path | None, json_file: Path | None) -> None:
    """Run a stand-in until interrupted (the `python -m devenv.salesforce` entry point)."""
    standin = SalesforceStandIn(port=port, state_dir=state_dir).start()
    info = standin.info()
    if json_file:
        json_file.write_text(json.dumps(info, indent=2))
    # One line: launchers read the first line of stdout as the announcement.
    print(json.dumps(info), flush=True)  # noqa: T201 - announcing the endpoint is the job
    try:
        wait_for_signal()
    finally:
        standin.stop()
