"""Object and field definitions of the stand-in org, and their describe() shapes.

The schema is mutable on purpose: a Metadata API deploy of a CustomField adds a field that later
describes, queries and DML see, as in a real org. All access goes through `Schema`, which looks
names up case-insensitively, as Salesforce does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

# Field types, as describe() spells them.
ID = "id"
STRING = "string"
TEXTAREA = "textarea"
BOOLEAN = "boolean"
DOUBLE = "double"
CURRENCY = "currency"
PERCENT = "percent"
INT = "int"
DATE = "date"
DATETIME = "datetime"
PICKLIST = "picklist"
REFERENCE = "reference"
EMAIL = "email"
PHONE = "phone"
URL = "url"
ENCRYPTED = "encryptedstring"

_SOAP_TYPES = {
    ID: "tns:ID",
    REFERENCE: "tns:ID",
    BOOLEAN: "xsd:boolean",
    DOUBLE: "xsd:double",
    CURRENCY: "xsd:double",
    PERCENT: "xsd:double",
    INT: "xsd:int",
    DATE: "xsd:date",
    DATETIME: "xsd:dateTime",
}
TEXT_TYPES = frozenset({STRING, TEXTAREA, PICKLIST, EMAIL, PHONE, URL, ENCRYPTED, ID, REFERENCE})
NUMBER_TYPES = frozenset({DOUBLE, CURRENCY, PERCENT, INT})


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of an sObject, with the properties describe() reports."""

    name: str
    label: str
    type: str
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    master_detail: bool = False
    default: object = None
    id_lookup: bool = False
    name_field: bool = False
    auto_number: bool = False
    precision: int = 0
    scale: int = 0

    @property
    def nillable(self) -> bool:
        """Whether the field may be null (booleans never are)."""
        return not self.required and self.type != BOOLEAN and not self.auto_number

    @property
    def indexed(self) -> bool:
        """Whether lookups by this field may use an index (Id, unique, external id, Name)."""
        return self.type == ID or self.unique or self.external_id or self.id_lookup

    def describe(self) -> dict[str, object]:
        """The field's entry in `fields[]` of an sObject describe."""
        picklist_values = [
            {
                "active": True,
                "defaultValue": value == self.default,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in self.picklist
        ]
        return {
            "aggregatable": self.type not in (TEXTAREA, ENCRYPTED),
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3,
            "calculated": False,
            "cascadeDelete": self.master_detail,
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default,
            "defaultedOnCreate": self.default is not None or self.type == BOOLEAN,
            "dependentPicklist": False,
            "externalId": self.external_id,
            "filterable": self.type not in (TEXTAREA, ENCRYPTED),
            "groupable": self.type not in (TEXTAREA, DOUBLE, ENCRYPTED),
            "idLookup": self.type == ID or self.id_lookup or self.external_id,
            "label": self.label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "picklistValues": picklist_values,
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": 0 if self.master_detail else None,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type not in (TEXTAREA, ENCRYPTED),
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": self.master_detail,
        }


@dataclass(slots=True)
class ObjectDef:
    """One sObject type: its fields (looked up case-insensitively) and describe properties."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool = False
    custom_setting: bool = False
    custom_metadata: bool = False
    fields: dict[str, FieldDef] = field(default_factory=dict)

    def add_field(self, f: FieldDef) -> None:
        """Add or replace a field (a redeploy of a CustomField replaces its definition)."""
        self.fields[f.name.lower()] = f

    def field(self, name: str) -> FieldDef | None:
        """The field called `name` (any case), or None."""
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationshipName is `name` (any case), or None."""
        low = name.lower()
        for f in self.fields.values():
            if f.relationship_name and f.relationship_name.lower() == low:
                return f
        return None

    @property
    def createable(self) -> bool:
        """Custom metadata records are written by deploys, not by DML."""
        return not self.custom_metadata

    def describe(self, children: Iterable[tuple[str, FieldDef]] = ()) -> dict[str, object]:
        """The body of GET /sobjects/{name}/describe."""
        base = f"/services/data/vXX.X/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "customSetting": self.custom_setting,
            "createable": self.createable,
            "updateable": self.createable,
            "deletable": self.createable,
            "queryable": True,
            "searchable": not self.custom_setting,
            "retrieveable": True,
            "undeletable": self.createable,
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [
                {
                    "childSObject": child,
                    "field": f.name,
                    "cascadeDelete": f.master_detail,
                    "relationshipName": child_relationship_name(child, f),
                }
                for child, f in children
            ],
            "urls": {"sobject": base, "describe": base + "/describe",
                     "rowTemplate": base + "/{ID}"},
        }

    def basic_info(self) -> dict[str, object]:
        """The short object summary used by describeGlobal and GET /sobjects/{name}."""
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "customSetting": self.custom_setting,
            "createable": self.createable,
            "queryable": True,
        }


def child_relationship_name(child: str, f: FieldDef) -> str:
    """The child relationship name describe shows for lookup `f` on `child`."""
    stem = child.removesuffix("__c").split("__")[-1]
    return f"{stem}s__r" if f.custom else f"{stem}s"


def system_fields(*, owner: bool) -> list[FieldDef]:
    """The audit fields every object has (plus OwnerId unless its owner is a master record)."""
    audit = [
        FieldDef("Id", "Record ID", ID, 18, createable=False, updateable=False),
        FieldDef("IsDeleted", "Deleted", BOOLEAN, createable=False, updateable=False),
        FieldDef("CreatedDate", "Created Date", DATETIME, createable=False, updateable=False),
        FieldDef("CreatedById", "Created By ID", REFERENCE, 18, createable=False,
                 updateable=False, reference_to=("User",), relationship_name="CreatedBy"),
        FieldDef("LastModifiedDate", "Last Modified Date", DATETIME, createable=False,
                 updateable=False),
        FieldDef("LastModifiedById", "Last Modified By ID", REFERENCE, 18, createable=False,
                 updateable=False, reference_to=("User",), relationship_name="LastModifiedBy"),
        FieldDef("SystemModstamp", "System Modstamp", DATETIME, createable=False,
                 updateable=False),
    ]
    if owner:
        audit.append(FieldDef("OwnerId", "Owner ID", REFERENCE, 18, reference_to=("User",),
                              relationship_name="Owner"))
    return audit


class Schema:
    """All sObject types of the org, looked up case-insensitively."""

    def __init__(self, objects: Iterable[ObjectDef] = ()) -> None:
        self._objects: dict[str, ObjectDef] = {}
        self._by_prefix: dict[str, ObjectDef] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: ObjectDef) -> None:
        """Register an object type (replacing one with the same name)."""
        self._objects[obj.name.lower()] = obj
        self._by_prefix[obj.key_prefix] = obj

    def get(self, name: str) -> ObjectDef | None:
        """The object called `name` (any case), or None."""
        return self._objects.get(name.lower())

    def __iter__(self) -> Iterator[ObjectDef]:
        return iter(list(self._objects.values()))

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        """The object whose ids start with `key_prefix`."""
        return self._by_prefix.get(key_prefix)

    def children_of(self, name: str) -> list[tuple[str, FieldDef]]:
        """(child object, reference field) pairs that point at `name`."""
        out = []
        for obj in self._objects.values():
            for f in obj.fields.values():
                if name in f.reference_to and f.name not in ("CreatedById", "LastModifiedById"):
                    out.append((obj.name, f))
        return out

    def copy(self) -> Schema:
        """A deep-enough copy: objects and their field maps are new, FieldDefs are immutable."""
        return Schema(replace(o, fields=dict(o.fields)) for o in self._objects.values())


def text(name: str, label: str, length: int, **kw: Any) -> FieldDef:
    """A custom Text field (`kw`: any other FieldDef property)."""
    return FieldDef(name, label, STRING, length, custom=name.endswith("__c"), **kw)


def picklist(name: str, label: str, values: Iterable[str], **kw: Any) -> FieldDef:
    """A restricted picklist (all Billing picklists the import writes are restricted)."""
    return FieldDef(name, label, PICKLIST, 255, custom=True, picklist=tuple(values),
                    restricted=True, **kw)


def checkbox(name: str, label: str, *, default: bool) -> FieldDef:
    """A custom Checkbox field."""
    return FieldDef(name, label, BOOLEAN, custom=True, default=default)


def as_mapping(fields: Iterable[FieldDef]) -> Mapping[str, FieldDef]:
    """Fields keyed by lower-case name."""
    return {f.name.lower(): f for f in fields}
