"""Plan, apply, validate and check a release against an org (the only I/O of `metadata/`).

apply = deploy the metadata package (only when it differs) → update the package settings
(only the values that differ) → deploy the release stamp (only when it differs). A second apply
with nothing changed therefore deploys nothing and writes nothing.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from simple_salesforce.exceptions import SalesforceResourceNotFound
from simple_salesforce.format import format_soql

from metadata.render import RELEASE_OBJECT, RELEASE_RECORD, Release, bundle
from metadata.validations import ValidationRecord, now_utc, refusal
from sync_lambda import names
from sync_lambda.errors import OrgIdentityError, SyncError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from sync_lambda.adapters.salesforce_connection import SalesforceConnection

PAYMENT_CENTER_CAVEAT = (
    "Salesforce Billing caveat (Stripe's guidance): Payment Center cannot create a payment "
    "method and charge it in one step (\"save payment information for later use\" with a new "
    "payment), so saved payment methods should come from this import, not from Payment Center.")
DONE = ("Succeeded", "SucceededPartial", "Failed", "Canceled")
CONFIG_NAMESPACE = "sfbilling"
_CATEGORY = "Payment"  # the Billing Config category of the Payment tab's settings
_MD = "http://soap.sforce.com/2006/04/metadata"


class OrgConfigError(SyncError):
    """The org cannot take the release as configured (say what to change). `after_changes`:
    raised after `apply` had already changed the org (so it is not "nothing was called")."""

    after_changes: bool = False


class QuickDeployRefusedError(OrgConfigError):
    """Salesforce refused to quick-deploy a validation (used already, too old, another
    release): nothing was deployed; validating again is the way on."""


class WrongOrgError(OrgConfigError, OrgIdentityError):
    """The credentials reach another org than the stack's `salesforceOrgId`: nothing changed."""


@dataclass(frozen=True, slots=True)
class ComponentFailure:
    """One problem the Metadata API reported for one file."""

    file: str
    component: str
    message: str


class DeployFailedError(SyncError):
    """A deploy ended Failed; `failures` lists the problems per file."""

    def __init__(self, deploy_id: str, state: str, failures: list[ComponentFailure]) -> None:
        lines = [f"  {f.file}: {f.message}" for f in failures] or ["  (no component details)"]
        super().__init__(f"deploy {deploy_id} ended {state}:\n" + "\n".join(lines))
        self.deploy_id = deploy_id
        self.failures = failures


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One thing apply would do (or not)."""

    kind: str  # field | permission_set | release_type | assignment | setting | release
    name: str
    action: str  # create | update | unchanged | missing
    detail: str = ""  # the plan's line
    problem: str = ""  # what doctor says is wrong (the name is said separately)


@dataclass(slots=True)
class Plan:
    """What apply would change, and what changed in the org since the last apply."""

    items: list[PlanItem] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    setting_ids: dict[str, str] = field(default_factory=dict)
    metadata_changed: bool = False
    stamp_changed: bool = False

    @property
    def changes(self) -> list[PlanItem]:
        """Items that are not unchanged."""
        return [i for i in self.items if i.action != "unchanged"]

    def render(self) -> str:
        """The plan as an operator reads it."""
        lines = []
        for item in self.changes:
            lines.append(f"  {item.detail or f'{item.name}: {item.action}'}")
        if not lines:
            lines.append("  no changes")
        for d in self.drift:
            lines.append(f"  drift: {d}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Check:
    """One doctor check."""

    ok: bool
    what: str
    fix: str = ""
    warning: bool = False  # said, but the org is still ready for the import


class OrgDeployer:
    """Applies releases to one org through a `SalesforceConnection`."""

    def __init__(self, api: SalesforceConnection, *, assignee: str | None = None,
                 sandbox: bool = True,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, poll_timeout_s: float = 1800.0,
                 progress: Callable[[str], None] = lambda _m: None,
                 now: Callable[[], datetime] = now_utc,
                 expected_org_id: str | None = None) -> None:
        self._api = api
        self._expected_org_id = expected_org_id  # sfbilling:salesforceOrgId, when configured
        self._assignee = assignee  # the integration user (username) the permission set is for
        self._sandbox = sandbox
        self._sleep = sleep
        self._clock = clock
        self._timeout = poll_timeout_s
        self._progress = progress
        self._now = now
        self.changed = False  # whether the last apply changed the org

    # -- reading the org -------------------------------------------------------------------
    def _describe(self, obj: str) -> dict[str, dict[str, Any]]:
        try:
            body = self._api.call(lambda sf: getattr(sf, obj).describe())
        except SalesforceResourceNotFound:
            return {}
        return {f["name"]: f for f in body["fields"]}

    def _stamp(self) -> dict[str, Any] | None:
        if not self._describe(RELEASE_OBJECT):
            return None
        rows = self._api.query(format_soql(
            "SELECT Config_Version__c, Content_Hash__c, Payment_Batch_Size__c, Card_Mapping__c "
            "FROM {:literal} WHERE DeveloperName = {}", RELEASE_OBJECT, RELEASE_RECORD))
        return rows[0] if rows else None

    def running_release(self) -> str | None:
        """The content hash of the release last stamped into the org (None: never applied)."""
        stamp = self._stamp()
        return None if stamp is None else stamp.get("Content_Hash__c")

    def _settings(self, release: Release) -> dict[str, dict[str, Any]]:
        names_ = [s.record for s in release.settings]
        rows = self._api.query(format_soql(
            "SELECT Id, Name, {:literal}, {:literal}, {:literal} FROM {:literal} WHERE Name IN {}",
            names.CONFIG_CATEGORY, names.CONFIG_NUMBER, names.CONFIG_STRING,
            names.BILLING_CONFIG, names_))
        return {r["Name"]: r for r in rows}

    def _category_records(self, category: str) -> list[str]:
        rows = self._api.query(format_soql(
            "SELECT Name FROM {:literal} WHERE {:literal} = {} ORDER BY Name",
            names.BILLING_CONFIG, names.CONFIG_CATEGORY, category))
        return [r["Name"] for r in rows]

    def _permissions(self, name: str) -> set[str] | None:
        sets = self._api.query(format_soql("SELECT Id FROM {:literal} WHERE Name = {}",
                                           names.PERMISSION_SET, name))
        if not sets:
            return None
        rows = self._api.query(format_soql(
            "SELECT Field FROM {:literal} WHERE ParentId = {} AND PermissionsEdit = true",
            names.FIELD_PERMISSIONS, sets[0]["Id"]))
        return {r["Field"] for r in rows}

    # -- plan ------------------------------------------------------------------------------
    def plan(self, release: Release) -> Plan:
        """Compare the release with the org (read-only)."""
        cfg = release.config
        plan = Plan()
        wanted: dict[str, dict[str, bool | None]] = {
            # True: unique external id text; False: plain text; None: checkbox.
            names.ACCOUNT: {cfg.account_customer_field: True,
                            names.ACCOUNT_CREATED_BY_IMPORT: None},
            names.PAYMENT_METHOD: {cfg.pm_external_id_field: True, cfg.pm_customer_field: False},
        }
        for obj, fields in wanted.items():
            described = self._describe(obj)
            for name, external in fields.items():
                plan.items.append(self._field_item(obj, name, external, described.get(name)))
        if self._describe(RELEASE_OBJECT):
            plan.items.append(PlanItem("release_type", RELEASE_OBJECT, "unchanged"))
        else:
            plan.items.append(PlanItem("release_type", RELEASE_OBJECT, "create",
                                       f"{RELEASE_OBJECT}: create", "not deployed"))
        granted = self._permissions(cfg.permission_set)
        needed = self._needed_permissions(release)
        if granted is None:
            plan.items.append(PlanItem("permission_set", cfg.permission_set, "create",
                                       f"PermissionSet {cfg.permission_set}: create",
                                       "not in the org"))
        elif needed is not None and not needed <= granted:
            lacking = ", ".join(sorted(needed - granted))
            plan.items.append(PlanItem("permission_set", cfg.permission_set, "update",
                                       f"PermissionSet {cfg.permission_set}: grant {lacking}",
                                       f"does not grant {lacking}"))
        else:
            plan.items.append(PlanItem("permission_set", cfg.permission_set, "unchanged"))
        if self._assignee:
            plan.items.append(self._assignment_item(cfg.permission_set))
        stamp = self._stamp()
        records = self._settings(release)
        for s in release.settings:
            row = records.get(s.record)
            if row is None:
                found = ", ".join(self._category_records(_CATEGORY)) or "none"
                plan.items.append(PlanItem(
                    "setting", s.record, "missing", f"{s.label}: record {s.record} not found",
                    f"no such {names.BILLING_CONFIG} record; records of category {_CATEGORY} "
                    f"in this org: {found}"))
                continue
            plan.setting_ids[s.record] = row["Id"]
            current = _setting_value(row.get(s.field), s.value)
            if current == s.value:
                plan.items.append(PlanItem("setting", s.record, "unchanged"))
            else:
                plan.items.append(PlanItem("setting", s.record, "update",
                                           f"{s.label}: {_show(current)} → {_show(s.value)}",
                                           f"{s.label} is {_show(current)}, configured "
                                           f"{_show(s.value)}"))
            if stamp is not None:
                stamped = _setting_value(stamp.get(_STAMP_FIELDS[s.field]), s.value)
                if stamped != current:
                    plan.drift.append(f"{s.label} changed in Setup since release "
                                      f"{str(stamp.get('Content_Hash__c'))[:12]}: "
                                      f"{_show(stamped)} → {_show(current)}")
        old_hash = stamp.get("Content_Hash__c") if stamp else None
        deployed = [i for i in plan.items if i.kind not in ("setting", "assignment")]
        plan.metadata_changed = old_hash != release.content_hash or any(
            i.action != "unchanged" for i in deployed)
        # The stamp holds the release's identity and its configured values: it changes only
        # with the release (a setting changed in Setup is drift, put back by apply).
        plan.stamp_changed = old_hash != release.content_hash
        if stamp is not None and old_hash == release.content_hash:
            plan.drift += [f"{i.name} is missing or changed although release "
                           f"{release.content_hash[:12]} was applied"
                           for i in deployed if i.action != "unchanged"]
        if plan.stamp_changed:
            was = str(old_hash)[:12] if old_hash else "none"
            plan.items.append(PlanItem(
                "release", RELEASE_RECORD, "update",
                f"release stamp: {was} → {release.content_hash[:12]} (config "
                f"{release.config.config_version})",
                f"the org runs release {was}, this config renders "
                f"{release.content_hash[:12]}"))
        else:
            plan.items.append(PlanItem("release", RELEASE_RECORD, "unchanged"))
        return plan

    def _integration_user_checks(self) -> list[Check]:
        """The integration user holds only the import's permission set: an administrator's
        saves pass the org's "alert" duplicate rules (and it could change anything)."""
        if not self._assignee:
            return []
        rows = self._api.query(format_soql(
            "SELECT Id, Profile.Name, Profile.PermissionsModifyAllData FROM {:literal} "
            "WHERE Username = {}", names.USER, self._assignee))
        if not rows:
            return []  # the assignment check says the user is missing
        profile = rows[0].get("Profile") or {}
        admin = bool(profile.get("PermissionsModifyAllData"))
        return [Check(not admin, f"integration user {self._assignee} is no administrator "
                      f"(profile {profile.get('Name')!r})",
                      "give it a minimum-access profile: its rights come from the import's "
                      "permission set, and an administrator's saves pass the org's alert "
                      "duplicate rules", warning=True)]

    def _user_id(self) -> str | None:
        rows = self._api.query(format_soql("SELECT Id FROM {:literal} WHERE Username = {}",
                                           names.USER, self._assignee))
        return str(rows[0]["Id"]) if rows else None

    def _assignment_item(self, permission_set: str) -> PlanItem:
        name = f"{permission_set} → {self._assignee}"
        user = self._user_id()
        if user is None:
            return PlanItem("assignment", name, "missing",
                            f"integration user {self._assignee} not found",
                            f"no user {self._assignee} in this org")
        rows = self._api.query(format_soql(
            "SELECT Id FROM {:literal} WHERE AssigneeId = {} AND PermissionSet.Name = {}",
            names.PERMISSION_SET_ASSIGNMENT, user, permission_set))
        if rows:
            return PlanItem("assignment", name, "unchanged")
        return PlanItem("assignment", name, "create",
                        f"assign PermissionSet {permission_set} to {self._assignee}",
                        "not assigned")

    def _assign(self, permission_set: str) -> None:
        user = self._user_id()
        sets = self._api.query(format_soql("SELECT Id FROM {:literal} WHERE Name = {}",
                                           names.PERMISSION_SET, permission_set))
        if user is None or not sets:
            raise OrgConfigError(f"cannot assign {permission_set}: user or permission set "
                                 "not found")
        results = self._api.json("POST", "composite/sobjects", {"allOrNone": True, "records": [
            {"attributes": {"type": names.PERMISSION_SET_ASSIGNMENT}, "AssigneeId": user,
             "PermissionSetId": sets[0]["Id"]}]})
        if not results or not results[0].get("success"):
            raise OrgConfigError(f"assigning {permission_set} failed: {results}")

    @staticmethod
    def _field_item(obj: str, name: str, external: bool | None,
                    described: dict[str, Any] | None) -> PlanItem:
        full = f"{obj}.{name}"
        if described is None:
            return PlanItem("field", full, "create", f"{full}: create", "missing")
        differences = []
        if external is None:
            if described.get("type") != "boolean":
                differences.append(f"type {described.get('type')} → Checkbox")
            return PlanItem("field", full, "update" if differences else "unchanged",
                            f"{full}: {'; '.join(differences)}", "; ".join(differences))
        if described.get("type") != "string" or described.get("length") != 255:
            differences.append(f"type {described.get('type')}({described.get('length')}) → "
                               "Text(255)")
        for prop in ("externalId", "unique", "caseSensitive"):
            if bool(described.get(prop)) != external:
                differences.append(f"{prop} {described.get(prop)} → {external}")
        if differences:
            return PlanItem("field", full, "update", f"{full}: {'; '.join(differences)}",
                            "; ".join(differences))
        return PlanItem("field", full, "unchanged")

    @staticmethod
    def _needed_permissions(release: Release) -> set[str] | None:
        """The fields the release's permission set grants (None: a release known without its
        files, `render.applied_release`: only the permission set's presence is checked)."""
        text = release.metadata_files.get(f"permissionsets/{release.config.permission_set}"
                                          ".permissionset")
        if text is None:
            return None
        return {part.split("</field>")[0] for part in text.split("<field>")[1:]}

    # -- apply -----------------------------------------------------------------------------
    def apply(self, release: Release, *, validated: ValidationRecord | None = None,
              env: str = "ENV") -> Plan:
        """Bring the org to `release`; returns the plan that was carried out.

        With `validated`, the metadata goes in by quick deploy of that validation, which must
        have run for this release and this org within Salesforce's 10-day window: checked
        before any request that changes the org. An OrgConfigError raised once something was
        changed says so (`after_changes`).
        """
        self.changed = False
        try:
            return self._apply(release, validated=validated, env=env)
        except OrgConfigError as exc:
            exc.after_changes = self.changed
            raise

    def _apply(self, release: Release, *, validated: ValidationRecord | None,
               env: str) -> Plan:
        org_id = self.checked_org_id(env)
        validated_id = None
        if validated is not None:
            why = refusal(validated, release=release.content_hash, org_id=org_id,
                          now=self._now())
            if why:
                raise OrgConfigError(f"{why}: validate again (`sfbilling validate --env "
                                     f"{env}`), or deploy without a validation")
            validated_id = validated.validation_id
        plan = self.plan(release)
        missing = [i for i in plan.items if i.kind == "setting" and i.action == "missing"]
        if missing:
            keys = " / ".join(f"{CONFIG_NAMESPACE}:{s.record_key}" for s in release.settings
                              if s.record in {i.name for i in missing})
            raise OrgConfigError("package settings: " + "; ".join(f"{i.name}: {i.problem}"
                                                                  for i in missing)
                                 + f". Set {keys} to the right record name.")
        if plan.metadata_changed:
            if validated_id:
                self._progress(f"quick deploy of validation {validated_id}")
                self._wait(self._quick_deploy(validated_id))
            else:
                self._progress("deploying the metadata package")
                self._wait(self._deploy(bundle(release.metadata_files), check_only=False))
            self.changed = True
        if any(i.kind == "assignment" and i.action == "create" for i in plan.items):
            self._progress(f"assigning {release.config.permission_set} to {self._assignee}")
            self._assign(release.config.permission_set)
            self.changed = True
        self._update_settings(release, plan)
        self.changed = self.changed or any(i.kind == "setting" and i.action == "update"
                                           for i in plan.items)
        if plan.stamp_changed:
            self._progress("stamping the release")
            self._wait(self._deploy(bundle(release.stamp_files), check_only=False))
        return plan

    def checked_org_id(self, env: str = "ENV") -> str:
        """The org's id, if it is the one the stack names (OrgConfigError before any change
        otherwise: a refreshed sandbox has a new id and carries production's data)."""
        org_id = self.org_id()
        expected = self._expected_org_id
        if expected and org_id[:15] != expected[:15]:
            if not self._sandbox:  # production is never refreshed: these are wrong credentials
                raise WrongOrgError(
                    f"the org is {org_id}, but sfbilling:salesforceOrgId is {expected}: the "
                    f"credentials of {env} reach another org than production's. Nothing was "
                    f"changed. Check salesforceLoginUrl and salesforceUsername in "
                    f"Pulumi.{env}.yaml, and the key of SFBILLING_{env.upper()}_SF_"
                    "PRIVATE_KEY_FILE")
            raise WrongOrgError(
                f"the org is {org_id}, but sfbilling:salesforceOrgId is {expected}: a refreshed "
                "sandbox gets a new org id and carries production's data. Nothing was changed. "
                f"If this is the org you mean: confirm the refresh, set sfbilling:salesforceOrgId "
                f"to {org_id} in Pulumi.{env}.yaml, apply the org config again, then run a full "
                f"reconcile (`sfbilling sync --env {env} --full`)")
        return org_id

    def org_id(self) -> str:
        """The org's id (a refreshed sandbox gets a new one)."""
        rows = self._api.query(format_soql("SELECT Id FROM {:literal}", names.ORGANIZATION))
        if len(rows) != 1:
            raise OrgConfigError(f"expected one {names.ORGANIZATION} row, found {len(rows)}")
        return str(rows[0]["Id"])

    def _update_settings(self, release: Release, plan: Plan) -> None:
        updates = []
        for s in release.settings:
            item = next(i for i in plan.items if i.kind == "setting" and i.name == s.record)
            if item.action == "update":
                updates.append({"attributes": {"type": names.BILLING_CONFIG},
                                "Id": plan.setting_ids[s.record], s.field: s.value})
        if not updates:
            return
        self._progress(f"updating {len(updates)} package setting(s)")
        results = self._api.json("PATCH", "composite/sobjects",
                                 {"allOrNone": True, "records": updates})
        failed = [r for r in results if not r.get("success")]
        if failed:
            raise OrgConfigError(f"package settings update failed: {failed}")

    def validate(self, release: Release, *, env: str) -> ValidationRecord:
        """A check-only deploy at the configured test level; the record to keep (the caller
        writes it into the stack file)."""
        org_id = self.checked_org_id(env)
        deploy_id = self._deploy(bundle(release.metadata_files), check_only=True,
                                 test_level=release.config.test_level)
        self._wait(deploy_id)
        return ValidationRecord(validation_id=deploy_id, release=release.content_hash,
                                org_id=org_id, validated_at=self._now().isoformat())

    # -- Metadata API ----------------------------------------------------------------------
    def _deploy(self, zip_bytes: bytes, *, check_only: bool,
                test_level: str | None = None) -> str:
        opts: dict[str, Any] = {"checkOnly": check_only, "rollbackOnError": True}
        if test_level:
            opts["testLevel"] = test_level

        def call(sf: Any) -> str:
            try:
                return str(sf.deploy(io.BytesIO(zip_bytes), sandbox=self._sandbox,
                                     **opts)["asyncId"])
            finally:
                sf._generate_headers()  # noqa: SLF001 - deploy leaks SOAP headers into sf

        return self._api.call(call)

    def _status(self, deploy_id: str) -> dict[str, Any]:
        def call(sf: Any) -> dict[str, Any]:
            try:
                return dict(sf.checkDeployStatus(deploy_id))
            finally:
                sf._generate_headers()  # noqa: SLF001 - same header leak as deploy

        return self._api.call(call)

    def _wait(self, deploy_id: str) -> dict[str, Any]:
        started = self._clock()
        delay = 0.2
        while True:
            status = self._status(deploy_id)
            if status.get("state") in DONE:
                break
            if self._clock() - started > self._timeout:
                raise OrgConfigError(f"deploy {deploy_id} still {status.get('state')} after "
                                     f"{self._timeout:.0f} s; see Setup > Deployment Status "
                                     "(it was not cancelled)")
            self._sleep(delay)
            delay = min(delay * 1.5, 10.0)
        if status["state"] != "Succeeded":
            detail = status.get("deployment_detail") or {}
            failures = [ComponentFailure(e.get("file") or "", e.get("type") or "",
                                         e.get("message") or "")
                        for e in detail.get("errors", [])]
            raise DeployFailedError(deploy_id, status["state"], failures)
        return status

    def _quick_deploy(self, validation_id: str) -> str:
        try:
            body = self._soap("deployRecentValidation",
                              f"<met:validationId>{escape(validation_id)}</met:validationId>")
        except OrgConfigError as exc:
            raise QuickDeployRefusedError(f"quick deploy of {validation_id} refused: {exc}") \
                from None
        start = body.find("<result>")
        end = body.find("</result>")
        if start < 0 or end < 0:
            raise OrgConfigError(f"quick deploy of {validation_id} refused: {body[:500]}")
        return body[start + len("<result>"):end]

    def _soap(self, operation: str, inner: str) -> str:
        def call(sf: Any) -> str:
            envelope = (
                '<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv='
                f'"http://schemas.xmlsoap.org/soap/envelope/" xmlns:met="{_MD}">'
                "<soapenv:Header><met:SessionHeader><met:sessionId>"
                f"{escape(sf.session_id)}</met:sessionId></met:SessionHeader></soapenv:Header>"
                f"<soapenv:Body><met:{operation}>{inner}</met:{operation}></soapenv:Body>"
                "</soapenv:Envelope>")
            result = sf.session.post(sf.metadata_url, data=envelope.encode(),
                                     headers={"Content-Type": "text/xml", "SOAPAction": '""'})
            if result.status_code >= 300:
                if "INVALID_SESSION_ID" in result.text:
                    raise _expired(result)
                raise OrgConfigError(_fault(result.text) or result.text[:500])
            return str(result.text)

        return self._api.call(call)

    # -- doctor ----------------------------------------------------------------------------
    def doctor(self, release: Release) -> list[Check]:
        """Is the org ready for the import? Each check says what to fix."""
        cfg = release.config
        checks: list[Check] = []
        described: Any = self._api.call(lambda sf: sf.describe())
        objects = {o["name"] for o in (described or {}).get("sobjects", [])}
        for obj in (names.PAYMENT_METHOD, names.PAYMENT_GATEWAY, names.BILLING_CONFIG):
            checks.append(Check(obj in objects, f"Salesforce Billing object {obj}",
                                "install or upgrade the Salesforce Billing package"))
        if names.PAYMENT_GATEWAY in objects:
            rows = self._api.query(format_soql(
                "SELECT Id, {:literal}, {:literal} FROM {:literal} WHERE {:literal} = {}",
                names.GATEWAY_ACTIVE, names.GATEWAY_TYPE, names.PAYMENT_GATEWAY,
                names.GATEWAY_NAME, cfg.gateway_name))
            checks.append(Check(len(rows) == 1, f"one payment gateway named {cfg.gateway_name!r}",
                                "create it (Payment Gateways tab) or set sfbilling:gatewayName"))
            if len(rows) == 1:
                checks.append(Check(bool(rows[0].get(names.GATEWAY_ACTIVE)),
                                    f"gateway {cfg.gateway_name!r} is active",
                                    "tick Active on the gateway record"))
                kind = rows[0].get(names.GATEWAY_TYPE)
                checks.append(Check(kind == cfg.gateway_type,
                                    f"gateway type is {cfg.gateway_type!r} (found {kind!r})",
                                    "add the value to the Gateway Type (Managed) value set and "
                                    "set it on the gateway, or set sfbilling:gatewayType"))
        checks += self._integration_user_checks()
        plan = self.plan(release)
        what = {"field": "field {}", "permission_set": "permission set {}",
                "assignment": "permission set assignment {}",
                "release_type": "release stamp type {}", "setting": "package setting {}",
                "release": "release stamp"}
        fine = {"field": "in place", "permission_set": "grants the import's fields",
                "assignment": "in place", "release_type": "deployed",
                "setting": "as configured", "release": "current"}
        for item in plan.items:
            fix = "run sfbilling apply"
            if item.action == "missing" and item.kind == "assignment":
                fix = f"set {CONFIG_NAMESPACE}:salesforceUsername to the integration user"
            elif item.action == "missing":
                key = next(s.record_key for s in release.settings if s.record == item.name)
                fix = f"set {CONFIG_NAMESPACE}:{key} to one of those records"
            name = what[item.kind].format(item.name)
            checks.append(Check(item.action == "unchanged",
                                f"{name} {fine[item.kind]}" if item.action == "unchanged" else
                                f"{name}: {item.problem or item.action}", fix))
        return checks


_STAMP_FIELDS = {names.CONFIG_NUMBER: "Payment_Batch_Size__c",
                 names.CONFIG_STRING: "Card_Mapping__c"}


def _setting_value(raw: Any, like: Any) -> Any:
    if raw in (None, ""):
        return None
    if isinstance(like, int) and not isinstance(like, bool):
        try:
            return int(float(raw))
        except (TypeError, ValueError):
            return raw
    return raw


def _show(value: Any) -> str:
    return "(empty)" if value is None else str(value)


def _fault(text: str) -> str | None:
    start = text.find("<faultstring>")
    end = text.find("</faultstring>")
    return text[start + len("<faultstring>"):end] if 0 <= start < end else None


def _expired(result: Any) -> Exception:
    from simple_salesforce.exceptions import SalesforceExpiredSession  # noqa: PLC0415

    return SalesforceExpiredSession(result.url, 401, "metadata", result.text)


def summarize(checks: list[Check]) -> str:
    """Doctor's report."""
    lines = [f"  {'ok ' if c.ok else 'WARN' if c.warning else 'FIX'} {c.what}"
             + ("" if c.ok else f" — {c.fix}") for c in checks]
    return "\n".join([*lines, "", PAYMENT_CENTER_CAVEAT])


