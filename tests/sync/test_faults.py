"""Faults: Stripe 429/5xx, Salesforce 503, REQUEST_LIMIT_EXCEEDED, expiring sessions (also during
bulk jobs), lock errors, failed bulk jobs; the failed-row ledger; the lease; deadlines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from devenv.salesforce.errors import FieldError
from sync_lambda import names
from sync_lambda.errors import RetriableSyncError
from sync_lambda.state import LedgerStatus

if TYPE_CHECKING:
    from tests.sync.harness import World


def _sf_faults(world: World, plan: dict[str, Any]) -> None:
    requests.put(world.salesforce.url + "/_admin/faults", json=plan,
                 timeout=10).raise_for_status()


def _customers(world: World, n: int) -> list[str]:
    return [world.customer(name=f"Customer {i:03d}")[0] for i in range(n)]


def _complete(world: World, ids: list[str]) -> None:
    accounts = world.accounts()
    assert set(ids) <= set(accounts)
    assert len(world.payment_methods()) == len(ids)
    assert len(world.records(names.ACCOUNT)) == len(ids)


def test_stripe_429_and_5xx_are_retried(world: World) -> None:
    ids = _customers(world, 40)
    world.stripe_api.set_faults(seed=3, error_rate=0.2, error_status=503,
                                rate_limit_per_s=15)
    report = world.run(SFB_STRIPE_RATE="200")
    stats = world.stripe_api.stats()
    assert stats["errors"] > 0
    assert stats["rate_limited"] > 0
    assert report.failures == []
    _complete(world, ids)


def test_stripe_that_keeps_failing_stops_the_run_without_moving_the_checkpoint(
        world: World) -> None:
    _customers(world, 2)
    world.stripe_api.set_faults(error_rate=1.0)
    with pytest.raises(RetriableSyncError, match="Stripe kept failing"):
        world.run()
    assert world.state().load().checkpoint is None
    world.stripe_api.clear_faults()
    assert world.run().kind == "full"


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_salesforce_503_limit_and_session_expiry(world: World, bulk: bool) -> None:
    ids = _customers(world, 15)
    _sf_faults(world, {"seed": 9, "session_expires_after_calls": 4, "rules": [
        {"route": "rest", "error": "503", "rate": 0.2},
        {"route": "bulk", "error": "503", "rate": 0.2},
        {"route": "*", "error": "REQUEST_LIMIT_EXCEEDED", "times": 2}]})
    report = world.run(SFB_BULK_THRESHOLD="1" if bulk else "200")
    assert report.failures == []
    routes = world.salesforce.counters_json()["routes"]
    assert routes["auth.token"] > 2  # re-authenticated mid-run
    if bulk:
        assert routes["bulk.create"] >= 2
    _complete(world, ids)


def test_lock_errors_are_retried(world: World) -> None:
    ids = _customers(world, 20)
    _sf_faults(world, {"seed": 1, "bulk_lock_row_rate": 0.5})
    report = world.run(SFB_BULK_THRESHOLD="1")
    assert report.failures == []
    _complete(world, ids)


def test_failed_bulk_job_rows_go_to_the_ledger_and_are_retried(world: World) -> None:
    ids = _customers(world, 10)
    _sf_faults(world, {"bulk_fail_jobs": 1})
    first = world.run(SFB_BULK_THRESHOLD="1")
    assert first.outcomes["failed"] > 0
    assert all("not processed" in f["reason"] or "Account not written" in f["reason"]
               for f in first.failures)
    ledger = world.state().ledger()
    assert ledger
    assert all(e.status is LedgerStatus.PENDING for e in ledger)
    second = world.run(SFB_BULK_THRESHOLD="1")
    assert second.kind == "incremental"
    assert second.failures == []
    assert world.state().ledger() == []
    _complete(world, ids)
    assert world.run().kind == "noop"


def test_rows_that_keep_failing_are_rejected_after_max_attempts(world: World) -> None:
    cus, pms = world.customer(name="Doomed")
    # A validation rule in the org that refuses every payment method, as a trigger might.
    world.salesforce.org.rules[names.PAYMENT_METHOD.lower()] += (
        lambda *_: FieldError("FIELD_CUSTOM_VALIDATION_EXCEPTION", "a trigger refuses it"),)
    for _ in range(2):
        world.run(SFB_MAX_ATTEMPTS="2")
    entry = {e.stripe_id: e for e in world.state().ledger()}[pms[0]]
    assert entry.attempts == 2
    assert entry.status is LedgerStatus.REJECTED
    assert "a trigger refuses it" in entry.reason
    assert world.run(SFB_MAX_ATTEMPTS="2").kind == "noop"  # rejected rows wait for --full
    del cus


def test_lease_held_by_another_run_skips(world: World) -> None:
    world.customer(name="Ada")
    other = world.state()
    assert other.acquire("other-run", 600, 0)
    report = world.run()
    assert report.kind == "skipped"
    assert "another run holds the lease (run other-run on " in report.message
    assert ", until 20" in report.message
    assert world.records(names.ACCOUNT) == []
    other.release()
    assert world.run().kind == "full"


def test_full_import_continues_after_the_deadline(world: World) -> None:
    from sync_lambda.wiring import build_service

    ids = _customers(world, 250)
    store = world.state()
    # The Lambda's clock runs out once the first segment is committed (its cursor saved).
    service = build_service(world.settings(SFB_SEGMENT_SIZE="100"), world.secrets,
                            remaining_s=lambda: 10.0 if store.load().full_cursor else 1000.0)
    first = service.run()
    assert first.continued
    state = world.state().load()
    assert state.full_cursor is not None
    assert state.checkpoint is None
    second = world.run(SFB_SEGMENT_SIZE="100")
    assert second.kind == "full"
    assert not second.continued
    _complete(world, ids)
    assert world.state().load().full_cursor is None
