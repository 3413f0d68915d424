"""Templates → the files of a release, the deployable zips, and the release's identity. Pure.

Same config in, byte-identical files, zips and content hash out: entries are sorted, zip entries
carry a fixed timestamp and mode, and nothing from the machine (time, paths, order of a dict
that was not sorted) reaches the output.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from stackconfig.schema import CONFIG_VERSION_LENGTH
from sync_lambda import names

if TYPE_CHECKING:
    from collections.abc import Mapping

    from metadata.config import OrgConfig

RELEASE_TYPE = "Sfbilling_Release"
RELEASE_OBJECT = f"{RELEASE_TYPE}__mdt"
RELEASE_RECORD = "Current"
STAMP_DIR = "stamp/"
DATA_FILE = "data/billing-config.json"
# Fields of the release stamp (custom metadata type) and their (type, length).
RELEASE_FIELDS = {
    "Config_Version__c": ("Config Version", "Text", CONFIG_VERSION_LENGTH),
    "Content_Hash__c": ("Content Hash", "Text", 64),
    "Payment_Batch_Size__c": ("Payment Creation Batch Size", "Number", 0),
    "Card_Mapping__c": ("Card Mapping", "Text", 255),
}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_env = Environment(
    loader=PackageLoader("metadata", "templates"),
    undefined=StrictUndefined,
    # Every template renders XML except the settings data file (JSON, escaped with tojson).
    autoescape=lambda name: name is not None and not name.endswith(".json.j2"),  # noqa: S701
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class SettingValue:
    """One package setting: a blng__BillingConfig__c record and the value it must hold."""

    record: str
    label: str
    field: str
    value: Any
    record_key: str  # the stack-config key naming the record


@dataclass(frozen=True, slots=True)
class Release:
    """A rendered release: every file by path (sorted), its identity, and its settings."""

    files: Mapping[str, str]
    content_hash: str
    settings: tuple[SettingValue, ...]
    config: OrgConfig = field(repr=False)

    @property
    def metadata_files(self) -> dict[str, str]:
        """The main Metadata API package (fields, permission set, release type)."""
        return {p: t for p, t in self.files.items()
                if not p.startswith((STAMP_DIR, "data/")) and p != "release.json"}

    @property
    def stamp_files(self) -> dict[str, str]:
        """The release-stamp package (deployed last, after the settings)."""
        return {p[len(STAMP_DIR):]: t for p, t in self.files.items() if p.startswith(STAMP_DIR)}


def applied_release(content_hash: str, cfg: OrgConfig) -> Release:
    """The release a stack's state says was applied, known by its hash, config and settings
    and rendered from nothing: a refresh reads the org against it, and the templates may have
    changed since (so a re-render would describe another release). It has no files."""
    return Release({}, content_hash, settings_of(cfg), cfg)


def settings_of(cfg: OrgConfig) -> tuple[SettingValue, ...]:
    """The package settings this config manages."""
    return (
        SettingValue(cfg.batch_size_record, "Payment creation batch size",
                     names.CONFIG_NUMBER, cfg.payment_batch_size, "paymentBatchSizeRecord"),
        SettingValue(cfg.card_mapping_record, "Card Mapping", names.CONFIG_STRING,
                     cfg.card_mapping, "cardMappingRecord"),
    )


def _render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


def _package(types: Mapping[str, list[str]], api_version: str) -> str:
    return _render("package.xml.j2", api_version=api_version,
                   types=[{"name": n, "members": sorted(m)} for n, m in sorted(types.items())])


def content_hash(files: Mapping[str, str]) -> str:
    """SHA-256 over every path and its bytes, in path order: the release's identity."""
    h = hashlib.sha256()
    for path in sorted(files):
        data = files[path].encode()
        h.update(path.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def render_release(cfg: OrgConfig) -> Release:
    """All files of the release for `cfg`."""
    text_field = {"external_id": False}
    account_field = {**text_field, "name": cfg.account_customer_field,
                     "label": "Stripe Customer ID", "external_id": True,
                     "description": "Stripe customer (cus_…) of this Account; written by the "
                                    "Stripe import, unique"}
    pm_fields = sorted([
        {"name": cfg.pm_external_id_field, "label": "Stripe Payment Method ID",
         "external_id": True, "description": "Stripe payment method (pm_…); the import's "
                                             "upsert key, unique"},
        {"name": cfg.pm_customer_field, "label": "Stripe Customer ID", "external_id": False,
         "description": "Stripe customer (cus_…) the payment method belongs to"},
    ], key=lambda f: str(f["name"]))
    ps_fields = sorted({f"{names.ACCOUNT}.{cfg.account_customer_field}",
                        f"{names.ACCOUNT}.{names.ACCOUNT_CREATED_BY_IMPORT}",
                        f"{names.PAYMENT_METHOD}.{cfg.pm_external_id_field}",
                        f"{names.PAYMENT_METHOD}.{cfg.pm_customer_field}",
                        *(f"{names.PAYMENT_METHOD}.{f}" for f in names.PM_MANAGED_FIELDS)})
    settings = settings_of(cfg)
    files: dict[str, str] = {
        f"objects/{names.ACCOUNT}.object": _render(
            "objects/Account.object.j2", account_field=account_field, created_field={
                "name": names.ACCOUNT_CREATED_BY_IMPORT, "label": "Created by Stripe Import",
                "description": "Ticked on Accounts the Stripe import created: their Name follows "
                               "the Stripe customer's"}),
        f"objects/{names.PAYMENT_METHOD}.object": _render(
            "objects/PaymentMethod.object.j2", payment_method_fields=pm_fields),
        f"objects/{RELEASE_OBJECT}.object": _render(
            "objects/Release.object.j2",
            release_fields=[{"name": n, "label": lbl, "type": t, "length": ln}
                            for n, (lbl, t, ln) in sorted(RELEASE_FIELDS.items())]),
        f"permissionsets/{cfg.permission_set}.permissionset": _render(
            "permissionsets/PermissionSet.permissionset.j2", field_permissions=ps_fields,
            object_permissions=sorted([names.ACCOUNT, names.PAYMENT_METHOD])),
        DATA_FILE: _render("data/billing-config.json.j2", settings_object=names.BILLING_CONFIG,
                           settings=[{"record": s.record, "label": s.label, "field": s.field,
                                      "value": s.value} for s in settings]),
    }
    files["package.xml"] = _package({
        "CustomField": [f"{names.ACCOUNT}.{cfg.account_customer_field}",
                        f"{names.ACCOUNT}.{names.ACCOUNT_CREATED_BY_IMPORT}",
                        f"{names.PAYMENT_METHOD}.{cfg.pm_external_id_field}",
                        f"{names.PAYMENT_METHOD}.{cfg.pm_customer_field}"],
        "CustomObject": [RELEASE_OBJECT],
        "PermissionSet": [cfg.permission_set],
    }, cfg.salesforce_api_version)
    # The identity covers every deployed or applied file and the config version itself.
    digest = content_hash({**files, "config_version": cfg.config_version})
    values = [
        {"field": "Card_Mapping__c", "xsd": "string", "value": cfg.card_mapping},
        {"field": "Config_Version__c", "xsd": "string", "value": cfg.config_version},
        {"field": "Content_Hash__c", "xsd": "string", "value": digest},
        {"field": "Payment_Batch_Size__c", "xsd": "double", "value": cfg.payment_batch_size},
    ]
    files[f"{STAMP_DIR}customMetadata/{RELEASE_TYPE}.{RELEASE_RECORD}.md"] = _render(
        "customMetadata/Release.md.j2", release_values=values)
    files[f"{STAMP_DIR}package.xml"] = _package(
        {"CustomMetadata": [f"{RELEASE_TYPE}.{RELEASE_RECORD}"]}, cfg.salesforce_api_version)
    files["release.json"] = json.dumps({"config_version": cfg.config_version,
                                        "content_hash": digest}, indent=2) + "\n"
    return Release(dict(sorted(files.items())), digest, settings, cfg)


def bundle(files: Mapping[str, str]) -> bytes:
    """A deterministic zip: sorted entries, fixed timestamp and mode, maximum compression."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, files[path].encode(), compresslevel=9)
    return buf.getvalue()
