"""The state table in DynamoDB: lease, bookmark, failed-row ledger, full-import progress, held
deactivations.

One table, key `pk` (partition) + `sk` (sort): ("state", "lease"), ("state", "bookmark"),
("state", "org") (the org id the state was written for),
("state", "reconcile") (a reconciliation's progress), ("ledger", <stripe id>), ("seen", <n>)
and ("seen-reconcile", <n>) (the customers a full import or a reconciliation has read so
far), ("deactivate", <Salesforce id>). Items that only matter
for a while carry `expires_at` (epoch seconds), the table's TTL attribute.

Once a run holds the lease, every write is a TransactWriteItems whose first action checks that
the lease is still this run's: a run that lost its lease can never move the checkpoint or touch
the ledger, whatever the clocks say. A transaction carries up to 100 actions, so the ledger is
written 99 rows a request.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_lambda.adapters.retry import backoff
from sync_lambda.errors import LeaseLostError, RetriableSyncError
from sync_lambda.state import (
    LeaseHolder,
    LedgerEntry,
    LedgerStatus,
    PendingDeactivation,
    SyncState,
)
from sync_lambda.state_table import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from mypy_boto3_dynamodb.client import DynamoDBClient

_STATE = "state"
_LEDGER = "ledger"
_SEEN = "seen"
_LIVE_MODE = "livemode"  # customers Stripe knows only in live mode: kept until rechecked
_DEACTIVATE = "deactivate"
_SEEN_CHUNK = 5000  # customer ids per item (well under DynamoDB's 400 KB)
_TRANSACT_MAX = 100  # actions per TransactWriteItems, the lease check included
_ATTEMPTS = 6
RESOLVED_KEEP_S = 30 * 86400  # resolved ledger rows stay readable for a month
SEEN_KEEP_S = 14 * 86400  # an abandoned full import's progress ages out


def _seen_key(scope: str) -> str:
    """The partition of the customers a multi-run pass has seen: the full import's, or a
    reconciliation's (each resumes its own)."""
    return _SEEN if scope == "full" else f"{_SEEN}-{scope}"


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: float) -> dict[str, Any]:
    return {"N": str(int(value))}


def _host() -> str:
    """Where a run runs: the Lambda's log stream (names the container) or this machine."""
    return os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or socket.gethostname()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoStateStore:
    """Implements `ports.StateStore`."""

    def __init__(self, client: DynamoDBClient, table: str, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = client
        self._table = table
        self._clock = clock  # for what is stored; never to judge another run's lease
        self._sleep = sleep
        self._monotonic = monotonic
        self._owner: str | None = None

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {PARTITION_KEY: _s(pk), SORT_KEY: _s(sk)}

    # -- lease -----------------------------------------------------------------------------
    def acquire(self, owner: str, ttl_s: int, wait_s: float) -> float | None:
        """Take the lease, free or given up; wait up to `wait_s` for a live one to be released.

        A lease held by another run is never judged expired by this host's clock (a host whose
        clock runs ahead would take a live lease): its holder bumps `version` at every renewal,
        and a lease that looks expired is taken only if its version stayed the same for a whole
        TTL, timed on this host's monotonic clock (the DynamoDB Lock Client's scheme). What
        remains is the holder's own pause: a holder frozen longer than the TTL loses the lease,
        and its next write is refused (every write is conditional on the lease)."""
        deadline = self._monotonic() + wait_s
        while True:
            if self._put_lease(owner, ttl_s, "attribute_not_exists(pk) OR #owner = :owner",
                               {":owner": _s(owner)}):
                return float(int(self._clock() + ttl_s))
            item = self._lease_item()
            if item is not None and float(item["expires"]["N"]) < self._clock():
                # Looks expired by this host's clock: watch it for a TTL before believing it.
                # Taken only if it is still exactly as watched: same holder, same expiry, same
                # version (a lease of the release before versions has none, and still none).
                version = item.get("version")
                unchanged = "#version = :version" if version is not None \
                    else "attribute_not_exists(#version)"
                self._monotonic_sleep(ttl_s)
                if self._put_lease(owner, ttl_s, "attribute_not_exists(pk) OR (#owner = :holder "
                                   f"AND expires = :expires AND {unchanged})",
                                   {":holder": item["owner"], ":expires": item["expires"],
                                    **({":version": version} if version is not None else {})},
                                   version_name=True):
                    return float(int(self._clock() + ttl_s))
                return None  # renewed meanwhile: its holder is alive (this clock is off)
            if self._monotonic() >= deadline:
                return None
            self._sleep(min(2.0, max(0.05, deadline - self._monotonic())))

    def _monotonic_sleep(self, seconds: float) -> None:
        end = self._monotonic() + seconds
        while (left := end - self._monotonic()) > 0:
            self._sleep(min(left, 5.0))

    def _lease_item(self) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self._table, ConsistentRead=True,
            Key=self._key(_STATE, "lease")).get("Item")
        return item

    def _put_lease(self, owner: str, ttl_s: int, condition: str, values: dict[str, Any], *,
                   version_name: bool = False) -> bool:
        now = self._clock()
        names_ = {"#owner": "owner", **({"#version": "version"} if version_name else {})}
        try:
            self._db.put_item(
                TableName=self._table,
                Item={**self._key(_STATE, "lease"), "owner": _s(owner),
                      "expires": _n(now + ttl_s), "host": _s(_host()), "started": _n(now),
                      "version": _n(0)},
                ConditionExpression=condition, ExpressionAttributeNames=names_,
                ExpressionAttributeValues=values)
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise RetriableSyncError(f"DynamoDB: {exc}") from exc
            return False
        self._owner = owner
        return True

    def holder(self) -> LeaseHolder | None:
        item = self._lease_item()
        if not item:
            return None
        return LeaseHolder(item["owner"]["S"], item.get("host", {}).get("S"),
                           int(item["started"]["N"]) if "started" in item else None,
                           int(float(item["expires"]["N"])))

    def renew(self, ttl_s: int) -> float:
        owner = self._require_owner()
        expires = self._clock() + ttl_s
        try:
            self._db.update_item(
                TableName=self._table, Key=self._key(_STATE, "lease"),
                # The version tells a waiting acquirer this holder is alive, whatever the
                # clocks say.
                UpdateExpression="SET expires = :expires ADD version :one",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":expires": _n(expires), ":owner": _s(owner),
                                           ":one": _n(1)})
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise LeaseLostError("another run took the lease") from None
            raise RetriableSyncError(f"DynamoDB: {exc}") from exc
        return float(int(expires))

    def record_run(self, summary: Mapping[str, Any]) -> None:
        """The last run's summary (counts and ids only), for `sfbilling status`."""
        self._transact([self._put({**self._key(_STATE, "last_run"),
                                   "summary": _s(json.dumps(summary, sort_keys=True))})])

    def last_run(self) -> dict[str, Any] | None:
        """The summary `record_run` wrote last (None: no run finished yet)."""
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(_STATE, "last_run")).get("Item")
        return None if not item else dict(json.loads(item["summary"]["S"]))

    def release(self) -> None:
        if self._owner is None:
            return
        try:
            self._db.delete_item(TableName=self._table, Key=self._key(_STATE, "lease"),
                                 ConditionExpression="#owner = :owner",
                                 ExpressionAttributeNames={"#owner": "owner"},
                                 ExpressionAttributeValues={":owner": _s(self._owner)})
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        finally:
            self._owner = None

    def _require_owner(self) -> str:
        if self._owner is None:
            raise LeaseLostError("this run holds no lease; it may not write the state table")
        return self._owner

    # -- writes, each conditional on the lease -------------------------------------------
    def _transact(self, actions: Sequence[dict[str, Any]]) -> None:
        owner = self._require_owner()
        check = {"ConditionCheck": {
            "TableName": self._table, "Key": self._key(_STATE, "lease"),
            "ConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": _s(owner)}}}
        step = _TRANSACT_MAX - 1
        for start in range(0, len(actions), step):
            chunk = [check, *actions[start:start + step]]
            for attempt in range(_ATTEMPTS):
                try:
                    self._db.transact_write_items(TransactItems=chunk)  # type: ignore[arg-type]
                    break
                except ClientError as exc:
                    reasons = [r.get("Code") for r in
                               exc.response.get("CancellationReasons", [])]
                    if reasons and reasons[0] == "ConditionalCheckFailed":
                        raise LeaseLostError("another run took the lease; this run's state "
                                             "write was refused") from None
                    if attempt == _ATTEMPTS - 1:
                        raise RetriableSyncError(f"DynamoDB: {exc}") from exc
                    # Transaction conflicts and throttling: back off and try again.
                    self._sleep(backoff(attempt, base=0.1, cap=2))

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item}}

    def _delete(self, pk: str, sk: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self._table, "Key": self._key(pk, sk)}}

    # -- bookmark --------------------------------------------------------------------------
    def load(self) -> SyncState:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(_STATE, "bookmark")).get("Item")
        if not item:
            return SyncState()

        def num(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        def strs(name: str) -> tuple[str, ...]:
            return tuple(v["S"] for v in item.get(name, {}).get("L", []))

        return SyncState(
            checkpoint=num("checkpoint"), seen_event_ids=strs("seen_event_ids"),
            full_cursor=item["full_cursor"]["S"] if "full_cursor" in item else None,
            full_started_at=num("full_started_at"),
            full_listed=bool(item.get("full_listed", {}).get("BOOL", False)),
            last_full_at=num("last_full_at"), jobs=strs("jobs"),
            event_page_s=float(item["event_page_s"]["N"]) if "event_page_s" in item else None)

    def save(self, state: SyncState) -> None:
        item: dict[str, Any] = {**self._key(_STATE, "bookmark"),
                                "seen_event_ids": {"L": [_s(i) for i in state.seen_event_ids]},
                                "jobs": {"L": [_s(j) for j in state.jobs]},
                                "full_listed": {"BOOL": state.full_listed}}
        for name in ("checkpoint", "full_started_at", "last_full_at"):
            value = getattr(state, name)
            if value is not None:
                item[name] = _n(value)
        if state.event_page_s is not None:  # a fraction of a second is a real density
            item["event_page_s"] = {"N": f"{state.event_page_s:.6g}"}
        if state.full_cursor is not None:
            item["full_cursor"] = _s(state.full_cursor)
        self._transact([self._put(item)])

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
                for i in self._query(_LEDGER) if i["status"]["S"] != LedgerStatus.RESOLVED]

    def record_failures(self, entries: Sequence[LedgerEntry]) -> None:
        self._transact([self._put({
            **self._key(_LEDGER, e.stripe_id), "customer_id": _s(e.customer_id),
            "kind": _s(e.kind), "reason": _s(e.reason[:2000]), "attempts": _n(e.attempts),
            "status": _s(e.status.value), "first_failed": _n(e.first_failed),
            "last_failed": _n(e.last_failed)}) for e in entries])

    def clear_failures(self, stripe_ids: Iterable[str]) -> None:
        expires = self._clock() + RESOLVED_KEEP_S
        self._transact([{"Update": {
            "TableName": self._table, "Key": self._key(_LEDGER, sid),
            "UpdateExpression": "SET #status = :resolved, expires_at = :expires",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":resolved": _s(LedgerStatus.RESOLVED.value),
                                          ":expires": _n(expires)}}}
            for sid in sorted(set(stripe_ids))])

    # -- full-import and reconciliation progress ------------------------------------------
    def add_seen(self, customer_ids: Iterable[str], *, scope: str = "full") -> None:
        pk = _seen_key(scope)
        ids = sorted(set(customer_ids))
        n = len(self._query(pk))
        expires = self._clock() + SEEN_KEEP_S
        actions = []
        for start in range(0, len(ids), _SEEN_CHUNK):
            actions.append(self._put({**self._key(pk, f"{n:06d}"), TTL_ATTRIBUTE: _n(expires),
                                      "ids": {"L": [_s(i) for i in
                                                    ids[start:start + _SEEN_CHUNK]]}}))
            n += 1
        # One item per transaction: several 5,000-id items would pass the 4 MB request limit.
        for action in actions:
            self._transact([action])

    def seen(self, *, scope: str = "full") -> set[str]:
        return {v["S"] for item in self._query(_seen_key(scope)) for v in item["ids"]["L"]}

    def clear_seen(self, *, scope: str = "full") -> None:
        pk = _seen_key(scope)
        self._transact([self._delete(pk, item["sk"]["S"]) for item in self._query(pk)])

    def load_reconcile(self) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(_STATE, "reconcile")).get("Item")
        return None if not item else dict(json.loads(item["progress"]["S"]))

    def save_reconcile(self, progress: Mapping[str, Any] | None) -> None:
        if progress is None:
            self._transact([self._delete(_STATE, "reconcile")])
            return
        self._transact([self._put({**self._key(_STATE, "reconcile"),
                                   TTL_ATTRIBUTE: _n(self._clock() + SEEN_KEEP_S),
                                   "progress": _s(json.dumps(progress, sort_keys=True))})])

    # -- customers of the live mode (a refreshed sandbox) ----------------------------------
    def live_mode_customers(self) -> set[str]:
        return {v["S"] for item in self._query(_LIVE_MODE) for v in item["ids"]["L"]}

    def add_live_mode_customers(self, customer_ids: Iterable[str]) -> None:
        items = self._query(_LIVE_MODE)
        known = {v["S"] for item in items for v in item["ids"]["L"]}
        ids = sorted(set(customer_ids) - known)
        n = len(items)
        for start in range(0, len(ids), _SEEN_CHUNK):
            self._transact([self._put({**self._key(_LIVE_MODE, f"{n:06d}"), "ids": {
                "L": [_s(i) for i in ids[start:start + _SEEN_CHUNK]]}})])
            n += 1

    def clear_live_mode_customers(self) -> None:
        self._transact([self._delete(_LIVE_MODE, item["sk"]["S"])
                        for item in self._query(_LIVE_MODE)])

    # -- held deactivations ----------------------------------------------------------------
    def deactivations(self) -> list[PendingDeactivation]:
        return [PendingDeactivation(i["sk"]["S"], i["stripe_id"]["S"], i["customer_id"]["S"])
                for i in self._query(_DEACTIVATE)]

    def add_deactivations(self, rows: Sequence[PendingDeactivation]) -> None:
        self._transact([self._put({**self._key(_DEACTIVATE, r.sf_id),
                                   "stripe_id": _s(r.stripe_id),
                                   "customer_id": _s(r.customer_id)}) for r in rows])

    def request_rerun(self) -> None:
        self._db.put_item(TableName=self._table, Item={**self._key(_STATE, "rerun"),
                                                       "at": _n(self._clock())})

    def take_rerun(self) -> bool:
        # A delete that returns what it deleted: of two takers, only one sees the request.
        old = self._db.delete_item(TableName=self._table, Key=self._key(_STATE, "rerun"),
                                   ReturnValues="ALL_OLD")
        return bool(old.get("Attributes"))

    def record_event_received(self, at: float) -> None:
        self._db.put_item(TableName=self._table, Item={**self._key(_STATE, "event"),
                                                       "at": _n(at)})

    def last_event_received(self) -> float | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(_STATE, "event")).get("Item")
        return float(item["at"]["N"]) if item else None

    def recorded_org(self) -> str | None:
        item = self._db.get_item(TableName=self._table, ConsistentRead=True,
                                 Key=self._key(_STATE, "org")).get("Item")
        return item["org_id"]["S"] if item else None

    def record_org(self, org_id: str) -> None:
        self._transact([self._put({**self._key(_STATE, "org"), "org_id": _s(org_id)})])

    def drop_deactivations(self, sf_ids: Iterable[str]) -> None:
        self._transact([self._delete(_DEACTIVATE, sf_id) for sf_id in sorted(set(sf_ids))])


def create_table(client: DynamoDBClient, table: str) -> None:
    """Create the state table (what the Pulumi program declares; used locally and in tests)."""
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                                   {"AttributeName": SORT_KEY, "KeyType": "RANGE"}],
                        AttributeDefinitions=[
                            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                            {"AttributeName": SORT_KEY, "AttributeType": "S"}])
    client.get_waiter("table_exists").wait(TableName=table,
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(TableName=table, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": TTL_ATTRIBUTE})
