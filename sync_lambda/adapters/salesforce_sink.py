"""Salesforce Billing through simple-salesforce: org facts, batched lookups, and writes through
sObject Collections (small sets) or Bulk API 2.0 (large sets), every row's result read back.

Every call goes through `_call`, which re-authenticates on INVALID_SESSION_ID (bulk jobs
included: a job outlives a session) and backs off on 503 and REQUEST_LIMIT_EXCEEDED.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from simple_salesforce.exceptions import (
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql, quote_soql_value

from sync_lambda import names
from sync_lambda.adapters.retry import backoff
from sync_lambda.adapters.salesforce_connection import (
    SalesforceConnection,
    SalesforceCredentials,
)
from sync_lambda.errors import FatalSyncError, OrgIdentityError, RetriableSyncError
from sync_lambda.guards import stack_org_problem
from sync_lambda.matching import AccountIndex, metadata_ids, names_to_look_up, normalize_name
from sync_lambda.models import OrgFacts, PlanOptions, SfAccount, SfPaymentMethod, Snapshot
from sync_lambda.planning import Plan, PmWrite, SalesforceView
from sync_lambda.state import ApplyResult, RowResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from sync_lambda.api_usage import ApiUsage
    from sync_lambda.settings import Secrets, Settings

# The request line may not exceed 16,384 bytes; keep each IN-list query well under it.
URL_BUDGET = 12_000
PAGE_ROWS = 2000
COLLECTION_SIZE = 200
BULK_MAX_ROWS = 100_000
LOCK_RETRIES = 3
TERMINAL = ("JobComplete", "Failed", "Aborted")
BULK_NULL = "#N/A"  # a Bulk API 2.0 cell that sets the field to null
RETRYABLE = ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED",
             "not processed", "INVALID_FIELD:Foreign key external ID", names.DUPLICATE_REASON)


@dataclass(frozen=True, slots=True)
class _Row:
    """One row to write: its key value, what it stands for, and the record to send."""

    key: str
    stripe_id: str
    customer_id: str
    kind: str
    record: dict[str, Any]


def _retryable(reason: str) -> bool:
    return any(marker in reason for marker in RETRYABLE)


class SalesforceSink:
    """Implements `ports.BillingSink`."""

    def __init__(self, settings: Settings, secrets: Secrets, *,
                 sleep: Callable[[float], None] = time.sleep,
                 remaining_s: Callable[[], float | None] = lambda: None,
                 fail_fast: bool = False) -> None:
        self._settings = settings
        self._secrets = secrets
        self._sleep = sleep
        self._remaining_s = remaining_s
        self._api = SalesforceConnection(SalesforceCredentials.of(settings, secrets),
                                         sleep=sleep, fail_fast=fail_fast)
        self._facts: OrgFacts | None = None
        self._guard: Callable[[], None] = lambda: None

    def _chunks(self, head: str, field: str, values: Sequence[str]) -> list[str]:
        out: list[str] = []
        current: list[str] = []
        size = len(quote(head)) + 40
        for value in values:
            quoted = quote_soql_value(value)
            cost = len(quote(quoted)) + 3
            if current and size + cost > URL_BUDGET:
                out.append(f"{head} WHERE {field} IN ({','.join(current)})")
                current, size = [], len(quote(head)) + 40
            current.append(quoted)
            size += cost
        if current:
            out.append(f"{head} WHERE {field} IN ({','.join(current)})")
        return out

    def _lookup(self, obj: str, select: str, field: str, values: Iterable[str], *,
                unlinked_only: str | None = None,
                key: Callable[[str], str] = lambda v: v) -> Iterator[dict[str, Any]]:
        """Rows whose `field` is one of `values`: IN-list queries, or one filtered scan when
        that takes fewer calls (decided with a COUNT()); a page at a time."""
        wanted = sorted(set(values))
        if not wanted:
            return
        # Identifiers come from validated settings and names.py; every value is quoted by
        # simple-salesforce's quote_soql_value (SOQL escaping) in _chunks.
        head = f"SELECT {select} FROM {obj}"  # noqa: S608
        extra = f" AND {unlinked_only} = null" if unlinked_only else ""
        chunks = [c + extra for c in self._chunks(head, field, wanted)]
        if len(chunks) > 2:
            count = self._api.count(f"SELECT COUNT() FROM {obj} WHERE {field} != null{extra}")  # noqa: S608
            if count == 0:
                return
            if math.ceil(count / PAGE_ROWS) < len(chunks):
                keys = {key(v) for v in wanted}
                for r in self._api.rows(f"{head} WHERE {field} != null{extra}"):
                    if key(str(r.get(field) or "")) in keys:
                        yield r
                return
        for soql in chunks:
            yield from self._api.rows(soql)

    def facts(self) -> OrgFacts:
        if self._facts is not None:
            return self._facts
        s = self._settings
        org_id = self._org_id()
        account = self._api.call(lambda sf: getattr(sf, names.ACCOUNT).describe())
        pm = self._api.call(lambda sf: getattr(sf, names.PAYMENT_METHOD).describe())
        acct_fields = {f["name"]: f for f in account["fields"]}
        pm_fields = {f["name"]: f for f in pm["fields"]}
        missing = [f"{names.ACCOUNT}.{f}" for f in (s.account_customer_field,
                                                     names.ACCOUNT_CREATED_BY_IMPORT,
                                                     *filter(None, [s.name_match_email_field]))
                   if f not in acct_fields]
        missing += [f"{names.PAYMENT_METHOD}.{f}" for f in (s.pm_external_id_field,
                                                             s.pm_customer_field)
                    if f not in pm_fields]
        if missing:
            raise FatalSyncError(f"the org lacks {', '.join(missing)}: apply the org config "
                                 "first (sfbilling apply --env ENV)")
        for obj, fields, name in ((names.ACCOUNT, acct_fields, s.account_customer_field),
                                  (names.PAYMENT_METHOD, pm_fields, s.pm_external_id_field)):
            f = fields[name]
            if not (f.get("externalId") and f.get("unique")):
                raise FatalSyncError(f"{obj}.{name} must be a unique external id (it is what "
                                     "keeps re-runs from creating duplicates)")
        rows = self._api.query(format_soql(
            "SELECT Id, {:literal} FROM {:literal} WHERE {:literal} = {}",
            names.GATEWAY_ACTIVE, names.PAYMENT_GATEWAY, names.GATEWAY_NAME, s.gateway_name))
        if len(rows) != 1:
            found = "none" if not rows else f"{len(rows)}"
            raise FatalSyncError(f"expected one {names.PAYMENT_GATEWAY} named "
                                 f"{s.gateway_name!r}, found {found}")
        if not rows[0].get(names.GATEWAY_ACTIVE):
            raise FatalSyncError(f"the payment gateway {s.gateway_name!r} is not active")
        self._facts = OrgFacts(
            gateway_id=str(rows[0]["Id"]),
            account_name_length=int(acct_fields[names.ACCOUNT_NAME].get("length") or 255),
            picklists={n: {v["value"]: v.get("label") or v["value"]
                           for v in f.get("picklistValues", []) if v.get("active", True)}
                       for n, f in pm_fields.items() if f.get("type") == "picklist"},
            lengths={n: int(f.get("length") or 0) for n, f in pm_fields.items()
                     if f.get("type") in ("string", "textarea", "email", "phone")},
            fields=frozenset(pm_fields), org_id=org_id)
        return self._facts

    def _org_id(self) -> str:
        """The org's id, checked against the one the stack names before anything is read or
        written (a refreshed sandbox has a new id and carries production's data)."""
        rows = self._api.query(format_soql("SELECT Id FROM {:literal}", names.ORGANIZATION))
        org_id = str(rows[0]["Id"])
        problem = stack_org_problem(org_id, self._settings.salesforce_org_id)
        if problem:
            raise OrgIdentityError(problem)
        return org_id

    def _pm_select(self) -> str:
        s = self._settings
        facts = self.facts()
        managed = [f for f in (names.PM_PAYMENT_TYPE, *names.PM_MANAGED_FIELDS)
                   if f in facts.fields]
        return ", ".join(["Id", names.PM_ACCOUNT, s.pm_external_id_field, s.pm_customer_field,
                          *managed])

    def view(self, snapshots: Sequence[Snapshot], detached: Iterable[str],
             options: PlanOptions) -> SalesforceView:
        s = self._settings
        cf = s.account_customer_field
        customers = [snap.customer for snap in snapshots]
        email = s.name_match_email_field
        acct_select = f"Id, {names.ACCOUNT_NAME}, {cf}, {names.ACCOUNT_CREATED_BY_IMPORT}" + (
            f", {email}" if email else "")
        accounts = [self._account(r) for r in self._lookup(
            names.ACCOUNT, acct_select, cf, [c.id for c in customers])]
        linked = {a.stripe_id: a for a in accounts if a.stripe_id}
        live = [c for c in customers if not c.deleted]
        accounts += [self._account(r) for r in self._lookup(
            names.ACCOUNT, acct_select, "Id", metadata_ids(live, options.metadata_key))]
        accounts += [self._account(r) for r in self._lookup(
            names.ACCOUNT, acct_select, names.ACCOUNT_NAME, names_to_look_up(live, linked),
            unlinked_only=cf, key=normalize_name)]
        index = AccountIndex.of(accounts)
        select = self._pm_select()
        view = SalesforceView(index)

        def add(rows: Iterator[dict[str, Any]]) -> None:
            for r in rows:
                del r["attributes"]
                view.add(SfPaymentMethod(id=r["Id"], account_id=r[names.PM_ACCOUNT],
                                         stripe_id=r.get(s.pm_external_id_field), values=r),
                         s.pm_customer_field)

        add(self._lookup(names.PAYMENT_METHOD, select, names.PM_ACCOUNT, list(index.by_id)))
        # Only what the Accounts' rows did not bring: rows under other Accounts, detached ones.
        pm_ids = {pm.id for snap in snapshots for pm in snap.payment_methods} | set(detached)
        add(self._lookup(names.PAYMENT_METHOD, select, s.pm_external_id_field,
                         pm_ids - view.pms_by_stripe_id.keys()))
        add(self._lookup(names.PAYMENT_METHOD, select, s.pm_customer_field,
                         [c.id for c in customers if c.deleted]))
        return view

    def customers_with_active_methods(self) -> set[str]:
        self.facts()  # the fields it reads must exist (a clear error otherwise)
        s = self._settings
        soql = format_soql("SELECT {:literal} FROM {:literal} WHERE {:literal} != null AND "
                           "{:literal} = true", s.pm_customer_field, names.PAYMENT_METHOD,
                           s.pm_external_id_field, names.PM_ACTIVE)
        # A page at a time: only the distinct ids stay in memory, never every row (a million
        # payment methods would be about 800 MiB of rows, against 80 of ids).
        return {str(r[s.pm_customer_field]) for r in self._api.rows(soql)
                if r.get(s.pm_customer_field)}

    def linked_customers(self) -> set[str]:
        cf = self._settings.account_customer_field
        return {str(r[cf]) for r in self._api.rows(format_soql(
            "SELECT {:literal} FROM {:literal} WHERE {:literal} != null", cf, names.ACCOUNT, cf))}

    def payment_method_tokens(self) -> Iterator[tuple[str, str, str]]:
        cf = self._settings.pm_customer_field
        for r in self._api.rows(format_soql(
                "SELECT Id, {:literal}, {:literal} FROM {:literal} WHERE {:literal} != null",
                names.PM_TOKEN, cf, names.PAYMENT_METHOD, names.PM_TOKEN)):
            yield str(r[names.PM_TOKEN]), str(r["Id"]), str(r.get(cf) or "")

    def count_active_payment_methods(self) -> int:
        return self._api.count(format_soql(
            "SELECT COUNT() FROM {:literal} WHERE {:literal} = true", names.PAYMENT_METHOD,
            names.PM_ACTIVE))

    def count_linked_accounts(self) -> int:
        return self._api.count(format_soql(
            "SELECT COUNT() FROM {:literal} WHERE {:literal} != null", names.ACCOUNT,
            self._settings.account_customer_field))

    def calls(self) -> int:
        return self._api.calls

    def api_usage(self) -> ApiUsage | None:
        return self._api.usage

    def _account(self, r: dict[str, Any]) -> SfAccount:
        email_field = self._settings.name_match_email_field
        return SfAccount(r["Id"], r.get(names.ACCOUNT_NAME) or "",
                         r.get(self._settings.account_customer_field),
                         bool(r.get(names.ACCOUNT_CREATED_BY_IMPORT)),
                         r.get(email_field) if email_field else None)

    # -- writes ----------------------------------------------------------------------------
    def apply(self, plan: Plan, options: PlanOptions, on_job: Callable[[str, bool], None],
              guard: Callable[[], None]) -> ApplyResult:
        s = self._settings
        cf = s.account_customer_field
        result = ApplyResult()
        self._guard = guard
        links = [_Row(a.account_id or "", a.customer_id, a.customer_id, "account",
                      {"Id": a.account_id, cf: a.customer_id}) for a in plan.account_links]
        result.rows += self._write(names.ACCOUNT, "update", links, "Id", on_job)
        creates = [_Row(a.customer_id, a.customer_id, a.customer_id, "account",
                        {cf: a.customer_id, names.ACCOUNT_NAME: a.name,
                         names.ACCOUNT_CREATED_BY_IMPORT: True})
                   for a in plan.account_creates]
        # Always sObject Collections with the duplicate-rule header: a duplicate rule's hit
        # then comes back with the matching ids (the Bulk API takes no header and says only
        # the error's text), and nothing is created for it.
        result.rows += self._write(names.ACCOUNT, "upsert", creates, cf, on_job,
                                   headers={names.DUPLICATE_RULE_HEADER:
                                            names.DUPLICATE_RULE_BLOCK})
        broken = {r.customer_id: r.reason for r in result.rows if not r.ok}
        renames = [_Row(a.account_id or "", a.customer_id, a.customer_id, "account",
                        {"Id": a.account_id, names.ACCOUNT_NAME: a.name})
                   for a in plan.account_updates]
        result.rows += self._write(names.ACCOUNT, "update", renames, "Id", on_job)

        def updates(writes: list[PmWrite]) -> list[_Row]:
            return [_Row(w.sf_id or "", w.stripe_id, w.customer_id, "payment_method",
                         {"Id": w.sf_id, **w.values})
                    for w in sorted(writes, key=lambda w: w.customer_id)]

        for phase in (plan.autopay_clears, plan.deactivations, plan.pm_updates):
            result.rows += self._write(names.PAYMENT_METHOD, "update", updates(phase), "Id",
                                       on_job)
        inserts: list[_Row] = []
        for w in sorted(plan.pm_inserts, key=lambda w: w.customer_id):
            if w.customer_id in broken:
                reason = f"Account not written: {broken[w.customer_id]}"
                result.rows.append(RowResult(w.stripe_id, w.customer_id, "payment_method",
                                             ok=False, retryable=True, reason=reason))
                continue
            inserts.append(_Row(w.stripe_id, w.stripe_id, w.customer_id, "payment_method",
                                {**w.values, f"{names.PM_ACCOUNT_REL}.{cf}": w.customer_id}))
        result.rows += self._write(names.PAYMENT_METHOD, "upsert", inserts,
                                   s.pm_external_id_field, on_job)
        del options
        return result

    def _write(self, obj: str, op: str, rows: list[_Row], key_field: str,
               on_job: Callable[[str, bool], None],
               headers: dict[str, str] | None = None) -> list[RowResult]:
        """Rows through Bulk API 2.0 above bulkThreshold, else sObject Collections; with
        `headers` (which Bulk takes none of) always Collections."""
        if not rows:
            return []
        # Bulk API 2.0 reads a cell of exactly #N/A as null, and documents no escape: a row
        # holding that text goes through sObject Collections, where it is text.
        literal = {i for i, r in enumerate(rows) if any(
            isinstance(v, str) and v.strip() == BULK_NULL for v in r.record.values())}
        bulkable = [r for i, r in enumerate(rows) if i not in literal]
        direct = [r for i, r in enumerate(rows) if i in literal]
        if len(bulkable) > self._settings.bulk_threshold and headers is None:
            first = self._bulk(obj, op, bulkable, key_field, on_job)
        else:
            first = self._collections(obj, op, bulkable, key_field, headers)
        second = iter(self._collections(obj, op, direct, key_field, headers) if direct else [])
        results = iter(first)
        outcome = [next(second) if i in literal else next(results) for i in range(len(rows))]
        for attempt in range(LOCK_RETRIES):
            locked = [r for r, res in zip(rows, outcome, strict=True)
                      if not res.ok and "UNABLE_TO_LOCK_ROW" in (res.reason or "")]
            if not locked:
                break
            self._sleep(backoff(attempt, base=0.5, cap=4))
            again = dict(zip([r.key for r in locked],
                             self._collections(obj, op, locked, key_field, headers),
                             strict=True))
            outcome = [again.get(r.key, res) if not res.ok else res
                       for r, res in zip(rows, outcome, strict=True)]
        return outcome

    @staticmethod
    def _json_record(obj: str, record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": obj}}
        for k, v in record.items():
            if "." in k:
                rel, field = k.split(".", 1)
                out[rel] = {field: v}
            else:
                out[k] = v
        return out

    def _collections(self, obj: str, op: str, rows: list[_Row], key_field: str,
                     headers: dict[str, str] | None = None) -> list[RowResult]:
        out: list[RowResult] = []
        for start in range(0, len(rows), COLLECTION_SIZE):
            chunk = rows[start:start + COLLECTION_SIZE]
            self._guard()
            body = {"allOrNone": False,
                    "records": [self._json_record(obj, r.record) for r in chunk]}
            if op == "upsert":
                path = f"composite/sobjects/{obj}/{key_field}"
                results = self._api.json("PATCH", path, body, headers)
            else:
                results = self._api.json("PATCH", "composite/sobjects", body, headers)
            for row, res in zip(chunk, results, strict=True):
                if res.get("success"):
                    out.append(RowResult(row.stripe_id, row.customer_id, row.kind, ok=True,
                                         sf_id=res.get("id")))
                else:
                    reason = _duplicate(res.get("errors", [])) or "; ".join(
                        f"{e.get('statusCode')}:{e.get('message')}"
                        for e in res.get("errors", []))
                    out.append(RowResult(row.stripe_id, row.customer_id, row.kind, ok=False,
                                         reason=reason, retryable=_retryable(reason)))
        return out

    @staticmethod
    def _csv(rows: list[_Row]) -> tuple[bytes, list[str]]:
        header: list[str] = []
        for r in rows:
            header.extend(k for k in r.record if k not in header)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for r in rows:
            writer.writerow([_cell(r.record[h]) if h in r.record else "" for h in header])
        return buf.getvalue().encode("utf-8"), header

    def _bulk(self, obj: str, op: str, rows: list[_Row], key_field: str,
              on_job: Callable[[str, bool], None]) -> list[RowResult]:
        by_key: dict[str, RowResult] = {}
        for start in range(0, len(rows), BULK_MAX_ROWS):
            by_key.update(self._bulk_job(obj, op, rows[start:start + BULK_MAX_ROWS], key_field,
                                         on_job))
        return [by_key[r.key] for r in rows]

    def _bulk_job(self, obj: str, op: str, rows: list[_Row], key_field: str,
                  on_job: Callable[[str, bool], None]) -> dict[str, RowResult]:
        data, _header = self._csv(rows)
        spec: dict[str, Any] = {"object": obj, "operation": op, "contentType": "CSV",
                                "lineEnding": "LF", "columnDelimiter": "COMMA"}
        if op == "upsert":
            spec["externalIdFieldName"] = key_field
        self._guard()
        job = self._api.json("POST", "jobs/ingest", spec)
        job_id = str(job["id"])
        on_job(job_id, True)
        self._api.call(lambda sf: self._api.http(sf, "PUT", f"jobs/ingest/{job_id}/batches",
                                                 data=data, headers={"Content-Type": "text/csv"}))
        self._api.json("PATCH", f"jobs/ingest/{job_id}", {"state": "UploadComplete"})
        info = self._wait(job_id)
        row_of = {r.key: r for r in rows}
        out: dict[str, RowResult] = {}
        for kind in ("successfulResults", "failedResults"):
            path = f"jobs/ingest/{job_id}/{kind}"
            text = self._api.call(functools.partial(self._api.text, path=path))
            for rec in csv.DictReader(io.StringIO(text)):
                row = row_of.get(rec.get(key_field, ""))
                if row is None:
                    continue
                if kind == "successfulResults":
                    out[row.key] = RowResult(row.stripe_id, row.customer_id, row.kind, ok=True,
                                             sf_id=rec.get("sf__Id"))
                else:
                    reason = rec.get("sf__Error", "").removesuffix(" --")
                    out[row.key] = RowResult(row.stripe_id, row.customer_id, row.kind,
                                             ok=False, reason=reason,
                                             retryable=_retryable(reason))
        for row in rows:
            if row.key not in out:
                reason = f"not processed: bulk job {job_id} ended {info.get('state')}"
                if info.get("errorMessage"):
                    reason += f" ({info['errorMessage']})"
                out[row.key] = RowResult(row.stripe_id, row.customer_id, row.kind, ok=False,
                                         reason=reason, retryable=True)
        on_job(job_id, False)
        return out

    def _wait(self, job_id: str, *, limit_s: float = 1800.0) -> dict[str, Any]:
        delay, waited = 0.25, 0.0
        while True:
            info: dict[str, Any] = self._api.json("GET", f"jobs/ingest/{job_id}")
            if info.get("state") in TERMINAL:
                return info
            remaining = self._remaining_s()
            if waited > limit_s or (remaining is not None and remaining < 5):
                raise RetriableSyncError(f"bulk job {job_id} still {info.get('state')} after "
                                         f"{waited:.0f} s; the next run waits for it")
            self._sleep(delay)
            waited += delay
            delay = min(delay * 1.6, 5.0)

    def settle(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            try:
                info = self._api.json("GET", f"jobs/ingest/{job_id}")
            except SalesforceResourceNotFound:
                continue  # gone (Salesforce deletes jobs after 7 days)
            if info.get("state") == "Open":
                self._api.json("PATCH", f"jobs/ingest/{job_id}", {"state": "Aborted"})
            elif info.get("state") not in TERMINAL:
                self._wait(job_id)


def _duplicate(errors: list[dict[str, Any]]) -> str | None:
    """A duplicate rule's hit as the row's reason, `duplicate:<ids>` and what to do; None
    when the errors are something else. Ambiguous, not wrong: which Account is the customer's
    is for a human to say (by setting the customer id on it: the next run links it)."""
    hits = [e for e in errors if e.get("statusCode") == names.DUPLICATES_DETECTED]
    if not hits:
        return None
    ids = sorted({str(m["record"]["Id"]) for e in hits
                  for r in (e.get("duplicateResult") or {}).get("matchResults", [])
                  for m in r.get("matchRecords", []) if m.get("record", {}).get("Id")})
    rule = next((str(e["duplicateResult"].get("duplicateRule")) for e in hits
                 if e.get("duplicateResult")), "a duplicate rule")
    return (f"{names.DUPLICATE_REASON}{','.join(ids) or 'unknown'} — {rule} matched "
            "existing Accounts; nothing was created. Set the Stripe customer id on the Account "
            "to keep and the next run links it")


def _cell(value: Any) -> str:
    """A CSV cell for Bulk API 2.0: booleans as true/false, None as #N/A (null)."""
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
