"""Logging in as a real org is reached: through its My Domain URL, with the JWT audience the
org's connected app expects (`salesforceJwtAudience`), against the stand-in's My Domain host
(reached through its CONNECT proxy, so the client's code path and TLS checks are
production's own)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
import requests

from sync_lambda.adapters.salesforce_connection import SalesforceConnection, SalesforceCredentials
from sync_lambda.errors import ConfigError, FatalSyncError
from sync_lambda.settings import Secrets, Settings

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn


@pytest.fixture
def my_domain(salesforce: SalesforceStandIn, monkeypatch: pytest.MonkeyPatch) -> str:
    """The stand-in's My Domain URL (of its start-up profile), reachable as in production:
    through an HTTPS proxy."""
    monkeypatch.setenv("HTTPS_PROXY", salesforce.proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return salesforce.my_domain_url


def _org(salesforce: SalesforceStandIn, kind: str, *, legacy_hostnames: bool) -> None:
    salesforce.reset(replace(salesforce.base_profile, is_sandbox=kind == "sandbox"))
    requests.post(salesforce.url + "/_admin/login-hosts", timeout=10,
                  json={"legacy_hostnames": legacy_hostnames}).raise_for_status()


def _credentials(salesforce: SalesforceStandIn, login_url: str, kind: str,
                 audience: str | None) -> SalesforceCredentials:
    """The import's credentials, built as the Lambda builds them: from its variables."""
    assert salesforce.app.private_key_file is not None
    settings = Settings.from_env({
        "SFB_ENVIRONMENT_KIND": kind, "SFB_SF_LOGIN_URL": login_url,
        "SFB_SF_USERNAME": salesforce.app.username,
        "SFB_SF_CONSUMER_KEY": salesforce.app.consumer_key, "SFB_TABLE_NAME": "t",
        **({"SFB_SF_JWT_AUDIENCE": audience} if audience else {})})
    return SalesforceCredentials.of(settings, Secrets(
        "rk_test_x", salesforce_private_key=salesforce.app.private_key_file.read_text()))


@pytest.mark.parametrize("kind", ["sandbox", "production"])
@pytest.mark.parametrize(("legacy_hostnames", "audience"), [
    pytest.param(True, None, id="legacy-hostnames-on-default-audience"),
    pytest.param(False, "mydomain", id="legacy-hostnames-off-mydomain"),
])
def test_a_login_through_the_my_domain_url(salesforce: SalesforceStandIn, my_domain: str,
                                           kind: str, legacy_hostnames: bool,
                                           audience: str | None) -> None:
    # GIVEN an org reached by its My Domain, with or without its legacy hostnames
    _org(salesforce, kind, legacy_hostnames=legacy_hostnames)
    # WHEN the import logs in with the login URL the stack files ask for
    connection = SalesforceConnection(_credentials(salesforce, salesforce.my_domain_url, kind,
                                                   audience))
    rows = connection.query("SELECT Id, IsSandbox FROM Organization")
    # THEN the token request went to the My Domain (through TLS checked for that name), and
    # the API calls to the instance the token response named
    assert rows[0]["IsSandbox"] is (kind == "sandbox")
    host = salesforce.my_domain_url.removeprefix("https://")
    assert salesforce.token_hosts == {host: 1}
    assert f"{host}:443" in salesforce.tunnels


@pytest.mark.parametrize(("kind", "expected"), [("sandbox", "https://test.salesforce.com"),
                                                ("production", "https://login.salesforce.com")])
def test_the_default_audience_follows_the_environment_kind(
        salesforce: SalesforceStandIn, my_domain: str, kind: str, expected: str) -> None:
    # GIVEN an org whose legacy hostnames are off: it accepts only its My Domain as audience
    _org(salesforce, kind, legacy_hostnames=False)
    connection = SalesforceConnection(_credentials(salesforce, salesforce.my_domain_url, kind,
                                                   None))
    # WHEN the import logs in with the default audience THEN the refusal names the audience
    # sent and the key to change
    with pytest.raises(FatalSyncError) as exc:
        connection.query("SELECT Id FROM Organization")
    message = str(exc.value)
    assert "audience is invalid" in message
    assert f"the JWT audience was {expected}" in message
    assert "sfbilling:salesforceJwtAudience" in message


def test_an_audience_of_another_org_is_refused(salesforce: SalesforceStandIn,
                                               my_domain: str) -> None:
    _org(salesforce, "sandbox", legacy_hostnames=True)
    connection = SalesforceConnection(_credentials(
        salesforce, my_domain, "sandbox", "https://someone-else.my.salesforce.com"))
    with pytest.raises(FatalSyncError, match="audience is invalid"):
        connection.query("SELECT Id FROM Organization")
    assert salesforce.token_hosts == {my_domain.removeprefix("https://"): 1}


def test_mydomain_needs_a_my_domain_login_url(salesforce: SalesforceStandIn) -> None:
    # A login URL that is no My Domain cannot give one: said before any network call.
    with pytest.raises(ConfigError, match=r"salesforceLoginUrl .* is not a My Domain URL"):
        _credentials(salesforce, "https://test.salesforce.com", "sandbox", "mydomain")
    assert salesforce.token_hosts == {}


def test_the_local_stand_in_by_address_still_logs_in(salesforce: SalesforceStandIn) -> None:
    # The local environment's login URL is the stand-in's address: redirected, audience login.
    connection = SalesforceConnection(_credentials(salesforce, salesforce.url, "local", None))
    assert connection.query("SELECT Id FROM Organization")
    assert salesforce.token_hosts == {"127.0.0.1": 1}
