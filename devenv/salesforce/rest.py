"""REST API: describe, sObject rows, upsert by external id, sObject Collections, query, limits."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from devenv.salesforce import errors as codes
from devenv.salesforce import soql
from devenv.salesforce.errors import FieldError, RecordError, SalesforceError
from devenv.salesforce.schema import child_relationship_name
from devenv.salesforce.store import MultipleMatchesError, Org
from devenv.salesforce.web import Request, Response, Router, json_response

if TYPE_CHECKING:
    from collections.abc import Callable

V = r"/services/data/v(?P<ver>\d+\.\d)"
COLLECTION_LIMIT = 200
_ROLLED_BACK = FieldError(
    codes.ALL_OR_NONE_OPERATION_ROLLED_BACK,
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header")
_STATUS_FOR = {codes.NOT_FOUND: 404, codes.ENTITY_IS_DELETED: 404, codes.INVALID_TYPE: 404}


class _RollbackError(Exception):
    """Raised inside an allOrNone transaction to undo it."""


def record_error_response(err: RecordError) -> Response:
    """A failed single-record call: 400 (404 for missing rows) with the error list."""
    status = _STATUS_FOR.get(err.errors[0].code, 400) if err.errors else 400
    return json_response(status, [e.to_rest() for e in err.errors])


class QueryCursors:
    """Server-side query results for `nextRecordsUrl` paging (bounded, oldest dropped)."""

    def __init__(self, keep: int = 200) -> None:
        self._keep = keep
        self._cursors: OrderedDict[str, list[Any]] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, rows: list[Any]) -> str:
        """Store `rows`; returns the locator."""
        with self._lock:
            locator = f"01g5g{next(self._ids):010d}AB"
            self._cursors[locator] = rows
            while len(self._cursors) > self._keep:
                self._cursors.popitem(last=False)
            return locator

    def get(self, locator: str) -> list[Any]:
        """The rows behind `locator`, or INVALID_QUERY_LOCATOR."""
        with self._lock:
            rows = self._cursors.get(locator)
        if rows is None:
            raise SalesforceError.of(400, codes.INVALID_QUERY_LOCATOR, "invalid query locator")
        return rows

    def clear(self) -> None:
        """Forget every cursor."""
        with self._lock:
            self._cursors.clear()


class RestApi:
    """The /services/data/vXX.X REST routes over one `Org`."""

    def __init__(self, org: Org, *, api_usage: Callable[[], tuple[int, int]]) -> None:
        self.org = org
        self.cursors = QueryCursors()
        self.api_usage = api_usage

    def register(self, r: Router) -> None:
        """Add this API's routes to `r`."""
        r.add("GET", r"/services/data", "rest.versions", self.versions)
        r.add("GET", V, "rest.resources", self.resources)
        r.add("GET", V + r"/limits", "rest.limits", self.limits)
        r.add("GET", V + r"/sobjects", "rest.describe", self.describe_global)
        r.add("GET", V + r"/sobjects/(?P<obj>\w+)/describe", "rest.describe", self.describe)
        r.add("GET", V + r"/sobjects/(?P<obj>\w+)", "rest.describe", self.basic_info)
        r.add("POST", V + r"/sobjects/(?P<obj>\w+)", "rest.sobject", self.create)
        r.add("POST", V + r"/composite/tree/(?P<obj>\w+)", "rest.composite_tree",
              self.composite_tree)
        r.add("GET", V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>[^/]+)",
              "rest.sobject", self.get_by_external_id)
        r.add("PATCH", V + r"/sobjects/(?P<obj>\w+)/(?P<field>\w+)/(?P<value>[^/]+)",
              "rest.sobject", self.upsert)
        r.add("GET", V + r"/sobjects/(?P<obj>\w+)/(?P<id>\w+)", "rest.sobject", self.get)
        r.add("PATCH", V + r"/sobjects/(?P<obj>\w+)/(?P<id>\w+)", "rest.sobject", self.update)
        r.add("DELETE", V + r"/sobjects/(?P<obj>\w+)/(?P<id>\w+)", "rest.sobject", self.delete)
        r.add("GET", V + r"/query", "rest.query", self.query)
        r.add("GET", V + r"/queryAll", "rest.query", self.query_all)
        r.add("GET", V + r"/query/(?P<locator>[\w]+)-(?P<offset>\d+)", "rest.query", self.more)
        r.add("GET", V + r"/queryAll/(?P<locator>[\w]+)-(?P<offset>\d+)", "rest.query",
              self.more)
        r.add("POST", V + r"/composite/sobjects", "rest.collections", self.collection_create)
        r.add("PATCH", V + r"/composite/sobjects", "rest.collections", self.collection_update)
        r.add("PATCH", V + r"/composite/sobjects/(?P<obj>\w+)/(?P<field>\w+)",
              "rest.collections", self.collection_upsert)
        r.add("DELETE", V + r"/composite/sobjects", "rest.collections", self.collection_delete)
        r.add("GET", V + r"/composite/sobjects/(?P<obj>\w+)", "rest.collections",
              self.collection_get)

    # -- discovery -------------------------------------------------------------------------
    def versions(self, req: Request) -> Response:
        del req
        return json_response(200, [
            {"label": f"v{v}", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(31, 67)])

    def resources(self, req: Request) -> Response:
        base = f"/services/data/v{req.version}"
        return json_response(200, {k: f"{base}/{k}" for k in (
            "sobjects", "query", "queryAll", "limits", "composite", "jobs")})

    def limits(self, req: Request) -> Response:
        del req
        used, limit = self.api_usage()
        return json_response(200, {
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        })

    def describe_global(self, req: Request) -> Response:
        del req
        with self.org.lock:
            objs = [o.basic_info() for o in self.org.schema]
        return json_response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objs})

    def _object(self, name: str) -> Any:
        obj = self.org.schema.get(name)
        if obj is None:
            raise SalesforceError.of(404, codes.NOT_FOUND, "The requested resource does not exist")
        return obj

    def describe(self, req: Request) -> Response:
        with self.org.lock:
            obj = self._object(req.params["obj"])
            body = obj.describe(self.org.schema.children_of(obj.name))
        urls: dict[str, str] = body["urls"]
        body["urls"] = {k: v.replace("vXX.X", f"v{req.version}") for k, v in urls.items()}
        return json_response(200, body)

    def basic_info(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        return json_response(200, {"objectDescribe": obj.basic_info(), "recentItems": []})

    # -- single records ----------------------------------------------------------------------
    def _body_dict(self, req: Request) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            raise SalesforceError.of(400, codes.JSON_PARSER_ERROR,
                                     "Cannot deserialize instance of sObject from array value")
        return body

    def create(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        try:
            rid = self.org.insert(obj.name, self._body_dict(req))
        except RecordError as err:
            return record_error_response(err)
        return json_response(201, {"id": rid, "success": True, "errors": []})

    def composite_tree(self, req: Request) -> Response:
        """sObject Tree (`sf data import tree`): records with their children, all or none."""
        records = self._body_dict(req).get("records")
        if not isinstance(records, list) or not records:
            raise SalesforceError.of(400, codes.JSON_PARSER_ERROR, "records must be a list")
        results: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        created: list[tuple[str, str]] = []

        def insert(obj_name: str, rec: dict[str, Any], parent: tuple[str, str] | None) -> None:
            attrs = rec.get("attributes") or {}
            ref = attrs.get("referenceId")
            children = {k: v for k, v in rec.items()
                        if isinstance(v, dict) and isinstance(v.get("records"), list)}
            values = {k: v for k, v in rec.items() if k != "attributes" and k not in children}
            if parent is not None:
                values[parent[0]] = parent[1]
            try:
                rid = self.org.insert(attrs.get("type") or obj_name, values)
            except RecordError as err:
                failures.append({"referenceId": ref, "errors": [
                    e.to_collection() for e in err.errors]})
                return
            created.append((attrs.get("type") or obj_name, rid))
            results.append({"referenceId": ref, "id": rid})
            for relationship, sub in children.items():
                child, lookup = self._child(obj_name, relationship)
                for item in sub["records"]:
                    insert(child, item, (lookup, rid))

        with self.org.lock:
            for rec in records:
                insert(req.params["obj"], rec, None)
            if failures:  # all or none, as Salesforce does for a tree
                for obj_name, rid in reversed(created):
                    self.org.delete(obj_name, rid)
                return json_response(400, {"hasErrors": True, "results": failures})
        return json_response(201, {"hasErrors": False, "results": results})

    def _child(self, parent: str, relationship: str) -> tuple[str, str]:
        """The child object and lookup field behind a child relationship name."""
        for child, f in self.org.schema.children_of(self._object(parent).name):
            if child_relationship_name(child, f).lower() == relationship.lower():
                return child, f.name
        raise SalesforceError.of(400, codes.INVALID_FIELD,
                                 f"No such child relationship: {parent}.{relationship}")

    def _shape(self, req: Request, obj_name: str, rec: dict[str, Any]) -> Response:
        fields = req.arg("fields")
        obj = self._object(obj_name)
        base = f"/services/data/v{req.version}"
        names = ([f.strip() for f in fields.split(",") if f.strip()] if fields
                 else [f.name for f in obj.fields.values()])
        out: dict[str, Any] = {"attributes": {"type": obj.name,
                                              "url": f"{base}/sobjects/{obj.name}/{rec['Id']}"}}
        for n in names:
            f = obj.field(n)
            if f is None:
                raise SalesforceError.of(400, codes.INVALID_FIELD,
                                         f"No such column '{n}' on sobject of type {obj.name}")
            out[f.name] = rec.get(f.name)
        return json_response(200, out)

    def get(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        try:
            with self.org.lock:
                rec = dict(self.org.get(obj.name, req.params["id"]))
        except RecordError as err:
            return record_error_response(err)
        return self._shape(req, obj.name, rec)

    def get_by_external_id(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        f = obj.field(req.params["field"])
        if f is None or not (f.external_id or f.id_lookup):
            raise SalesforceError.of(404, codes.NOT_FOUND,
                                     "Provided external ID field does not exist or is not "
                                     "accessible: " + req.params["field"])
        value = unquote(req.params["value"])
        with self.org.lock:
            matches = sorted(self.org.index_lookup(obj.name, f.name, value))
            if not matches:
                raise SalesforceError.of(404, codes.NOT_FOUND, "The requested resource does not "
                                         "exist")
            if len(matches) > 1:
                base = f"/services/data/v{req.version}/sobjects/{obj.name}/"
                return json_response(300, [base + m for m in matches])
            rec = dict(self.org.records[obj.name.lower()][matches[0]])
        return self._shape(req, obj.name, rec)

    def upsert(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        value = unquote(req.params["value"])
        body = self._body_dict(req)
        clash = [k for k in body if k.lower() == req.params["field"].lower()]
        if clash and str(body[clash[0]]) != value:
            return json_response(400, [{
                "message": f"The value of the external ID field in the request body "
                           f"({body[clash[0]]}) doesn't match the value in the URL ({value})",
                "errorCode": codes.INVALID_FIELD, "fields": [clash[0]]}])
        try:
            rid, created = self.org.upsert(obj.name, req.params["field"], value, body)
        except MultipleMatchesError as err:
            base = f"/services/data/v{req.version}/sobjects/{obj.name}/"
            return json_response(300, [base + m for m in err.record_ids])
        except RecordError as err:
            return record_error_response(err)
        if created:
            return json_response(201, {"id": rid, "success": True, "errors": [],
                                       "created": True})
        return Response(204)

    def update(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        try:
            self.org.update(obj.name, req.params["id"], self._body_dict(req))
        except RecordError as err:
            return record_error_response(err)
        return Response(204)

    def delete(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        try:
            self.org.delete(obj.name, req.params["id"])
        except RecordError as err:
            return record_error_response(err)
        return Response(204)

    # -- query -------------------------------------------------------------------------------
    def _page_size(self, req: Request) -> int:
        opts = req.header("sforce-query-options") or ""
        for part in opts.split(","):
            key, _, value = part.strip().partition("=")
            if key.lower() == "batchsize" and value.isdigit():
                return max(200, min(int(value), soql.DEFAULT_PAGE_SIZE))
        return soql.DEFAULT_PAGE_SIZE

    def _run(self, req: Request, *, include_deleted: bool) -> Response:
        q = req.arg("q")
        if not q:
            raise SalesforceError.of(400, codes.MALFORMED_QUERY, "A query string is required")
        if req.arg("columns") == "true":  # column metadata only, no rows (the Salesforce CLI)
            return json_response(200, soql.columns(self.org, q))
        kind = "queryAll" if include_deleted else "query"
        total, rows = soql.execute(self.org, q, include_deleted=include_deleted,
                                   base_url=f"/services/data/v{req.version}")
        size = self._page_size(req)
        if len(rows) <= size:
            return json_response(200, {"totalSize": total, "done": True, "records": rows})
        locator = self.cursors.open(rows)
        return json_response(200, {
            "totalSize": total, "done": False, "records": rows[:size],
            "nextRecordsUrl": f"/services/data/v{req.version}/{kind}/{locator}-{size}"})

    def query(self, req: Request) -> Response:
        return self._run(req, include_deleted=False)

    def query_all(self, req: Request) -> Response:
        return self._run(req, include_deleted=True)

    def more(self, req: Request) -> Response:
        rows = self.cursors.get(req.params["locator"])
        start = int(req.params["offset"])
        size = self._page_size(req)
        page = rows[start:start + size]
        body: dict[str, Any] = {"totalSize": len(rows), "done": start + size >= len(rows),
                                "records": page}
        if not body["done"]:
            kind = "queryAll" if "/queryAll/" in req.path else "query"
            body["nextRecordsUrl"] = (f"/services/data/v{req.version}/{kind}/"
                                      f"{req.params['locator']}-{start + size}")
        return json_response(200, body)

    # -- sObject Collections ---------------------------------------------------------------
    def _collection(self, req: Request) -> tuple[bool, list[dict[str, Any]]]:
        body = self._body_dict(req)
        records = body.get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SalesforceError.of(400, codes.JSON_PARSER_ERROR, "records must be a list of "
                                     "sObjects")
        if len(records) > COLLECTION_LIMIT:
            raise SalesforceError.of(400, codes.EXCEEDED_ID_LIMIT, "record limit reached. cannot "
                                     f"submit more than {COLLECTION_LIMIT} records into this "
                                     "call")
        return bool(body.get("allOrNone", False)), records

    def _apply_all(self, all_or_none: bool, items: list[Any],
                   op: Callable[[Any], dict[str, Any]]) -> Response:
        results: list[dict[str, Any]] = []
        failed = False
        with self.org.lock:
            try:
                with self.org.transaction():
                    for item in items:
                        try:
                            with self.org.transaction():
                                results.append(op(item))
                        except RecordError as err:
                            failed = True
                            results.append({"id": None, "success": False,
                                            "errors": [e.to_collection() for e in err.errors]})
                        except MultipleMatchesError as err:
                            failed = True
                            results.append({"id": None, "success": False, "errors": [{
                                "statusCode": "DUPLICATE_EXTERNAL_ID",
                                "message": "more than one record found for external id field: "
                                           + str(err.record_ids), "fields": []}]})
                    if failed and all_or_none:
                        raise _RollbackError
            except _RollbackError:
                results = [r if not r["success"] else
                           {"id": None, "success": False,
                            "errors": [_ROLLED_BACK.to_collection()]} for r in results]
        return json_response(200, results)

    def _type_of(self, rec: dict[str, Any], default: str | None = None) -> str:
        attrs = rec.get("attributes")
        kind = attrs.get("type") if isinstance(attrs, dict) else None
        if not kind and default is None:
            raise RecordError.of(codes.INVALID_TYPE, "No SObject Type defined in the record")
        return str(kind or default)

    def collection_create(self, req: Request) -> Response:
        all_or_none, records = self._collection(req)

        def op(rec: dict[str, Any]) -> dict[str, Any]:
            if rec.get("Id"):
                raise RecordError.of(codes.INVALID_FIELD, "cannot specify Id in an insert call",
                                     "Id")
            rid = self.org.insert(self._type_of(rec), rec)
            return {"id": rid, "success": True, "errors": []}

        return self._apply_all(all_or_none, records, op)

    def collection_update(self, req: Request) -> Response:
        all_or_none, records = self._collection(req)

        def op(rec: dict[str, Any]) -> dict[str, Any]:
            rid = rec.get("Id")
            if not rid:
                raise RecordError.of(codes.MALFORMED_ID, "Id is required for update", "Id")
            body = {k: v for k, v in rec.items() if k != "Id"}
            return {"id": self.org.update(self._type_of(rec), str(rid), body), "success": True,
                    "errors": []}

        return self._apply_all(all_or_none, records, op)

    def collection_upsert(self, req: Request) -> Response:
        all_or_none, records = self._collection(req)
        obj = self._object(req.params["obj"])
        field_name = req.params["field"]

        def op(rec: dict[str, Any]) -> dict[str, Any]:
            key = next((k for k in rec if k.lower() == field_name.lower()), None)
            value = rec.get(key) if key else None
            if value in (None, ""):
                raise RecordError.of(codes.REQUIRED_FIELD_MISSING,
                                     f"Required fields are missing: [{field_name}]", field_name)
            body = {k: v for k, v in rec.items() if k != key}
            rid, created = self.org.upsert(self._type_of(rec, obj.name), field_name, str(value),
                                           body)
            return {"id": rid, "success": True, "errors": [], "created": created}

        return self._apply_all(all_or_none, records, op)

    def collection_delete(self, req: Request) -> Response:
        raw = req.arg("ids") or ""
        record_ids = [i for i in raw.split(",") if i]
        if len(record_ids) > COLLECTION_LIMIT:
            raise SalesforceError.of(400, codes.EXCEEDED_ID_LIMIT, "record limit reached")
        all_or_none = (req.arg("allOrNone") or "false").lower() == "true"

        def op(rid: str) -> dict[str, Any]:
            found = self.org.find(rid)
            if found is None:
                raise RecordError.of(codes.INVALID_CROSS_REFERENCE_KEY,
                                     "invalid cross reference id")
            self.org.delete(found[0].name, rid)
            return {"id": found[1]["Id"], "success": True, "errors": []}

        return self._apply_all(all_or_none, record_ids, op)

    def collection_get(self, req: Request) -> Response:
        obj = self._object(req.params["obj"])
        record_ids = [i for i in (req.arg("ids") or "").split(",") if i]
        fields = [f for f in (req.arg("fields") or "Id").split(",") if f]
        out: list[Any] = []
        base = f"/services/data/v{req.version}"
        with self.org.lock:
            for rid in record_ids:
                try:
                    rec = self.org.get(obj.name, rid)
                except RecordError:
                    out.append(None)
                    continue
                row: dict[str, Any] = {"attributes": {
                    "type": obj.name, "url": f"{base}/sobjects/{obj.name}/{rec['Id']}"}}
                for n in fields:
                    f = obj.field(n)
                    if f is None:
                        raise SalesforceError.of(400, codes.INVALID_FIELD, f"No such column '{n}'")
                    row[f.name] = rec.get(f.name)
                out.append(row)
        return json_response(200, out)
