"""The stand-in org's records: DML with Salesforce's validation, indexes, and transactions.

Every write goes through `Org`, which enforces what a real org enforces for the objects we serve:
field existence, create/update permissions, types, required fields, lengths, restricted
picklists, references (by id or by a parent's external id), uniqueness and the Billing rule of one
AutoPay payment method per Account. Failures raise `RecordError` with Salesforce's codes.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from devenv.salesforce import duplicates, ids
from devenv.salesforce import errors as codes
from devenv.salesforce.billing import (
    PAYMENT_METHOD,
    OrgProfile,
    billing_schema,
    seed_records,
)
from devenv.salesforce.duplicates import DuplicateRule
from devenv.salesforce.errors import FieldError, RecordError
from devenv.salesforce.schema import (
    BOOLEAN,
    DATE,
    DATETIME,
    EMAIL,
    ID,
    NUMBER_TYPES,
    PICKLIST,
    REFERENCE,
    FieldDef,
    ObjectDef,
    Schema,
)

Record = dict[str, Any]
# Bulk API 2.0 CSV: this literal sets a field to null; an empty cell leaves it unchanged.
BULK_NULL = "#N/A"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_USER_REFERENCES = frozenset({"CreatedById", "LastModifiedById", "OwnerId"})
_AUDIT = frozenset({"id", "isdeleted", "createddate", "createdbyid", "lastmodifieddate",
                    "lastmodifiedbyid", "systemmodstamp"})


@functools.lru_cache(maxsize=64)
def _second(epoch_second: int) -> str:
    return datetime.fromtimestamp(epoch_second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def sf_datetime(moment: datetime) -> str:
    """Salesforce's JSON datetime format: 2026-11-23T20:00:00.000+0000."""
    # strftime dominates bulk inserts; the part up to the second is cached.
    return _second(int(moment.timestamp())) + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A reference to a parent record by one of its indexed fields (`Account__r.Ext__c = v`)."""

    target: str
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class _ObjectMeta:
    required: list[FieldDef]
    indexed: list[tuple[FieldDef, dict[Any, set[str]]]]
    template: dict[str, Any]  # a new record before its values: every field at its default
    auto_number: bool


class MultipleMatchesError(Exception):
    """An upsert's external id matched more than one record (REST answers 300)."""

    def __init__(self, record_ids: list[str]) -> None:
        super().__init__(f"{len(record_ids)} records match")
        self.record_ids = record_ids


Rule = Callable[["Org", str, Record, "Record | None"], "FieldError | None"]


def _one_autopay_per_account(org: Org, rid: str, new: Record,
                             old: Record | None) -> FieldError | None:
    """Salesforce Billing allows only one AutoPay payment method per Account."""
    del old
    if not new.get("blng__AutoPay__c"):
        return None
    account = new.get("blng__Account__c")
    for other_id in org.index_lookup(PAYMENT_METHOD, "blng__Account__c", account):
        other = org.records[PAYMENT_METHOD.lower()][other_id]
        if other_id != rid and other.get("blng__AutoPay__c"):
            return FieldError(
                codes.FIELD_CUSTOM_VALIDATION_EXCEPTION,
                "An account can have only one payment method with Auto Pay selected. "
                "Deselect Auto Pay on the current payment method first.",
                ("blng__AutoPay__c",),
            )
    return None


def _one_assignment_per_user_and_set(org: Org, rid: str, new: Record,
                                     old: Record | None) -> FieldError | None:
    """A user holds a permission set once."""
    del old
    for other in org.index_lookup("PermissionSetAssignment", "AssigneeId", new.get("AssigneeId")):
        row = org.records["permissionsetassignment"][other]
        if other != rid and row.get("PermissionSetId") == new.get("PermissionSetId"):
            return FieldError(codes.DUPLICATE_VALUE, "Duplicate PermissionSetAssignment",
                              ("AssigneeId",))
    return None


DEFAULT_RULES: Mapping[str, tuple[Rule, ...]] = {
    PAYMENT_METHOD.lower(): (_one_autopay_per_account,),
    "permissionsetassignment": (_one_assignment_per_user_and_set,),
}


# Objects only an admin writes ("Customize Application", "Assign Permission Sets", "Modify
# All Data"): the package's settings and permission sets. The integration user holds only the
# permission set the org config assigns it, which grants none of these.
ADMIN_ONLY: frozenset[str] = frozenset({
    "blng__billingconfig__c", "permissionset", "permissionsetassignment", "objectpermissions",
    "fieldpermissions", "profile"})


class Org:
    """All records of one stand-in org. Thread-safe: every public method holds `lock`."""

    def __init__(self, profile: OrgProfile | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.profile = profile or OrgProfile()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        # Who the current thread's request runs as: unset = the stand-in itself (admin API,
        # background deploys), True = a user without admin rights.
        self._acting = threading.local()
        self.reset()

    @contextlib.contextmanager
    def duplicate_header(self, allowed: bool | None) -> Iterator[None]:
        """Run this thread's DML under a request's `Sforce-Duplicate-Rule-Header` allowSave."""
        self._acting.allow_save = allowed
        try:
            yield
        finally:
            self._acting.allow_save = None

    @contextlib.contextmanager
    def acting_as(self, *, restricted: bool) -> Iterator[None]:
        """Run this thread's DML as a user with (or without) admin rights."""
        self._acting.restricted = restricted
        try:
            yield
        finally:
            self._acting.restricted = False

    @property
    def restricted(self) -> bool:
        """Whether this thread's request runs as a user without admin rights."""
        return bool(getattr(self._acting, "restricted", False))

    def _guard(self, obj: ObjectDef, fields: Iterable[str] = ()) -> None:
        if not getattr(self._acting, "restricted", False):
            return
        if obj.name.lower() in ADMIN_ONLY:
            # What Salesforce answers a user whose permission sets grant no edit on the object.
            raise RecordError.of(codes.INSUFFICIENT_ACCESS_OR_READONLY,
                                 "insufficient access rights on object id")
        # What the integration user wrote (tests compare it with its permission set).
        self.restricted_writes.setdefault(obj.name, set()).update(fields)

    # -- lifecycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to a fresh Billing org: schema, gateway, package settings, nothing else."""
        with self.lock:
            self.schema: Schema = billing_schema(self.profile)
            self.ids = ids.IdFactory()
            self.records: dict[str, dict[str, Record]] = {}
            self.deleted: dict[str, dict[str, Record]] = {}
            self.indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}
            self.auto_numbers: dict[str, int] = {}
            self.rules: dict[str, tuple[Rule, ...]] = dict(DEFAULT_RULES)
            self._undo: list[tuple[str, str, Record | None]] | None = None
            self._meta_cache: dict[str, Any] = {}
            for obj in self.schema:
                self._ensure_object(obj)
            self.user_id = ""
            self.user_ids: dict[str, str] = {}  # by username
            self.restricted_writes: dict[str, set[str]] = {}
            # The org's active Account duplicate rule (standard: alert), switchable by admins.
            self.duplicate_rule = DuplicateRule()
            self._seed_org_record()
            profiles: dict[str, str] = {}  # by Name: seed users name their profile
            for name, seeded in seed_records(self.profile):
                fields = {**seeded, "ProfileId": profiles.get(str(seeded["ProfileId"]))} \
                    if name == "User" else seeded
                rid = self.insert(name, fields)
                if name == "Profile":
                    profiles[str(fields["Name"])] = rid
                if name == "User":
                    self.user_ids[str(fields["Username"])] = rid
                    self.user_id = self.user_id or rid  # the integration user

    def _seed_org_record(self) -> None:
        org_obj = self.schema.get("Organization")
        assert org_obj is not None
        now = sf_datetime(self.clock())
        rec: Record = {f.name: None for f in org_obj.fields.values()}
        rec.update({
            "Id": ids.to_18(self.profile.org_id[:15]), "Name": self.profile.org_name,
            "IsSandbox": self.profile.is_sandbox, "IsDeleted": False,
            "OrganizationType": "Enterprise Edition", "InstanceName": "LOCAL",
            "CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now,
        })
        self._put("organization", rec["Id"], rec)

    def _ensure_object(self, obj: ObjectDef) -> None:
        key = obj.name.lower()
        self.records.setdefault(key, {})
        self.deleted.setdefault(key, {})
        self._meta_cache.pop(key, None)
        for f in obj.fields.values():
            if self._indexable(f):
                self._build_index(key, f)

    @staticmethod
    def _indexable(f: FieldDef) -> bool:
        # Audit user references are the same on nearly every row: an index would not help.
        if f.name in _USER_REFERENCES:
            return False
        return f.indexed or f.type == REFERENCE or f.name_field

    def _meta(self, key: str) -> _ObjectMeta:
        """Per-object facts the DML path needs on every row, cached until the schema changes."""
        meta = self._meta_cache.get(key)
        if meta is None:
            obj = self.schema.get(key)
            assert obj is not None
            name = obj.field("Name")
            meta = self._meta_cache[key] = _ObjectMeta(
                required=[f for f in obj.fields.values() if f.required and f.createable],
                indexed=[(f, self.indexes[(key, f.name.lower())]) for f in obj.fields.values()
                         if (key, f.name.lower()) in self.indexes],
                template={f.name: bool(f.default) if f.type == BOOLEAN else f.default
                          for f in obj.fields.values()},
                auto_number=name is not None and name.auto_number,
            )
        return meta

    def _build_index(self, key: str, f: FieldDef) -> None:
        fkey = f.name.lower()
        if (key, fkey) in self.indexes:
            return
        idx: dict[Any, set[str]] = {}
        for rid, rec in self.records.get(key, {}).items():
            value = rec.get(f.name)
            if value is not None:
                idx.setdefault(self._norm(f, value), set()).add(rid)
        self.indexes[(key, fkey)] = idx

    def add_object(self, obj: ObjectDef) -> None:
        """Register a new object type (a deploy of a custom object or custom metadata type)."""
        with self.lock:
            self.schema.add(obj)
            self._ensure_object(obj)

    def add_field(self, object_name: str, f: FieldDef) -> None:
        """Add or redefine a field; existing records get null (or the default) for it."""
        with self.lock:
            obj = self.schema.get(object_name)
            if obj is None:
                raise KeyError(object_name)
            old = obj.field(f.name)
            obj.add_field(f)
            key = obj.name.lower()
            default = f.default if f.type in (BOOLEAN, PICKLIST) else None
            if f.type == BOOLEAN and default is None:
                default = False
            for rec in self.records[key].values():
                if old is None:
                    rec[f.name] = default
            self.indexes.pop((key, f.name.lower()), None)
            if self._indexable(f):
                self._build_index(key, f)
            self._meta_cache.pop(key, None)

    # -- lookups ---------------------------------------------------------------------------
    def object(self, name: str) -> ObjectDef:
        """The object type `name`, or INVALID_TYPE."""
        obj = self.schema.get(name)
        if obj is None:
            raise RecordError.of(codes.INVALID_TYPE,
                                 f"sObject type '{name}' is not supported.")
        return obj

    @staticmethod
    def _norm(f: FieldDef, value: Any) -> Any:
        if isinstance(value, str) and not f.case_sensitive and f.type not in (ID, REFERENCE):
            return value.lower()
        return value

    def index_lookup(self, object_name: str, field_name: str, value: Any) -> set[str]:
        """Ids of records whose indexed field equals `value` (empty set if none)."""
        obj = self.object(object_name)
        f = obj.field(field_name)
        if f is None:
            return set()
        idx = self.indexes.get((obj.name.lower(), f.name.lower()))
        if idx is None:
            return {rid for rid, r in self.records[obj.name.lower()].items()
                    if r.get(f.name) == value}
        if f.type in (ID, REFERENCE) and isinstance(value, str) and ids.is_valid(value):
            value = ids.to_18(value)
        return set(idx.get(self._norm(f, value), ()))

    def has_index(self, object_name: str, field_name: str) -> bool:
        """Whether equality lookups on this field are served by an index."""
        obj = self.object(object_name)
        f = obj.field(field_name)
        return f is not None and (obj.name.lower(), f.name.lower()) in self.indexes

    def find(self, record_id: str) -> tuple[ObjectDef, Record] | None:
        """The live record with this id (any object), or None."""
        if len(record_id) == 18:  # fast path: the ids this org hands out
            obj = self.schema.by_prefix(record_id[:3])
            rec = self.records[obj.name.lower()].get(record_id) if obj is not None else None
            if obj is not None and rec is not None:
                return obj, rec
        if not ids.is_valid(record_id):
            return None
        rid = ids.to_18(record_id)
        obj = self.schema.by_prefix(rid[:3])
        if obj is None:
            return None
        rec = self.records[obj.name.lower()].get(rid)
        return (obj, rec) if rec is not None else None

    def get(self, object_name: str, record_id: str) -> Record:
        """The live record `record_id` of `object_name`, or NOT_FOUND / MALFORMED_ID."""
        obj = self.object(object_name)
        table = self.records[obj.name.lower()]
        if len(record_id) == 18 and (found := table.get(record_id)) is not None:
            return found  # fast path: an 18-character id this org handed out
        if not ids.is_valid(record_id):
            raise RecordError.of(codes.MALFORMED_ID,
                                 f"{obj.name} ID: id value of incorrect type: {record_id}", "Id")
        rid = ids.to_18(record_id)
        rec = self.records[obj.name.lower()].get(rid)
        if rec is None:
            if rid in self.deleted[obj.name.lower()]:
                raise RecordError.of(codes.ENTITY_IS_DELETED, "entity is deleted")
            raise RecordError.of(codes.NOT_FOUND, "The requested resource does not exist")
        return rec

    def all(self, object_name: str, *, include_deleted: bool = False) -> list[Record]:
        """Every record of `object_name` (queryAll adds the recycle bin)."""
        key = self.object(object_name).name.lower()
        out = list(self.records[key].values())
        if include_deleted:
            out.extend(self.deleted[key].values())
        return out

    # -- transactions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-none: any exception restores every record this block wrote."""
        with self.lock:
            outer = self._undo
            log: list[tuple[str, str, Record | None]] = []
            self._undo = log
            try:
                yield
            except BaseException:
                self._undo = None  # restoring must not log itself
                for key, rid, old in reversed(log):
                    if old is None:
                        self._remove(key, rid)
                    else:
                        self._put(key, rid, old)
                        self.deleted[key].pop(rid, None)
                self._undo = outer
                raise
            self._undo = outer
            if outer is not None:
                outer.extend(log)

    def _put(self, key: str, rid: str, rec: Record) -> None:
        table = self.records[key]
        old = table.get(rid)
        if self._undo is not None:
            self._undo.append((key, rid, dict(old) if old is not None else None))
        for f, idx in self._meta(key).indexed:
            before = old.get(f.name) if old is not None else None
            after = rec.get(f.name)
            if before == after:
                continue
            if before is not None:
                bucket = idx.get(self._norm(f, before))
                if bucket is not None:
                    bucket.discard(rid)
                    if not bucket:
                        del idx[self._norm(f, before)]
            if after is not None:
                idx.setdefault(self._norm(f, after), set()).add(rid)
        table[rid] = rec

    def _remove(self, key: str, rid: str) -> None:
        table = self.records[key]
        old = table.pop(rid, None)
        if old is None:
            return
        if self._undo is not None:
            self._undo.append((key, rid, dict(old)))
        for f, idx in self._meta(key).indexed:
            value = old.get(f.name)
            if value is not None:
                bucket = idx.get(self._norm(f, value))
                if bucket is not None:
                    bucket.discard(rid)
                    if not bucket:
                        del idx[self._norm(f, value)]

    # -- DML -------------------------------------------------------------------------------
    def insert(self, object_name: str, values: Mapping[str, Any], *, from_csv: bool = False) -> str:
        """Create a record; returns its 18-character id."""
        with self.lock:
            obj = self.object(object_name)
            if not obj.createable:
                raise RecordError.of(codes.INVALID_TYPE,
                                     f"Cannot create records of {obj.name} through the API")
            self._guard(obj, values)
            changes = self._coerce(obj, values, creating=True, from_csv=from_csv)
            rid = self.ids.new(obj.key_prefix)
            now = sf_datetime(self.clock())
            meta = self._meta(obj.name.lower())
            rec: Record = dict(meta.template)
            rec.update(changes)
            if meta.auto_number:
                n = self.auto_numbers.get(obj.name, 0) + 1
                self.auto_numbers[obj.name] = n
                rec["Name"] = f"PM-{n:04d}" if obj.name == PAYMENT_METHOD else f"{n:08d}"
            rec.update({"Id": rid, "IsDeleted": False, "CreatedDate": now,
                        "CreatedById": self.user_id or None, "LastModifiedDate": now,
                        "LastModifiedById": self.user_id or None, "SystemModstamp": now})
            if "OwnerId" in rec and rec["OwnerId"] is None:
                rec["OwnerId"] = self.user_id or None
            self._check_record(obj, rid, rec, None, changes)
            if obj.name == "Account" and duplicates.stops(
                    self.duplicate_rule, getattr(self._acting, "allow_save", None)):
                duplicates.refuse(self.index_lookup("Account", "Name", rec.get("Name")))
            self._put(obj.name.lower(), rid, rec)
            return rid

    def update(self, object_name: str, record_id: str, values: Mapping[str, Any], *,
               from_csv: bool = False) -> str:
        """Update the fields in `values`; returns the record's 18-character id."""
        with self.lock:
            obj = self.object(object_name)
            self._guard(obj, values)
            old = self.get(obj.name, record_id)
            changes = self._coerce(obj, values, creating=False, from_csv=from_csv)
            rec = dict(old)
            rec.update(changes)
            if rec != old:
                now = sf_datetime(self.clock())
                rec.update({"LastModifiedDate": now, "SystemModstamp": now,
                            "LastModifiedById": self.user_id or None})
            self._check_record(obj, old["Id"], rec, old, changes)
            self._put(obj.name.lower(), old["Id"], rec)
            return str(old["Id"])

    def upsert(self, object_name: str, field_name: str, value: str, values: Mapping[str, Any],
               *, from_csv: bool = False) -> tuple[str, bool]:
        """Insert or update by an external-id (or Id) field; returns (id, created)."""
        with self.lock:
            obj = self.object(object_name)
            f = obj.field(field_name)
            if f is None or not (f.external_id or f.type == ID or f.id_lookup):
                raise RecordError.of(
                    codes.INVALID_FIELD,
                    f"Field {field_name} is not an external ID field or the Id of {obj.name}",
                    field_name)
            if f.type == ID:
                if not value:
                    return self.insert(obj.name, values, from_csv=from_csv), True
                return self.update(obj.name, value, values, from_csv=from_csv), False
            if value in (None, ""):
                raise RecordError.of(codes.REQUIRED_FIELD_MISSING,
                                     f"Required fields are missing: [{f.name}]", f.name)
            matches = sorted(self.index_lookup(obj.name, f.name, value))
            if len(matches) > 1:
                raise MultipleMatchesError(matches)
            body = {k: v for k, v in values.items() if k.lower() != f.name.lower()}
            if matches:
                return self.update(obj.name, matches[0], body, from_csv=from_csv), False
            body[f.name] = value
            return self.insert(obj.name, body, from_csv=from_csv), True

    def delete(self, object_name: str, record_id: str) -> None:
        """Move a record (and its master-detail children) to the recycle bin."""
        with self.lock:
            obj = self.object(object_name)
            if not obj.createable:
                raise RecordError.of(codes.INVALID_TYPE, f"Cannot delete records of {obj.name}")
            self._guard(obj)
            rec = self.get(obj.name, record_id)
            rid = rec["Id"]
            for child, ref in self.schema.children_of(obj.name):
                if ref.master_detail:
                    for cid in sorted(self.index_lookup(child, ref.name, rid)):
                        self.delete(child, cid)
            self._remove(obj.name.lower(), rid)
            gone = dict(rec)
            gone["IsDeleted"] = True
            self.deleted[obj.name.lower()][rid] = gone

    def put_raw(self, object_name: str, record: Record) -> None:
        """Store a record as given, bypassing validation (deploys write metadata-backed rows)."""
        with self.lock:
            obj = self.object(object_name)
            self._put(obj.name.lower(), record["Id"], record)

    # -- validation ------------------------------------------------------------------------
    def _coerce(self, obj: ObjectDef, values: Mapping[str, Any], *, creating: bool,
                from_csv: bool) -> Record:
        out: Record = {}
        locked: list[str] = []
        for raw_name, raw in values.items():
            if raw_name == "attributes":
                continue
            ref_field, ref_value = self._parent_ref(obj, raw_name, raw)
            if ref_field is not None:
                f, value = ref_field, ref_value
            else:
                found = obj.field(raw_name)
                if found is None:
                    raise RecordError.of(
                        codes.INVALID_FIELD,
                        f"No such column '{raw_name}' on sobject of type {obj.name}", raw_name)
                f = found
                if from_csv:
                    if raw == "":
                        continue  # blank cell: leave unchanged (null on insert)
                    value = None if raw == BULK_NULL else self._from_text(obj, f, raw)
                else:
                    value = self._from_json(obj, f, raw)
            if f.name.lower() in _AUDIT or f.auto_number:
                locked.append(f.name)
                continue
            allowed = f.createable if creating else f.updateable
            if not allowed:
                locked.append(f.name)
                continue
            out[f.name] = value
        if locked:
            verb = "create" if creating else "update"
            raise RecordError.of(
                codes.INVALID_FIELD_FOR_INSERT_UPDATE,
                f"Unable to {verb} fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                *locked)
        return out

    def _parent_ref(self, obj: ObjectDef, name: str, raw: Any) -> tuple[FieldDef | None, Any]:
        """`Rel__r.Field` (CSV) or `{"Rel__r": {"Field": v}}` (JSON) → (reference field, id)."""
        rel_name, _, ext_field = name.partition(".")
        if isinstance(raw, dict) and not ext_field:
            keys = [k for k in raw if k != "attributes"]
            if len(keys) != 1:
                return None, None
            ext_field, raw = keys[0], raw[keys[0]]
        elif not ext_field:
            return None, None
        ref = obj.relationship(rel_name)
        if ref is None:
            raise RecordError.of(codes.INVALID_FIELD,
                                 f"No such column '{rel_name}' on sobject of type {obj.name}",
                                 rel_name)
        if raw in ("", None):
            return ref, None
        if raw == BULK_NULL:
            return ref, None
        target = self.object(ref.reference_to[0])
        tf = target.field(ext_field)
        if tf is None or not (tf.indexed or tf.type == ID):
            raise RecordError.of(
                codes.INVALID_FIELD,
                f"Field name provided, {ext_field} is not an External ID or indexed field for "
                f"{target.name}", ref.name)
        matches = self.index_lookup(target.name, tf.name, str(raw))
        if not matches:
            raise RecordError.of(
                codes.INVALID_FIELD,
                f"Foreign key external ID: {raw} not found for field {tf.name} in entity "
                f"{target.name}", ref.name)
        if len(matches) > 1:
            raise RecordError.of(
                codes.INVALID_FIELD,
                f"Foreign key external ID: {raw} matches more than one record for field "
                f"{tf.name} in entity {target.name}", ref.name)
        return ref, next(iter(matches))

    def _type_error(self, f: FieldDef, raw: Any) -> RecordError:
        return RecordError.of(codes.INVALID_TYPE_ON_FIELD_IN_RECORD,
                              f"{f.label}: value not of required type: {raw}", f.name)

    def _from_text(self, obj: ObjectDef, f: FieldDef, raw: str) -> Any:
        if f.type == BOOLEAN:
            low = raw.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise self._type_error(f, raw)
        if f.type in NUMBER_TYPES:
            try:
                return float(raw)
            except ValueError:
                raise self._type_error(f, raw) from None
        return self._from_json(obj, f, raw)

    def _from_json(self, obj: ObjectDef, f: FieldDef, raw: Any) -> Any:
        del obj
        if raw is None:
            return None
        if f.type == BOOLEAN:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise self._type_error(f, raw)
        if f.type in NUMBER_TYPES:
            if isinstance(raw, bool):
                raise self._type_error(f, raw)
            if isinstance(raw, int | float):
                return float(raw)
            if isinstance(raw, str):
                try:
                    return float(raw)
                except ValueError:
                    raise self._type_error(f, raw) from None
            raise self._type_error(f, raw)
        if f.type == DATE:
            if isinstance(raw, str) and _DATE_RE.match(raw):
                try:
                    date.fromisoformat(raw)
                except ValueError:
                    raise self._type_error(f, raw) from None
                return raw
            raise self._type_error(f, raw)
        if f.type == DATETIME:
            if isinstance(raw, str):
                return raw
            raise self._type_error(f, raw)
        if isinstance(raw, bool | dict | list):
            raise self._type_error(f, raw)
        text = str(raw)
        if f.type in (REFERENCE, ID):
            if text == "":
                return None
            if not ids.is_valid(text):
                raise RecordError.of(
                    codes.MALFORMED_ID,
                    f"{f.label}: id value of incorrect type: {text}", f.name)
            return ids.to_18(text)
        return text

    def _check_record(self, obj: ObjectDef, rid: str, rec: Record, old: Record | None,
                      changes: Mapping[str, Any]) -> None:
        """Validate `rec`; only the fields in `changes` can have become invalid."""
        key = obj.name.lower()
        missing = [f.name for f in self._meta(key).required if rec.get(f.name) in (None, "")]
        if missing:
            raise RecordError.of(codes.REQUIRED_FIELD_MISSING,
                                 f"Required fields are missing: [{', '.join(missing)}]", *missing)
        for name, value in changes.items():
            f = obj.fields[name.lower()]
            if value is None or (old is not None and old.get(f.name) == value):
                continue
            if isinstance(value, str) and f.length and len(value) > f.length:
                raise RecordError.of(
                    codes.STRING_TOO_LONG,
                    f"{f.label}: data value too large: {value[:80]} (max length={f.length})",
                    f.name)
            if f.type == PICKLIST and f.restricted and value not in f.picklist:
                raise RecordError.of(
                    codes.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
                    f"{f.label}: bad value for restricted picklist field: {value}", f.name)
            if f.type == EMAIL and not _EMAIL_RE.match(str(value)):
                raise RecordError.of("INVALID_EMAIL_ADDRESS",
                                     f"{f.label}: invalid email address: {value}", f.name)
            if f.type == REFERENCE and f.reference_to:
                found = self.find(value)
                if found is None or found[0].name not in f.reference_to:
                    raise RecordError.of(
                        codes.INVALID_CROSS_REFERENCE_KEY,
                        f"{f.label}: id value of incorrect type: {value}"
                        if found is not None else "invalid cross reference id", f.name)
            if f.unique:
                for other in self.index_lookup(obj.name, f.name, value):
                    if other != rid:
                        raise RecordError.of(
                            codes.DUPLICATE_VALUE,
                            f"duplicate value found: {f.name} duplicates value on record with "
                            f"id: {other}", f.name)
        for rule in self.rules.get(key, ()):
            failure = rule(self, rid, rec, old)
            if failure is not None:
                raise RecordError(failure)
