"""The state table adapter against moto: batched, lease-conditional writes."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from sync_lambda.adapters.dynamodb_state import DynamoStateStore, create_table
from sync_lambda.errors import LeaseLostError
from sync_lambda.state import LedgerEntry, LedgerStatus, PendingDeactivation, SyncState

if TYPE_CHECKING:
    from devenv.aws import AwsStandIn


@pytest.fixture
def client(aws: AwsStandIn) -> Any:
    db = boto3.client("dynamodb", **aws.client_kwargs())
    create_table(db, "state")
    return db


def _count_requests(client: Any, operation: str) -> list[int]:
    seen: list[int] = []
    client.meta.events.register(f"before-parameter-build.dynamodb.{operation}",
                                lambda **kw: seen.append(len(kw["params"]["TransactItems"])))
    return seen


def test_the_ledger_is_written_99_rows_a_request(client: Any) -> None:
    store = DynamoStateStore(client, "state")
    assert store.acquire("run-1", 600, 0)
    requests = _count_requests(client, "TransactWriteItems")
    entries = [LedgerEntry(f"pm_{i:04d}", f"cus_{i:04d}", "payment_method", "refused")
               for i in range(250)]
    store.record_failures(entries)
    # Each request: the lease check plus up to 99 rows.
    assert requests == [100, 100, 53]
    assert len(store.ledger()) == 250
    store.clear_failures(e.stripe_id for e in entries[:120])
    assert len(store.ledger()) == 130
    item = client.get_item(TableName="state", Key={"pk": {"S": "ledger"},
                                                   "sk": {"S": "pm_0000"}})["Item"]
    assert item["status"]["S"] == LedgerStatus.RESOLVED
    assert int(item["expires_at"]["N"]) > 0  # ages out through the table's TTL


def test_no_write_once_another_run_holds_the_lease(client: Any) -> None:
    mine, theirs = DynamoStateStore(client, "state"), DynamoStateStore(client, "state")
    assert mine.acquire("run-1", 600, 0)
    # The lease passes to another run (as after an expiry)
    client.put_item(TableName="state", Item={"pk": {"S": "state"}, "sk": {"S": "lease"},
                                             "owner": {"S": "run-2"},
                                             "expires": {"N": "9999999999"}})
    for write in (lambda: mine.save(SyncState(checkpoint=1)),
                  lambda: mine.record_failures([LedgerEntry("pm_1", "cus_1", "x", "y")]),
                  lambda: mine.add_deactivations([PendingDeactivation("a0P1", "pm_1", "c")]),
                  lambda: mine.renew(600)):
        with pytest.raises(LeaseLostError):
            write()
    assert theirs.load() == SyncState()
    assert theirs.ledger() == []
    assert theirs.deactivations() == []


def test_writes_need_a_lease(client: Any) -> None:
    with pytest.raises(LeaseLostError, match="holds no lease"):
        DynamoStateStore(client, "state").save(SyncState(checkpoint=1))


def test_the_table_has_ttl_on_expires_at(client: Any) -> None:
    ttl = client.describe_time_to_live(TableName="state")["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")


def test_a_host_whose_clock_runs_ahead_never_takes_a_live_lease(client: Any) -> None:
    # GIVEN a run holding a 2 s lease and renewing it, and another host 700 s ahead, to which
    # the lease looks long expired
    holder = DynamoStateStore(client, "state")
    assert holder.acquire("run-live", 2, 0)
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(0.4):
            holder.renew(2)

    keeper = threading.Thread(target=keep)
    keeper.start()
    ahead = DynamoStateStore(client, "state", clock=lambda: time.time() + 700)
    try:
        # WHEN it tries to take the lease
        started = time.monotonic()
        taken = ahead.acquire("run-ahead", 2, 0)
    finally:
        stop.set()
        keeper.join()
    # THEN it watched the lease for a TTL on its own clock, saw it renewed, and left it
    assert taken is None
    assert time.monotonic() - started >= 2
    found = holder.holder()
    assert found is not None and found.run_id == "run-live"


def test_a_dead_holders_lease_is_taken_after_a_ttl_unchanged(client: Any) -> None:
    # GIVEN a run that took a 1 s lease and died (no renewal)
    assert DynamoStateStore(client, "state").acquire("run-dead", 1, 0)
    time.sleep(1.1)
    # WHEN another run tries THEN it takes it, after watching it unchanged for the TTL
    successor = DynamoStateStore(client, "state")
    assert successor.acquire("run-next", 1, 0) is not None
    found = successor.holder()
    assert found is not None and found.run_id == "run-next"


def test_a_dead_lease_written_before_versions_is_taken_too(client: Any) -> None:
    # GIVEN a lease as the previous release wrote it (no version), whose run died
    client.put_item(TableName="state", Item={
        "pk": {"S": "state"}, "sk": {"S": "lease"}, "owner": {"S": "run-old"},
        "expires": {"N": str(int(time.time()) - 5)}})
    # WHEN a run of this release tries THEN it takes it after watching it for the TTL
    successor = DynamoStateStore(client, "state")
    assert successor.acquire("run-new", 1, 0) is not None
    found = successor.holder()
    assert found is not None and found.run_id == "run-new"
