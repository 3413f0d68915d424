"""Where a Salesforce login goes, and which audience its JWT names (pure).

Two settings, two questions. `salesforceLoginUrl` is where the token request goes: the org's My
Domain (or login/test.salesforce.com, or a proxy). `salesforceJwtAudience` is the JWT's `aud`:
connected apps have long accepted only https://login.salesforce.com (production) or
https://test.salesforce.com (sandboxes), while External Client Apps on orgs without the legacy
hostnames accept only the My Domain URL. Neither can be guessed from the other, so the
audience is a setting, with a default by environment kind.

simple-salesforce builds both as `https://{domain}.salesforce.com`: `domain` (the audience)
and `instance_url` (the token host) are what this module returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

SALESFORCE_SUFFIX: Final = ".salesforce.com"
MY_DOMAIN_SUFFIX: Final = ".my.salesforce.com"
AUDIENCE_KEY: Final = "sfbilling:salesforceJwtAudience"
LOGIN_URL_KEY: Final = "sfbilling:salesforceLoginUrl"


def default_audience(environment_kind: str) -> str:
    """A sandbox's connected app expects test.salesforce.com; production (and the local
    stand-in) login.salesforce.com."""
    return "test" if environment_kind == "sandbox" else "login"


def salesforce_prefix(url: str) -> str | None:
    """`acme.my` for https://acme.my.salesforce.com; None for a host outside salesforce.com
    (a proxy or the local stand-in, reached through the redirecting session)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[: -len(SALESFORCE_SUFFIX)] if host.endswith(SALESFORCE_SUFFIX) else None


def audience_problem(audience: str, login_url: str) -> str | None:
    """Why `audience` cannot be used with `login_url` (None when it can)."""
    if audience != "mydomain":
        return None
    host = (urlsplit(login_url).hostname or "").lower()
    if host.endswith(MY_DOMAIN_SUFFIX):
        return None
    return (f"{AUDIENCE_KEY} is mydomain, but {LOGIN_URL_KEY} ({login_url}) is not a My Domain "
            "URL (https://NAME.my.salesforce.com): set the login URL to the org's My Domain, "
            "or the audience to the My Domain's URL")


@dataclass(frozen=True, slots=True)
class LoginHosts:
    """simple-salesforce's two domain arguments for one login."""

    audience_domain: str  # `domain`: the JWT aud is https://{audience_domain}.salesforce.com
    token_domain: str | None  # `instance_url`: None = not a Salesforce host (redirected)

    @property
    def audience_url(self) -> str:
        """The JWT `aud` exactly as sent."""
        return f"https://{self.audience_domain}{SALESFORCE_SUFFIX}"


def login_hosts(login_url: str, audience: str) -> LoginHosts:
    """The domains of one login (ValueError when `audience_problem` has a reason)."""
    problem = audience_problem(audience, login_url)
    if problem:
        raise ValueError(problem)
    token = salesforce_prefix(login_url)
    if audience in ("login", "test"):
        aud = audience
    elif audience == "mydomain":
        aud = str(token)
    else:
        aud = str(salesforce_prefix(audience))
    return LoginHosts(aud, token)
