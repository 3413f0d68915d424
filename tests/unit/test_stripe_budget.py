"""Stripe's limits as the import keeps to them: a bucket per endpoint under a global one, a
share left to other clients, a smaller share for a dry run (pure, with a fake clock)."""

from __future__ import annotations

import pytest

from sync_lambda import names
from sync_lambda.adapters.stripe_budget import StripeBudget, StripeLimits
from sync_lambda.adapters.stripe_source import StripeSourceAdapter

PMS, CUSTOMERS = names.ENDPOINT_PAYMENT_METHODS, names.ENDPOINT_CUSTOMERS


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def _budget(limits: StripeLimits) -> tuple[StripeBudget, Clock]:
    clock = Clock()
    return StripeBudget(limits, clock=clock.now, sleep=clock.sleep), clock


@pytest.mark.parametrize(("key", "expected"), [("rk_live_x", 100.0), ("sk_live_x", 100.0),
                                                ("rk_test_x", 25.0), ("sk_test_x", 25.0)])
def test_the_global_limit_follows_the_keys_mode(key: str, expected: float) -> None:
    assert StripeLimits.for_key(key, global_per_s=None).global_per_s == expected
    assert StripeLimits.for_key(key, global_per_s=300).global_per_s == 300


def test_the_import_keeps_a_share_free_and_a_dry_run_takes_a_share_of_the_rest() -> None:
    limits = StripeLimits(100, 25, reserve_share=0.1)
    assert limits.ours_global_per_s == pytest.approx(90)
    assert limits.ours_endpoint_per_s == pytest.approx(22.5)
    dry = limits.share(0.5)
    assert dry.ours_endpoint_per_s == pytest.approx(11.25)
    assert dry.ours_global_per_s == pytest.approx(45)
    # An endpoint never gets more than the account: a test-mode account's 25/s is shared.
    assert StripeLimits(10, 25, 0.0).ours_endpoint_per_s == 10


@pytest.mark.parametrize(("banks", "fetch", "expected"), [
    (False, False, 22.5),  # listed: one payment-method listing each, on its endpoint's 22.5/s
    (True, False, 11.25),  # with bank accounts, two listings each: half as many customers
    (False, True, 22.5),  # retrieved: + one retrieval each, on an endpoint of its own
])
def test_the_payment_method_endpoint_sets_the_pace(banks: bool, fetch: bool,
                                                   expected: float) -> None:
    # GIVEN live defaults (100/s, 25/s per endpoint, 10 % kept free) THEN 100,000 customers
    # take 100,000 / 22.5 s (about 74 minutes), twice that with bank accounts
    source = StripeSourceAdapter(None, budget=StripeBudget(StripeLimits(100, 25, 0.1)),  # type: ignore[arg-type]
                                 concurrency=8, include_bank_accounts=banks)
    assert source.customers_per_s(fetch=fetch) == pytest.approx(expected)


def test_a_test_mode_account_shares_its_25_per_second_between_the_endpoints() -> None:
    # GIVEN a test-mode account (25/s in all) WHEN customers are retrieved one by one THEN the
    # account's limit, spent on a retrieval and a listing each, sets the pace
    source = StripeSourceAdapter(None, budget=StripeBudget(StripeLimits(25, 25, 0.0)),  # type: ignore[arg-type]
                                 concurrency=8, include_bank_accounts=False)
    assert source.customers_per_s(fetch=True) == pytest.approx(12.5)
    assert source.customers_per_s(fetch=False) == pytest.approx(25 / 1.01)


def test_one_endpoint_is_paced_at_its_own_limit() -> None:
    budget, clock = _budget(StripeLimits(100, 25, 0.0))
    for _ in range(51):
        budget.acquire(PMS)
    assert clock.t == pytest.approx(50 / 25)


def test_two_endpoints_run_side_by_side_under_the_global_limit() -> None:
    # GIVEN an account limit of 30/s and endpoints of 25/s
    budget, clock = _budget(StripeLimits(30, 25, 0.0))
    # WHEN two endpoints are used alternately THEN the global bucket sets the pace (30/s in
    # all), not each endpoint's 25/s (which would allow 50/s)
    for _ in range(30):
        budget.acquire(PMS)
        budget.acquire(CUSTOMERS)
    assert clock.t == pytest.approx(59 / 30, rel=0.05)


def test_a_429_slows_the_endpoint_down_and_is_counted() -> None:
    budget, _clock = _budget(StripeLimits(100, 25, 0.0))
    budget.throttled_by_stripe(PMS)
    assert budget.throttled == 1
    assert budget.rate(PMS) == pytest.approx(12.5)
    assert budget.rate(CUSTOMERS) == pytest.approx(25)  # another endpoint keeps its pace
    # ... under a global limit cut by a fifth
    wide, _ = _budget(StripeLimits(100, 200, 0.0))
    wide.throttled_by_stripe(PMS)
    assert wide.rate(CUSTOMERS) == pytest.approx(80)


def test_after_a_429_the_pace_climbs_back_while_no_refusal_comes() -> None:
    # GIVEN an endpoint cut in half by a 429
    budget, clock = _budget(StripeLimits(100, 25, 0.0))
    budget.throttled_by_stripe(PMS)
    # WHEN a second passes without a refusal THEN it gains a tenth of its limit a second
    clock.t += 1.0
    assert budget.rate(PMS) == pytest.approx(15.0)
    # ... and is back at its limit, never above, once the squeeze has passed
    clock.t += 10.0
    assert budget.rate(PMS) == pytest.approx(25.0)
    # A 429 within the same second as the last cut does not cut again.
    budget.throttled_by_stripe(PMS)
    budget.throttled_by_stripe(PMS)
    assert budget.rate(PMS) == pytest.approx(12.5)
    assert budget.throttled == 3
