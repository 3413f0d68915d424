"""OAuth 2.0 token endpoint (JWT bearer, client credentials, password) and session ids."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import unescape
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from devenv.salesforce import errors as codes
from devenv.salesforce.errors import SalesforceError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The audiences a connected app has long accepted for the JWT bearer flow (production and
# sandbox login); an org's own My Domain URL is accepted too, and is the only one once the
# org's legacy hostnames are off (External Client Apps, Spring '26).
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    """The connected app and integration user the stand-in accepts logins for."""

    consumer_key: str
    consumer_secret: str
    username: str
    password: str
    certificate_pem: bytes  # the app's digital certificate; JWT assertions must verify with it
    private_key_file: Path | None = None  # where the matching key lives (for clients)


def make_connected_app(directory: Path, username: str,
                       name: str = "connected-app") -> ConnectedApp:
    """A connected app with a fresh RS256 key pair, the key written to `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sfbilling-{name}")])
    now = time.time()
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.fromtimestamp(now - 300, dt.UTC))
        .not_valid_after(dt.datetime.fromtimestamp(now + 365 * 86400, dt.UTC))
        .sign(key, hashes.SHA256())
    )
    key_file = directory / f"{name}.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / f"{name}.crt").write_bytes(cert_pem)
    return ConnectedApp(
        consumer_key="3MVG9" + secrets.token_urlsafe(60).replace("-", "A").replace("_", "b"),
        consumer_secret=secrets.token_hex(32).upper(),
        username=username,
        password=secrets.token_urlsafe(12),
        certificate_pem=cert_pem,
        private_key_file=key_file,
    )


class OAuthError(Exception):
    """A failed token request, answered 400 with `{error, error_description}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(slots=True)
class _Session:
    issued: float
    username: str = ""
    calls: int = 0


@dataclass(slots=True)
class Sessions:
    """Issued session ids, their age and how many calls each has made."""

    org_id: str
    ttl_s: float = 7200.0
    _sessions: dict[str, _Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, username: str = "") -> str:
        """A new session id in Salesforce's `00D…!…` shape, for `username`."""
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(64)}"
        with self._lock:
            self._sessions[token] = _Session(time.monotonic(), username)
        return token

    def check(self, token: str | None, *, expire_after_calls: int | None) -> str:
        """Count one call on `token` and return its user, or raise 401 INVALID_SESSION_ID."""
        with self._lock:
            s = self._sessions.get(token or "")
            if s is not None and time.monotonic() - s.issued > self.ttl_s:
                del self._sessions[token or ""]
                s = None
            if s is not None:
                s.calls += 1
                if expire_after_calls is not None and s.calls > expire_after_calls:
                    del self._sessions[token or ""]
                    s = None
        if s is None:
            raise SalesforceError.of(401, codes.INVALID_SESSION_ID, "Session expired or invalid")
        return s.username

    def expire_all(self) -> None:
        """Invalidate every session (as a password reset or admin revoke would)."""
        with self._lock:
            self._sessions.clear()

    def count(self) -> int:
        """How many sessions are live."""
        with self._lock:
            return len(self._sessions)


class TokenEndpoint:
    """POST /services/oauth2/token for the grant types the product and its tests use.

    Each connected app has one pre-authorised user (its `username`): the JWT `sub`, and the
    client-credentials flow's run-as user. A session belongs to that user."""

    def __init__(self, apps: tuple[ConnectedApp, ...], sessions: Sessions, org_id: str,
                 user_ids: Mapping[str, str], *, audiences: tuple[str, ...] = AUDIENCES) -> None:
        self.apps = apps
        self.app = apps[0]
        self.audiences = audiences
        self.sessions = sessions
        self.org_id = org_id
        self.user_ids = user_ids

    def _app(self, consumer_key: str) -> ConnectedApp:
        for app in self.apps:
            if hmac.compare_digest(consumer_key, app.consumer_key):
                return app
        raise OAuthError("invalid_client_id", "client identifier invalid")

    def token(self, form: Mapping[str, str], authorization: str | None,
              instance_url: str) -> dict[str, object]:
        """Answer one token request (raises OAuthError)."""
        grant = form.get("grant_type", "")
        if grant == JWT_GRANT:
            app = self._check_jwt(form.get("assertion", ""))
        elif grant == "client_credentials":
            key, secret = self._client_credentials(form, authorization)
            app = self._app(key)
            if not hmac.compare_digest(secret, app.consumer_secret):
                raise OAuthError("invalid_client", "invalid client credentials")
        elif grant == "password":
            app = self._app(form.get("client_id", ""))
            if not hmac.compare_digest(form.get("client_secret", ""), app.consumer_secret):
                raise OAuthError("invalid_client", "invalid client credentials")
            if (form.get("username") != app.username
                    or form.get("password") != app.password):
                raise OAuthError("invalid_grant", "authentication failure")
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        return self._grant(instance_url, app.username)

    def _grant(self, instance_url: str, username: str) -> dict[str, object]:
        token = self.sessions.issue(username)
        issued = str(int(time.time() * 1000))
        sig = hmac.new(self.app.consumer_secret.encode(), (instance_url + issued).encode(),
                       hashlib.sha256).digest()
        return {
            "access_token": token,
            "scope": "api",
            "instance_url": instance_url,
            "id": f"{instance_url}/id/{self.org_id}/{self.user_ids.get(username, '')}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": base64.b64encode(sig).decode(),
        }

    def _client_credentials(self, form: Mapping[str, str],
                            authorization: str | None) -> tuple[str, str]:
        if authorization and authorization.startswith("Basic "):
            try:
                raw = base64.b64decode(authorization[6:]).decode()
            except ValueError:
                raise OAuthError("invalid_client", "invalid client credentials") from None
            key, _, secret = raw.partition(":")
            return key, secret
        return form.get("client_id", ""), form.get("client_secret", "")

    def _check_jwt(self, assertion: str) -> ConnectedApp:
        try:
            header = jwt.get_unverified_header(assertion)
            issuer = str(jwt.decode(assertion, options={"verify_signature": False}).get("iss"))
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion: algorithm must be RS256")
        app = self._app(issuer)
        public_key = x509.load_pem_x509_certificate(app.certificate_pem).public_key()
        try:
            claims = jwt.decode(
                assertion, public_key, algorithms=["RS256"],  # type: ignore[arg-type]
                audience=list(self.audiences),
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", "audience is invalid") from None
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", f"invalid assertion: {exc}") from None
        if claims["sub"] != app.username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return app

    def soap_login(self, body: str, server_base: str, version: str) -> str:
        """The partner SOAP `login` call (username + password[+token])."""
        username = _between(body, "username")
        password = _between(body, "password")
        app = next((a for a in self.apps if a.username == username), None)
        if app is None or password != app.password:
            raise OAuthError("INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, "
                             "security token; or user locked out.", status=500)
        token = self.sessions.issue(app.username)
        server_url = f"{server_base}/services/Soap/u/{version}/{self.org_id}"
        return (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
            f"<metadataServerUrl>{server_base}/services/Soap/m/{version}/{self.org_id}"
            "</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{escape(server_url)}</serverUrl><sessionId>{escape(token)}</sessionId>"
            f"<userId>{self.user_ids.get(app.username, '')}</userId></result></loginResponse>"
            "</soapenv:Body>"
            "</soapenv:Envelope>"
        )


def _between(body: str, tag: str) -> str:
    m = re.search(rf"<(?:\w+:)?{tag}>(.*?)</(?:\w+:)?{tag}>", body, re.DOTALL)
    return unescape(m.group(1)) if m else ""
