"""The org config of one environment: the keys of its stack configuration that `metadata/`
renders and checks, typed and frozen. The keys themselves are declared in `stackconfig.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from stackconfig.resolve import StackConfig

# Attribute → stack key.
KEYS: Final = {
    "payment_batch_size": "paymentCreationBatchSize",
    "card_mapping": "cardMapping",
    "batch_size_record": "paymentBatchSizeRecord",
    "card_mapping_record": "cardMappingRecord",
    "permission_set": "permissionSetName",
    "gateway_type": "gatewayType",
    "test_level": "deployTestLevel",
    "config_version": "configVersion",
    "salesforce_api_version": "salesforceApiVersion",
    "account_customer_field": "accountCustomerField",
    "pm_external_id_field": "paymentMethodExternalIdField",
    "pm_customer_field": "paymentMethodCustomerField",
    "gateway_name": "gatewayName",
}


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
    def from_stack(cls, stack: StackConfig) -> OrgConfig:
        """The org config of a resolved stack (already validated by the schema)."""
        return cls(**{f.name: stack[KEYS[f.name]] for f in fields(cls)})
