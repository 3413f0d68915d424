"""Every key of `Pulumi.<env>.yaml`, declared once: kind and range, default, doc, secret or not,
scope (promotable from sandbox to production, or per environment) and consumers (the Lambda's
environment, the org config, the infra).

Invariant: every key that changes what the org config renders is promotable, so production's
release can equal the sandbox's (`tests/stackconfig` checks it against `metadata.render`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sync_lambda import names
from sync_lambda.models import Mode
from sync_lambda.settings import API_VERSIONS, ENVIRONMENT_KINDS
from sync_lambda.values import (
    API_NAME,
    AUDIENCE,
    EMAIL,
    FIELD_NAME,
    ORG_ID,
    RESOURCE_NAME,
    SCHEDULE,
    SECRET_ARN,
    Bool,
    Choice,
    Float,
    Int,
    Kind,
    Secret,
    Text,
    Url,
)

NAMESPACE: Final = "sfbilling"
# Namespaces Pulumi and its providers own: their keys are not ours to check.
FOREIGN_NAMESPACES: Final = frozenset({"aws", "pulumi", "aws-native"})
TEST_LEVELS: Final = ("NoTestRun", "RunLocalTests", "RunAllTestsInOrg")
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                             1096, 1827, 2192, 2557, 2922, 3288, 3653)


class Scope(StrEnum):
    """Whether a key travels from sandbox to production."""

    PROMOTABLE = "promotable"  # the same in sandbox and prod once verified
    PER_ENVIRONMENT = "per-environment"  # stays with its environment


class Consumer(StrEnum):
    """Who reads a key."""

    LAMBDA = "lambda"  # becomes a Lambda environment variable (and `sfbilling sync` reads it)
    ORG = "org config"  # rendered or checked by `metadata/`
    INFRA = "infra"  # read by the Pulumi program


PROMOTABLE, PER_ENV = Scope.PROMOTABLE, Scope.PER_ENVIRONMENT
LAMBDA, ORG, INFRA = Consumer.LAMBDA, Consumer.ORG, Consumer.INFRA


@dataclass(frozen=True, slots=True)
class Key:
    """One key of the stack configuration."""

    name: str  # in the sfbilling namespace, or a full "ns:key" for a provider's key
    kind: Kind
    default: Any
    doc: str
    scope: Scope
    consumers: frozenset[Consumer]
    env: str | None = None  # the Lambda environment variable it becomes
    secret: bool = False
    required: bool = False
    why: str = ""  # why this scope, where it is not obvious

    @property
    def full(self) -> str:
        """The key as it is written in a stack file."""
        return self.name if ":" in self.name else f"{NAMESPACE}:{self.name}"

    def set_command(self, env: str) -> str:
        """The command that sets this key in `env`'s stack file."""
        secret = " --secret" if self.secret else ""
        value = "" if self.secret else " VALUE"
        return f"pulumi config set{secret} --stack {env} {self.full}{value}"


def _key(name: str, kind: Kind, default: Any, doc: str, scope: Scope, *consumers: Consumer,
         env: str | None = None, secret: bool = False, required: bool = False,
         why: str = "") -> Key:
    return Key(name, kind, default, doc, scope, frozenset(consumers), env, secret, required, why)


# eventDestination's values, and the import's schedule when events start it (a safety net).
EVENT_DESTINATION_MODES: Final = ("off", "create", "adopt")
EVENTS_SCHEDULE_DEFAULT: Final = "rate(1 hour)"

# The release stamp's Config_Version__c field (metadata/render.py deploys it this long).
CONFIG_VERSION_LENGTH: Final = 40


KEYS: Final[tuple[Key, ...]] = (
    # -- the environment ------------------------------------------------------------------------
    _key("environmentKind", Choice(ENVIRONMENT_KINDS), None,
         "production, sandbox or local: validate-first deploys, deletion protection and "
         "live-key checks follow it (never the stack's name)", PER_ENV, LAMBDA, ORG, INFRA,
         env="SFB_ENVIRONMENT_KIND", required=True),
    _key("aws:region", Text(), None, "AWS region of the stack (Pulumi's AWS provider key)",
         PER_ENV, INFRA, LAMBDA),
    _key("resourcePrefix", RESOURCE_NAME, None, "prefix of every AWS resource name "
         "(default sfbilling-<env>): table <prefix>-state, function <prefix>-sync, …",
         PER_ENV, INFRA, LAMBDA),
    _key("alarmEmail", EMAIL, None, "where alarms are sent (an SNS email subscription); none: "
         "alarms go to the topic only", PER_ENV, INFRA),
    _key("logRetentionDays", Choice(tuple(str(d) for d in LOG_RETENTION_DAYS)), "90",
         "days the Lambda's logs are kept", PER_ENV, INFRA,
         why="retention is a compliance choice of each environment"),
    _key("awsEndpointUrl", Url(), None, "AWS endpoint override (moto, for the local stand-ins)",
         PER_ENV, LAMBDA, env="SFB_AWS_ENDPOINT_URL"),
    # -- Salesforce: the org and how to log in -------------------------------------------------
    _key("salesforceLoginUrl", Url(https_only=True), "https://login.salesforce.com",
         "login URL: test.salesforce.com for sandboxes, the My Domain URL for client "
         "credentials", PER_ENV, LAMBDA, ORG, env="SFB_SF_LOGIN_URL"),
    _key("salesforceJwtAudience", AUDIENCE, None, "the JWT bearer flow's audience (aud): "
         "login, test, mydomain (the login URL's My Domain) or an https://….salesforce.com URL; "
         "unset: test for a sandbox, login otherwise. Connected apps accept login/test; "
         "External Client Apps on orgs without legacy hostnames only the My Domain "
         "(docs/deploy.md)", PER_ENV, LAMBDA, ORG, env="SFB_SF_JWT_AUDIENCE",
         why="a sandbox and production log in with different audiences"),
    _key("salesforceAuth", Choice(("jwt", "client_credentials")), "jwt",
         "OAuth flow: jwt (JWT bearer) or client_credentials", PER_ENV, LAMBDA, ORG,
         env="SFB_SF_AUTH", why="each org's connected app decides which flow it allows"),
    _key("salesforceUsername", Text(), None, "the integration user (JWT bearer flow; the org "
         "config assigns it the permission set)", PER_ENV, LAMBDA, ORG, env="SFB_SF_USERNAME"),
    _key("salesforceConsumerKey", Text(), None, "the connected app's consumer key (client id); "
         "needed by every command that logs in", PER_ENV, LAMBDA, ORG,
         env="SFB_SF_CONSUMER_KEY"),
    _key("salesforceOrgId", ORG_ID, None, "the org this stack targets: another org id (a "
         "refreshed sandbox) stops the import, apply and promote", PER_ENV, LAMBDA, ORG,
         env="SFB_SF_ORG_ID"),
    _key("salesforcePrivateKey", Secret(), None, "the connected app's private key (PEM), for "
         "the JWT bearer flow", PER_ENV, INFRA, ORG, secret=True),
    _key("salesforceConsumerSecret", Secret(), None, "the connected app's consumer secret, for "
         "the client-credentials flow", PER_ENV, INFRA, ORG, secret=True),
    _key("salesforceDeployUsername", Text(), None, "the deploy user (JWT bearer flow): an admin "
         "that deploys the org config and assigns the permission set; never the integration "
         "user, which holds only that permission set (docs/deploy.md lists both users' "
         "permissions)", PER_ENV, ORG),
    _key("salesforceDeployConsumerKey", Text(), None, "consumer key of the deploy user's own "
         "connected app (a separate app: the import's key must not be able to log in as an "
         "admin)", PER_ENV, ORG),
    _key("salesforceDeployPrivateKey", Secret(), None, "the deploy app's private key (PEM), "
         "for the JWT bearer flow; never given to the Lambda", PER_ENV, INFRA, ORG,
         secret=True),
    _key("salesforceDeployConsumerSecret", Secret(), None, "the deploy app's consumer secret, "
         "for the client-credentials flow; never given to the Lambda", PER_ENV, INFRA, ORG,
         secret=True),
    _key("salesforceDeploySecretArn", SECRET_ARN, None, "instead of the two keys above: a "
         "Secrets Manager secret holding the deploy user's credential (the PEM for the JWT "
         "bearer flow, the consumer secret for client credentials), read by `pulumi up` at "
         "apply time with the deploy identity; a preview then cannot decrypt it "
         "(docs/ci.md)", PER_ENV, INFRA),
    _key("salesforceApiVersion", Choice(API_VERSIONS), "59.0", "Salesforce API version",
         PROMOTABLE, LAMBDA, ORG, env="SFB_SF_API_VERSION"),
    _key("salesforceTimeoutSeconds", Int(10, 600), "120", "timeout of one Salesforce request",
         PROMOTABLE, LAMBDA, env="SFB_SF_TIMEOUT_S"),
    _key("salesforceApiBudgetShare", Float(0.05, 1), "0.8", "share of the org's daily API "
         "request limit (shared by every integration over a rolling 24 hours) the import may "
         "bring usage up to: past it a run stops at its next segment, progress saved, and the "
         "next run continues", PER_ENV, LAMBDA, env="SFB_SF_API_BUDGET_SHARE",
         why="each org's other integrations use a different share"),
    # -- Stripe -------------------------------------------------------------------------------
    _key("stripeApiKey", Secret(), None, "Stripe restricted key (rk_…) with read access to "
         "customers, payment methods and events; live keys only in production", PER_ENV,
         INFRA, secret=True),
    _key("stripeApiBase", Url(), None, "Stripe API base URL override (the local stand-in)",
         PER_ENV, LAMBDA, env="SFB_STRIPE_API_BASE"),
    _key("stripeRatePerSecond", Float(1, 10_000), None, "the Stripe account's global rate "
         "limit: unset = Stripe's default for the key's mode (100/s live, 25/s test); set it "
         "only when Stripe raised the account's limit", PER_ENV, LAMBDA, env="SFB_STRIPE_RATE",
         why="each Stripe account has its own limits"),
    _key("stripeEndpointRatePerSecond", Float(1, 10_000), "25", "Stripe's limit per endpoint "
         "(25/s by default): one payment-method listing per customer and type, all on one "
         "endpoint, so a full import takes at least customers x types / this (less the "
         "reserve)", PER_ENV, LAMBDA, env="SFB_STRIPE_ENDPOINT_RATE",
         why="each Stripe account has its own limits"),
    _key("stripeReserveShare", Float(0, 0.9), "0.1", "share of both Stripe limits the import "
         "leaves free for the account's other clients", PER_ENV, LAMBDA,
         env="SFB_STRIPE_RESERVE_SHARE", why="what else uses the account differs"),
    _key("stripeDryRunShare", Float(0.05, 1), "0.5", "share of the import's Stripe budget a "
         "dry run takes (it may run beside the scheduled import)", PROMOTABLE, LAMBDA,
         env="SFB_STRIPE_DRY_RUN_SHARE"),
    _key("stripeConcurrency", Int(1, 64), "8", "Stripe requests in flight at once", PER_ENV,
         LAMBDA, env="SFB_STRIPE_CONCURRENCY", why="goes with the rate"),
    # -- what the import does ----------------------------------------------------------------
    _key("syncMode", Choice(tuple(m.value for m in Mode)), Mode.CREATE_AND_LINK.value,
         "create_and_link, link_existing or payment_methods_only", PROMOTABLE, LAMBDA,
         env="SFB_MODE"),
    _key("gatewayName", Text(), "Stripe", "Name of the blng__PaymentGateway__c record (found at "
         "run time)", PROMOTABLE, LAMBDA, ORG, env="SFB_GATEWAY_NAME",
         why="a sandbox is a copy of production, records included"),
    _key("accountCustomerField", FIELD_NAME, names.DEFAULT_ACCOUNT_CUSTOMER_FIELD,
         "Account external id holding the Stripe customer id", PROMOTABLE, LAMBDA, ORG,
         env="SFB_ACCOUNT_CUSTOMER_FIELD"),
    _key("nameMatchEmailField", FIELD_NAME, None, "an Account field holding the billing "
         "email: when set, matching an unlinked Account by name also needs it to equal the "
         "Stripe customer's email (set it where customers name themselves: names alone are "
         "then not to be trusted; docs/sync.md)", PROMOTABLE, LAMBDA,
         env="SFB_NAME_MATCH_EMAIL_FIELD"),
    _key("paymentMethodExternalIdField", FIELD_NAME, names.DEFAULT_PM_EXTERNAL_ID_FIELD,
         "payment method external id holding the Stripe pm_… id", PROMOTABLE, LAMBDA, ORG,
         env="SFB_PM_EXTERNAL_ID_FIELD"),
    _key("paymentMethodCustomerField", FIELD_NAME, names.DEFAULT_PM_CUSTOMER_FIELD,
         "payment method field holding the Stripe customer id", PROMOTABLE, LAMBDA, ORG,
         env="SFB_PM_CUSTOMER_FIELD"),
    _key("accountIdMetadataKey", Text(), names.DEFAULT_ACCOUNT_ID_METADATA_KEY,
         "Stripe customer metadata key holding a Salesforce Account id", PROMOTABLE, LAMBDA,
         env="SFB_ACCOUNT_ID_METADATA_KEY"),
    _key("includeBankAccounts", Bool(), "false", "also import us_bank_account methods as ACH",
         PROMOTABLE, LAMBDA, env="SFB_INCLUDE_BANK_ACCOUNTS"),
    _key("bulkThreshold", Int(1, 100_000), "200", "rows per write above which Bulk API 2.0 is "
         "used instead of sObject Collections", PROMOTABLE, LAMBDA, env="SFB_BULK_THRESHOLD"),
    _key("segmentSize", Int(100, 100_000), "10000", "at most this many customers per planned "
         "and written segment (fewer when the time left is short)", PROMOTABLE, LAMBDA,
         env="SFB_SEGMENT_SIZE"),
    _key("maxAttempts", Int(1, 100), "5", "runs a failed row is retried before it is marked "
         "permanently rejected", PROMOTABLE, LAMBDA, env="SFB_MAX_ATTEMPTS"),
    _key("deadlineReserveSeconds", Int(10, 600), "90", "seconds kept free before the Lambda "
         "deadline", PROMOTABLE, LAMBDA, env="SFB_DEADLINE_RESERVE_S"),
    _key("leaseTtlSeconds", Int(60, 86_400), "360", "how long a run's lease lasts without "
         "renewal (renewed every third of it while the run works; at least three times "
         "salesforceTimeoutSeconds, at most half of lambdaTimeoutSeconds: after a crash the "
         "next run watches the dead lease for one TTL)", PROMOTABLE, LAMBDA,
         env="SFB_LEASE_TTL_S"),
    _key("leaseWaitSeconds", Float(0, 600), "0", "how long a run waits for another run's lease "
         "before doing nothing", PROMOTABLE, LAMBDA, env="SFB_LEASE_WAIT_S"),
    _key("massDeactivationShare", Float(0, 1), "0.1", "a run deactivating more than this share "
         "of the org's active payment methods (and more than massDeactivationCount) waits "
         "for confirmation", PROMOTABLE, LAMBDA, env="SFB_MASS_DEACTIVATION_SHARE"),
    _key("massDeactivationCount", Int(0, 1_000_000), "20", "… and more than this many",
         PROMOTABLE, LAMBDA, env="SFB_MASS_DEACTIVATION_COUNT"),
    # -- the scheduled Lambda -------------------------------------------------------------------
    _key("importEnabled", Bool(), "false", "whether the deployed import runs: the schedule's "
         "state (and every other trigger of a run). `pulumi up` deploys paused by default: "
         "look at a dry run first, then set it true and `pulumi up` again (docs/deploy.md)",
         PER_ENV, INFRA, why="each environment is enabled by its own people, after its own "
                             "dry run; a promotion never switches production on"),
    _key("schedule", SCHEDULE, "rate(15 minutes)", "EventBridge Scheduler expression of the "
         "import: rate(1 minute|hour|day), rate(N minutes|hours|days) with N ≥ 2, or a 6-field "
         "cron(); at most 84 hours between runs (the stuck alarm's look-back). Default "
         f"{EVENTS_SCHEDULE_DEFAULT} when eventDestination is on", PROMOTABLE,
         INFRA),
    # -- Stripe's events (near-real-time; docs/deploy.md "Stripe's events") -------------------
    _key("eventDestination", Choice(EVENT_DESTINATION_MODES), "off", "Stripe's events through "
         "Amazon EventBridge start the import within a minute: off; create (this stack owns a "
         "Stripe event destination, created with stripeAdminApiKey); adopt (a destination made "
         "in the Dashboard, by eventDestinationId, only read). With it on, the schedule's "
         f"default becomes {EVENTS_SCHEDULE_DEFAULT}: the safety net", PER_ENV, INFRA,
         why="each environment's Stripe account has its own destination"),
    _key("stripeAdminSecretArn", SECRET_ARN, None, "instead of stripeAdminApiKey: a Secrets "
         "Manager secret holding it, read by `pulumi up` at apply time with the deploy "
         "identity (docs/ci.md)", PER_ENV, INFRA),
    _key("eventDestinationId", Text(), None, "the Stripe event destination (ed_…) to adopt "
         "with eventDestination: adopt", PER_ENV, INFRA),
    _key("stripeAdminApiKey", Secret(), None, "Stripe key `pulumi up` manages the event "
         "destination with: a standard secret key (sk_…) for create; a restricted key with "
         "read access to event destinations is enough for adopt. Never given to the Lambda",
         PER_ENV, INFRA, secret=True),
    _key("reconcileSchedule", SCHEDULE, None, "EventBridge Scheduler expression of the "
         "reconciliation (`sfbilling reconcile` in the Lambda: it compares Stripe with "
         "Salesforce, writes nothing there, and costs about what a full import reads), e.g. "
         "cron(0 3 ? * SUN *); unset: none scheduled", PER_ENV, INFRA,
         why="a weekly full read suits production, rarely a sandbox"),
    _key("reconcileAlarmThreshold", Int(0, 1_000_000), "0", "disagreements a reconciliation "
         "may find before its alarm fires", PROMOTABLE, INFRA),
    _key("lambdaMemoryMb", Int(128, 10_240), "512", "memory of the import's Lambda (MB)",
         PROMOTABLE, INFRA),
    _key("lambdaTimeoutSeconds", Int(60, 900), "900", "timeout of one invocation (seconds)",
         PROMOTABLE, INFRA),
    # -- the org config ---------------------------------------------------------------------------
    _key("paymentCreationBatchSize", Int(1, 70), "70", "Payment creation batch size (Stripe "
         "recommends 70, the maximum)", PROMOTABLE, ORG),
    _key("cardMapping", FIELD_NAME, None, "Card Mapping: the payment method field Billing reads "
         "the token from (none: the Payment Gateway Token field)", PROMOTABLE, ORG),
    _key("paymentBatchSizeRecord", Text(), "PAYMENT_CREATION_BATCH_SIZE", "Name of the "
         "blng__BillingConfig__c record holding the batch size", PROMOTABLE, ORG,
         why="record names are the package's, the same in a sandbox copy"),
    _key("cardMappingRecord", Text(), "CARD_MAPPING", "Name of the blng__BillingConfig__c "
         "record holding Card Mapping", PROMOTABLE, ORG),
    _key("permissionSetName", API_NAME, "Stripe_Billing_Sync", "permission set granting the "
         "integration user what the import writes", PROMOTABLE, ORG),
    _key("gatewayType", Text(), "Stripe (Universal Extension)", "expected Gateway Type of the "
         "payment gateway (checked by doctor)", PROMOTABLE, ORG),
    _key("configVersion", Text(), "1", "version of this config, stamped into the org with the "
         f"content hash (at most {CONFIG_VERSION_LENGTH} characters: the stamp's field)",
         PROMOTABLE, ORG),
    _key("deployTestLevel", Choice(TEST_LEVELS), "RunLocalTests", "test level of check-only "
         "deploys (a quick deploy needs a validation that ran tests)", PER_ENV, ORG,
         why="production requires tests for deploys (NoTestRun is refused there); a sandbox "
             "may validate without"),
    _key("prodValidation", Text(), None, "the validation production's next deploy "
         "quick-deploys: JSON on one line, {\"id\", \"orgId\", \"release\", \"validatedAt\"}, "
         "written by `sfbilling validate` and `promote --validate` (never by hand); used once, "
         "for its release and org, within 10 days, else the deploy validates again",
         PER_ENV, INFRA, why="a validation belongs to one org"),
)

BY_FULL: Final = {k.full: k for k in KEYS}
BY_NAME: Final = {k.name: k for k in KEYS}
# Variables the Pulumi program sets from the resources it creates, and the ones the Lambda
# runtime sets itself: with the keys' `env`, all the Lambda reads.
RESOURCE_ENV: Final = ("SFB_TABLE_NAME", "SFB_STRIPE_SECRET_ARN", "SFB_SF_SECRET_ARN")
RUNTIME_ENV: Final = ("AWS_REGION",)


def key(name: str) -> Key:
    """The declaration of `name` (short or full)."""
    return BY_NAME.get(name) or BY_FULL[name]
