"""The daily API usage header and the budget (pure)."""

from __future__ import annotations

import pytest

from sync_lambda.api_usage import ApiBudget, ApiUsage, is_daily_limit, parse_limit_info


@pytest.mark.parametrize(("header", "expected"), [
    ("api-usage=18/15000", ApiUsage(18, 15000)),
    ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
     ApiUsage(25, 5000)),
    # The per-app figure first, or alone, is not the org's.
    ("per-app-api-usage=17/250(appName=x); api-usage=30/5000", ApiUsage(30, 5000)),
    ("per-app-api-usage=17/250(appName=x)", None),
    ("api-usage=115003/115000", ApiUsage(115003, 115000)),  # above the limit: real
    ("api-usage = 1 / 2", ApiUsage(1, 2)),
    ("", None), (None, None), ("api-usage=x/y", None),
])
def test_parse_limit_info(header: str | None, expected: ApiUsage | None) -> None:
    assert parse_limit_info(header) == expected


def test_share_and_budget() -> None:
    assert ApiUsage(115003, 115000).share > 1
    assert ApiUsage(5, 0).share == 1.0
    budget = ApiBudget(0.8)
    assert not budget.spent(None)
    assert not budget.spent(ApiUsage(79, 100))
    assert budget.spent(ApiUsage(80, 100))
    assert budget.spent(ApiUsage(120, 100))
    assert ApiUsage(1, 4).to_dict() == {"used": 1, "limit": 4, "share": 0.25}
    assert ApiUsage(1, 3).to_dict()["share"] == 0.3333


def test_daily_and_concurrent_limits_are_told_apart() -> None:
    assert is_daily_limit("[{'message': 'TotalRequests Limit exceeded.', "
                          "'errorCode': 'REQUEST_LIMIT_EXCEEDED'}]")
    assert not is_daily_limit("ConcurrentPerOrgLongTxn Limit exceeded.")
    assert not is_daily_limit("ConcurrentRequests Limit exceeded.")
