"""Client-side helper for pointing simple-salesforce's login flows at the stand-in."""

from __future__ import annotations

import requests

from sync_lambda.adapters.salesforce_login import LoginHostAdapter


def redirecting_session(standin_url: str) -> requests.Session:
    """A requests session whose `*.salesforce.com` calls land on `standin_url` (the product's
    own login adapter, so tests exercise the same code the import uses)."""
    session = requests.Session()
    session.mount("https://", LoginHostAdapter(standin_url))
    return session
