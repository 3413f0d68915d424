"""The import against Stripe's limits on the stand-in: kept to, no 429; and when the limits
shrink under it, 429s, adaptation, and nothing lost."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.sync.harness import World

CUSTOMERS = 30


def _customers(world: World) -> set[str]:
    return {world.customer(name=f"Limits {n}")[0] for n in range(CUSTOMERS)}


def test_the_import_keeps_to_stripes_limits(world: World) -> None:
    # GIVEN an account limited to 40/s, 20/s per endpoint, and the import told so
    ids = _customers(world)
    world.stripe_api.set_limits(global_per_s=40, endpoint_per_s=20)
    # WHEN it imports THEN Stripe never had to refuse a request
    report = world.run(SFB_STRIPE_RATE="40", SFB_STRIPE_ENDPOINT_RATE="20")
    assert report.stripe_throttled == 0
    assert world.stripe_api.limits()["refused"] == {}
    assert set(world.accounts()) == ids
    # ... at about its share of the endpoint's limit (18/s): at least the floor
    assert report.duration_s >= (CUSTOMERS - 20) / 18


def test_limits_below_what_the_import_was_told_cost_429s_not_data(world: World) -> None:
    # GIVEN the import told 80/s per endpoint, on an account whose endpoints allow 10/s
    ids = _customers(world)
    world.stripe_api.set_limits(global_per_s=40, endpoint_per_s=10)
    # WHEN it imports THEN Stripe refuses some requests, the import slows down and finishes
    report = world.run(SFB_STRIPE_RATE="100", SFB_STRIPE_ENDPOINT_RATE="80")
    refused = world.stripe_api.limits()["refused"]
    assert report.stripe_throttled == sum(refused.values()) > 0
    assert report.to_dict()["calls"]["stripe_rate_limited"] == report.stripe_throttled
    assert report.failed_rows == 0
    assert set(world.accounts()) == ids
    assert len(world.payment_methods()) == CUSTOMERS
