"""At most one writer for the whole run: the lease is renewed while a run works, a second run
started meanwhile does nothing, and a run whose lease was taken stops writing."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from sfbilling.cli import main
from sync_lambda import names
from sync_lambda.adapters.dynamodb_state import DynamoStateStore, create_table
from sync_lambda.errors import ConfigError
from sync_lambda.report import Outcome
from sync_lambda.wiring import build_service
from tests.sync.harness import TABLE
from tests.sync.test_cli import local_state

REPO = Path(__file__).resolve().parents[2]
LOCAL_TABLE = "sfbilling-local-state"  # Pulumi.local.yaml

if TYPE_CHECKING:
    from sync_lambda.report import Report
    from tests.sync.harness import World


def _customers(world: World, n: int) -> list[str]:
    return [world.customer(name=f"Customer {i:03d}")[0] for i in range(n)]


def test_a_second_run_during_a_long_first_one_writes_nothing(world: World) -> None:
    # GIVEN a first run that takes about 8 s (80 customers at 10 Stripe requests a second)
    # and a lease of 4 s (a test may go below the settings' floor, keeping TTL >= 3 timeouts)
    ids = _customers(world, 80)
    settings = replace(world.settings(SFB_STRIPE_RATE="10"), lease_ttl_s=4,
                       salesforce_timeout_s=1)
    results: dict[str, Report] = {}
    first = threading.Thread(target=lambda: results.update(
        first=build_service(settings, world.secrets).run()))
    first.start()
    # WHEN a second run starts after the first run's TTL has passed twice over
    time.sleep(5.0)
    second = build_service(settings, world.secrets).run()
    first.join(60)
    # THEN the second run did nothing: the first kept its lease by renewing it
    assert second.kind == "skipped"
    assert second.outcome is Outcome.SKIPPED
    assert "another run holds the lease (run " in second.message
    assert ", until 20" in second.message and ", since 20" in second.message
    assert second.salesforce_calls == 0
    assert results["first"].duration_s > 5.0
    assert results["first"].outcome is Outcome.OK
    # ... and the org equals what one run makes
    assert set(world.accounts()) == set(ids)
    assert len(world.records(names.ACCOUNT)) == 80
    assert len(world.records(names.PAYMENT_METHOD)) == 80
    assert world.run().kind == "noop"


def test_a_run_whose_lease_was_taken_stops_writing(world: World) -> None:
    # GIVEN a full run in segments of 100 customers over 300 customers
    _customers(world, 300)
    settings = replace(world.settings(), segment_size=100)
    db = boto3.client("dynamodb", **world.aws.client_kwargs())
    segments: list[int] = []

    def steal_after_first_segment(stage: str, done: int, total: int | None,
                                  eta_s: float | None) -> None:
        del total, eta_s
        if stage == "writing Salesforce" and done == 0:
            segments.append(1)
            if len(segments) == 1:
                # Another run takes over (as after an expired lease).
                db.put_item(TableName=TABLE, Item={
                    "pk": {"S": "state"}, "sk": {"S": "lease"}, "owner": {"S": "intruder"},
                    "expires": {"N": str(int(time.time()) + 600)}})

    report = build_service(settings, world.secrets,
                           progress=steal_after_first_segment).run()
    # THEN the run stopped at its next state write, said so, and wrote no further segment
    assert report.lease_lost
    assert report.outcome is Outcome.LEASE_LOST
    assert "another run took the lease" in report.message
    assert len(segments) == 1
    assert len(world.records(names.ACCOUNT)) == 100
    lease = db.get_item(TableName=TABLE, Key={"pk": {"S": "state"}, "sk": {"S": "lease"}})
    assert lease["Item"]["owner"]["S"] == "intruder"  # not released by the loser


def test_a_lease_shorter_than_three_request_timeouts_is_refused(world: World) -> None:
    with pytest.raises(ConfigError, match="SFB_LEASE_TTL_S: must be at least three times the "
                                          r"Salesforce request timeout \(360 s\)"):
        world.settings(SFB_LEASE_TTL_S="300", SFB_SF_TIMEOUT_S="120")
    assert world.settings(SFB_LEASE_TTL_S="360", SFB_SF_TIMEOUT_S="120").lease_ttl_s == 360


def test_the_cli_reports_the_lease_holder(world: World, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    client = boto3.client("dynamodb", **world.aws.client_kwargs())
    create_table(client, LOCAL_TABLE)
    holder = DynamoStateStore(client, LOCAL_TABLE)
    assert holder.acquire("other-run", 600, 0)
    code = main(["sync", "--env", "local", "--root", str(REPO),
                 "--state-dir", str(local_state(world, tmp_path))])
    assert code == 5
    out = capsys.readouterr().out
    assert f"another run holds the lease (run other-run on {socket.gethostname()}, since 20" \
        in out
    assert ", until 20" in out
    holder.release()


def test_a_dry_run_takes_no_lease(world: World) -> None:
    # GIVEN another run holding the lease
    ids = _customers(world, 3)
    store = world.state()
    assert store.acquire("scheduled-run", 300, 0)
    # WHEN an operator runs a dry run THEN it plans (it needs no lease: it writes nothing)
    report = world.run(dry_run=True)
    assert report.kind == "full"
    assert report.outcomes["would_create_account"] == 3
    # ... and the holder keeps its lease, untouched
    holder = store.holder()
    assert holder is not None and holder.run_id == "scheduled-run"
    store.release()
    assert set(world.accounts()) == set()
    assert len(ids) == 3
