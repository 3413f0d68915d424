"""A run killed at a random point, then a normal run, ends exactly where an uninterrupted run
does: no duplicate Account or payment method, nothing missing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import boto3

from sync_lambda import names
from sync_lambda.adapters.dynamodb_state import DynamoStateStore, create_table
from tests.sync.harness import TABLE, add_import_fields

if TYPE_CHECKING:
    from tests.sync.harness import World

SEEDS = range(10)
CUSTOMERS = 60


def _normalized(world: World) -> dict[str, Any]:
    accounts = world.records(names.ACCOUNT)
    pms = world.records(names.PAYMENT_METHOD)
    by_id = {a["Id"]: a.get(names.DEFAULT_ACCOUNT_CUSTOMER_FIELD) for a in accounts}
    keep = (names.PM_ACTIVE, names.PM_AUTOPAY, names.PM_CARD_TYPE, names.PM_LAST4,
            names.PM_TOKEN, names.PM_GATEWAY, names.PM_EXP_MONTH, names.PM_EXP_YEAR,
            names.DEFAULT_PM_CUSTOMER_FIELD)
    return {
        "account_count": len(accounts),
        "accounts": sorted((a.get(names.DEFAULT_ACCOUNT_CUSTOMER_FIELD), a["Name"])
                           for a in accounts),
        "pm_count": len(pms),
        "pms": sorted((p.get(names.DEFAULT_PM_EXTERNAL_ID_FIELD), by_id[p[names.PM_ACCOUNT]],
                       tuple(str(p.get(k)) for k in keep)) for p in pms),
    }


def _fresh_org_and_state(world: World) -> None:
    world.salesforce.reset()
    add_import_fields(world.salesforce)
    world.aws.reset()
    create_table(boto3.client("dynamodb", **world.aws.client_kwargs()), TABLE)


def _take_over_the_dead_lease(world: World) -> None:
    """What the next scheduled run does after a crash, minus the wait: watch the dead run's
    lease for a TTL and take it (on a virtual clock here: tests/sync/test_state_store.py runs
    the real watch), then hand it to the recovery run."""
    client = boto3.client("dynamodb", **world.aws.client_kwargs())
    now = [0.0]
    watcher = DynamoStateStore(client, TABLE, clock=lambda: time.time() + 3600,
                               monotonic=lambda: now[0],
                               sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert watcher.acquire("after-the-crash", 360, 0) is not None
    watcher.release()


def test_crash_at_random_points_then_recover(world: World) -> None:
    # GIVEN customers with cards (two with the default on the second card), a few existing
    # Accounts to link by name, and the state an uninterrupted run ends in
    for i in range(CUSTOMERS):
        world.customer(name=f"Customer {i:03d}", cards=("pm_card_visa", "pm_card_mastercard"),
                       default=i % 2)
    env = {**os.environ, **world.env, "SFB_BULK_THRESHOLD": "25",
           "TEST_STRIPE_KEY": world.stripe_api.api_key,
           "TEST_SF_KEY_FILE": str(world.salesforce.app.private_key_file)}

    def seed_accounts() -> None:
        for i in range(0, CUSTOMERS, 7):
            world.seed_account(Name=f"Customer {i:03d}")

    seed_accounts()
    t = time.monotonic()
    world.run(SFB_BULK_THRESHOLD="25")
    run_s = time.monotonic() - t
    expected = _normalized(world)
    assert expected["account_count"] == CUSTOMERS
    assert expected["pm_count"] == 2 * CUSTOMERS
    killed_mid_run = 0
    for seed in SEEDS:
        _fresh_org_and_state(world)
        seed_accounts()
        # WHEN a run is killed at a random moment (process start-up included)
        proc = subprocess.Popen([sys.executable, "-m", "tests.sync.run_once"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.Random(seed).uniform(0.6, 0.9 + run_s))
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_run += not finished
        # AND the next run starts after taking over the dead run's lease
        _take_over_the_dead_lease(world)
        report = world.run(SFB_BULK_THRESHOLD="25")
        # THEN the org is exactly as after an uninterrupted run
        assert _normalized(world) == expected, f"seed {seed}: {report.render()}"
        assert world.run().kind == "noop", f"seed {seed}"
    assert killed_mid_run >= len(SEEDS) // 2, "the kills should mostly land mid-run"
