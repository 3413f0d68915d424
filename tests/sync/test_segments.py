"""Long work spread over invocations: incremental backlogs and the reconcile of customers
Stripe no longer lists run in segments sized by the time left, save progress after each, and
resume where they stopped, with nothing lost and nothing fetched twice."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from sync_lambda import names
from sync_lambda.report import Outcome
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync_lambda.report import Report
    from tests.sync.harness import World

RATE = 500.0  # the harness's Stripe rate
RESERVE = 10.0  # the smallest deadline reserve the settings allow


def _lambda_clock(world: World, budget_requests: int) -> Callable[[], float]:
    """The time an invocation has left, as if each Stripe request took 1/RATE seconds and the
    invocation had time for `budget_requests` of them."""
    start = int(world.stripe_api.stats()["requests"])

    def remaining() -> float:
        used = int(world.stripe_api.stats()["requests"]) - start
        return RESERVE + (budget_requests - used) / RATE

    return remaining


def _invoke(world: World, budget_requests: int, **kw: bool) -> Report:
    service = build_service(world.settings(SFB_DEADLINE_RESERVE_S=str(int(RESERVE))),
                            world.secrets, remaining_s=_lambda_clock(world, budget_requests))
    return service.run(**kw)


def _until_done(world: World, budget_requests: int, *, full: bool = False,
                allow_mass_deactivation: bool = False) -> list[Report]:
    """Invoke as the Lambda's continuation would: the first run as asked, the next ones plain
    (a continued full import is resumed, not restarted)."""
    reports = [_invoke(world, budget_requests, full=full,
                       allow_mass_deactivation=allow_mass_deactivation)]
    while reports[-1].continued:
        assert len(reports) < 20, "no progress"
        reports.append(_invoke(world, budget_requests,
                               allow_mass_deactivation=allow_mass_deactivation))
    return reports


def _retrievals(world: World) -> int:
    return int(world.stripe_api.stats()["routes"].get("GET /v1/customers/{cus}", 0))


def test_an_incremental_backlog_resumes_across_invocations(world: World) -> None:
    # GIVEN an org with 60 imported customers, then 30 new ones in Stripe (reading 30
    # customers costs less than reading all 90: the backlog stays incremental)
    for i in range(60):
        world.customer(name=f"Old {i:02d}")
    world.run()
    time.sleep(1.05)
    new = [world.customer(name=f"New {i:02d}")[0] for i in range(30)]
    checkpoints = [world.state().load().checkpoint]
    world.stripe_api.stats(reset=True)
    # WHEN each invocation has time for about 10 of them
    reports = _until_done(world, budget_requests=22)
    # THEN the backlog took several invocations, each saving its progress
    assert len(reports) >= 3
    assert all(r.kind == "incremental" for r in reports)
    assert all(r.continued for r in reports[:-1])
    checkpoints.append(world.state().load().checkpoint)
    assert checkpoints[1] is not None and checkpoints[0] is not None
    assert checkpoints[1] >= checkpoints[0]
    # ... nothing was lost and no customer was fetched twice
    assert set(new) <= set(world.accounts())
    assert _retrievals(world) == 30
    assert sum(r.outcomes["accounts_created"] for r in reports) == 30
    assert world.run().kind == "noop"


def test_the_reconcile_of_gone_customers_resumes_across_invocations(world: World) -> None:
    # GIVEN 30 imported customers, all then deleted in Stripe
    ids = [world.customer(name=f"Gone {i:02d}")[0] for i in range(30)]
    world.run()
    for cus in ids:
        world.stripe.v1.customers.delete(cus)
    world.stripe_api.stats(reset=True)
    # WHEN a full reconcile has time for about 10 customers an invocation
    reports = _until_done(world, budget_requests=12, full=True, allow_mass_deactivation=True)
    # THEN it took several invocations, resumed from saved progress, fetched each gone
    # customer once, and deactivated every method only at the end
    assert len(reports) >= 3
    assert all(r.kind == "full" for r in reports)
    assert _retrievals(world) == 30
    assert [r.outcomes["payment_methods_deactivated"] for r in reports[:-1]] == \
        [0] * (len(reports) - 1)
    assert reports[-1].outcomes["payment_methods_deactivated"] == 30
    assert reports[-1].outcome is Outcome.OK
    assert not any(p[names.PM_ACTIVE] for p in world.payment_methods().values())
    assert world.state().load().full_cursor is None
    assert world.state().seen() == set()


def test_an_event_backlog_longer_than_an_invocation_moves_in_windows(world: World) -> None:
    # GIVEN an imported customer, and a checkpoint an hour old with 5,000 events since, 50 a
    # second for 100 seconds (Stripe lists 100 a page, newest first: 50 pages)
    cus, _ = world.customer(name="Busy")
    world.run()
    start = int(time.time()) - 3600
    world.save_state(replace(world.state().load(), checkpoint=start, seen_event_ids=()))
    world.stripe_api.history([{"customer": cus, "created": start + i // 50}
                              for i in range(5000)])
    world.stripe_api.stats(reset=True)
    # WHEN each invocation has time for 20 Stripe requests: the backlog is about 3
    # invocations' worth (50 pages to list, and the customer to read after each window)
    checkpoints = [start]
    reports = [_invoke(world, 20)]
    checkpoints.append(_checkpoint(world))
    while reports[-1].continued:
        assert len(reports) < 8, f"no progress: checkpoints {checkpoints}"
        reports.append(_invoke(world, 20))
        checkpoints.append(_checkpoint(world))
    # THEN it finished in 3 or 4 invocations, each moving the checkpoint forward
    assert 3 <= len(reports) <= 4, [r.message for r in reports]
    assert all(b > a for a, b in itertools.pairwise(checkpoints)), checkpoints
    assert reports[-1].outcome is Outcome.OK
    # ... and nothing is left: the next run lists once and finds nothing new
    assert world.run().kind == "noop"
    assert world.state().load().event_page_s is None


def _checkpoint(world: World) -> int:
    checkpoint = world.state().load().checkpoint
    assert checkpoint is not None
    return checkpoint


def test_progress_moves_per_customer_with_an_eta_from_the_configured_rate(
        world: World) -> None:
    # GIVEN 12 imported customers, then a change to each (an incremental run reads all 12)
    ids = [world.customer(name=f"Progress {i:02d}")[0] for i in range(12)]
    world.run()
    for cus in ids:
        world.stripe.v1.customers.update(cus, {"email": f"{cus}@example.com"})
    seen: list[tuple[int, int | None, float | None]] = []

    def progress(stage: str, done: int, total: int | None, eta_s: float | None) -> None:
        if stage == "fetching changed customers from Stripe":
            seen.append((done, total, eta_s))

    # WHEN the run reads them
    build_service(world.settings(), world.secrets, progress=progress).run()
    # THEN the count moves one customer at a time, and the ETA is what the rest costs at the
    # configured limits (a retrieval and a payment-method listing a customer, within the
    # account's 500 a second)
    assert [done for done, _, _ in seen] == list(range(13))
    assert {total for _, total, _ in seen} == {12}
    assert seen[0][2] == pytest.approx(12 * 2 / RATE)
    assert seen[-1][2] == 0
