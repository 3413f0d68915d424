"""Bulk API 2.0 ingest jobs: create, upload CSV, close, process asynchronously, read results."""

from __future__ import annotations

import csv
import io
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devenv.salesforce import errors as codes
from devenv.salesforce.errors import FieldError, RecordError, SalesforceError
from devenv.salesforce.store import MultipleMatchesError, Org, sf_datetime
from devenv.salesforce.web import Request, Response, Router, json_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from devenv.salesforce.faults import FaultPlan

V = r"/services/data/v(?P<ver>\d+\.\d)"
OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^",
              "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
# Rows are applied in slices so queries and other jobs interleave with a big job, as in an org.
_SLICE = 1000


@dataclass(slots=True)
class Job:
    """One ingest job and everything it has produced so far."""

    id: str
    operation: str
    object: str
    external_id_field: str | None
    line_ending: str
    delimiter: str
    api_version: str
    created: str
    state: str = "Open"
    modstamp: str = ""
    data: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    started: float = 0.0
    finished: float = 0.0
    restricted: bool = False  # run as a user without admin rights (the job's creator)

    def info(self, user_id: str) -> dict[str, Any]:
        """The job-info JSON (GET /jobs/ingest/{id})."""
        body: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object,
            "createdById": user_id, "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.api_version), "jobType": "V2Ingest",
            "lineEnding": self.line_ending, "columnDelimiter": self.delimiter,
            "numberRecordsProcessed": self.processed, "numberRecordsFailed": self.failed,
            "retries": 0,
            "totalProcessingTime": int((self.finished - self.started) * 1000)
            if self.finished else 0,
            "apiActiveProcessingTime": 0, "apexProcessingTime": 0,
        }
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        if self.state == "Open":
            body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


def _csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    """Result CSV as Salesforce writes it: every value quoted, LF line endings."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


class BulkIngest:
    """The /jobs/ingest routes; jobs run on a worker thread each, like the org's async queue."""

    def __init__(self, org: Org, faults: Callable[[], FaultPlan], *,
                 processing_delay_s: float = 0.0) -> None:
        self.org = org
        self.faults = faults
        self.processing_delay_s = processing_delay_s
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def register(self, r: Router) -> None:
        """Add the ingest routes to `r`."""
        base = V + r"/jobs/ingest"
        r.add("POST", base, "bulk.create", self.create)
        r.add("GET", base, "bulk.list", self.list_jobs)
        r.add("PUT", base + r"/(?P<id>\w+)/batches", "bulk.upload", self.upload)
        r.add("PATCH", base + r"/(?P<id>\w+)", "bulk.state", self.set_state)
        r.add("GET", base + r"/(?P<id>\w+)", "bulk.status", self.status)
        r.add("DELETE", base + r"/(?P<id>\w+)", "bulk.delete", self.delete)
        r.add("GET", base + r"/(?P<id>\w+)/(?P<kind>(?i:successfulResults|failedResults|"
              r"unprocessedrecords))", "bulk.results", self.results)

    def reset(self) -> None:
        """Forget every job (waits for running ones to stop)."""
        self.join()
        with self._lock:
            self.jobs.clear()

    def join(self, timeout: float = 30.0) -> None:
        """Wait for worker threads (tests and reset)."""
        for t in list(self._threads):
            t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise SalesforceError.of(404, codes.NOT_FOUND, "The requested resource does not exist")
        return job

    def create(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            raise SalesforceError.of(400, codes.JSON_PARSER_ERROR, "Expected a JSON object")
        op = body.get("operation")
        if op not in OPERATIONS:
            raise SalesforceError.of(400, codes.INVALIDJOB, f"InvalidJob : Invalid operation: {op}")
        obj = self.org.schema.get(str(body.get("object", "")))
        if obj is None:
            raise SalesforceError.of(400, codes.INVALIDJOB,
                                     f"InvalidJob : Unable to find object: {body.get('object')}")
        ext = body.get("externalIdFieldName")
        if op == "upsert":
            f = obj.field(str(ext or ""))
            if f is None or not (f.external_id or f.type == "id" or f.id_lookup):
                raise SalesforceError.of(
                    400, codes.INVALIDJOB,
                    f"InvalidJob : Field {ext} is not an external ID field of {obj.name}")
            ext = f.name
        if body.get("contentType", "CSV") != "CSV":
            raise SalesforceError.of(400, codes.INVALIDJOB, "InvalidJob : contentType must be CSV")
        delim = body.get("columnDelimiter", "COMMA")
        ending = body.get("lineEnding", "LF")
        if delim not in DELIMITERS or ending not in LINE_ENDINGS:
            raise SalesforceError.of(400, codes.INVALIDJOB,
                                     "InvalidJob : invalid columnDelimiter or lineEnding")
        with self._lock:
            job_id = f"7505g{next(self._ids):010d}AAA"
            job = Job(job_id, op, obj.name, ext if op == "upsert" else None, ending, delim,
                      req.version, sf_datetime(self.org.clock()))
            self.jobs[job_id] = job
        return json_response(200, job.info(self.org.user_id))

    def list_jobs(self, req: Request) -> Response:
        del req
        with self._lock:
            records = [j.info(self.org.user_id) for j in self.jobs.values()]
        return json_response(200, {"done": True, "records": records, "nextRecordsUrl": None})

    def upload(self, req: Request) -> Response:
        job = self._job(req.params["id"])
        if job.state != "Open":
            raise SalesforceError.of(409, codes.INVALIDJOB,
                                     f"InvalidJob : Job {job.id} is not Open (state {job.state})")
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "text/csv":
            raise SalesforceError.of(400, "INVALIDCONTENTTYPE",
                                     "Content-Type must be text/csv")
        if job.data:
            # Bulk 2.0 takes one upload per job; a second PUT is refused.
            raise SalesforceError.of(400, codes.INVALIDJOB,
                                     "InvalidJob : Found multiple batches for job")
        job.data.append(req.body)
        return Response(201, content_type="text/plain")

    def set_state(self, req: Request) -> Response:
        job = self._job(req.params["id"])
        body = req.json()
        state = body.get("state") if isinstance(body, dict) else None
        if state == "UploadComplete":
            if job.state != "Open":
                raise SalesforceError.of(409, codes.INVALIDJOB,
                                         f"InvalidJob : Job state is {job.state}")
            job.state = "UploadComplete"
            job.modstamp = sf_datetime(self.org.clock())
            # The job's rows are written with the rights of the user who closed it.
            job.restricted = self.org.restricted
            t = threading.Thread(target=self._process_as, args=(job,), daemon=True,
                                 name=f"bulk-{job.id}")
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()
        elif state == "Aborted":
            if job.state in TERMINAL:
                raise SalesforceError.of(409, codes.INVALIDJOB,
                                         f"InvalidJob : Job state is {job.state}")
            job.state = "Aborted"
            job.modstamp = sf_datetime(self.org.clock())
        else:
            raise SalesforceError.of(400, codes.INVALIDJOB, f"InvalidJob : bad state {state}")
        return json_response(200, job.info(self.org.user_id))

    def status(self, req: Request) -> Response:
        return json_response(200, self._job(req.params["id"]).info(self.org.user_id))

    def delete(self, req: Request) -> Response:
        job = self._job(req.params["id"])
        if job.state not in TERMINAL and job.state != "Open":
            raise SalesforceError.of(409, codes.INVALIDJOB, "InvalidJob : job is still running")
        with self._lock:
            self.jobs.pop(job.id, None)
        return Response(204)

    def results(self, req: Request) -> Response:
        job = self._job(req.params["id"])
        kind = req.params["kind"].lower()
        if kind == "successfulresults":
            body = _csv_text(["sf__Id", "sf__Created", *job.header], list(job.successes))
        elif kind == "failedresults":
            body = _csv_text(["sf__Id", "sf__Error", *job.header], list(job.failures))
        else:
            body = _csv_text(job.header, list(job.unprocessed))
        return Response(200, body, content_type="text/csv")

    # -- processing --------------------------------------------------------------------------
    def _process_as(self, job: Job) -> None:
        with self.org.acting_as(restricted=job.restricted):
            self._process(job)

    def _process(self, job: Job) -> None:
        job.started = time.monotonic()
        if self.processing_delay_s:
            time.sleep(self.processing_delay_s)
        if job.state == "Aborted":
            return
        job.state = "InProgress"
        text = b"".join(job.data).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter]))
        header, rows = (rows[0], rows[1:]) if rows else ([], [])
        job.header = header
        problem = self._check_header(job, header)
        if problem:
            self._fail(job, problem, rows)
            return
        plan = self.faults()
        fail_at = len(rows) // 2 if plan.take_bulk_failure() else None
        lock_rng = plan.stream(f"bulk-lock:{job.object}")
        apply = self._row_op(job, header)
        for start in range(0, len(rows), _SLICE):
            if job.state == "Aborted":
                job.unprocessed.extend(rows[start:])
                break
            chunk = rows[start:start + _SLICE]
            with self.org.lock:
                for i, row in enumerate(chunk, start):
                    if fail_at is not None and i >= fail_at:
                        break
                    if plan.bulk_lock_row_rate and lock_rng.random() < plan.bulk_lock_row_rate:
                        self._record_failure(job, row, "", FieldError(
                            codes.UNABLE_TO_LOCK_ROW,
                            "unable to obtain exclusive access to this record or 1 records"))
                        continue
                    self._apply_row(job, row, apply)
            if fail_at is not None and start + _SLICE > fail_at:
                self._fail(job, "InternalServerError : An unexpected error occurred while "
                           "processing the job. Contact Salesforce support.", rows[fail_at:])
                return
        if job.state != "Aborted":
            job.state = "JobComplete"
        job.finished = time.monotonic()
        job.modstamp = sf_datetime(self.org.clock())

    def _fail(self, job: Job, message: str, rest: list[list[str]]) -> None:
        job.unprocessed.extend(rest)
        job.error_message = message
        job.state = "Failed"
        job.finished = time.monotonic()
        job.modstamp = sf_datetime(self.org.clock())

    def _check_header(self, job: Job, header: list[str]) -> str | None:
        obj = self.org.object(job.object)
        if not header:
            return "InvalidBatch : The CSV has no header row"
        for name in header:
            base = name.split(".", 1)[0]
            if "." in name:
                if obj.relationship(base) is None:
                    return f"InvalidBatch : Field name not found : {name}"
            elif obj.field(name) is None:
                return f"InvalidBatch : Field name not found : {name}"
        lower = [h.lower() for h in header]
        if job.operation in ("update", "delete", "hardDelete") and "id" not in lower:
            return "InvalidBatch : Field name not found : Id"
        if job.operation in ("delete", "hardDelete") and lower != ["id"]:
            return "InvalidBatch : The 'delete' batch must contain only 'Id'"
        if job.operation == "upsert" and (job.external_id_field or "").lower() not in lower:
            return f"InvalidBatch : Field name not found : {job.external_id_field}"
        return None

    def _row_op(self, job: Job, header: list[str]) -> Callable[[dict[str, str]], tuple[str, bool]]:
        org, name = self.org, job.object
        if job.operation == "insert":
            return lambda v: (org.insert(name, v, from_csv=True), True)
        if job.operation == "update":
            return lambda v: (org.update(name, v.pop(_key(header, "Id")), v, from_csv=True),
                              False)
        if job.operation == "upsert":
            ext = _key(header, job.external_id_field or "")
            return lambda v: org.upsert(name, ext, v.pop(ext), v, from_csv=True)

        def delete(v: dict[str, str]) -> tuple[str, bool]:
            rid = v[_key(header, "Id")]
            org.delete(name, rid)
            return org.deleted[name.lower()].get(rid, {}).get("Id", rid), False

        return delete

    def _apply_row(self, job: Job, row: list[str],
                   apply: Callable[[dict[str, str]], tuple[str, bool]]) -> None:
        values = dict(zip(job.header, row, strict=False))
        given_id = values.get(_key(job.header, "Id"), "") if "id" in (
            h.lower() for h in job.header) else ""
        try:
            rid, created = apply(values)
        except RecordError as err:
            self._record_failure(job, row, given_id, err.errors[0])
            return
        except MultipleMatchesError as err:
            self._record_failure(job, row, "", FieldError(
                "DUPLICATE_EXTERNAL_ID",
                f"{job.external_id_field}: more than one record found for external id field: "
                f"{err.record_ids}", (job.external_id_field or "",)))
            return
        job.processed += 1
        job.successes.append([rid, "true" if created else "false", *row])

    def _record_failure(self, job: Job, row: list[str], rid: str, err: FieldError) -> None:
        job.processed += 1
        job.failed += 1
        job.failures.append([rid, err.to_bulk(), *row])


def _key(header: list[str], name: str) -> str:
    for h in header:
        if h.lower() == name.lower():
            return h
    return name
