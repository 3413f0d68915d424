"""A Salesforce Billing org out of the box: `blng` objects, the Stripe gateway, package settings.

Names the public documentation does not confirm (marked [U] in
`shared/reference/salesforce-billing-and-stripe-facts.md`) are fields of `OrgProfile`, so a test
or a developer who learns the real value from an org can change them without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devenv.salesforce.schema import (
    BOOLEAN,
    DATE,
    DATETIME,
    DOUBLE,
    EMAIL,
    ENCRYPTED,
    PERCENT,
    PHONE,
    REFERENCE,
    STRING,
    TEXTAREA,
    URL,
    FieldDef,
    ObjectDef,
    Schema,
    checkbox,
    picklist,
    system_fields,
    text,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

PAYMENT_METHOD = "blng__PaymentMethod__c"
PAYMENT_GATEWAY = "blng__PaymentGateway__c"
BILLING_CONFIG = "blng__BillingConfig__c"

# [U] Real values come from the org's describe; these are plausible stand-ins.
DEFAULT_EXPIRY_MONTHS = tuple(f"{m:02d}" for m in range(1, 13))
DEFAULT_EXPIRY_YEARS = tuple(str(y) for y in range(2020, 2041))
# Country picklist: value = English short name (as Setup shows), a representative subset.
DEFAULT_COUNTRIES = (
    "Australia", "Austria", "Belgium", "Brazil", "Canada", "China", "Denmark", "Finland",
    "France", "Germany", "Hong Kong", "India", "Ireland", "Italy", "Japan", "Mexico",
    "Netherlands", "New Zealand", "Norway", "Poland", "Portugal", "Singapore", "Spain",
    "Sweden", "Switzerland", "United Kingdom", "United States",
)


@dataclass(frozen=True, slots=True)
class BillingSetting:
    """One `blng__BillingConfig__c` record (package setting) present out of the box."""

    name: str
    category: str
    field_type: str
    description: str
    number: float | None = None
    string: str | None = None
    boolean: bool = False
    sequence: int = 0


# [U] Record names are not documented publicly; category and description follow Setup's labels.
DEFAULT_SETTINGS = (
    BillingSetting("PAYMENT_CREATION_BATCH_SIZE", "Payment", "Number",
                   "Payment creation batch size", number=50, sequence=1),
    BillingSetting("CARD_MAPPING", "Payment", "String", "Card Mapping", sequence=2),
    BillingSetting("PAYMENT_SCHEDULER_BATCH_SIZE", "Payment", "Number",
                   "Payment scheduler batch size", number=50, sequence=3),
    BillingSetting("ALLOW_MULTIPLE_AUTOPAY", "Payment", "Boolean",
                   "Allow multiple autopay payment methods", boolean=False, sequence=4),
    BillingSetting("INVOICE_BATCH_SIZE", "Invoice", "Number", "Invoice batch size",
                   number=100, sequence=1),
    BillingSetting("TAX_CALCULATION_BASED_ON", "Tax", "String", "Tax calculation based on",
                   string="Billing Address", sequence=1),
)


@dataclass(frozen=True, slots=True)
class OrgProfile:
    """Everything about the seeded org that a test may want to vary."""

    org_id: str = "00D5g000004SBXaEAO"
    org_name: str = "Acme Billing (stand-in)"
    is_sandbox: bool = True
    gateway_name: str = "Stripe"
    gateway_type: str = "Stripe (Universal Extension)"
    gateway_active: bool = True
    expiry_months: tuple[str, ...] = DEFAULT_EXPIRY_MONTHS
    expiry_years: tuple[str, ...] = DEFAULT_EXPIRY_YEARS
    countries: tuple[str, ...] = DEFAULT_COUNTRIES
    settings: tuple[BillingSetting, ...] = DEFAULT_SETTINGS
    # An Enterprise Edition production org with 15 Salesforce licences: 100,000 + 15 x 1,000
    # requests over a rolling 24 hours (docs/stand-ins.md).
    daily_api_limit: int = 115_000
    # The integration user the JWT / client-credentials flows log in as.
    username: str = "integration@acme.example"
    # The integration user's profile: minimum access (its rights come from the import's
    # permission set), or "System Administrator" (what doctor warns about).
    integration_profile: str = "Minimum Access - Salesforce"
    # The admin who deploys the org config, through a connected app of its own.
    deploy_username: str = "deploy@acme.example"
    # The org's My Domain host ("": acme-billing--standin.sandbox.my.salesforce.com for a
    # sandbox, acme-billing.my.salesforce.com for production), reached through the proxy.
    my_domain: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def my_domain_host(self) -> str:
        """The org's My Domain host name."""
        if self.my_domain:
            return self.my_domain
        return ("acme-billing--standin.sandbox.my.salesforce.com" if self.is_sandbox
                else "acme-billing.my.salesforce.com")


def _account() -> ObjectDef:
    obj = ObjectDef("Account", "Account", "Accounts", "001")
    for f in system_fields(owner=True):
        obj.add_field(f)
    for f in (
        FieldDef("Name", "Account Name", STRING, 255, required=True, name_field=True,
                 id_lookup=False),
        FieldDef("AccountNumber", "Account Number", STRING, 40),
        FieldDef("Type", "Account Type", STRING, 255),
        FieldDef("Phone", "Account Phone", PHONE, 40),
        FieldDef("Website", "Website", URL, 255),
        FieldDef("Description", "Account Description", TEXTAREA, 32000),
        FieldDef("BillingStreet", "Billing Street", TEXTAREA, 255),
        FieldDef("BillingCity", "Billing City", STRING, 40),
        FieldDef("BillingState", "Billing State/Province", STRING, 80),
        FieldDef("BillingPostalCode", "Billing Zip/Postal Code", STRING, 20),
        FieldDef("BillingCountry", "Billing Country", STRING, 80),
        FieldDef("blng__BillToContact__c", "Bill To Contact", REFERENCE, 18, custom=True,
                 reference_to=("Contact",), relationship_name="blng__BillToContact__r"),
        text("blng__DefaultPaymentType__c", "Default Payment Type", 50),
        text("blng__CustomerProfileId__c", "Customer Profile Id", 255),
    ):
        obj.add_field(f)
    return obj


def _contact() -> ObjectDef:
    obj = ObjectDef("Contact", "Contact", "Contacts", "003")
    for f in system_fields(owner=True):
        obj.add_field(f)
    obj.add_field(FieldDef("LastName", "Last Name", STRING, 80, required=True))
    obj.add_field(FieldDef("FirstName", "First Name", STRING, 40))
    obj.add_field(FieldDef("Email", "Email", EMAIL, 80))
    obj.add_field(FieldDef("AccountId", "Account ID", REFERENCE, 18, reference_to=("Account",),
                           relationship_name="Account"))
    return obj


ADMIN_PROFILE = "System Administrator"
MINIMUM_PROFILE = "Minimum Access - Salesforce"


def _profile() -> ObjectDef:
    """User profiles: the administrator's (Modify All Data) and the minimum-access one."""
    obj = ObjectDef("Profile", "Profile", "Profiles", "00e")
    for f in system_fields(owner=False):
        obj.add_field(f)
    obj.add_field(FieldDef("Name", "Name", STRING, 255, required=True, name_field=True))
    obj.add_field(FieldDef("PermissionsModifyAllData", "Modify All Data", BOOLEAN))
    return obj


def _user(profile: OrgProfile) -> ObjectDef:
    del profile
    obj = ObjectDef("User", "User", "Users", "005")
    for f in system_fields(owner=False):
        obj.add_field(f)
    obj.add_field(FieldDef("Username", "Username", STRING, 80, required=True, unique=True,
                           id_lookup=True))
    obj.add_field(FieldDef("Name", "Full Name", STRING, 121, createable=False, updateable=False,
                           name_field=True))
    obj.add_field(FieldDef("IsActive", "Active", BOOLEAN, default=True))
    obj.add_field(FieldDef("ProfileId", "Profile ID", REFERENCE, 18, reference_to=("Profile",),
                           relationship_name="Profile"))
    return obj


def _organization() -> ObjectDef:
    obj = ObjectDef("Organization", "Organization", "Organizations", "00D")
    for f in system_fields(owner=False):
        obj.add_field(f)
    for f in (
        FieldDef("Name", "Name", STRING, 80, required=True, name_field=True),
        FieldDef("IsSandbox", "Is Sandbox", BOOLEAN, createable=False, updateable=False),
        FieldDef("OrganizationType", "Edition", STRING, 40, createable=False, updateable=False),
        FieldDef("InstanceName", "Instance Name", STRING, 5, createable=False, updateable=False),
        # Every Salesforce CLI command reads these two (null: not a trial, no namespace).
        FieldDef("TrialExpirationDate", "Trial Expiration Date", DATETIME, createable=False,
                 updateable=False),
        FieldDef("NamespacePrefix", "Namespace Prefix", STRING, 15, createable=False,
                 updateable=False),
    ):
        obj.add_field(f)
    return obj


def _payment_gateway(profile: OrgProfile) -> ObjectDef:
    obj = ObjectDef(PAYMENT_GATEWAY, "Payment Gateway", "Payment Gateways", "a0G", custom=True)
    for f in system_fields(owner=True):
        obj.add_field(f)
    gateway_types = ("AuthorizeDotNet", "CyberSource", "PayFlowPro", "Payeezy",
                     profile.gateway_type)
    for f in (
        FieldDef("Name", "Payment Gateway Name", STRING, 80, required=True, name_field=True,
                 id_lookup=True),
        checkbox("blng__Active__c", "Active", default=True),
        checkbox("blng__Default__c", "Default", default=False),
        picklist("blng__GatewayType__c", "Gateway Type", dict.fromkeys(gateway_types)),
        FieldDef("blng__Notes__c", "Notes", TEXTAREA, 32768, custom=True),
    ):
        obj.add_field(f)
    return obj


def _payment_method(profile: OrgProfile) -> ObjectDef:
    obj = ObjectDef(PAYMENT_METHOD, "Payment Method", "Payment Methods", "a0P", custom=True)
    for f in system_fields(owner=False):  # master-detail: owned by the Account
        obj.add_field(f)
    bank_types = ("Business Checking", "Checking", "Savings", "Individual", "Company")
    for f in (
        FieldDef("Name", "Payment Method Name", STRING, 80, createable=False, updateable=False,
                 name_field=True, auto_number=True),
        FieldDef("blng__Account__c", "Account", REFERENCE, 18, required=True, updateable=False,
                 custom=True, reference_to=("Account",), relationship_name="blng__Account__r",
                 master_detail=True),
        checkbox("blng__Active__c", "Active", default=True),
        checkbox("blng__AutoPay__c", "Auto Pay", default=False),
        FieldDef("blng__PaymentGateway__c", "Payment Gateway", REFERENCE, 18, custom=True,
                 reference_to=(PAYMENT_GATEWAY,), relationship_name="blng__PaymentGateway__r"),
        text("blng__PaymentGatewayToken__c", "Payment Gateway Token", 100),
        picklist("blng__PaymentType__c", "Payment Type", ("ACH", "Credit Card"), required=True),
        picklist("blng__CardType__c", "Card Type",
                 ("American Express", "Discover", "Mastercard", "Visa")),
        text("blng__CardLastFour__c", "Card Last 4", 4),
        picklist("blng__CardExpirationMonth__c", "Card Expiration Month", profile.expiry_months),
        picklist("blng__CardExpirationYear__c", "Card Expiration Year", profile.expiry_years),
        text("blng__CardBIN__c", "Card BIN", 6),
        FieldDef("blng__CardNumber__c", "Card Number", ENCRYPTED, 175, custom=True),
        FieldDef("blng__CVV__c", "Card CVV", ENCRYPTED, 175, custom=True),
        text("blng__Nameoncard__c", "Name on Card", 255),
        text("blng__NickName__c", "Nick Name", 255),
        text("blng__BillingFirstName__c", "First Name", 255),
        text("blng__BillingLastName__c", "Last Name", 255),
        FieldDef("blng__BillingStreet__c", "Street 1", TEXTAREA, 255, custom=True),
        text("blng__StreetAddress2__c", "Street 2", 255),
        text("blng__BillingCity__c", "City", 255),
        text("blng__BillingStateProvince__c", "State/Province", 255),
        text("blng__BillingZipPostal__c", "Zip/Postal Code", 255),
        picklist("blng__BillingCountry__c", "Country", profile.countries),
        FieldDef("blng__BillingAddress__c", "Billing Address", TEXTAREA, 255, custom=True),
        text("blng__BillingCompany__c", "Company", 255),
        FieldDef("blng__BillingEmail__c", "Email", EMAIL, 80, custom=True),
        FieldDef("blng__BillingPhone__c", "Phone", PHONE, 40, custom=True),
        text("blng__BankAccountName__c", "Bank Account Name", 255),
        FieldDef("blng__BankAccountNumber__c", "Bank Account Number", ENCRYPTED, 175, custom=True),
        picklist("blng__BankAccountType__c", "Bank Account Type", bank_types),
        text("blng__BankName__c", "Bank Name", 255),
        text("blng__BankRoutingCode__c", "Bank Routing Code", 255),
        FieldDef("blng__GatewayResponse__c", "Gateway Response", TEXTAREA, 32768, custom=True),
        FieldDef("blng__Notes__c", "Notes", TEXTAREA, 32768, custom=True),
    ):
        obj.add_field(f)
    return obj


def _billing_config() -> ObjectDef:
    obj = ObjectDef(BILLING_CONFIG, "Billing Config", "Billing Config", "a0B", custom=True,
                    custom_setting=True)
    for f in system_fields(owner=False):
        obj.add_field(f)
    for f in (
        # Custom-setting record names are unique and at most 38 characters.
        FieldDef("Name", "Name", STRING, 38, required=True, unique=True, name_field=True,
                 id_lookup=True),
        FieldDef("SetupOwnerId", "Location", REFERENCE, 18, reference_to=("Organization",)),
        text("blng__Category__c", "Category", 255),
        text("blng__FieldType__c", "Field Type", 255),
        text("blng__Description__c", "Description", 255),
        FieldDef("blng__NumberValue__c", "Number Value", DOUBLE, custom=True, precision=18),
        FieldDef("blng__PercentageValue__c", "Percentage Value", PERCENT, custom=True,
                 precision=18, scale=2),
        FieldDef("blng__BooleanValue__c", "Boolean Value", BOOLEAN, custom=True, default=False),
        text("blng__StringValue__c", "String Value", 255),
        FieldDef("blng__DateValue__c", "Date Value", DATE, custom=True),
        text("blng__PicklistIndicator__c", "Picklist Indicator", 255),
        text("blng__QuickScreenId__c", "Quick Screen Id", 255),
        FieldDef("blng__Sequence__c", "Sequence", DOUBLE, custom=True, precision=18),
    ):
        obj.add_field(f)
    return obj


def _permission_objects() -> list[ObjectDef]:
    """PermissionSet and its field/object permissions, queryable like in a real org."""
    ps = ObjectDef("PermissionSet", "Permission Set", "Permission Sets", "0PS")
    fp = ObjectDef("FieldPermissions", "Field Permissions", "Field Permissions", "01k")
    op = ObjectDef("ObjectPermissions", "Object Permissions", "Object Permissions", "110")
    for obj in (ps, fp, op):
        for f in system_fields(owner=False):
            obj.add_field(f)
    ps.add_field(FieldDef("Name", "Name", STRING, 80, required=True, unique=True, id_lookup=True))
    ps.add_field(FieldDef("Label", "Label", STRING, 80, required=True))
    ps.add_field(FieldDef("Description", "Description", TEXTAREA, 255))
    parent = FieldDef("ParentId", "Parent ID", REFERENCE, 18, required=True,
                      reference_to=("PermissionSet",), relationship_name="Parent")
    for obj in (fp, op):
        obj.add_field(parent)
        obj.add_field(FieldDef("SobjectType", "Sobject Type", STRING, 255, required=True))
        obj.add_field(FieldDef("PermissionsRead", "Read", BOOLEAN, default=False))
        obj.add_field(FieldDef("PermissionsEdit", "Edit", BOOLEAN, default=False))
    fp.add_field(FieldDef("Field", "Field", STRING, 255, required=True))
    op.add_field(FieldDef("PermissionsCreate", "Create", BOOLEAN, default=False))
    op.add_field(FieldDef("PermissionsDelete", "Delete", BOOLEAN, default=False))
    psa = ObjectDef("PermissionSetAssignment", "Permission Set Assignment",
                    "Permission Set Assignments", "0Pa")
    for f in system_fields(owner=False):
        psa.add_field(f)
    psa.add_field(FieldDef("AssigneeId", "Assignee ID", REFERENCE, 18, required=True,
                           updateable=False, reference_to=("User",), relationship_name="Assignee"))
    psa.add_field(FieldDef("PermissionSetId", "Permission Set ID", REFERENCE, 18, required=True,
                           updateable=False, reference_to=("PermissionSet",),
                           relationship_name="PermissionSet"))
    return [ps, fp, op, psa]


def billing_schema(profile: OrgProfile) -> Schema:
    """The object model of a fresh Salesforce Billing org."""
    return Schema([
        _organization(), _profile(), _user(profile), _account(), _contact(),
        _payment_gateway(profile), _payment_method(profile), _billing_config(),
        *_permission_objects(),
    ])


def seed_records(profile: OrgProfile) -> list[tuple[str, dict[str, object]]]:
    """(object, fields) pairs inserted into a fresh org, in order."""
    records: list[tuple[str, dict[str, object]]] = [
        ("Profile", {"Name": ADMIN_PROFILE, "PermissionsModifyAllData": True}),
        ("Profile", {"Name": MINIMUM_PROFILE, "PermissionsModifyAllData": False}),
        ("User", {"Username": profile.username, "IsActive": True,
                  "ProfileId": profile.integration_profile}),
        ("User", {"Username": profile.deploy_username, "IsActive": True,
                  "ProfileId": ADMIN_PROFILE}),
        (PAYMENT_GATEWAY, {"Name": profile.gateway_name, "blng__Active__c": profile.gateway_active,
                           "blng__Default__c": True,
                           "blng__GatewayType__c": profile.gateway_type}),
    ]
    for s in profile.settings:
        records.append((BILLING_CONFIG, {
            "Name": s.name, "blng__Category__c": s.category, "blng__FieldType__c": s.field_type,
            "blng__Description__c": s.description, "blng__NumberValue__c": s.number,
            "blng__StringValue__c": s.string, "blng__BooleanValue__c": s.boolean,
            "blng__Sequence__c": s.sequence,
        }))
    return records
