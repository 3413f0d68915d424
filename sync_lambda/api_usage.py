"""Salesforce's daily API request limit, as every response reports it. Pure.

Each REST and Bulk response carries `Sforce-Limit-Info: api-usage=used/limit`, sometimes with
more fields (`; per-app-api-usage=17/250(appName=…)` when the connected app has its own
allocation). The limit is the org's, shared by every integration over a rolling 24 hours, and
Salesforce lets usage run a little past it before refusing: `used > limit` is a real reading.

Two refusals share one error code, REQUEST_LIMIT_EXCEEDED, and only the message tells them
apart: the daily allocation is used up ("TotalRequests Limit exceeded.": no retry helps for
hours), or too many long requests run at once ("ConcurrentPerOrgLongTxn Limit exceeded.":
gone in seconds, worth a retry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync_lambda.names import DAILY_LIMIT_MARKER

_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage\s*=\s*(\d+)\s*/\s*(\d+)")


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """The org's API requests in the last 24 hours, against its daily limit."""

    used: int
    limit: int

    @property
    def share(self) -> float:
        """Used over limit (above 1 once Salesforce lets usage run past the limit)."""
        return self.used / self.limit if self.limit else 1.0

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready (the run report)."""
        return {"used": self.used, "limit": self.limit, "share": round(self.share, 4)}


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """The org-wide `api-usage` of a `Sforce-Limit-Info` header; None when absent or
    unreadable (the per-app figure is not the org's and is ignored)."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return ApiUsage(int(match.group(1)), int(match.group(2)))


def is_daily_limit(message: str) -> bool:
    """Whether a REQUEST_LIMIT_EXCEEDED is the daily allocation (not the concurrent-request
    limit, which clears in seconds)."""
    return DAILY_LIMIT_MARKER in message


@dataclass(frozen=True, slots=True)
class ApiBudget:
    """The share of the org's daily limit the import may bring usage up to: beyond it the run
    stops at its next segment boundary (progress saved) and leaves the rest of the day's
    requests to the org's other integrations."""

    share: float = 0.8

    def spent(self, usage: ApiUsage | None) -> bool:
        """Whether usage has passed the budget (never before a reading)."""
        return usage is not None and usage.used >= self.share * usage.limit
