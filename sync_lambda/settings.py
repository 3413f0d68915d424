"""The import's settings: one table, read once into a frozen `Settings`.

The Lambda reads them from environment variables (`Settings.from_env`), set by the Pulumi program;
`sfbilling sync --env ENV` reads the same keys from the stack file `Pulumi.<ENV>.yaml`
(`Settings.from_config`). Secrets are never settings: they come from Secrets Manager (Lambda) or
from documented environment variables / the local environment (CLI), into `Secrets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sync_lambda import names
from sync_lambda.errors import ConfigError
from sync_lambda.mapping import FieldNames
from sync_lambda.models import Mode

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

CONFIG_NAMESPACE = "sfbilling"


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting: attribute, environment variable, stack-config key, parser, default, doc."""

    attr: str
    env: str
    key: str
    parse: Callable[[str], Any]
    default: Any
    doc: str


def _bool(raw: str) -> bool:
    low = str(raw).strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(str(raw))
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value
    return parse


def _float_in(lo: float, hi: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(str(raw))
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value
    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if str(raw) not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return str(raw)
    return parse


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _url(raw: str) -> str:
    parts = urlsplit(str(raw))
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {raw!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        # Keys and secrets would cross the network in clear text.
        raise ValueError(f"must be https (http only for a loopback host), got {raw!r}")
    return str(raw).rstrip("/")


def _https(raw: str) -> str:
    if not str(raw).startswith("https://"):
        raise ValueError(f"Salesforce only speaks https, got {raw!r}")
    return _url(raw)


def _field_name(raw: str) -> str:
    text = str(raw)
    if not text.replace("_", "a").isalnum() or not text.endswith("__c"):
        raise ValueError(f"must be a custom field API name ending in __c, got {raw!r}")
    return text


def _text(raw: str) -> str:
    text = str(raw).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _optional_url(raw: str) -> str | None:
    return _url(raw) if str(raw).strip() else None


SPECS: tuple[Spec, ...] = (
    Spec("mode", "SFB_MODE", "syncMode", lambda r: Mode(_choice(*[m.value for m in Mode])(r)),
         Mode.CREATE_AND_LINK, "create_and_link, link_existing or payment_methods_only"),
    Spec("salesforce_auth", "SFB_SF_AUTH", "salesforceAuth", _choice("jwt", "client_credentials"),
         "jwt", "OAuth flow: jwt (JWT bearer) or client_credentials"),
    Spec("salesforce_login_url", "SFB_SF_LOGIN_URL", "salesforceLoginUrl", _https,
         "https://login.salesforce.com", "login URL (test.salesforce.com for sandboxes, My "
         "Domain URL for client credentials, the stand-in locally)"),
    Spec("salesforce_username", "SFB_SF_USERNAME", "salesforceUsername", _text, None,
         "integration user (JWT bearer)"),
    Spec("salesforce_consumer_key", "SFB_SF_CONSUMER_KEY", "salesforceConsumerKey", _text, None,
         "connected app consumer key"),
    Spec("salesforce_api_version", "SFB_SF_API_VERSION", "salesforceApiVersion",
         _choice(*[f"{v}.0" for v in range(50, 67)]), "59.0", "Salesforce API version"),
    Spec("stripe_api_base", "SFB_STRIPE_API_BASE", "stripeApiBase", _optional_url, None,
         "Stripe API base URL override (the stand-in locally)"),
    Spec("table_name", "SFB_TABLE_NAME", "stateTableName", _text, None,
         "DynamoDB state table (checkpoint, lease, failed-row ledger)"),
    Spec("aws_endpoint_url", "SFB_AWS_ENDPOINT_URL", "awsEndpointUrl", _optional_url, None,
         "AWS endpoint override (moto locally)"),
    Spec("aws_region", "AWS_REGION", "awsRegion", _text, "us-east-1", "AWS region"),
    Spec("stripe_secret_arn", "SFB_STRIPE_SECRET_ARN", "stripeSecretArn", _text, None,
         "Secrets Manager ARN of the Stripe API key (Lambda)"),
    Spec("salesforce_secret_arn", "SFB_SF_SECRET_ARN", "salesforceSecretArn", _text, None,
         "Secrets Manager ARN of the Salesforce private key or client secret (Lambda)"),
    Spec("gateway_name", "SFB_GATEWAY_NAME", "gatewayName", _text, "Stripe",
         "name of the blng__PaymentGateway__c record (found at run time)"),
    Spec("account_customer_field", "SFB_ACCOUNT_CUSTOMER_FIELD", "accountCustomerField",
         _field_name, names.DEFAULT_ACCOUNT_CUSTOMER_FIELD,
         "Account external id: Stripe Customer ID"),
    Spec("pm_external_id_field", "SFB_PM_EXTERNAL_ID_FIELD", "paymentMethodExternalIdField",
         _field_name, names.DEFAULT_PM_EXTERNAL_ID_FIELD,
         "payment method external id: Stripe pm_… id"),
    Spec("pm_customer_field", "SFB_PM_CUSTOMER_FIELD", "paymentMethodCustomerField",
         _field_name, names.DEFAULT_PM_CUSTOMER_FIELD, "payment method's Stripe Customer ID"),
    Spec("metadata_key", "SFB_ACCOUNT_ID_METADATA_KEY", "accountIdMetadataKey", _text,
         names.DEFAULT_ACCOUNT_ID_METADATA_KEY,
         "Stripe customer metadata key holding a Salesforce Account id"),
    Spec("include_bank_accounts", "SFB_INCLUDE_BANK_ACCOUNTS", "includeBankAccounts", _bool,
         False, "also import us_bank_account methods as ACH"),
    Spec("bulk_threshold", "SFB_BULK_THRESHOLD", "bulkThreshold", _int_in(1, 100_000), 200,
         "rows per write above which Bulk API 2.0 is used instead of sObject Collections"),
    Spec("segment_size", "SFB_SEGMENT_SIZE", "segmentSize", _int_in(100, 100_000), 10_000,
         "customers per planned-and-written batch of a full import (at 20 Stripe requests/s, "
         "10,000 take about 8.5 of the Lambda's 15 minutes)"),
    Spec("stripe_rate", "SFB_STRIPE_RATE", "stripeRatePerSecond", _float_in(0.5, 1000), 20.0,
         "Stripe requests per second (test mode allows 25)"),
    Spec("stripe_concurrency", "SFB_STRIPE_CONCURRENCY", "stripeConcurrency", _int_in(1, 64), 8,
         "Stripe requests in flight at once"),
    Spec("max_attempts", "SFB_MAX_ATTEMPTS", "maxAttempts", _int_in(1, 100), 5,
         "runs a failed row is retried before it is marked permanently rejected"),
    Spec("deadline_reserve_s", "SFB_DEADLINE_RESERVE_S", "deadlineReserveSeconds",
         _int_in(10, 600), 90, "seconds kept free before the Lambda deadline"),
    Spec("lease_ttl_s", "SFB_LEASE_TTL_S", "leaseTtlSeconds", _int_in(60, 86_400), 960,
         "how long a run's lease lasts without renewal (renewed every third of it while the "
         "run works; at least three times salesforceTimeoutSeconds)"),
    Spec("lease_wait_s", "SFB_LEASE_WAIT_S", "leaseWaitSeconds", _float_in(0, 600), 0.0,
         "how long to wait for another run's lease before skipping"),
    Spec("salesforce_timeout_s", "SFB_SF_TIMEOUT_S", "salesforceTimeoutSeconds",
         _int_in(10, 600), 120, "timeout of one Salesforce request"),
    Spec("mass_deactivation_share", "SFB_MASS_DEACTIVATION_SHARE", "massDeactivationShare",
         _float_in(0, 1), 0.10, "a run deactivating more than this share of the org's active "
         "payment methods (and more than massDeactivationCount) waits for confirmation"),
    Spec("mass_deactivation_count", "SFB_MASS_DEACTIVATION_COUNT", "massDeactivationCount",
         _int_in(0, 1_000_000), 20, "... and more than this many"),
)
_REQUIRED = ("salesforce_consumer_key",)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every non-secret setting of the import (see `SPECS` for the documentation)."""

    mode: Mode
    salesforce_auth: str
    salesforce_login_url: str
    salesforce_username: str | None
    salesforce_consumer_key: str
    salesforce_api_version: str
    stripe_api_base: str | None
    table_name: str | None
    aws_endpoint_url: str | None
    aws_region: str
    stripe_secret_arn: str | None
    salesforce_secret_arn: str | None
    gateway_name: str
    account_customer_field: str
    pm_external_id_field: str
    pm_customer_field: str
    metadata_key: str
    include_bank_accounts: bool
    bulk_threshold: int
    segment_size: int
    stripe_rate: float
    stripe_concurrency: int
    max_attempts: int
    deadline_reserve_s: int
    lease_ttl_s: int
    lease_wait_s: float
    salesforce_timeout_s: int
    mass_deactivation_share: float
    mass_deactivation_count: int

    @property
    def fields(self) -> FieldNames:
        """The configurable field names, as the mapping needs them."""
        return FieldNames(self.account_customer_field, self.pm_external_id_field,
                          self.pm_customer_field)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables (the Lambda)."""
        raw = {s.attr: environ[s.env] for s in SPECS if environ.get(s.env, "") != ""}
        return cls._build(raw, {s.attr: s.env for s in SPECS})

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, source: str,
                    other_keys: frozenset[str] = frozenset()) -> Settings:
        """Settings from stack config (`sfbilling:<key>` entries of Pulumi.<env>.yaml).

        `other_keys`: keys of the namespace that other parts (the org config) own; any key
        neither knows is an error that names the allowed ones.
        """
        by_key = {s.key: s for s in SPECS}
        prefix = CONFIG_NAMESPACE + ":"
        raw: dict[str, Any] = {}
        unknown = []
        for key, value in config.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            spec = by_key.get(name)
            if spec is None:
                if name not in other_keys:
                    unknown.append(key)
                continue
            if value is not None:
                raw[spec.attr] = value
        if unknown:
            allowed = ", ".join(sorted(set(by_key) | other_keys))
            raise ConfigError(f"{source}: unknown keys {', '.join(sorted(unknown))}; the "
                              f"{CONFIG_NAMESPACE} namespace allows: {allowed}")
        return cls._build(raw, {s.attr: f"{source}: {prefix}{s.key}" for s in SPECS})

    @classmethod
    def _build(cls, raw: Mapping[str, Any], where: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in SPECS:
            if spec.attr in raw:
                try:
                    values[spec.attr] = spec.parse(raw[spec.attr])
                except (ValueError, TypeError) as exc:
                    problems.append(f"{where[spec.attr]}: {exc}")
            else:
                values[spec.attr] = spec.default
        for attr in _REQUIRED:
            if values.get(attr) is None and not any(p.startswith(where[attr]) for p in problems):
                problems.append(f"{where[attr]} is required")
        if values.get("salesforce_auth") == "jwt" and not values.get("salesforce_username"):
            problems.append(f"{where['salesforce_username']} is required for the jwt flow")
        ttl, timeout = values.get("lease_ttl_s"), values.get("salesforce_timeout_s")
        if isinstance(ttl, int) and isinstance(timeout, int) and ttl < 3 * timeout:
            problems.append(f"{where['lease_ttl_s']}: must be at least three times the Salesforce "
                            f"request timeout ({3 * timeout} s), so one slow request can never "
                            f"outlive the lease; got {ttl}")
        if problems:
            raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Secrets:
    """Credentials; never logged (repr hides them), never put in settings or outputs."""

    stripe_api_key: str
    salesforce_private_key: str | None = None
    salesforce_consumer_secret: str | None = None

    def __repr__(self) -> str:
        return "Secrets(<hidden>)"

    def check(self, settings: Settings) -> None:
        """The secrets the import needs are present (raises ConfigError)."""
        problems = self._salesforce_problems(settings)
        if not self.stripe_api_key.startswith(("sk_", "rk_")):
            problems.insert(0, "the Stripe key must be a secret (sk_…) or restricted (rk_…) "
                               "key")
        if problems:
            raise ConfigError("invalid secrets:\n  " + "\n  ".join(problems))

    def check_salesforce(self, settings: Settings) -> None:
        """The Salesforce credential the chosen flow needs is present (org-config commands)."""
        problems = self._salesforce_problems(settings)
        if problems:
            raise ConfigError("invalid secrets:\n  " + "\n  ".join(problems))

    def _salesforce_problems(self, settings: Settings) -> list[str]:
        problems = []
        if settings.salesforce_auth == "jwt" and not self.salesforce_private_key:
            problems.append("the jwt flow needs the connected app's private key")
        if settings.salesforce_auth == "client_credentials" and \
                not self.salesforce_consumer_secret:
            problems.append("the client_credentials flow needs the consumer secret")
        return problems
