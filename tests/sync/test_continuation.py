"""A first import longer than one invocation: the real handler, on the stand-ins, with a tiny
deadline, started once by the schedule and continued through the `Continuation` port by an
async queue that runs one invocation at a time (reserved concurrency 1)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from tests.sync.lambda_runtime import FUNCTION_ARN, AsyncQueue, Context

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from tests.sync.harness import World

RATE = 500.0  # the harness's Stripe rate
RESERVE = 10.0  # the smallest deadline reserve the settings allow
# Stripe requests an invocation has time for: a full import reads at least one page (100
# customers) a segment, so about one page an invocation.
BUDGET = 50


def _deadline(world: World, budget: int = BUDGET) -> Callable[[], Context]:
    """Each invocation's context: time for `budget` Stripe requests past its reserve."""
    def context() -> Context:
        start = int(world.stripe_api.stats()["requests"])

        def remaining() -> float:
            used = int(world.stripe_api.stats()["requests"]) - start
            return RESERVE + (budget - used) / RATE

        return Context(remaining=remaining)
    return context


def _pm_listings(world: World) -> int:
    routes: dict[str, Any] = world.stripe_api.stats()["routes"]
    return sum(n for route, n in routes.items() if "payment_methods" in route)


def _backfill(world: World, monkeypatch: pytest.MonkeyPatch,
              n: int) -> tuple[list[str], AsyncQueue]:
    """`n` new Stripe customers, and a queue whose invocations each have a tiny deadline."""
    monkeypatch.setenv("SFB_DEADLINE_RESERVE_S", str(int(RESERVE)))
    customers = [world.customer(name=f"Backfill {i:03d}")[0] for i in range(n)]
    world.stripe_api.stats(reset=True)
    return customers, AsyncQueue(context=_deadline(world))


def test_a_long_first_import_continues_at_once_until_done(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = lambda_env
    customers, queue = _backfill(world, monkeypatch, 250)
    # One trigger from the schedule; everything after it is a continuation.
    queue.pending.append({})
    runs = queue.drain()
    assert len(runs) >= 3
    assert [r.event for r in runs] == [{}] + [{"continuation": True}] * (len(runs) - 1)
    assert all(r.result["kind"] == "full" for r in runs)  # none skipped: one writer at a time
    assert [r.result["continuation"] for r in runs] == ["started"] * (len(runs) - 1) + [None]
    assert queue.calls == [("lambda:InvokeFunction", FUNCTION_ARN)] * (len(runs) - 1)
    assert all(a.ended <= b.started for a, b in itertools.pairwise(runs))
    # Nothing lost, nothing fetched twice, nothing written twice.
    assert set(customers) <= set(world.accounts())
    assert len(world.payment_methods()) == 250
    assert _pm_listings(world) == 250
    assert sum(r.result["outcomes"]["accounts_created"] for r in runs) == 250
    assert world.state().load().full_cursor is None


def test_a_late_trigger_or_a_duplicate_continuation_does_no_harm(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = lambda_env
    customers, queue = _backfill(world, monkeypatch, 200)
    queue.pending.append({})
    queue.step()  # the first segment; its continuation is queued
    # The schedule fires again mid-backfill, and Lambda delivers the continuation twice.
    queue.pending += [{}, {"continuation": True}]
    runs = queue.drain()
    assert set(customers) <= set(world.accounts())
    assert len(world.payment_methods()) == 200
    assert _pm_listings(world) == 200
    assert sum(r.result["outcomes"].get("accounts_created", 0) for r in runs) == 200
    assert not any(r.result["failures"] for r in runs)
    before = world.salesforce.counters_json()["routes"]
    # Once done, a stray continuation is an ordinary incremental run with nothing to do.
    queue.pending.append({"continuation": True})
    last = queue.drain()[-1].result
    assert (last["kind"], last["continuation"]) == ("noop", None)
    after = world.salesforce.counters_json()["routes"]
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} \
        == {}


def test_a_confirmation_of_held_deactivations_carries_through_continuations(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = lambda_env
    monkeypatch.setenv("SFB_DEADLINE_RESERVE_S", str(int(RESERVE)))
    ids = [world.customer(name=f"Gone {i:02d}")[0] for i in range(30)]
    queue = AsyncQueue()
    queue.pending.append({})
    queue.drain()
    for cus in ids:
        world.stripe.v1.customers.delete(cus)
    queue.context = _deadline(world, budget=12)  # about 10 gone customers an invocation
    queue.pending.append({"full": True, "allowMassDeactivation": True})
    runs = queue.drain()[1:]
    assert len(runs) >= 3
    assert [r.event for r in runs[1:]] == [{"continuation": True,
                                            "allowMassDeactivation": True}] * (len(runs) - 1)
    assert runs[-1].result["outcomes"]["payment_methods_deactivated"] == 30
    assert runs[-1].result["outcome"] == "ok"


def test_a_run_stopped_by_the_api_budget_starts_no_continuation(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting again at once would only stop again: the schedule's next run goes on, and
    the metrics say why this one stopped."""
    import requests

    world = lambda_env
    monkeypatch.setenv("SFB_SF_API_BUDGET_SHARE", "0.5")
    world.customer(name="Budget")
    requests.post(world.salesforce.url + "/_admin/api-usage", json={"used": 60_000,
                  "limit": 100_000}, timeout=10).raise_for_status()
    queue = AsyncQueue(context=_deadline(world, budget=10_000))
    queue.pending.append({})
    runs = queue.drain()
    assert len(runs) == 1
    result = runs[0].result
    assert result["outcome"] == "api_budget"
    assert result["continuation"].startswith("not started (Salesforce API budget)")
    assert queue.calls == []
    assert result["salesforce_api_usage"]["limit"] == 100_000


def test_a_reconciliation_continues_itself_and_reports_its_counts_at_the_end(
        lambda_env: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = lambda_env
    customers, queue = _backfill(world, monkeypatch, 250)
    queue.pending.append({"reconcile": True})
    runs = queue.drain()
    assert len(runs) >= 3
    assert [r.event for r in runs] == [{"reconcile": True}] + [
        {"continuation": True, "reconcile": True}] * (len(runs) - 1)
    assert all(r.result["kind"] == "reconcile" for r in runs)
    assert [r.result["reconcile"] is None for r in runs] == [True] * (len(runs) - 1) + [False]
    found = runs[-1].result["reconcile"]
    # Nothing imported yet: every customer is unlinked, each read once over all the runs.
    assert found["counts"]["unlinked_customers"] == 250
    assert found["disagreements"] == 250
    assert runs[-1].result["outcome"] == "disagreement"
    assert _pm_listings(world) == 250
    assert world.accounts() == {}  # read-only
    assert {s["id"] for s in found["samples"]["unlinked_customers"]} <= set(customers)
