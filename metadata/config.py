"""The org config of one environment, read from its stack file `Pulumi.<env>.yaml`.

Keys live in the `sfbilling:` namespace, next to the import's settings (some are shared: the API
version, the field names, the gateway name). Every problem is reported at once, before any
network call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync_lambda.errors import ConfigError
from sync_lambda.settings import CONFIG_NAMESPACE, SPECS, Spec

if TYPE_CHECKING:
    from collections.abc import Mapping

TEST_LEVELS = ("NoTestRun", "RunLocalTests", "RunAllTestsInOrg")
_API_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$")


def _batch_size(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"must be a whole number, got {raw!r}")
    try:
        value = int(str(raw))
    except ValueError:
        raise ValueError(f"must be a whole number, got {raw!r}") from None
    if not 1 <= value <= 70:
        raise ValueError(f"Salesforce Billing allows 1 to 70, got {value}")
    return value


def _api_name(raw: Any) -> str:
    text = str(raw)
    if not isinstance(raw, str) or not _API_NAME.match(text) or len(text) > 80 or \
            text.endswith("_"):
        raise ValueError(f"must be an API name (letters, digits, single underscores), got "
                         f"{raw!r}")
    return text


def _text(raw: Any) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool) or not str(raw).strip():
        raise ValueError(f"must be a non-empty text, got {raw!r}")
    return str(raw).strip()


def _optional_field(raw: Any) -> str | None:
    if raw in ("", None):
        return None
    text = str(raw)
    if not text.endswith("__c"):
        raise ValueError(f"must be a payment method field API name ending in __c, got {raw!r}")
    return text


def _test_level(raw: Any) -> str:
    if raw not in TEST_LEVELS:
        raise ValueError(f"must be one of {', '.join(TEST_LEVELS)}, got {raw!r}")
    return str(raw)


ORG_SPECS: tuple[Spec, ...] = (
    Spec("payment_batch_size", "", "paymentCreationBatchSize", _batch_size, 70,
         "Payment creation batch size (1-70; Stripe recommends 70, the maximum)"),
    Spec("card_mapping", "", "cardMapping", _optional_field, None,
         "Card Mapping: the payment method field Billing reads the token from (empty: the "
         "Payment Gateway Token field)"),
    Spec("batch_size_record", "", "paymentBatchSizeRecord", _text, "PAYMENT_CREATION_BATCH_SIZE",
         "Name of the blng__BillingConfig__c record holding the batch size"),
    Spec("card_mapping_record", "", "cardMappingRecord", _text, "CARD_MAPPING",
         "Name of the blng__BillingConfig__c record holding Card Mapping"),
    Spec("permission_set", "", "permissionSetName", _api_name, "Stripe_Billing_Sync",
         "permission set granting the integration user what the import writes"),
    Spec("gateway_type", "", "gatewayType", _text, "Stripe (Universal Extension)",
         "expected Gateway Type of the payment gateway (checked by doctor)"),
    Spec("test_level", "", "deployTestLevel", _test_level, "RunLocalTests",
         "test level of `validate` (quick deploy needs a validation that ran tests)"),
    Spec("config_version", "", "configVersion", _text, "1",
         "version of this config, stamped into the org with the content hash"),
)
_SHARED = ("salesforce_api_version", "account_customer_field", "pm_external_id_field",
           "pm_customer_field", "gateway_name")


@dataclass(frozen=True, slots=True)
class OrgConfig:
    """Everything the org config renders and checks."""

    payment_batch_size: int
    card_mapping: str | None
    batch_size_record: str
    card_mapping_record: str
    permission_set: str
    gateway_type: str
    test_level: str
    config_version: str
    salesforce_api_version: str
    account_customer_field: str
    pm_external_id_field: str
    pm_customer_field: str
    gateway_name: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, source: str) -> OrgConfig:
        """Validate the stack config (raises ConfigError listing every problem)."""
        prefix = CONFIG_NAMESPACE + ":"
        specs = {s.key: s for s in ORG_SPECS}
        specs.update({s.key: s for s in SPECS if s.attr in _SHARED})
        known = set(specs) | {s.key for s in SPECS}
        values: dict[str, Any] = {s.attr: s.default for s in specs.values()}
        problems: list[str] = []
        for key, raw in config.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            if name not in known:
                problems.append(f"{source}: unknown key {key} (allowed: "
                                f"{', '.join(sorted(known))})")
                continue
            spec = specs.get(name)
            if spec is None:
                continue  # an import-only setting: checked by the import
            if raw is None:
                problems.append(f"{source}: {key} is required (it has no value)")
                continue
            try:
                values[spec.attr] = spec.parse(raw)
            except (ValueError, TypeError) as exc:
                problems.append(f"{source}: {key}: {exc}")
        if problems:
            raise ConfigError("invalid org config:\n  " + "\n  ".join(problems))
        return cls(**values)

    @staticmethod
    def keys() -> frozenset[str]:
        """The stack-config keys the org config owns (the import ignores them)."""
        return frozenset(s.key for s in ORG_SPECS)
