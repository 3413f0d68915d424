"""The stack's configuration, read once through the schema into a typed, frozen `InfraConfig`.

Pulumi hands the program its stack config in two ways: the CLI's language host sets
`PULUMI_CONFIG` (every key, secrets decrypted) and `PULUMI_CONFIG_SECRET_KEYS` (which of them
were encrypted); the Automation API and the tests call `pulumi.runtime.set_all_config`. Both are
read here, every key is checked by `stackconfig.resolve` exactly as `sfbilling` checks a stack
file, and a bad stack stops the program before it registers any resource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pulumi
from pulumi.runtime import config as runtime_config

from metadata.config import OrgConfig
from stackconfig.errors import StackConfigError
from stackconfig.resolve import (
    StackConfig,
    lambda_environment,
    require_deploy_login,
    require_login,
    resolve,
)
from stackconfig.schema import NAMESPACE
from stackconfig.stackfile import RawValue
from sync_lambda.adapters.salesforce_connection import SalesforceCredentials
from sync_lambda.login_hosts import default_audience
from sync_lambda.settings import stripe_key_problems

if TYPE_CHECKING:
    from collections.abc import Mapping

PRODUCTION: Final = "production"
LOCAL: Final = "local"


def raw_stack_config() -> dict[str, RawValue]:
    """Every config entry Pulumi gave the program, with whether it was encrypted."""
    env_values = runtime_config.get_config_env()
    names = set(env_values) | set(runtime_config.CONFIG.get())
    secret = set(runtime_config.get_config_secret_keys_env())
    return {name: RawValue(runtime_config.get_config(name),
                           secure=name in secret or runtime_config.is_config_secret(name))
            for name in sorted(names)}


@dataclass(frozen=True, slots=True)
class InfraConfig:
    """What the Pulumi program builds, for one stack."""

    stack: StackConfig = field(repr=False)

    @classmethod
    def read(cls, env: str, raw: Mapping[str, RawValue]) -> InfraConfig:
        """The checked config (StackConfigError listing every problem)."""
        stack = resolve(raw, env=env, source=f"stack {env} (Pulumi.{env}.yaml)",
                        require_secrets=True)
        require_login(stack)
        require_deploy_login(stack)
        problems = [f"{NAMESPACE}:{name}: {p}"
                    for name in ("stripeApiKey", "stripeAdminApiKey")
                    for p in stripe_key_problems(stack.secret(name) or "", stack.kind)
                    if stack.secret(name)]
        if problems:
            raise StackConfigError(stack.source, problems)
        if stack.kind == LOCAL:
            raise StackConfigError(stack.source, [
                f"{NAMESPACE}:environmentKind is local: that environment is the stand-ins "
                "started by `sfbilling local up`, not AWS; `pulumi up` deploys sandbox and "
                "production stacks"])
        return cls(stack)

    # -- names of this stack's resources ---------------------------------------------------
    @property
    def env(self) -> str:
        """The stack's name."""
        return self.stack.env

    @property
    def prefix(self) -> str:
        """The prefix of every AWS resource name."""
        return self.stack.resource_prefix

    @property
    def function_name(self) -> str:
        """The sync Lambda's name (also its metrics' `service` dimension)."""
        return self.stack.function_name

    @property
    def events_rule_name(self) -> str:
        """The rule of the event path."""
        return self.stack.events_rule_name

    @property
    def events_queue_name(self) -> str:
        """The queue of the event path."""
        return self.stack.events_queue_name

    @property
    def table_name(self) -> str:
        """The state table's name."""
        return self.stack.table_name

    @property
    def production(self) -> bool:
        """Deletion protection and validate-first deploys follow this, never the stack name."""
        return self.stack.kind == PRODUCTION

    # -- values ------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.stack[name]

    @property
    def lambda_environment(self) -> dict[str, str]:
        """The Lambda's configured variables (names and values, never a secret)."""
        return lambda_environment(self.stack)

    @property
    def org(self) -> OrgConfig:
        """What the org config renders."""
        return OrgConfig.from_stack(self.stack)

    def secret(self, name: str) -> pulumi.Output[str] | None:
        """A secret's value, as a secret Output (None when it is not set)."""
        value = self.stack.secret(name)
        return None if value is None else pulumi.Output.secret(value)

    def require_secret(self, name: str) -> pulumi.Output[str]:
        """A secret the schema has already required."""
        value = self.secret(name)
        if value is None:  # resolve(require_secrets=True) said so already; never reached
            raise pulumi.RunError(f"{NAMESPACE}:{name} is not set")
        return value

    @property
    def jwt(self) -> bool:
        """The JWT bearer flow (else client credentials)."""
        return bool(self.stack["salesforceAuth"] == "jwt")

    def org_secret(self, name: str) -> pulumi.Output[str] | None:
        """The deploy user's secret the configured flow uses (the other one stays out; none
        when the credential is a Secrets Manager reference, read at apply time)."""
        if self.stack["salesforceDeploySecretArn"] is not None:
            return None
        wanted = "salesforceDeployPrivateKey" if self.jwt else "salesforceDeployConsumerSecret"
        return self.require_secret(name) if name == wanted else None

    def salesforce_credential(self) -> pulumi.Output[str]:
        """The Salesforce secret's value as the Lambda reads it: JSON {"private_key"} for the
        JWT bearer flow, {"consumer_secret"} for client credentials."""
        if self.jwt:
            return self.require_secret("salesforcePrivateKey").apply(
                lambda v: json.dumps({"private_key": v}))
        return self.require_secret("salesforceConsumerSecret").apply(
            lambda v: json.dumps({"consumer_secret": v}))

    @property
    def org_credentials(self) -> SalesforceCredentials:
        """How the org config's deploy user reaches the org, without its secret (that goes in
        secret): its own connected app and user, the import's login URL, flow and audience."""
        s = self.stack
        return SalesforceCredentials(
            flow=s["salesforceAuth"], login_url=s["salesforceLoginUrl"],
            consumer_key=s["salesforceDeployConsumerKey"], username=s["salesforceDeployUsername"],
            api_version=s["salesforceApiVersion"], timeout_s=float(s["salesforceTimeoutSeconds"]),
            audience=s["salesforceJwtAudience"] or default_audience(s.kind))

    @property
    def config_hash(self) -> str:
        """SHA-256 of every non-secret value: part of the release id."""
        return self.stack.config_hash


def read_config() -> InfraConfig:
    """This stack's config, or a `pulumi.RunError` with the schema's message (the engine prints
    a RunError's message alone, without a traceback)."""
    try:
        return InfraConfig.read(pulumi.get_stack(), raw_stack_config())
    except StackConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
