"""Salesforce's daily API request limit: a run stops cleanly at the import's share of it (or at
the limit itself), saves its progress, releases the lease, and the next run finishes; the
concurrent-request limit (same error code, other message) is still retried."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

from sync_lambda import names
from sync_lambda.report import Outcome

if TYPE_CHECKING:
    from tests.sync.harness import World

LIMIT = 100_000


def _usage(world: World, used: int, limit: int = LIMIT) -> None:
    """The org's other integrations have used `used` of today's requests."""
    requests.post(world.salesforce.url + "/_admin/api-usage",
                  json={"used": used, "limit": limit}, timeout=10).raise_for_status()


def test_a_run_stops_at_the_budget_and_the_next_one_finishes(world: World) -> None:
    ids = [world.customer(name=f"Budget {i:03d}")[0] for i in range(250)]
    # A few requests short of 80 %: the org checks (4 calls) stay under it, the first
    # segment's lookups and writes pass it.
    _usage(world, int(0.8 * LIMIT) - 8)
    first = world.run(SFB_SEGMENT_SIZE="100")
    assert first.outcome is Outcome.API_BUDGET
    assert first.api_budget and first.continued
    assert "salesforceApiBudgetShare" in first.message
    assert first.salesforce_api is not None and first.salesforce_api.limit == LIMIT
    assert first.salesforce_api.used >= int(0.8 * LIMIT)
    written = len(world.accounts())
    assert 100 <= written < 250  # whole segments only, the rest left for later
    state = world.state()
    assert state.holder() is None  # the lease is released
    assert state.load().full_cursor  # progress saved
    d = first.to_dict()
    assert d["outcome"] == "api_budget"
    assert d["salesforce_api_usage"]["limit"] == LIMIT
    # A day later the rolling window has room again: the next run carries on and finishes.
    _usage(world, 0)
    second = world.run(SFB_SEGMENT_SIZE="100")
    assert second.outcome is Outcome.OK, second.message
    assert set(ids) == set(world.accounts())
    assert len(world.records(names.ACCOUNT)) == 250  # nothing twice
    assert len(world.payment_methods()) == 250


def test_a_lower_share_stops_sooner_and_the_full_limit_stops_at_once(world: World) -> None:
    for i in range(3):
        world.customer(name=f"Budget {i}")
    _usage(world, 60_000)
    # At 60 % used, the default share (80 %) lets the run finish, a share of 50 % does not.
    assert world.run(SFB_SF_API_BUDGET_SHARE="0.5").outcome is Outcome.API_BUDGET
    # The daily allocation itself used up: Salesforce refuses the first call; the run stops
    # at once (no retries, no exception) and writes nothing.
    _usage(world, LIMIT + 5)
    stopped = world.run(full=True)
    assert stopped.outcome is Outcome.API_BUDGET
    assert "daily API request limit is used up" in stopped.message
    assert stopped.salesforce_calls == 1
    assert world.accounts() == {}
    _usage(world, 0)
    assert world.run().outcome is Outcome.OK
    assert len(world.accounts()) == 3


def test_the_concurrent_limit_is_retried_not_a_stop(world: World) -> None:
    world.customer(name="Concurrent")
    requests.put(world.salesforce.url + "/_admin/faults", timeout=10, json={
        "rules": [{"route": "rest.query", "error": "REQUEST_LIMIT_EXCEEDED", "times": 2}]},
    ).raise_for_status()
    report = world.run()
    assert report.outcome is Outcome.OK
    assert not report.api_budget
    assert len(world.accounts()) == 1
