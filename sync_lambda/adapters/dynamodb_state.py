"""The state table in DynamoDB: lease, bookmark, failed-row ledger, full-import progress.

One table, key `pk` (partition) + `sk` (sort): ("state", "lease"), ("state", "bookmark"),
("ledger", <stripe id>), ("seen", <n>).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_lambda.errors import RetriableSyncError
from sync_lambda.state import LedgerEntry, LedgerStatus, SyncState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from mypy_boto3_dynamodb.client import DynamoDBClient

_STATE = "state"
_LEDGER = "ledger"
_SEEN = "seen"
_SEEN_CHUNK = 5000  # customer ids per item (well under DynamoDB's 400 KB)


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: int) -> dict[str, Any]:
    return {"N": str(value)}


class DynamoStateStore:
    """Implements `ports.StateStore`."""

    def __init__(self, client: DynamoDBClient, table: str, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._db = client
        self._table = table
        self._clock = clock
        self._sleep = sleep

    # -- lease -----------------------------------------------------------------------------
    def acquire(self, owner: str, ttl_s: int, wait_s: float) -> bool:
        deadline = self._clock() + wait_s
        while True:
            now = int(self._clock())
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={"pk": _s(_STATE), "sk": _s("lease"), "owner": _s(owner),
                          "expires": _n(now + ttl_s)},
                    ConditionExpression="attribute_not_exists(pk) OR expires < :now "
                                        "OR #owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":now": _n(now), ":owner": _s(owner)})
                return True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise RetriableSyncError(f"DynamoDB: {exc}") from exc
            if self._clock() >= deadline:
                return False
            self._sleep(min(2.0, max(0.05, deadline - self._clock())))

    def release(self, owner: str) -> None:
        try:
            self._db.delete_item(TableName=self._table,
                                 Key={"pk": _s(_STATE), "sk": _s("lease")},
                                 ConditionExpression="#owner = :owner",
                                 ExpressionAttributeNames={"#owner": "owner"},
                                 ExpressionAttributeValues={":owner": _s(owner)})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # -- bookmark --------------------------------------------------------------------------
    def load(self) -> SyncState:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key={"pk": _s(_STATE), "sk": _s("bookmark")}).get("Item")
        if not item:
            return SyncState()

        def num(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        def strs(name: str) -> tuple[str, ...]:
            return tuple(v["S"] for v in item.get(name, {}).get("L", []))

        return SyncState(
            checkpoint=num("checkpoint"), seen_event_ids=strs("seen_event_ids"),
            full_cursor=item["full_cursor"]["S"] if "full_cursor" in item else None,
            full_started_at=num("full_started_at"), last_full_at=num("last_full_at"),
            jobs=strs("jobs"))

    def save(self, state: SyncState) -> None:
        item: dict[str, Any] = {"pk": _s(_STATE), "sk": _s("bookmark"),
                                "seen_event_ids": {"L": [_s(i) for i in state.seen_event_ids]},
                                "jobs": {"L": [_s(j) for j in state.jobs]}}
        for name in ("checkpoint", "full_started_at", "last_full_at"):
            value = getattr(state, name)
            if value is not None:
                item[name] = _n(value)
        if state.full_cursor:
            item["full_cursor"] = _s(state.full_cursor)
        self._db.put_item(TableName=self._table, Item=item)

    # -- ledger ----------------------------------------------------------------------------
    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True,
                                  "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": _s(pk)}}
        while True:
            page = self._db.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def ledger(self) -> list[LedgerEntry]:
        return [LedgerEntry(stripe_id=i["sk"]["S"], customer_id=i["customer_id"]["S"],
                            kind=i["kind"]["S"], reason=i["reason"]["S"],
                            attempts=int(i["attempts"]["N"]),
                            status=LedgerStatus(i["status"]["S"]),
                            first_failed=int(i["first_failed"]["N"]),
                            last_failed=int(i["last_failed"]["N"]))
                for i in self._query(_LEDGER)]

    def record_failures(self, entries: Sequence[LedgerEntry]) -> None:
        for e in entries:
            self._db.put_item(TableName=self._table, Item={
                "pk": _s(_LEDGER), "sk": _s(e.stripe_id), "customer_id": _s(e.customer_id),
                "kind": _s(e.kind), "reason": _s(e.reason[:2000]), "attempts": _n(e.attempts),
                "status": _s(e.status.value), "first_failed": _n(e.first_failed),
                "last_failed": _n(e.last_failed)})

    def clear_failures(self, stripe_ids: Iterable[str]) -> None:
        for sid in stripe_ids:
            self._db.delete_item(TableName=self._table, Key={"pk": _s(_LEDGER), "sk": _s(sid)})

    # -- full-import progress --------------------------------------------------------------
    def add_seen(self, customer_ids: Iterable[str]) -> None:
        ids = sorted(set(customer_ids))
        n = len(self._query(_SEEN))
        for start in range(0, len(ids), _SEEN_CHUNK):
            self._db.put_item(TableName=self._table, Item={
                "pk": _s(_SEEN), "sk": _s(f"{n:06d}"),
                "ids": {"L": [_s(i) for i in ids[start:start + _SEEN_CHUNK]]}})
            n += 1

    def seen(self) -> set[str]:
        return {v["S"] for item in self._query(_SEEN) for v in item["ids"]["L"]}

    def clear_seen(self) -> None:
        for item in self._query(_SEEN):
            self._db.delete_item(TableName=self._table, Key={"pk": item["pk"], "sk": item["sk"]})


def create_table(client: DynamoDBClient, table: str) -> None:
    """Create the state table (what the Pulumi program declares; used locally and in tests)."""
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
