"""Salesforce and Stripe API names: the one place they are spelled.

Fields the import adds to the org (external ids, the payment method's Stripe Customer ID) are
configurable, because the managed Stripe connector packages name theirs differently; their
defaults are below and in `settings.Settings`.
"""

from __future__ import annotations

from typing import Final

# Salesforce objects.
ACCOUNT: Final = "Account"
PAYMENT_METHOD: Final = "blng__PaymentMethod__c"
PAYMENT_GATEWAY: Final = "blng__PaymentGateway__c"
BILLING_CONFIG: Final = "blng__BillingConfig__c"  # package settings (list custom setting)

# Account fields.
ACCOUNT_NAME: Final = "Name"
# Ticked on the Accounts the import creates: their Name follows the Stripe customer's (an Account
# an admin made and the import only linked keeps the name the admin gave it).
ACCOUNT_CREATED_BY_IMPORT: Final = "Stripe_Created_By_Import__c"
ORGANIZATION: Final = "Organization"

# blng__PaymentMethod__c fields (Salesforce Billing package).
PM_ACCOUNT: Final = "blng__Account__c"
PM_ACCOUNT_REL: Final = "blng__Account__r"
PM_ACTIVE: Final = "blng__Active__c"
PM_AUTOPAY: Final = "blng__AutoPay__c"
PM_GATEWAY: Final = "blng__PaymentGateway__c"
PM_TOKEN: Final = "blng__PaymentGatewayToken__c"  # noqa: S105 - a field name
PM_PAYMENT_TYPE: Final = "blng__PaymentType__c"
PM_CARD_TYPE: Final = "blng__CardType__c"
PM_LAST4: Final = "blng__CardLastFour__c"
PM_EXP_MONTH: Final = "blng__CardExpirationMonth__c"
PM_EXP_YEAR: Final = "blng__CardExpirationYear__c"
PM_NAME_ON_CARD: Final = "blng__Nameoncard__c"
PM_STREET: Final = "blng__BillingStreet__c"
PM_STREET2: Final = "blng__StreetAddress2__c"
PM_CITY: Final = "blng__BillingCity__c"
PM_STATE: Final = "blng__BillingStateProvince__c"
PM_ZIP: Final = "blng__BillingZipPostal__c"
PM_COUNTRY: Final = "blng__BillingCountry__c"
PM_EMAIL: Final = "blng__BillingEmail__c"
PM_BANK_NAME: Final = "blng__BankName__c"
PM_BANK_ACCOUNT_TYPE: Final = "blng__BankAccountType__c"
PM_BANK_ACCOUNT_NAME: Final = "blng__BankAccountName__c"
# The package's payment-method fields the import writes besides Account and Payment Type (which
# are required, so no permission set may grant or withhold them): read to compute changes,
# granted to the integration user by the org config's permission set.
PM_MANAGED_FIELDS: Final = (
    PM_ACTIVE, PM_AUTOPAY, PM_GATEWAY, PM_TOKEN, PM_CARD_TYPE, PM_LAST4, PM_EXP_MONTH,
    PM_EXP_YEAR, PM_NAME_ON_CARD, PM_STREET, PM_STREET2, PM_CITY, PM_STATE, PM_ZIP, PM_COUNTRY,
    PM_EMAIL, PM_BANK_NAME, PM_BANK_ACCOUNT_TYPE, PM_BANK_ACCOUNT_NAME,
)
# Salesforce Email fields hold at most 80 characters.
EMAIL_MAX_LENGTH: Final = 80
# Never written: the import only ever stores tokens and last four digits.
PM_FORBIDDEN: Final = frozenset({"blng__CardNumber__c", "blng__CVV__c",
                                 "blng__BankAccountNumber__c"})

# blng__PaymentGateway__c fields.
GATEWAY_NAME: Final = "Name"
GATEWAY_ACTIVE: Final = "blng__Active__c"
GATEWAY_TYPE: Final = "blng__GatewayType__c"

# blng__BillingConfig__c (package settings) fields.
CONFIG_CATEGORY: Final = "blng__Category__c"
CONFIG_NUMBER: Final = "blng__NumberValue__c"
CONFIG_STRING: Final = "blng__StringValue__c"

# Permission sets, as SOQL sees them.
PERMISSION_SET: Final = "PermissionSet"
FIELD_PERMISSIONS: Final = "FieldPermissions"
PERMISSION_SET_ASSIGNMENT: Final = "PermissionSetAssignment"
USER: Final = "User"

# Payment type picklist values.
PAYMENT_TYPE_CARD: Final = "Credit Card"
PAYMENT_TYPE_ACH: Final = "ACH"

# Defaults of the fields the org config deploys (see metadata/ and settings).
DEFAULT_ACCOUNT_CUSTOMER_FIELD: Final = "Stripe_Customer_Id__c"
DEFAULT_PM_EXTERNAL_ID_FIELD: Final = "Stripe_Payment_Method_Id__c"
DEFAULT_PM_CUSTOMER_FIELD: Final = "Stripe_Customer_Id__c"
DEFAULT_ACCOUNT_ID_METADATA_KEY: Final = "salesforce_account_id"

# Stripe.
STRIPE_CARD: Final = "card"
# Restricted-key permissions the import needs (read-only), by API path.
STRIPE_PERMISSIONS: Final = {
    "/v1/customers": "rak_customer_read",
    "/v1/payment_methods": "rak_payment_method_read",
    "/v1/events": "rak_event_read",
}
STRIPE_US_BANK_ACCOUNT: Final = "us_bank_account"
EVENT_TYPES: Final = ("customer.created", "customer.updated", "customer.deleted",
                      "payment_method.attached", "payment_method.detached",
                      "payment_method.updated", "payment_method.automatically_updated")
# The event a destination's ping sends (POST /v2/core/event_destinations/:id/ping): it proves
# the path from Stripe to the function and starts no run.
EVENT_DESTINATION_PING: Final = "v2.core.event_destination.ping"
# Stripe's partner event source in AWS, and the partner bus associated with it, are named this
# followed by the destination's id (ed_…).
STRIPE_PARTNER_SOURCE_PREFIX: Final = "aws.partner/stripe.com/"
# What reaches the queue of one Stripe event: the rule's input transformer forwards only these
# (no customer field reaches SQS or a DLQ), taken from EventBridge's envelope (detail-type = the
# event's type, detail = the event).
QUEUED_EVENT_FIELDS: Final = {"id": "$.detail.id", "type": "$.detail-type",
                              "created": "$.detail.created"}
# Every placeholder quoted: `created` is a number in v1 events and a timestamp text in v2 ones
# (the ping), and an unquoted text would not be JSON.
QUEUED_EVENT_TEMPLATE: Final = '{"id": "<id>", "type": "<type>", "created": "<created>"}'
QUEUED_ID: Final = "id"
QUEUED_TYPE: Final = "type"
QUEUED_CREATED: Final = "created"
EVENT_CUSTOMER_CREATED: Final = "customer.created"
EVENT_CUSTOMER_DELETED: Final = "customer.deleted"
EVENT_PM_DETACHED: Final = "payment_method.detached"
# Stripe keeps events for 30 days; a checkpoint older than this is not trusted.
EVENT_RETENTION_S: Final = 30 * 86400
STRIPE_PAGE_LIMIT: Final = 100
# Stripe's rate limits (docs.stripe.com/rate-limits): per account, live and test mode, and the
# default of each endpoint (an endpoint: HTTP method and path template, as Stripe names it).
STRIPE_LIVE_KEY_PREFIXES: Final = ("sk_live_", "rk_live_")  # secret and restricted live keys
STRIPE_LIVE_RATE_LIMIT: Final = 100.0
STRIPE_TEST_RATE_LIMIT: Final = 25.0
STRIPE_ENDPOINT_RATE_LIMIT: Final = 25.0
ENDPOINT_CUSTOMERS: Final = "GET /v1/customers"
ENDPOINT_CUSTOMER: Final = "GET /v1/customers/{id}"
ENDPOINT_PAYMENT_METHODS: Final = "GET /v1/payment_methods"
ENDPOINT_EVENTS: Final = "GET /v1/events"
# Stripe's 404 for an object of the other mode (a refreshed sandbox's Accounts name live
# customers a test key cannot read): "No such customer: 'cus_…'; a similar object exists in live
# mode, but a test mode key was used to make this request."
STRIPE_LIVE_MODE_ONLY: Final = "a similar object exists in live mode"

# Stripe card brands → the values Salesforce Billing's card type picklist may use.
CARD_BRANDS: Final = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
    "eftpos_au": "EFTPOS",
}
BANK_ACCOUNT_TYPES: Final = {
    ("individual", "checking"): "Checking",
    ("individual", "savings"): "Savings",
    ("company", "checking"): "Business Checking",
    ("company", "savings"): "Savings",
}

# Account creations ask the org's duplicate rules to block, not just alert, and to name the
# matching records: a hit is then an answer with ids, never a silent duplicate.
DUPLICATE_RULE_HEADER: Final = "Sforce-Duplicate-Rule-Header"
DUPLICATE_RULE_BLOCK: Final = "allowSave=false, includeRecordDetails=false, runAsCurrentUser=false"
DUPLICATES_DETECTED: Final = "DUPLICATES_DETECTED"
DUPLICATE_REASON: Final = "duplicate:"  # a row's reason: duplicate:<matching Account ids>

# Salesforce's daily API request limit: every REST and Bulk answer reports usage in this header;
# the daily allocation's refusal names TotalRequests (the concurrent one ConcurrentPer…).
LIMIT_INFO_HEADER: Final = "Sforce-Limit-Info"
DAILY_LIMIT_MARKER: Final = "TotalRequests"
