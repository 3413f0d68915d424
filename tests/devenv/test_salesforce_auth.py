"""OAuth flows and sessions of the Salesforce stand-in, through simple-salesforce's own login."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from devenv.salesforce.client import redirecting_session
from tests.conftest import SF, errors_of, session_id

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn


def _assertion(server: SalesforceStandIn, claims: dict[str, object] | None = None, *,
               key: bytes | None = None) -> str:
    body: dict[str, object] = {"iss": server.app.consumer_key, "sub": server.app.username,
            "aud": "https://login.salesforce.com", "exp": int(time.time()) + 180}
    body.update(claims or {})
    assert server.app.private_key_file is not None
    return jwt.encode(body, key or server.app.private_key_file.read_bytes(), algorithm="RS256")


def _token(server: SalesforceStandIn, **form: str) -> requests.Response:
    return requests.post(server.url + "/services/oauth2/token", data=form, timeout=10)


def test_jwt_bearer_through_simple_salesforce(salesforce: SalesforceStandIn) -> None:
    # GIVEN simple-salesforce's real JWT login code, its login host redirected to the stand-in
    assert salesforce.app.private_key_file is not None
    sf = Salesforce(username=salesforce.app.username, consumer_key=salesforce.app.consumer_key,
                    privatekey_file=str(salesforce.app.private_key_file), domain="login",
                    session=redirecting_session(salesforce.url), version="59.0")
    # THEN the token response's instance_url is used for the API calls that follow
    assert sf.sf_instance == salesforce.url.removeprefix("https://")
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0


def test_client_credentials_through_simple_salesforce(salesforce: SalesforceStandIn) -> None:
    sf = Salesforce(consumer_key=salesforce.app.consumer_key,
                    consumer_secret=salesforce.app.consumer_secret, domain="acme.my",
                    session=redirecting_session(salesforce.url), version="59.0")
    assert sf.query("SELECT COUNT() FROM blng__PaymentGateway__c")["totalSize"] == 1


def test_password_and_soap_login(salesforce: SalesforceStandIn) -> None:
    oauth = Salesforce(username=salesforce.app.username, password=salesforce.app.password,
                       consumer_key=salesforce.app.consumer_key,
                       consumer_secret=salesforce.app.consumer_secret,
                       session=redirecting_session(salesforce.url), version="59.0")
    soap = Salesforce(username=salesforce.app.username, password=salesforce.app.password,
                      security_token="", session=redirecting_session(salesforce.url),
                      version="59.0")
    for sf in (oauth, soap):
        assert sf.query("SELECT Id FROM Organization")["totalSize"] == 1
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(username=salesforce.app.username, password="wrong", security_token="",
                   session=redirecting_session(salesforce.url))


@pytest.mark.parametrize(("claims", "error", "description"), [
    pytest.param({"aud": "https://evil.example.com"}, "invalid_grant", "audience is invalid",
                 id="wrong-audience"),
    pytest.param({"exp": int(time.time()) - 10}, "invalid_grant", "expired authorization code",
                 id="expired"),
    pytest.param({"sub": "someone@else.example"}, "invalid_grant",
                 "user hasn't approved this consumer", id="unknown-user"),
    pytest.param({"iss": "3MVG9unknown"}, "invalid_client_id", "client identifier invalid",
                 id="unknown-consumer-key"),
])
def test_jwt_claims_are_checked(salesforce: SalesforceStandIn, claims: dict[str, object],
                                error: str, description: str) -> None:
    r = _token(salesforce, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
               assertion=_assertion(salesforce, claims))
    assert r.status_code == 400
    assert r.json() == {"error": error, "error_description": description}


def test_jwt_signed_with_another_key_is_refused(salesforce: SalesforceStandIn) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    r = _token(salesforce, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
               assertion=_assertion(salesforce, key=other))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert "Signature verification failed" in r.json()["error_description"]


def test_jwt_must_be_rs256(salesforce: SalesforceStandIn) -> None:
    token = jwt.encode({"iss": "x"}, "secret-key-long-enough-for-hs256-0123456789", "HS256")
    r = _token(salesforce, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
               assertion=token)
    assert r.json()["error_description"] == "invalid assertion: algorithm must be RS256"


def test_client_credentials_wrong_secret(salesforce: SalesforceStandIn) -> None:
    r = _token(salesforce, grant_type="client_credentials",
               client_id=salesforce.app.consumer_key, client_secret="nope")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_client")


def test_unknown_grant_type(salesforce: SalesforceStandIn) -> None:
    r = _token(salesforce, grant_type="authorization_code", code="x")
    assert r.json()["error"] == "unsupported_grant_type"


def test_token_response_shape(salesforce: SalesforceStandIn) -> None:
    body = _token(salesforce, grant_type="client_credentials",
                  client_id=salesforce.app.consumer_key,
                  client_secret=salesforce.app.consumer_secret).json()
    assert set(body) == {"access_token", "scope", "instance_url", "id", "token_type",
                         "issued_at", "signature"}
    assert body["instance_url"] == salesforce.url
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith(salesforce.org.profile.org_id[:15] + "!")


def test_unknown_session_is_401_invalid_session_id(salesforce: SalesforceStandIn) -> None:
    sf = Salesforce(session_id="00Dfake!token", instance_url=salesforce.url)
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.query("SELECT Id FROM Account")
    assert errors_of(exc.value)[0]["errorCode"] == "INVALID_SESSION_ID"


def test_session_expiry_after_n_calls_and_relogin(salesforce: SalesforceStandIn,
                                                  admin: requests.Session) -> None:
    # GIVEN sessions that die after 3 calls
    admin.put(admin.base + "/faults", json={"session_expires_after_calls": 3}).raise_for_status()  # type: ignore[attr-defined]
    token = session_id(salesforce)
    raw = Salesforce(session_id=token, instance_url=salesforce.url)
    for _ in range(3):
        raw.query("SELECT Id FROM Account")
    # THEN the 4th call with that session is refused
    with pytest.raises(SalesforceExpiredSession):
        raw.query("SELECT Id FROM Account")
    # AND a client that owns its login (client credentials) re-authenticates by itself
    sf = Salesforce(consumer_key=salesforce.app.consumer_key,
                    consumer_secret=salesforce.app.consumer_secret, domain="acme.my",
                    session=redirecting_session(salesforce.url))
    for _ in range(7):
        assert sf.query("SELECT Id FROM Account")["totalSize"] == 0


def test_admin_can_expire_every_session(sf: SF, admin: requests.Session) -> None:
    sf.query("SELECT Id FROM Account")
    admin.post(admin.base + "/sessions/expire").raise_for_status()  # type: ignore[attr-defined]
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")
