"""The lease keeper's decisions, as specifications: when it renews, when a run may still write,
and what a refused renewal does (no stand-in: a fake store and a fake clock)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from sync_lambda.errors import LeaseLostError, RetriableSyncError
from sync_lambda.lease import LeaseKeeper, lease_problem, next_renewal_s

if TYPE_CHECKING:
    from collections.abc import Callable


class Store:
    """Renews to `now + ttl`, or refuses as the state store does."""

    def __init__(self, clock: list[float], refusal: Exception | None = None) -> None:
        self.clock, self.refusal = clock, refusal
        self.ttls: list[int] = []

    def renew(self, ttl_s: int) -> float:
        self.ttls.append(ttl_s)
        if self.refusal is not None:
            raise self.refusal
        return self.clock[0] + ttl_s


def _keeper(store: Store, clock: list[float], *, ttl_s: float = 360, expires: float = 360,
            min_left_s: float = 120) -> LeaseKeeper:
    return LeaseKeeper(store, ttl_s=ttl_s, expires=expires, min_left_s=min_left_s,  # type: ignore[arg-type]
                       clock=lambda: clock[0])


# -- when it renews --------------------------------------------------------------------------------
@pytest.mark.parametrize(("ttl_s", "renewed", "expected"), [
    (360, True, 120.0),  # a third: two more chances before the lease runs out
    (90, True, 30.0),
    (360, False, 12.0),  # after a transient failure: a thirtieth
    (60, False, 2.0),
    (20, False, 1.0),  # ... but at least a second
    (29.9, False, 1.0),
])
def test_the_next_renewal(ttl_s: float, renewed: bool, expected: float) -> None:
    assert next_renewal_s(ttl_s, renewed=renewed) == pytest.approx(expected)


# -- when a run may write -----------------------------------------------------------------------
def test_a_lease_with_time_to_spare_allows_a_write() -> None:
    assert lease_problem(lost=None, expires=1000, now=800, min_left_s=120) is None
    # exactly the minimum left is still enough
    assert lease_problem(lost=None, expires=1000, now=880, min_left_s=120) is None


def test_a_lease_about_to_run_out_stops_the_write_and_says_when() -> None:
    problem = lease_problem(lost=None, expires=1000, now=880.5, min_left_s=120)
    assert problem == ("the lease runs out in 120 s without a renewal; stopping before "
                       "another run may start")
    # one that has already run out says 0, not a negative number
    gone = lease_problem(lost=None, expires=1000, now=1010, min_left_s=120)
    assert gone is not None and gone.startswith("the lease runs out in 0 s")


def test_a_taken_lease_stops_the_write_whatever_the_time() -> None:
    assert lease_problem(lost="run abc holds it", expires=5000, now=0, min_left_s=1) == \
        "run abc holds it"


# -- the keeper ---------------------------------------------------------------------------------
def test_a_renewal_moves_the_expiry_and_asks_for_the_whole_ttl() -> None:
    clock = [100.0]
    store = Store(clock)
    keeper = _keeper(store, clock, ttl_s=360.7, expires=460)
    clock[0] = 200.0
    keeper.renew_now()
    assert store.ttls == [360]
    assert keeper.expires == 560
    keeper.check()  # 360 s left, more than the 120 s minimum


def test_a_refused_renewal_is_remembered_and_every_later_write_stops() -> None:
    clock = [100.0]
    store = Store(clock, LeaseLostError("run xyz took the lease"))
    keeper = _keeper(store, clock, expires=460)
    with pytest.raises(LeaseLostError, match="run xyz took the lease"):
        keeper.renew_now()
    # THEN the expiry stays, and check refuses although time is left
    assert keeper.expires == 460
    with pytest.raises(LeaseLostError, match="run xyz took the lease"):
        keeper.check()


def test_a_transient_failure_is_not_a_lost_lease() -> None:
    clock = [100.0]
    store = Store(clock, RetriableSyncError("DynamoDB throttled"))
    keeper = _keeper(store, clock, expires=460)
    with pytest.raises(RetriableSyncError):
        keeper.renew_now()
    keeper.check()  # still held: 360 s left
    clock[0] = 345.0  # ... until too little is left
    with pytest.raises(LeaseLostError, match="runs out in 115 s"):
        keeper.check()


# -- the background renewals ------------------------------------------------------------------
def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_started_it_renews_every_third_of_the_ttl_until_stopped() -> None:
    clock = [100.0]
    store = Store(clock)
    started = time.monotonic()
    keeper = _keeper(store, clock, ttl_s=0.06, expires=100.06, min_left_s=0).start()
    _wait_for(lambda: len(store.ttls) >= 3)
    elapsed = time.monotonic() - started
    keeper.stop()
    # three renewals 0.02 s apart, not a transient failure's second apart
    assert elapsed < 0.9
    renewed = len(store.ttls)
    assert renewed >= 3
    assert keeper.expires == pytest.approx(100.0)  # ttl 0.06 s: int() asks for 0 s more
    time.sleep(0.1)
    assert len(store.ttls) == renewed  # stopped: no renewal after stop()


def test_a_lost_lease_ends_the_renewals() -> None:
    clock = [100.0]
    store = Store(clock, LeaseLostError("run xyz took the lease"))
    keeper = _keeper(store, clock, ttl_s=0.03, expires=460).start()
    _wait_for(lambda: len(store.ttls) >= 1)
    time.sleep(0.1)
    assert len(store.ttls) == 1  # no second attempt at a lease that is gone
    with pytest.raises(LeaseLostError, match="run xyz took the lease"):
        keeper.check()
    keeper.stop()


def test_a_transient_failure_is_retried_on_its_own_schedule() -> None:
    # GIVEN renewals that fail transiently WHEN the keeper runs THEN it keeps trying (after
    # a second each: max(1, ttl / 30)), and the lease is not marked lost
    clock = [100.0]
    store = Store(clock, RetriableSyncError("DynamoDB throttled"))
    started = time.monotonic()
    keeper = _keeper(store, clock, ttl_s=0.03, expires=460, min_left_s=0).start()
    _wait_for(lambda: len(store.ttls) >= 2, timeout_s=3.0)
    elapsed = time.monotonic() - started
    keeper.stop()
    assert len(store.ttls) == 2
    assert elapsed >= 1.0  # the retry waited its second, not the TTL's third (0.01 s)
    keeper.check()


def test_stop_does_not_wait_for_ever_on_a_renewal_hung_in_a_request() -> None:
    clock = [100.0]
    release = threading.Event()

    class Hung(Store):
        def renew(self, ttl_s: int) -> float:
            self.ttls.append(ttl_s)
            release.wait(10)
            return self.clock[0] + ttl_s

    store = Hung(clock)
    keeper = LeaseKeeper(store, ttl_s=0.03, expires=460, min_left_s=0,  # type: ignore[arg-type]
                         clock=lambda: clock[0], stop_timeout_s=0.2).start()
    _wait_for(lambda: len(store.ttls) >= 1)
    started = time.monotonic()
    keeper.stop()
    assert time.monotonic() - started < 2.0
    release.set()
