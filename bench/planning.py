"""`make bench` (planning part): the import's planner on synthetic batches, in memory.

Lines and goals (issue "Scale"): planning 10,000 customers with 5,000 deleted and 20,000 with
10,000 deleted (twice the work costs at most 2.5 times the time); planning 100,000 customers
with two payment methods each in at most 3 s with a tracemalloc peak of at most 300 MB, and
10,000 → 100,000 customers costing at most 12 times the time.
"""

from __future__ import annotations

import functools
import gc
import time
import tracemalloc
from typing import TYPE_CHECKING

from sync_lambda import names
from sync_lambda.mapping import map_payment_method
from sync_lambda.matching import AccountIndex
from sync_lambda.models import (
    Customer,
    FieldNames,
    Mode,
    OrgFacts,
    PaymentMethod,
    PlanOptions,
    SfAccount,
    SfPaymentMethod,
    Snapshot,
)
from sync_lambda.planning import Plan, SalesforceView, build_plan

if TYPE_CHECKING:
    from collections.abc import Callable

FIELDS = FieldNames()
OPTIONS = PlanOptions(Mode.CREATE_AND_LINK, FIELDS, names.DEFAULT_ACCOUNT_ID_METADATA_KEY,
                      False, True)
FACTS = OrgFacts(
    gateway_id="a0G000000000001AAA", account_name_length=255,
    picklists={names.PM_PAYMENT_TYPE: {"Credit Card": "Credit Card", "ACH": "ACH"},
               names.PM_CARD_TYPE: {"Visa": "Visa", "Mastercard": "Mastercard"},
               names.PM_EXP_MONTH: {f"{m:02d}": f"{m:02d}" for m in range(1, 13)},
               names.PM_EXP_YEAR: {str(y): str(y) for y in range(2020, 2041)},
               names.PM_COUNTRY: {"US": "United States"}},
    lengths={names.PM_NAME_ON_CARD: 255, names.PM_EMAIL: 80},
    fields=frozenset({names.PM_PAYMENT_TYPE, *names.PM_MANAGED_FIELDS}))


def _sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"[:18]


def _card(pm_id: str, cus: str) -> PaymentMethod:
    return PaymentMethod(pm_id, cus, "card", brand="visa", last4="4242", exp_month=4,
                         exp_year=2030)


def batch(customers: int, *, deleted: int = 0, cards: int = 1
          ) -> tuple[list[Snapshot], SalesforceView]:
    """`customers` linked customers with `cards` imported cards each; the first `deleted` of
    them deleted in Stripe (their rows still active in Salesforce)."""
    snapshots: list[Snapshot] = []
    accounts = []
    view_rows = []
    for i in range(customers):
        cus = f"cus_{i:08d}"
        acct = _sf_id("001", i)
        accounts.append(SfAccount(acct, f"Customer {i}", cus))
        pms = [_card(f"pm_{i:08d}_{c}", cus) for c in range(cards)]
        for c, pm in enumerate(pms):
            values = dict(map_payment_method(pm, cus, FACTS, FIELDS).values)
            values[names.PM_AUTOPAY] = c == 0
            view_rows.append(SfPaymentMethod(_sf_id("a0P", i * cards + c), acct, pm.id, values))
        if i < deleted:
            snapshots.append(Snapshot(Customer(cus, deleted=True)))
        else:
            snapshots.append(Snapshot(Customer(cus, created=i, default_payment_method=pms[0].id),
                                      tuple(pms)))
    view = SalesforceView(AccountIndex.of(accounts))
    for row in view_rows:
        view.add(row, FIELDS.pm_customer)
    return snapshots, view


def timed(fn: Callable[[], Plan], repeat: int = 3) -> tuple[float, Plan]:
    """The best wall time of `repeat` calls, and the last plan."""
    best, plan = float("inf"), Plan()
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        plan = fn()
        best = min(best, time.perf_counter() - t)
    return best, plan


def row(name: str, value: float, unit: str, target: str, ok: bool) -> None:
    """One benchmark line."""
    print(f"  {name:<62} {value:>9.2f} {unit:<5} target {target:<10} "
          f"{'ok' if ok else 'MISSED'}")


def main() -> None:
    """Print the planning lines."""
    print("planning benchmarks (pure, in memory; best of 3)")
    results = {}
    for customers in (10_000, 20_000):
        snaps, view = batch(customers, deleted=customers // 2)
        seconds, plan = timed(functools.partial(build_plan, snaps, view, FACTS, OPTIONS))
        assert len(plan.deactivations) == customers // 2
        results[customers] = seconds
        row(f"plan {customers:,} customers, {customers // 2:,} deleted", seconds, "s", "-",
            True)
    ratio = results[20_000] / results[10_000]
    row("  20k / 10k (twice the work)", ratio, "x", "<= 2.5", ratio <= 2.5)
    times = {}
    for customers in (10_000, 100_000):
        snaps, view = batch(customers, cards=2)
        seconds, plan = timed(functools.partial(build_plan, snaps, view, FACTS, OPTIONS),
                              repeat=3)
        assert plan.unchanged == 2 * customers, plan.unchanged
        times[customers] = seconds
    tracemalloc.start()
    snaps, view = batch(100_000, cards=2)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    build_plan(snaps, view, FACTS, OPTIONS)
    peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
    tracemalloc.stop()
    row("plan 100,000 customers x 2 payment methods", times[100_000], "s", "<= 3",
        times[100_000] <= 3)
    row("  tracemalloc peak of the planning call", peak, "MB", "<= 300", peak <= 300)
    growth = times[100_000] / times[10_000]
    row("  10k -> 100k customers (ten times the work)", growth, "x", "<= 12", growth <= 12)


if __name__ == "__main__":
    main()
