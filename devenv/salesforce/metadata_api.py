"""Metadata API (SOAP): deploy, checkDeployStatus, deployRecentValidation, cancelDeploy,
listMetadata, readMetadata, describeMetadata, retrieve and checkRetrieveStatus, over real zips
in Metadata API format.

A successful deploy changes the org: CustomFields appear in describe and SOQL, custom metadata
types become queryable objects with their records, PermissionSets become PermissionSet /
FieldPermissions / ObjectPermissions rows. Invalid components fail per file with Salesforce-like
problems, and `rollbackOnError` decides whether the rest is applied.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import itertools
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from devenv.salesforce import ids
from devenv.salesforce.schema import (
    BOOLEAN,
    CURRENCY,
    DATE,
    DATETIME,
    DOUBLE,
    EMAIL,
    PERCENT,
    PHONE,
    PICKLIST,
    REFERENCE,
    STRING,
    TEXTAREA,
    URL,
    FieldDef,
    ObjectDef,
    system_fields,
)
from devenv.salesforce.store import Org, sf_datetime

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from devenv.salesforce.faults import FaultPlan

MD_NS = "http://soap.sforce.com/2006/04/metadata"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_N = f"{{{MD_NS}}}"
ET.register_namespace("", MD_NS)  # serialise stored components without ns0: prefixes
QUICK_DEPLOY_WINDOW = timedelta(days=10)
TEST_LEVELS = ("NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg")
_MANAGED_NS = re.compile(r"^([A-Za-z][A-Za-z0-9]*)__\w+__(c|mdt)$")

# Metadata field type → (describe type, allowed child elements beyond the common ones).
FIELD_TYPES: dict[str, str] = {
    "Text": STRING, "TextArea": TEXTAREA, "LongTextArea": TEXTAREA, "Number": DOUBLE,
    "Currency": CURRENCY, "Percent": PERCENT, "Checkbox": BOOLEAN, "Date": DATE,
    "DateTime": DATETIME, "Email": EMAIL, "Phone": PHONE, "Url": URL, "Picklist": PICKLIST,
    "Lookup": REFERENCE, "MasterDetail": REFERENCE,
}
FIELD_ELEMENTS = frozenset({
    "fullName", "label", "type", "length", "externalId", "unique", "caseSensitive", "required",
    "description", "inlineHelpText", "defaultValue", "precision", "scale", "visibleLines",
    "referenceTo", "relationshipName", "relationshipLabel", "deleteConstraint", "valueSet",
    "trackHistory", "trackTrending", "fieldManageability", "restricted",
})
OBJECT_ELEMENTS = frozenset({
    "fullName", "label", "pluralLabel", "fields", "nameField", "deploymentStatus",
    "sharingModel", "visibility", "description", "enableHistory", "enableReports",
    "enableSearch", "enableFeeds", "enableActivities", "customSettingsType",
})
PERMSET_ELEMENTS = frozenset({"label", "description", "fieldPermissions", "objectPermissions",
                              "hasActivationRequired", "license", "userLicense"})
CMD_ELEMENTS = frozenset({"label", "protected", "values", "description"})


class SoapFaultError(Exception):
    """A SOAP fault (HTTP 500), e.g. INVALID_SESSION_ID or INVALID_ID_FIELD."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def xml(self) -> bytes:
        """The fault envelope."""
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}" '
            f'xmlns:sf="{MD_NS}"><soapenv:Body><soapenv:Fault><faultcode>sf:{self.code}'
            f"</faultcode><faultstring>{escape(self.code + ': ' + self.message)}</faultstring>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        ).encode()


@dataclass(slots=True)
class Problem:
    """One componentFailure."""

    component_type: str
    file_name: str
    full_name: str
    problem: str
    line: int = 0
    column: int = 0


@dataclass(slots=True)
class Component:
    """One deployable unit found in the zip, with how to apply it."""

    component_type: str
    file_name: str
    full_name: str
    apply: Callable[[], None]
    xml: str = ""
    # What the deploy did to it, as Salesforce reports it: created (new), changed, or
    # unchanged (a redeploy of the same definition).
    outcome: str = "created"


@dataclass(slots=True)
class Deployment:
    """One deploy (or validation, or quick deploy) and its DeployResult."""

    id: str
    check_only: bool
    test_level: str
    rollback_on_error: bool
    created: datetime
    status: str = "Pending"
    state_detail: str | None = None
    started: datetime | None = None
    completed: datetime | None = None
    components: list[Component] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    deployed: int = 0
    quick_deployed_by: str | None = None
    validated_from: str | None = None
    error_message: str | None = None

    @property
    def done(self) -> bool:
        """Whether the result is final."""
        return self.status in ("Succeeded", "SucceededPartial", "Failed", "Canceled")


def _bool(text: str | None, default: bool = False) -> bool:
    if text is None or text.strip() in ("", "None"):
        return default
    return text.strip().lower() == "true"


def _text(el: ET.Element | None, name: str) -> str | None:
    if el is None:
        return None
    child = el.find(_N + name)
    return None if child is None or child.text is None else child.text.strip()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class MetadataApi:
    """The SOAP endpoint `/services/Soap/m/{version}[/deployRequest[/{id}]]`."""

    def __init__(self, org: Org, faults: Callable[[], FaultPlan], *,
                 now: Callable[[], datetime], deploy_delay_s: float = 0.05) -> None:
        self.org = org
        self.faults = faults
        self.now = now
        self.deploy_delay_s = deploy_delay_s
        self.deployments: dict[str, Deployment] = {}
        self.components: dict[tuple[str, str], str] = {}  # (type, fullName) → XML
        self.retrievals: dict[str, tuple[bytes, list[tuple[str, str, str]]]] = {}
        self._ids = itertools.count(1)
        self._prefixes = itertools.count(1)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def reset(self) -> None:
        """Forget deployments and deployed component sources."""
        self.join()
        with self._lock:
            self.deployments.clear()
            self.components.clear()
            self.retrievals.clear()

    def join(self, timeout: float = 10.0) -> None:
        """Wait for finished deploy workers (stuck ones are left running as daemons)."""
        for t in list(self._threads):
            t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    # -- SOAP dispatch ---------------------------------------------------------------------
    @staticmethod
    def session_id(body: bytes) -> str | None:
        """The session id from the SOAP SessionHeader."""
        m = re.search(rb"<(?:\w+:)?sessionId>([^<]+)</(?:\w+:)?sessionId>", body)
        return m.group(1).decode().strip() if m else None

    @staticmethod
    def operation(body: bytes) -> tuple[str, ET.Element]:
        """The operation name (first element of soap:Body) and that element."""
        try:
            root = ET.fromstring(body)  # noqa: S314 - a local test server, never the internet
        except ET.ParseError as exc:
            raise SoapFaultError("INVALID_XML",
                                 f"Could not parse the SOAP request: {exc}") from None
        soap_body = root.find(f"{{{SOAP_NS}}}Body")
        if soap_body is None or len(soap_body) == 0:
            raise SoapFaultError("INVALID_XML", "The SOAP request has no Body")
        op = soap_body[0]
        return _local(op.tag), op

    def handle(self, op_name: str, op: ET.Element) -> bytes:
        """Run one SOAP operation; returns the response envelope."""
        handlers: dict[str, Callable[[ET.Element], str]] = {
            "deploy": self._deploy,
            "checkDeployStatus": self._check_status,
            "deployRecentValidation": self._quick_deploy,
            "cancelDeploy": self._cancel,
            "listMetadata": self._list_metadata,
            "readMetadata": self._read_metadata,
            "describeMetadata": self._describe_metadata,
            "retrieve": self._retrieve,
            "checkRetrieveStatus": self._check_retrieve,
        }
        handler = handlers.get(op_name)
        if handler is None:
            raise SoapFaultError("UNKNOWN_EXCEPTION",
                            f"The stand-in does not implement the Metadata API call {op_name}")
        inner = handler(op)
        return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                f'xmlns:soapenv="{SOAP_NS}" xmlns="{MD_NS}" xmlns:xsi="{XSI_NS}">'
                f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>").encode()

    # -- deploy ----------------------------------------------------------------------------
    def _new_id(self) -> str:
        with self._lock:
            id15 = f"0Af5g{next(self._ids):010d}"
        return ids.to_18(id15)

    def _deploy(self, op: ET.Element) -> str:
        zip_el = op.find(_N + "ZipFile")
        if zip_el is None or not (zip_el.text or "").strip():
            raise SoapFaultError("INVALID_CROSS_REFERENCE_KEY", "No ZipFile in the deploy request")
        opts = op.find(_N + "DeployOptions")
        test_level = _text(opts, "testLevel") or "NoTestRun"
        if test_level == "None":
            test_level = "NoTestRun"
        if test_level not in TEST_LEVELS:
            raise SoapFaultError("INVALID_OPERATION", f"Invalid testLevel: {test_level}")
        dep = Deployment(self._new_id(), _bool(_text(opts, "checkOnly")), test_level,
                         _bool(_text(opts, "rollbackOnError"), default=True), self.now())
        try:
            raw = base64.b64decode((zip_el.text or "").strip(), validate=False)
        except (binascii.Error, ValueError):
            raw = b""
        with self._lock:
            self.deployments[dep.id] = dep
        self._start(dep, lambda: self._load_zip(dep, raw))
        return (f"<deployResponse><result><done>false</done><id>{dep.id}</id>"
                "<state>Queued</state></result></deployResponse>")

    def _start(self, dep: Deployment, prepare: Callable[[], None]) -> None:
        stuck = self.faults().deploy_stuck

        def run() -> None:
            time.sleep(self.deploy_delay_s)
            if dep.status == "Canceled":
                return
            dep.status = "InProgress"
            dep.started = self.now()
            if stuck:
                return  # fault: the deploy never finishes
            prepare()
            time.sleep(self.deploy_delay_s)
            self._finish(dep)

        t = threading.Thread(target=run, daemon=True, name=f"deploy-{dep.id}")
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _finish(self, dep: Deployment) -> None:
        with self.org.lock:
            if dep.status == "Canceled":
                return
            for c in dep.components:
                before = self.components.get((c.component_type, c.full_name))
                c.outcome = "created" if before is None else \
                    "changed" if before != c.xml else "unchanged"
            if dep.problems and (dep.rollback_on_error or dep.check_only):
                dep.status = "Failed"
            else:
                if not dep.check_only:
                    for c in dep.components:
                        c.apply()
                        self.components[(c.component_type, c.full_name)] = c.xml
                dep.deployed = len(dep.components)
                dep.status = "SucceededPartial" if dep.problems else "Succeeded"
            dep.completed = self.now()

    def _load_zip(self, dep: Deployment, raw: bytes) -> None:
        try:
            zf = zipfile.ZipFile(io.BytesIO(raw))
            files = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
        except (zipfile.BadZipFile, ValueError):
            dep.problems.append(Problem("", "", "", "The ZipFile is not a valid zip archive"))
            return
        # A single top-level folder is allowed, as with `sf project deploy`'s mdapi zips.
        prefix = ""
        if "package.xml" not in files:
            roots = {n.split("/", 1)[0] for n in files}
            if len(roots) == 1 and f"{next(iter(roots))}/package.xml" in files:
                prefix = next(iter(roots)) + "/"
        files = {n[len(prefix):]: b for n, b in files.items()}
        if "package.xml" not in files:
            dep.problems.append(Problem("", "package.xml", "package.xml",
                                        "No package.xml found"))
            return
        manifest = self._parse(dep, "package.xml", "Package", files["package.xml"])
        if manifest is None:
            return
        listed: dict[str, set[str]] = {}
        for t in manifest.findall(_N + "types"):
            name = _text(t, "name") or ""
            listed.setdefault(name, set()).update(
                (m.text or "").strip() for m in t.findall(_N + "members"))
        planned = _Plan(self.org)
        # Objects and fields first: permission sets and records may refer to them.
        order = {"objects": 0, "permissionsets": 1, "customMetadata": 2}
        for path in sorted(files, key=lambda p: (order.get(p.split("/", 1)[0], 3), p)):
            if path == "package.xml":
                continue
            self._component(dep, path, files[path], listed, planned)
        found = {(c.component_type, c.full_name) for c in dep.components}
        found |= {(p.component_type, p.full_name) for p in dep.problems}
        for kind, members in sorted(listed.items()):
            for member in sorted(members):
                if member != "*" and (kind, member) not in found:
                    dep.problems.append(Problem(
                        kind, "package.xml", member,
                        f"An object '{member}' of type {kind} was named in package.xml, but was "
                        "not found in zipped directory"))

    def _parse(self, dep: Deployment, path: str, root_name: str,
               data: bytes) -> ET.Element | None:
        try:
            root = ET.fromstring(data)  # noqa: S314 - a local test server
        except ET.ParseError as exc:
            line, col = exc.position
            dep.problems.append(Problem(root_name, path, path.rsplit("/", 1)[-1],
                                        f"Error parsing file: {exc}", line, col))
            return None
        if root.tag != _N + root_name:
            dep.problems.append(Problem(
                root_name, path, path, f"Error parsing file: root element must be "
                f"{{{MD_NS}}}{root_name}, found {root.tag}", 1, 1))
            return None
        return root

    def _component(self, dep: Deployment, path: str, data: bytes,
                   listed: dict[str, set[str]], planned: _Plan) -> None:
        folder, _, file_name = path.partition("/")
        handlers: dict[str, tuple[str, str, str]] = {
            "objects": ("CustomObject", ".object", "CustomObject"),
            "permissionsets": ("PermissionSet", ".permissionset", "PermissionSet"),
            "customMetadata": ("CustomMetadata", ".md", "CustomMetadata"),
        }
        if folder not in handlers:
            dep.problems.append(Problem(
                folder, path, file_name,
                f"The stand-in does not support deploying files in '{folder}/'"))
            return
        kind, suffix, root_name = handlers[folder]
        if not file_name.endswith(suffix):
            dep.problems.append(Problem(kind, path, file_name,
                                        f"File name must end with {suffix}"))
            return
        full_name = file_name[: -len(suffix)]
        root = self._parse(dep, path, root_name, data)
        if root is None:
            return
        text = data.decode("utf-8", "replace")
        if kind == "CustomObject":
            self._custom_object(dep, path, full_name, root, listed, planned, text)
        elif kind == "PermissionSet":
            if "PermissionSet" in listed and (full_name in listed["PermissionSet"]
                                              or "*" in listed["PermissionSet"]):
                self._permission_set(dep, path, full_name, root, planned, text)
        elif "CustomMetadata" in listed and (full_name in listed["CustomMetadata"]
                                             or "*" in listed["CustomMetadata"]):
            self._custom_metadata(dep, path, full_name, root, planned, text)

    def _unknown_elements(self, dep: Deployment, kind: str, path: str, full_name: str,
                          el: ET.Element, allowed: frozenset[str]) -> bool:
        bad = [_local(c.tag) for c in el if _local(c.tag) not in allowed]
        for name in bad:
            dep.problems.append(Problem(
                kind, path, full_name,
                f"Error parsing file: Element {{{MD_NS}}}{name} invalid at this location in "
                f"type {kind}"))
        return bool(bad)

    def _custom_object(self, dep: Deployment, path: str, name: str, root: ET.Element,
                       listed: dict[str, set[str]], planned: _Plan, text: str) -> None:
        if self._unknown_elements(dep, "CustomObject", path, name, root, OBJECT_ELEMENTS):
            return
        existing = planned.object(name)
        listed_fields = listed.get("CustomField", set())
        wants_object = name in listed.get("CustomObject", set()) or "*" in listed.get(
            "CustomObject", set())
        if existing is None:
            if not (name.endswith("__c") or name.endswith("__mdt")):
                dep.problems.append(Problem("CustomObject", path, name,
                                            f"Cannot find a standard object named {name}"))
                return
            if not wants_object:
                dep.problems.append(Problem(
                    "CustomField", path, name,
                    f"Cannot find object {name}: list it as a CustomObject in package.xml"))
                return
            label, plural = _text(root, "label"), _text(root, "pluralLabel")
            if not label or not plural:
                dep.problems.append(Problem("CustomObject", path, name,
                                            "Required fields are missing: [label, pluralLabel]"))
                return
            managed = _MANAGED_NS.match(name)
            if managed:
                dep.problems.append(Problem(
                    "CustomObject", path, name,
                    f"Cannot create a new component with the namespace: {managed.group(1)}. "
                    "Only components in the same namespace as the organization can be created "
                    "through the API"))
                return
            obj = self._new_object(name, label, plural)
            planned.objects[name.lower()] = obj
            dep.components.append(Component("CustomObject", path, name,
                                             functools.partial(self.org.add_object, obj), text))
            existing = obj
        elif wants_object:
            label, plural = _text(root, "label"), _text(root, "pluralLabel")

            def relabel(o: ObjectDef = existing, label: str | None = label,
                        plural: str | None = plural) -> None:
                if o.custom:
                    o.label = label or o.label
                    o.label_plural = plural or o.label_plural

            dep.components.append(Component("CustomObject", path, existing.name, relabel, text))
        for fel in root.findall(_N + "fields"):
            fname = _text(fel, "fullName") or ""
            full = f"{existing.name}.{fname}"
            if fname and not wants_object and full not in listed_fields and \
                    "*" not in listed_fields:
                continue  # present in the file but not in package.xml: not deployed
            fdef = self._field(dep, path, existing, fel)
            if fdef is None:
                continue
            planned.fields[(existing.name.lower(), fdef.name.lower())] = fdef
            dep.components.append(Component(
                "CustomField", path, full,
                functools.partial(self.org.add_field, existing.name, fdef),
                ET.tostring(fel, encoding="unicode")))

    def _new_object(self, name: str, label: str, plural: str) -> ObjectDef:
        with self._lock:
            n = next(self._prefixes)
        mdt = name.endswith("__mdt")
        prefix = ("m0" if mdt else "a1") + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n % 36]
        obj = ObjectDef(name, label, plural, prefix, custom=True, custom_metadata=mdt)
        for f in system_fields(owner=not mdt):
            obj.add_field(f)
        if mdt:
            for f in (
                FieldDef("DeveloperName", "Custom Metadata Record Name", STRING, 40,
                         required=True, unique=True, id_lookup=True),
                FieldDef("MasterLabel", "Label", STRING, 40, required=True, name_field=True),
                FieldDef("Label", "Label", STRING, 40),
                FieldDef("QualifiedApiName", "Qualified API Name", STRING, 70, unique=True,
                         id_lookup=True),
                FieldDef("NamespacePrefix", "Namespace Prefix", STRING, 15),
            ):
                obj.add_field(f)
        else:
            obj.add_field(FieldDef("Name", f"{label} Name", STRING, 80, required=True,
                                   name_field=True))
        return obj

    def _field(self, dep: Deployment, path: str, obj: ObjectDef,
               el: ET.Element) -> FieldDef | None:
        name = _text(el, "fullName") or ""
        full = f"{obj.name}.{name}"

        def fail(message: str) -> None:
            dep.problems.append(Problem("CustomField", path, full, message))

        if self._unknown_elements(dep, "CustomField", path, full, el, FIELD_ELEMENTS):
            return None
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*__c", name) or "___" in name:
            fail(f"Invalid field name {name!r}: custom field names end in __c and use letters, "
                 "digits and single underscores")
            return None
        managed = re.match(r"^([A-Za-z][A-Za-z0-9]*)__\w+__c$", name)
        if managed:
            fail(f"Cannot create a new component with the namespace: {managed.group(1)}. Only "
                 "components in the same namespace as the organization can be created through "
                 "the API")
            return None
        label = _text(el, "label")
        mtype = _text(el, "type")
        if not label:
            fail("Required field is missing: label")
            return None
        if mtype not in FIELD_TYPES:
            fail(f"Error parsing file: '{mtype}' is not a valid value for the enum 'FieldType'")
            return None
        stype = FIELD_TYPES[mtype]
        length = 0
        if mtype in ("Text", "LongTextArea"):
            raw = _text(el, "length")
            if raw is None or not raw.isdigit():
                fail("Length is required for a field of type " + mtype)
                return None
            length = int(raw)
            limit = 255 if mtype == "Text" else 131072
            if not 1 <= length <= limit:
                fail(f"Length must be between 1 and {limit}")
                return None
        elif mtype in ("TextArea", "Email", "Phone", "Url"):
            length = {"TextArea": 255, "Email": 80, "Phone": 40, "Url": 255}[mtype]
        external_id = _bool(_text(el, "externalId"))
        unique = _bool(_text(el, "unique"))
        if (external_id or unique) and mtype not in ("Text", "Number", "Email"):
            fail(f"Field of type {mtype} cannot be External ID or Unique")
            return None
        if obj.custom_metadata and mtype in ("Lookup", "MasterDetail"):
            fail("Custom metadata types support only simple field types here")
            return None
        reference_to: tuple[str, ...] = ()
        rel = None
        if mtype in ("Lookup", "MasterDetail"):
            target = _text(el, "referenceTo")
            if not target or self.org.schema.get(target) is None:
                fail(f"referenceTo value of '{target}' does not resolve to a valid sObject type")
                return None
            rel_name = _text(el, "relationshipName")
            if not rel_name:
                fail("Required field is missing: relationshipName")
                return None
            reference_to, rel = (target,), rel_name + "__r"
        values: tuple[str, ...] = ()
        if mtype == "Picklist":
            values = tuple((v.text or "").strip() for v in el.iter(_N + "fullName")
                           if v is not el.find(_N + "fullName"))
            if not values:
                fail("Picklist fields need a valueSet with at least one value")
                return None
        default_raw = _text(el, "defaultValue")
        default: object = None
        if stype == BOOLEAN:
            default = _bool(default_raw)
        existing = obj.field(name)
        if existing is not None and not existing.custom:
            fail(f"Cannot change the standard field {name}")
            return None
        precision = int(_text(el, "precision") or 18)
        scale = int(_text(el, "scale") or 0)
        return FieldDef(
            name, label, stype, length, required=_bool(_text(el, "required")), custom=True,
            picklist=values, restricted=mtype == "Picklist", external_id=external_id,
            unique=unique, case_sensitive=_bool(_text(el, "caseSensitive")),
            reference_to=reference_to, relationship_name=rel,
            master_detail=mtype == "MasterDetail", default=default, precision=precision,
            scale=scale, updateable=not obj.custom_metadata)

    def _permission_set(self, dep: Deployment, path: str, name: str, root: ET.Element,
                        planned: _Plan, text: str) -> None:
        if self._unknown_elements(dep, "PermissionSet", path, name, root, PERMSET_ELEMENTS):
            return
        label = _text(root, "label")
        if not label:
            dep.problems.append(Problem("PermissionSet", path, name,
                                        "Required field is missing: label"))
            return
        field_perms: list[tuple[str, bool, bool]] = []
        for fp in root.findall(_N + "fieldPermissions"):
            fname = _text(fp, "field") or ""
            obj_name, _, fld = fname.partition(".")
            if not planned.has_field(obj_name, fld):
                dep.problems.append(Problem("PermissionSet", path, name,
                                            f"In field: field - no CustomField named {fname} "
                                            "found"))
                return
            field_perms.append((fname, _bool(_text(fp, "readable")),
                                _bool(_text(fp, "editable"))))
        obj_perms: list[tuple[str, dict[str, bool]]] = []
        for op in root.findall(_N + "objectPermissions"):
            oname = _text(op, "object") or ""
            if planned.object(oname) is None:
                dep.problems.append(Problem("PermissionSet", path, name,
                                            f"In field: object - no CustomObject named {oname} "
                                            "found"))
                return
            obj_perms.append((oname, {k: _bool(_text(op, k)) for k in (
                "allowRead", "allowCreate", "allowEdit", "allowDelete")}))
        dep.components.append(Component(
            "PermissionSet", path, name,
            lambda: self._apply_permission_set(name, label, field_perms, obj_perms), text))

    def _apply_permission_set(self, name: str, label: str,
                              field_perms: list[tuple[str, bool, bool]],
                              obj_perms: list[tuple[str, dict[str, bool]]]) -> None:
        org = self.org
        found = org.index_lookup("PermissionSet", "Name", name)
        if found:
            ps_id = next(iter(found))
            org.update("PermissionSet", ps_id, {"Label": label})
            for child in ("FieldPermissions", "ObjectPermissions"):
                for cid in sorted(org.index_lookup(child, "ParentId", ps_id)):
                    org.delete(child, cid)
        else:
            ps_id = org.insert("PermissionSet", {"Name": name, "Label": label})
        for fname, read, edit in field_perms:
            org.insert("FieldPermissions", {"ParentId": ps_id, "SobjectType": fname.split(".")[0],
                                            "Field": fname, "PermissionsRead": read,
                                            "PermissionsEdit": edit})
        for oname, perms in obj_perms:
            org.insert("ObjectPermissions", {
                "ParentId": ps_id, "SobjectType": oname, "PermissionsRead": perms["allowRead"],
                "PermissionsCreate": perms["allowCreate"], "PermissionsEdit": perms["allowEdit"],
                "PermissionsDelete": perms["allowDelete"]})

    def _custom_metadata(self, dep: Deployment, path: str, name: str, root: ET.Element,
                         planned: _Plan, text: str) -> None:
        if self._unknown_elements(dep, "CustomMetadata", path, name, root, CMD_ELEMENTS):
            return
        type_name, _, record = name.partition(".")
        obj = planned.object(type_name + "__mdt")
        if obj is None or not record:
            dep.problems.append(Problem("CustomMetadata", path, name,
                                        f"Cannot find custom metadata type {type_name}__mdt"))
            return
        label = _text(root, "label")
        if not label:
            dep.problems.append(Problem("CustomMetadata", path, name,
                                        "Required field is missing: label"))
            return
        values: dict[str, Any] = {}
        for v in root.findall(_N + "values"):
            fname = _text(v, "field") or ""
            f = planned.field(obj.name, fname)
            if f is None:
                dep.problems.append(Problem("CustomMetadata", path, name,
                                            f"In field: field - no CustomField named "
                                            f"{obj.name}.{fname} found"))
                return
            val_el = v.find(_N + "value")
            nil = val_el is None or val_el.get(f"{{{XSI_NS}}}nil") == "true"
            raw = None if nil or val_el is None else (val_el.text or "")
            if raw is not None and f.type in (DOUBLE, PERCENT, CURRENCY):
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    dep.problems.append(Problem("CustomMetadata", path, name,
                                                f"Invalid number for {fname}: {raw}"))
                    return
            elif raw is not None and f.type == BOOLEAN:
                values[f.name] = raw.strip().lower() == "true"
            elif raw is not None and f.type == STRING and f.length and len(raw) > f.length:
                # As Salesforce refuses a custom metadata record whose text outgrows its field.
                dep.problems.append(Problem("CustomMetadata", path, name,
                                            f"{fname}: data value too large: {raw[:20]}… "
                                            f"(max length={f.length})"))
                return
            else:
                values[f.name] = raw
        dep.components.append(Component(
            "CustomMetadata", path, name,
            lambda: self._apply_cmd_record(obj.name, record, label, values), text))

    def _apply_cmd_record(self, type_name: str, record: str, label: str,
                          values: dict[str, Any]) -> None:
        org = self.org
        obj = org.object(type_name)
        existing = org.index_lookup(obj.name, "DeveloperName", record)
        now = sf_datetime(org.clock())
        if existing:
            rid = next(iter(existing))
            rec = dict(org.records[obj.name.lower()][rid])
        else:
            rid = org.ids.new(obj.key_prefix)
            rec = {f.name: (False if f.type == BOOLEAN else None) for f in obj.fields.values()}
            rec.update({"Id": rid, "IsDeleted": False, "CreatedDate": now,
                        "CreatedById": org.user_id})
        rec.update(values)
        rec.update({"DeveloperName": record, "MasterLabel": label, "Label": label,
                    "QualifiedApiName": record, "LastModifiedDate": now, "SystemModstamp": now,
                    "LastModifiedById": org.user_id})
        org.put_raw(obj.name, rec)

    # -- status, quick deploy, cancel ------------------------------------------------------
    def _deployment(self, op: ET.Element, tag: str) -> Deployment:
        dep_id = _text(op, tag) or ""
        dep = self.deployments.get(dep_id) or (
            self.deployments.get(ids.to_18(dep_id)) if ids.is_valid(dep_id) else None)
        if dep is None:
            raise SoapFaultError("INVALID_ID_FIELD", f"Invalid deploy id: {dep_id}")
        return dep

    def _check_status(self, op: ET.Element) -> str:
        dep = self._deployment(op, "asyncProcessId")
        include = _bool(_text(op, "includeDetails"), default=False)
        return f"<checkDeployStatusResponse>{self._result_xml(dep, include)}" \
               "</checkDeployStatusResponse>"

    def _result_xml(self, dep: Deployment, include_details: bool) -> str:
        success = dep.status in ("Succeeded", "SucceededPartial")
        parts = [
            f"<checkOnly>{str(dep.check_only).lower()}</checkOnly>",
            f"<completedDate>{when(dep.completed)}</completedDate>" if dep.completed else "",
            f"<createdDate>{when(dep.created)}</createdDate>",
        ]
        if include_details:
            details = []
            for p in dep.problems:
                details.append(
                    "<componentFailures><changed>false</changed>"
                    f"<componentType>{escape(p.component_type)}</componentType><created>false"
                    f"</created><deleted>false</deleted><fileName>{escape(p.file_name)}</fileName>"
                    f"<fullName>{escape(p.full_name)}</fullName>"
                    f"<lineNumber>{p.line}</lineNumber><columnNumber>{p.column}</columnNumber>"
                    f"<problem>{escape(p.problem)}</problem><problemType>Error</problemType>"
                    "<success>false</success></componentFailures>")
            if dep.done and success:
                for c in dep.components:
                    details.append(
                        "<componentSuccesses><changed>"
                        f"{str(c.outcome != 'unchanged').lower()}</changed>"
                        f"<componentType>{c.component_type}</componentType><created>"
                        f"{str(c.outcome == 'created').lower()}</created><deleted>false"
                        f"</deleted><fileName>{escape(c.file_name)}</fileName><fullName>{escape(c.full_name)}</fullName>"
                        "<success>true</success></componentSuccesses>")
            details.append("<runTestResult><numFailures>0</numFailures><numTestsRun>0"
                           "</numTestsRun><totalTime>0</totalTime></runTestResult>")
            parts.append(f"<details>{''.join(details)}</details>")
        total = len(dep.components) + len(dep.problems)
        parts += [
            f"<done>{str(dep.done).lower()}</done>",
            f"<id>{dep.id}</id>",
            "<ignoreWarnings>false</ignoreWarnings>",
            f"<lastModifiedDate>{when(dep.completed or dep.started or dep.created)}"
            "</lastModifiedDate>",
            f"<numberComponentErrors>{len(dep.problems)}</numberComponentErrors>",
            f"<numberComponentsDeployed>{dep.deployed}</numberComponentsDeployed>",
            f"<numberComponentsTotal>{total}</numberComponentsTotal>",
            "<numberTestErrors>0</numberTestErrors>",
            "<numberTestsCompleted>0</numberTestsCompleted>",
            "<numberTestsTotal>0</numberTestsTotal>",
            f"<rollbackOnError>{str(dep.rollback_on_error).lower()}</rollbackOnError>",
            f"<runTestsEnabled>{str(dep.test_level != 'NoTestRun').lower()}</runTestsEnabled>",
            f"<startDate>{when(dep.started)}</startDate>" if dep.started else "",
            f"<stateDetail>{escape(dep.state_detail)}</stateDetail>" if dep.state_detail else "",
            f"<status>{dep.status}</status>",
            f"<success>{str(success).lower()}</success>",
        ]
        return f"<result>{''.join(parts)}</result>"

    def _quick_deploy(self, op: ET.Element) -> str:
        validation = self._deployment(op, "validationId")
        if not validation.check_only or validation.status != "Succeeded":
            raise SoapFaultError("INVALID_ID_FIELD",
                                 "This deployment can't be quick deployed: it is "
                            "not a successful validation")
        if validation.test_level == "NoTestRun":
            raise SoapFaultError("INVALID_ID_FIELD", "This deployment can't be quick deployed: the "
                            "validation ran no tests (use RunLocalTests or RunSpecifiedTests)")
        if validation.quick_deployed_by:
            raise SoapFaultError("INVALID_ID_FIELD",
                                 "This validation was already quick deployed by "
                            + validation.quick_deployed_by)
        assert validation.completed is not None
        if self.now() - validation.completed > QUICK_DEPLOY_WINDOW:
            raise SoapFaultError("INVALID_ID_FIELD",
                                 "This validation is older than 10 days and can "
                            "no longer be quick deployed")
        dep = Deployment(self._new_id(), False, validation.test_level, True, self.now(),
                         validated_from=validation.id)
        validation.quick_deployed_by = dep.id
        with self._lock:
            self.deployments[dep.id] = dep
        dep.components = list(validation.components)
        self._start(dep, lambda: None)
        return f"<deployRecentValidationResponse><result>{dep.id}</result>" \
               "</deployRecentValidationResponse>"

    def _cancel(self, op: ET.Element) -> str:
        # The WSDL names the element `String`; jsforce and the Salesforce CLI send `id`.
        tag = next((t for t in ("String", "id", "asyncProcessId")
                    if op.find(_N + t) is not None), "String")
        dep = self._deployment(op, tag)
        if not dep.done:
            dep.status = "Canceled"
            dep.completed = self.now()
        return (f"<cancelDeployResponse><result><done>{str(dep.done).lower()}</done>"
                f"<id>{dep.id}</id></result></cancelDeployResponse>")

    # -- read ------------------------------------------------------------------------------
    def _list_metadata(self, op: ET.Element) -> str:
        kinds = [(q.findtext(_N + "type") or "").strip() for q in op.findall(_N + "queries")]
        rows = []
        for kind, full_name in sorted(self.components):
            if kind in kinds:
                rows.append(
                    f"<result><fullName>{escape(full_name)}</fullName><type>{kind}</type>"
                    f"<fileName>{escape(_file_for(kind, full_name))}</fileName>"
                    f"<id>{_component_id(full_name)}</id>"
                    "<manageableState>unmanaged</manageableState></result>")
        return f"<listMetadataResponse>{''.join(rows)}</listMetadataResponse>"

    # -- retrieve ----------------------------------------------------------------------------
    def _retrieve(self, op: ET.Element) -> str:
        """A zip, in Metadata API format, of what was deployed: the members asked for (`*` for
        all of a type); fields come back inside their object's file."""
        # The WSDL names it `retrieveRequest`; jsforce (the Salesforce CLI) sends `request`.
        request = op.find(_N + "retrieveRequest")
        if request is None:
            request = op.find(_N + "request")
        version = _text(request, "apiVersion") or "59.0"
        prefix = "" if _bool(_text(request, "singlePackage")) else "unpackaged/"
        wanted: dict[str, set[str]] = {}
        unpackaged = request.find(_N + "unpackaged") if request is not None else None
        # simple-salesforce writes the package's elements without the namespace: take both.
        for asked in (c for c in (unpackaged if unpackaged is not None else [])
                      if _local(c.tag) == "types"):
            name = next(((c.text or "").strip() for c in asked if _local(c.tag) == "name"), "")
            wanted.setdefault(name, set()).update(
                (c.text or "").strip() for c in asked if _local(c.tag) == "members")
        with self._lock:
            chosen = sorted((kind, full) for kind, full in self.components
                            if kind in wanted and ("*" in wanted[kind] or full in wanted[kind]))
            files = _retrieved_files({c: self.components[c] for c in chosen})
        members: dict[str, list[str]] = {}
        for kind, full in chosen:
            members.setdefault(kind, []).append(full)
        types = "".join(
            "    <types>\n" + "".join(f"        <members>{escape(m)}</members>\n" for m in ms)
            + f"        <name>{k}</name>\n    </types>\n" for k, ms in members.items())
        files["package.xml"] = ('<?xml version="1.0" encoding="UTF-8"?>\n<Package xmlns="'
                                + MD_NS + '">\n' + types
                                + f"    <version>{escape(version)}</version>\n</Package>\n")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(files):
                zf.writestr(zipfile.ZipInfo(prefix + path, (1980, 1, 1, 0, 0, 0)), files[path])
        retrieval_id = ids.to_18(f"09S5g{next(self._ids):010d}")
        props = [(kind, full, prefix + _file_for(kind, full)) for kind, full in chosen]
        props.append(("Package", "package.xml", prefix + "package.xml"))
        with self._lock:
            self.retrievals[retrieval_id] = (buf.getvalue(), props)
        return (f"<retrieveResponse><result><done>false</done><id>{retrieval_id}</id>"
                "<state>Queued</state></result></retrieveResponse>")

    def _check_retrieve(self, op: ET.Element) -> str:
        retrieval_id = _text(op, "asyncProcessId") or ""
        found = self.retrievals.get(retrieval_id)
        if found is None:
            raise SoapFaultError("INVALID_ID_FIELD", f"Invalid retrieve id: {retrieval_id}")
        data, props = found
        now = when(self.now())
        user = self.org.user_id
        files = "".join(
            f"<fileProperties><createdById>{user}</createdById><createdByName>Integration User"
            f"</createdByName><createdDate>{now}</createdDate><fileName>{escape(path)}"
            f"</fileName><fullName>{escape(full)}</fullName><id>{_component_id(full)}</id>"
            f"<lastModifiedById>{user}</lastModifiedById><lastModifiedByName>Integration User"
            f"</lastModifiedByName><lastModifiedDate>{now}</lastModifiedDate>"
            f"<manageableState>unmanaged</manageableState><type>{kind}</type></fileProperties>"
            for kind, full, path in props)
        include = _bool(_text(op, "includeZip"), default=True)
        zipped = f"<zipFile>{base64.b64encode(data).decode()}</zipFile>" if include else ""
        return (f"<checkRetrieveStatusResponse><result><done>true</done>{files}"
                f"<id>{retrieval_id}</id><status>Succeeded</status><success>true</success>"
                f"{zipped}</result></checkRetrieveStatusResponse>")

    def _describe_metadata(self, _op: ET.Element) -> str:
        """The metadata types this org takes (those the stand-in deploys)."""
        types = "".join(
            f"<metadataObjects>{children}<directoryName>{folder}</directoryName><inFolder>false"
            f"</inFolder><metaFile>false</metaFile><suffix>{suffix}</suffix><xmlName>{kind}"
            "</xmlName></metadataObjects>"
            for kind, folder, suffix, children in (
                ("CustomMetadata", "customMetadata", "md", ""),
                ("CustomObject", "objects", "object",
                 "<childXmlNames>CustomField</childXmlNames>"),
                ("PermissionSet", "permissionsets", "permissionset", "")))
        return (f"<describeMetadataResponse><result>{types}<organizationNamespace>"
                "</organizationNamespace><partialSaveAllowed>true</partialSaveAllowed>"
                f"<testRequired>{str(not self.org.profile.is_sandbox).lower()}</testRequired>"
                "</result></describeMetadataResponse>")

    def _read_metadata(self, op: ET.Element) -> str:
        kind = (op.findtext(_N + "type") or "").strip()
        names = [(n.text or "").strip() for n in op.findall(_N + "fullNames")]
        records = []
        for name in names:
            xml = self.components.get((kind, name))
            if xml is None:
                continue
            inner = re.sub(r"^<\?xml[^>]*>\s*", "", xml)
            inner = re.sub(r"^<(\w+)[^>]*>|</\w+>\s*$", "", inner.strip())
            inner = re.sub(r"\sxmlns(:\w+)?=\"[^\"]*\"", "", inner)
            records.append(f'<records xsi:type="{kind}"><fullName>{escape(name)}</fullName>'
                           f"{inner}</records>")
        return f"<readMetadataResponse><result>{''.join(records)}</result></readMetadataResponse>"


def when(d: datetime | None) -> str:
    """A Metadata API dateTime (UTC, milliseconds), or empty."""
    return f"{d.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}" if d else ""


def _component_id(full_name: str) -> str:
    return ids.to_18("00N5g" + format(abs(hash(full_name)) % 10**10, "010d"))


def _bare(xml: str) -> str:
    """An element's XML without its namespace prefixes and declarations."""
    xml = re.sub(r"^<\?xml[^>]*>\s*", "", xml.strip())
    xml = re.sub(r"\sxmlns(:\w+)?=\"[^\"]*\"", "", xml)
    return re.sub(r"<(/?)\w+:", r"<\1", xml)


def _retrieved_files(components: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """path → text for deployed components; fields inside their object's file."""
    files: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    for (kind, full), xml in components.items():
        if kind == "CustomField":
            fields.setdefault(full.split(".", 1)[0], []).append(_bare(xml))
        else:
            files[_file_for(kind, full)] = xml
    for obj, elements in fields.items():
        path = _file_for("CustomObject", obj)
        if path not in files:
            files[path] = ('<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="'
                           + MD_NS + '">\n' + "\n".join(f"    {e}" for e in elements)
                           + "\n</CustomObject>\n")
    return files


def _file_for(kind: str, full_name: str) -> str:
    if kind == "CustomField":
        return f"objects/{full_name.split('.', maxsplit=1)[0]}.object"
    folder = {"PermissionSet": "permissionsets", "CustomMetadata": "customMetadata",
              "CustomObject": "objects"}[kind]
    ext = {"PermissionSet": "permissionset", "CustomMetadata": "md", "CustomObject": "object"}
    return f"{folder}/{full_name}.{ext[kind]}"


class _Plan:
    """The org's schema as it will be once this deploy's components apply (for references)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.objects: dict[str, ObjectDef] = {}
        self.fields: dict[tuple[str, str], FieldDef] = {}

    def object(self, name: str) -> ObjectDef | None:
        return self.objects.get(name.lower()) or self.org.schema.get(name)

    def field(self, obj_name: str, field_name: str) -> FieldDef | None:
        planned = self.fields.get((obj_name.lower(), field_name.lower()))
        if planned is not None:
            return planned
        obj = self.object(obj_name)
        return obj.field(field_name) if obj is not None else None

    def has_field(self, obj_name: str, field_name: str) -> bool:
        return self.field(obj_name, field_name) is not None
