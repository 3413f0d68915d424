"""Faults on demand in the Salesforce stand-in: latency, 503, REQUEST_LIMIT_EXCEEDED,
INVALID_SESSION_ID, by route or category, deterministic by seed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceError

from tests.conftest import errors_of

if TYPE_CHECKING:

    from devenv.salesforce import SalesforceStandIn
    from tests.conftest import SF


def _faults(admin: requests.Session, plan: dict[str, Any]) -> requests.Response:
    return admin.put(admin.base + "/faults", json=plan)  # type: ignore[attr-defined]


def _outcomes(sf: SF, n: int) -> list[int]:
    out = []
    for _ in range(n):
        try:
            sf.query("SELECT Id FROM Account")
            out.append(200)
        except SalesforceError as exc:
            out.append(exc.status)
    return out


def test_503_on_a_fraction_of_calls_is_deterministic(sf: SF, admin: requests.Session,
                                                     salesforce: SalesforceStandIn) -> None:
    plan = {"seed": 42, "rules": [{"route": "rest.query", "error": "503", "rate": 0.3}]}
    _faults(admin, plan).raise_for_status()
    first = _outcomes(sf, 40)
    assert 4 <= first.count(503) <= 20
    assert set(first) == {200, 503}
    _faults(admin, plan).raise_for_status()  # same plan again: same calls fail
    assert _outcomes(sf, 40) == first
    del salesforce


def test_times_caps_a_rule(sf: SF, admin: requests.Session) -> None:
    _faults(admin, {"rules": [{"route": "rest", "error": "REQUEST_LIMIT_EXCEEDED",
                               "times": 2}]}).raise_for_status()
    assert _outcomes(sf, 4) == [403, 403, 200, 200]


def test_request_limit_exceeded_shape(sf: SF, admin: requests.Session) -> None:
    _faults(admin, {"rules": [{"route": "*", "error": "REQUEST_LIMIT_EXCEEDED"}]})
    with pytest.raises(SalesforceError) as exc:
        sf.Account.create({"Name": "A"})
    assert exc.value.status == 403
    # The concurrent-request limit (the daily one comes from the usage counter).
    assert errors_of(exc.value) == [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                                  "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_invalid_session_fault(sf: SF, admin: requests.Session) -> None:
    _faults(admin, {"rules": [{"route": "rest.describe", "error": "INVALID_SESSION_ID",
                               "times": 1}]})
    with pytest.raises(SalesforceError) as exc:
        sf.Account.describe()
    assert exc.value.status == 401
    assert sf.Account.describe()["name"] == "Account"


def test_latency_applies_only_to_its_route(sf: SF, admin: requests.Session) -> None:
    _faults(admin, {"rules": [{"route": "rest.query", "latency_ms": 150}]})
    t = time.monotonic()
    sf.query("SELECT Id FROM Account")
    slow = time.monotonic() - t
    t = time.monotonic()
    sf.Account.describe()
    fast = time.monotonic() - t
    assert slow >= 0.15
    assert fast < slow


def test_bad_fault_plan_is_rejected_with_reasons(admin: requests.Session) -> None:
    r = _faults(admin, {"rules": [{"route": "rest", "error": "418", "rate": 2}],
                        "bogus": 1})
    assert r.status_code == 400
    message = r.json()["error"]
    assert "unknown key 'bogus'" in message
    assert "rules[0].error must be one of" in message
    assert "rules[0].rate must be within 0..1" in message


def test_faults_are_listed_and_cleared(admin: requests.Session) -> None:
    _faults(admin, {"rules": [{"route": "bulk", "latency_ms": 5}]})
    assert admin.get(admin.base + "/faults").json()["rules"][0]["route"] == "bulk"  # type: ignore[attr-defined]
    admin.delete(admin.base + "/faults")  # type: ignore[attr-defined]
    assert admin.get(admin.base + "/faults").json()["rules"] == []  # type: ignore[attr-defined]


def test_unknown_route_and_method(salesforce: SalesforceStandIn, sf: SF) -> None:
    h = {"Authorization": f"Bearer {sf.session_id}"}
    r = requests.get(salesforce.url + "/services/data/v59.0/nothing", headers=h, timeout=10)
    assert (r.status_code, r.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    r = requests.put(salesforce.url + "/services/data/v59.0/query", headers=h, timeout=10)
    assert (r.status_code, r.json()[0]["errorCode"]) == (405, "METHOD_NOT_ALLOWED")
    r = requests.get(salesforce.url + "/services/data/v12.0/limits", headers=h, timeout=10)
    assert r.status_code == 404
