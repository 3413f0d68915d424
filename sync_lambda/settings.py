"""The import's environment-variable contract, read once into a frozen `Settings`.

The Lambda's environment is set by the Pulumi program from the stack configuration
(`stackconfig/`, which declares every key and which variable it becomes); `sfbilling sync`
builds the same variables from the same stack file. This module knows only the variables: no
stack file, no YAML. Secrets are never settings: they come from Secrets Manager (Lambda) or
documented environment variables (CLI), into `Secrets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sync_lambda import names
from sync_lambda.errors import ConfigError
from sync_lambda.login_hosts import audience_problem, default_audience
from sync_lambda.models import FieldNames, Mode
from sync_lambda.values import (
    AUDIENCE,
    FIELD_NAME,
    ORG_ID,
    Bool,
    Choice,
    Float,
    Int,
    Kind,
    Text,
    Url,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

ENVIRONMENT_KINDS: Final = ("production", "sandbox", "local")
API_VERSIONS: Final = tuple(f"{v}.0" for v in range(50, 67))


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One variable: the attribute it fills, its kind, its default (None: unset)."""

    name: str
    attr: str
    kind: Kind
    default: Any = None


# The variables the Pulumi program sets from the stack configuration.
CONFIGURED: Final = (
    EnvVar("SFB_ENVIRONMENT_KIND", "environment_kind", Choice(ENVIRONMENT_KINDS)),
    EnvVar("SFB_MODE", "mode", Choice(tuple(m.value for m in Mode)), Mode.CREATE_AND_LINK.value),
    EnvVar("SFB_SF_AUTH", "salesforce_auth", Choice(("jwt", "client_credentials")), "jwt"),
    EnvVar("SFB_SF_LOGIN_URL", "salesforce_login_url", Url(https_only=True),
           "https://login.salesforce.com"),
    EnvVar("SFB_SF_JWT_AUDIENCE", "salesforce_jwt_audience", AUDIENCE),
    EnvVar("SFB_SF_USERNAME", "salesforce_username", Text()),
    EnvVar("SFB_SF_CONSUMER_KEY", "salesforce_consumer_key", Text()),
    EnvVar("SFB_SF_ORG_ID", "salesforce_org_id", ORG_ID),
    EnvVar("SFB_SF_API_VERSION", "salesforce_api_version", Choice(API_VERSIONS), "59.0"),
    EnvVar("SFB_SF_TIMEOUT_S", "salesforce_timeout_s", Int(10, 600), 120),
    EnvVar("SFB_SF_API_BUDGET_SHARE", "salesforce_api_budget_share", Float(0.05, 1), 0.8),
    EnvVar("SFB_STRIPE_API_BASE", "stripe_api_base", Url()),
    EnvVar("SFB_AWS_ENDPOINT_URL", "aws_endpoint_url", Url()),
    EnvVar("SFB_GATEWAY_NAME", "gateway_name", Text(), "Stripe"),
    EnvVar("SFB_ACCOUNT_CUSTOMER_FIELD", "account_customer_field", FIELD_NAME,
           names.DEFAULT_ACCOUNT_CUSTOMER_FIELD),
    EnvVar("SFB_PM_EXTERNAL_ID_FIELD", "pm_external_id_field", FIELD_NAME,
           names.DEFAULT_PM_EXTERNAL_ID_FIELD),
    EnvVar("SFB_PM_CUSTOMER_FIELD", "pm_customer_field", FIELD_NAME,
           names.DEFAULT_PM_CUSTOMER_FIELD),
    EnvVar("SFB_NAME_MATCH_EMAIL_FIELD", "name_match_email_field", FIELD_NAME),
    EnvVar("SFB_ACCOUNT_ID_METADATA_KEY", "metadata_key", Text(),
           names.DEFAULT_ACCOUNT_ID_METADATA_KEY),
    EnvVar("SFB_INCLUDE_BANK_ACCOUNTS", "include_bank_accounts", Bool(), False),
    EnvVar("SFB_BULK_THRESHOLD", "bulk_threshold", Int(1, 100_000), 200),
    EnvVar("SFB_SEGMENT_SIZE", "segment_size", Int(100, 100_000), 10_000),
    EnvVar("SFB_STRIPE_RATE", "stripe_rate", Float(1, 10_000)),
    EnvVar("SFB_STRIPE_ENDPOINT_RATE", "stripe_endpoint_rate", Float(1, 10_000),
           names.STRIPE_ENDPOINT_RATE_LIMIT),
    EnvVar("SFB_STRIPE_RESERVE_SHARE", "stripe_reserve_share", Float(0, 0.9), 0.1),
    EnvVar("SFB_STRIPE_DRY_RUN_SHARE", "stripe_dry_run_share", Float(0.05, 1), 0.5),
    EnvVar("SFB_STRIPE_CONCURRENCY", "stripe_concurrency", Int(1, 64), 8),
    EnvVar("SFB_MAX_ATTEMPTS", "max_attempts", Int(1, 100), 5),
    EnvVar("SFB_DEADLINE_RESERVE_S", "deadline_reserve_s", Int(10, 600), 90),
    EnvVar("SFB_LEASE_TTL_S", "lease_ttl_s", Int(60, 86_400), 360),
    EnvVar("SFB_LEASE_WAIT_S", "lease_wait_s", Float(0, 600), 0.0),
    EnvVar("SFB_MASS_DEACTIVATION_SHARE", "mass_deactivation_share", Float(0, 1), 0.10),
    EnvVar("SFB_MASS_DEACTIVATION_COUNT", "mass_deactivation_count", Int(0, 1_000_000), 20),
)
# The variables the Pulumi program sets from the resources it creates (names and ARNs).
RESOURCES: Final = (
    EnvVar("SFB_TABLE_NAME", "table_name", Text()),
    EnvVar("SFB_STRIPE_SECRET_ARN", "stripe_secret_arn", Text()),
    EnvVar("SFB_SF_SECRET_ARN", "salesforce_secret_arn", Text()),
)
# The variables the Lambda runtime sets itself (reserved: a function may not set them).
RUNTIME: Final = (EnvVar("AWS_REGION", "aws_region", Text(), "us-east-1"),)
ALL: Final = CONFIGURED + RESOURCES + RUNTIME
_REQUIRED = ("environment_kind", "salesforce_consumer_key", "table_name")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every non-secret setting of the import (see `CONFIGURED` and the stack schema)."""

    environment_kind: str
    mode: Mode
    salesforce_auth: str
    salesforce_login_url: str
    salesforce_jwt_audience: str | None
    salesforce_username: str | None
    salesforce_consumer_key: str
    salesforce_org_id: str | None
    salesforce_api_version: str
    salesforce_timeout_s: int
    salesforce_api_budget_share: float  # of the org's daily API limit, the import's ceiling
    stripe_api_base: str | None
    aws_endpoint_url: str | None
    gateway_name: str
    account_customer_field: str
    pm_external_id_field: str
    pm_customer_field: str
    name_match_email_field: str | None
    metadata_key: str
    include_bank_accounts: bool
    bulk_threshold: int
    segment_size: int
    stripe_rate: float | None  # the account's global limit (None: Stripe's for the key's mode)
    stripe_endpoint_rate: float
    stripe_reserve_share: float
    stripe_dry_run_share: float
    stripe_concurrency: int
    max_attempts: int
    deadline_reserve_s: int
    lease_ttl_s: int
    lease_wait_s: float
    mass_deactivation_share: float
    mass_deactivation_count: int
    table_name: str
    stripe_secret_arn: str | None
    salesforce_secret_arn: str | None
    aws_region: str

    @property
    def jwt_audience(self) -> str:
        """The JWT audience: as set, else test for a sandbox and login otherwise."""
        return self.salesforce_jwt_audience or default_audience(self.environment_kind)

    @property
    def fields(self) -> FieldNames:
        """The configurable field names, as the mapping needs them."""
        return FieldNames(self.account_customer_field, self.pm_external_id_field,
                          self.pm_customer_field, self.name_match_email_field)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; every problem at once (ConfigError)."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for var in ALL:
            raw = environ.get(var.name, "")
            if raw == "":
                values[var.attr] = var.default
                continue
            try:
                values[var.attr] = var.kind.parse(raw)
            except ValueError as exc:
                problems.append(f"{var.name}: {exc}")
        by_attr = {v.attr: v.name for v in ALL}
        for attr in _REQUIRED:
            if values.get(attr) is None and not any(p.startswith(by_attr[attr] + ":")
                                                    for p in problems):
                problems.append(f"{by_attr[attr]} is required")
        if values.get("salesforce_auth") == "jwt" and not values.get("salesforce_username"):
            problems.append("SFB_SF_USERNAME is required for the jwt flow")
        audience, login_url = values.get("salesforce_jwt_audience"), \
            values.get("salesforce_login_url")
        if isinstance(audience, str) and isinstance(login_url, str) \
                and values.get("salesforce_auth") == "jwt":
            problem = audience_problem(audience, login_url)
            if problem:
                problems.append(f"SFB_SF_JWT_AUDIENCE: {problem}")
        ttl, timeout = values.get("lease_ttl_s"), values.get("salesforce_timeout_s")
        if isinstance(ttl, int) and isinstance(timeout, int) and ttl < 3 * timeout:
            problems.append(f"SFB_LEASE_TTL_S: must be at least three times the Salesforce "
                            f"request timeout ({3 * timeout} s), so one slow request can never "
                            f"outlive the lease; got {ttl}")
        if problems:
            raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))
        values["mode"] = Mode(values["mode"])
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
        """The secrets the import needs are present and fit the environment (ConfigError)."""
        problems = self._salesforce_problems(settings)
        if not self.stripe_api_key.startswith(("sk_", "rk_")):
            problems.insert(0, "the Stripe key must be a secret (sk_…) or restricted (rk_…) "
                               "key")
        else:
            problems += stripe_key_problems(self.stripe_api_key, settings.environment_kind)
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


def stripe_key_problems(key: str, environment_kind: str) -> list[str]:
    """A live key outside production, or a test key in production, is refused (the stand-ins'
    `local` environment may use test keys). Only the key's prefix is looked at or shown."""
    live = key.startswith(names.STRIPE_LIVE_KEY_PREFIXES)
    if live and environment_kind != "production":
        return [f"a live Stripe key ({key[:8]}…) in a {environment_kind} environment: a "
                "sandbox org must never import live payment methods; use a test key"]
    if not live and environment_kind == "production":
        return [f"a test Stripe key ({key[:8]}…) in production: use the live restricted key"]
    return []
