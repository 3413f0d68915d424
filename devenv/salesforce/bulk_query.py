"""Bulk API 2.0 query jobs (/jobs/query): create, status, results as CSV a page at a time
(`maxRecords`, `Sforce-Locator`), list, abort, delete — what `sf data export bulk` and large
reads use.

The query runs when the job is created (the org answers from memory); the job reports
UploadComplete at creation and JobComplete from then on, as a quick job in an org does.
"""

from __future__ import annotations

import csv
import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devenv.salesforce import errors as codes
from devenv.salesforce import soql
from devenv.salesforce.bulk import DELIMITERS, LINE_ENDINGS, V
from devenv.salesforce.errors import SalesforceError
from devenv.salesforce.store import Org, sf_datetime
from devenv.salesforce.web import Request, Response, Router, json_response

if TYPE_CHECKING:
    from collections.abc import Mapping

_DEFAULT_PAGE = 50_000


@dataclass(slots=True)
class QueryJob:
    """One query job and its rows, flattened to CSV columns."""

    id: str
    operation: str
    query: str
    object: str
    line_ending: str
    delimiter: str
    api_version: str
    created: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    state: str = "UploadComplete"

    def info(self, user_id: str) -> dict[str, Any]:
        """The job-info JSON (GET /jobs/query/{id})."""
        done = self.state == "JobComplete"
        return {"id": self.id, "operation": self.operation, "object": self.object,
                "createdById": user_id, "createdDate": self.created,
                "systemModstamp": self.created, "state": self.state,
                "concurrencyMode": "Parallel", "contentType": "CSV",
                "apiVersion": float(self.api_version), "jobType": "V2Query",
                "lineEnding": self.line_ending, "columnDelimiter": self.delimiter,
                "numberRecordsProcessed": len(self.rows) if done else 0, "retries": 0,
                "totalProcessingTime": 0}


def _header(columns: list[dict[str, Any]], prefix: str = "") -> list[str]:
    out: list[str] = []
    for c in columns:
        name = f"{prefix}{c['columnName']}"
        out += _header(c["joinColumns"], name + ".") if c["joinColumns"] else [name]
    return out


def _cell(record: Mapping[str, Any], path: str) -> str:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BulkQuery:
    """The /jobs/query routes."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.jobs: dict[str, QueryJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def register(self, r: Router) -> None:
        """Add the query-job routes to `r`."""
        base = V + r"/jobs/query"
        r.add("POST", base, "bulk.query_create", self.create)
        r.add("GET", base, "bulk.query_list", self.list_jobs)
        r.add("GET", base + r"/(?P<id>\w+)", "bulk.query_status", self.status)
        r.add("GET", base + r"/(?P<id>\w+)/results", "bulk.query_results", self.results)
        r.add("PATCH", base + r"/(?P<id>\w+)", "bulk.query_state", self.set_state)
        r.add("DELETE", base + r"/(?P<id>\w+)", "bulk.query_delete", self.delete)

    def reset(self) -> None:
        """Forget every job."""
        with self._lock:
            self.jobs.clear()

    def _job(self, job_id: str) -> QueryJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise SalesforceError.of(404, codes.NOT_FOUND, "The requested resource does not exist")
        return job

    def create(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict) or not body.get("query"):
            raise SalesforceError.of(400, codes.INVALIDJOB, "a query job needs `query`")
        operation = body.get("operation", "query")
        if operation not in ("query", "queryAll"):
            raise SalesforceError.of(400, codes.INVALIDJOB, f"Invalid operation: {operation}")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise SalesforceError.of(400, codes.INVALIDJOB, "unknown columnDelimiter or lineEnding")
        meta = soql.columns(self.org, body["query"])  # malformed SOQL answers here, as in an org
        _total, records = soql.execute(self.org, body["query"],
                                       include_deleted=operation == "queryAll")
        header = _header(meta["columnMetadata"])
        with self._lock:
            job_id = f"750{self.org.profile.org_id[3:5]}{next(self._ids):010d}QAA"
        job = QueryJob(job_id, operation, body["query"], meta["entityName"], line_ending,
                       delimiter, req.version, sf_datetime(self.org.clock()), header,
                       [[_cell(r, h) for h in header] for r in records])
        self.jobs[job.id] = job
        created = job.info(self.org.user_id)
        job.state = "JobComplete"
        return json_response(200, created)

    def list_jobs(self, req: Request) -> Response:
        del req
        return json_response(200, {"done": True, "nextRecordsUrl": None, "records": [
            j.info(self.org.user_id) for j in self.jobs.values()]})

    def status(self, req: Request) -> Response:
        return json_response(200, self._job(req.params["id"]).info(self.org.user_id))

    def set_state(self, req: Request) -> Response:
        job = self._job(req.params["id"])
        body = req.json()
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise SalesforceError.of(400, codes.INVALIDJOBSTATE, "a query job can only be Aborted")
        if job.state != "JobComplete":
            job.state = "Aborted"
        return json_response(200, job.info(self.org.user_id))

    def delete(self, req: Request) -> Response:
        self._job(req.params["id"])
        self.jobs.pop(req.params["id"], None)
        return Response(204, b"", "text/plain")

    def results(self, req: Request) -> Response:
        job = self._job(req.params["id"])
        if job.state != "JobComplete":
            raise SalesforceError.of(400, codes.INVALIDJOBSTATE, f"the job is {job.state}")
        start = int(req.arg("locator") or 0)
        size = int(req.arg("maxRecords") or _DEFAULT_PAGE)
        page = job.rows[start:start + size]
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=DELIMITERS[job.delimiter],
                            lineterminator=LINE_ENDINGS[job.line_ending],
                            quoting=csv.QUOTE_MINIMAL)
        writer.writerow(job.header)
        writer.writerows(page)
        following = start + size
        return Response(200, buf.getvalue().encode(), "text/csv", headers={
            "Sforce-NumberOfRecords": str(len(page)),
            "Sforce-Locator": str(following) if following < len(job.rows) else "null"})
