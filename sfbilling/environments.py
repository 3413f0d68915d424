"""Turns `--env ENV` into what a command needs, always through the stack schema: the same keys,
read the same way, for every command, before any network call.

Non-secret settings come from the stack file `Pulumi.<ENV>.yaml` (its encrypted values are never
read here). Secrets come from the environment variables below — per environment first
(`SFBILLING_<ENV>_…`, so a promotion can hold sandbox and production credentials at once), then
the plain name — or, for `--env local`, from what `sfbilling local up` wrote, which also supplies
the stand-ins' endpoints.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from devenv.local import DEFAULT_STATE_DIR, load_endpoints
from metadata.config import OrgConfig
from metadata.deployer import OrgDeployer
from metadata.validations import VALIDATION_KEY, ValidationRecord
from stackconfig.errors import StackConfigError
from stackconfig.resolve import (
    StackConfig,
    lambda_environment,
    require_deploy_login,
    require_login,
    resolve,
)
from stackconfig.schema import key
from stackconfig.stackfile import RawValue, read_stack_file, stack_path
from stackconfig.stackwrite import write_keys
from sync_lambda.adapters.dynamodb_state import create_table
from sync_lambda.adapters.salesforce_connection import (
    SalesforceConnection,
    SalesforceCredentials,
)
from sync_lambda.errors import ConfigError, UnreachableError
from sync_lambda.settings import Secrets, Settings, stripe_key_problems

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping

STRIPE_KEY_VAR: Final = "SFBILLING_STRIPE_API_KEY"
SF_PRIVATE_KEY_FILE_VAR: Final = "SFBILLING_SF_PRIVATE_KEY_FILE"
SF_CONSUMER_SECRET_VAR: Final = "SFBILLING_SF_CONSUMER_SECRET"  # noqa: S105 - a variable name
# The deploy user's credential (org-config commands): never the integration user's.
SF_DEPLOY_PRIVATE_KEY_FILE_VAR: Final = "SFBILLING_SF_DEPLOY_PRIVATE_KEY_FILE"
SF_DEPLOY_CONSUMER_SECRET_VAR: Final = "SFBILLING_SF_DEPLOY_CONSUMER_SECRET"  # noqa: S105
# A read-only user with its own connected app (JWT), for `plan --read-only` and `doctor
# --read-only` where no deploy credential may be (pull requests in CI: docs/ci.md).
SF_READONLY_USERNAME_VAR: Final = "SFBILLING_SF_READONLY_USERNAME"
SF_READONLY_CONSUMER_KEY_VAR: Final = "SFBILLING_SF_READONLY_CONSUMER_KEY"
SF_READONLY_PRIVATE_KEY_FILE_VAR: Final = "SFBILLING_SF_READONLY_PRIVATE_KEY_FILE"
LOCAL: Final = "local"


def secret_variable(base: str, env: str) -> str:
    """The per-environment name of a secret variable: SFBILLING_PROD_STRIPE_API_KEY for prod."""
    return base.replace("SFBILLING_", f"SFBILLING_{re.sub(r'[^A-Z0-9]', '_', env.upper())}_", 1)


def _secret_env(environ: Mapping[str, str], base: str, env: str) -> tuple[str, str | None]:
    for name in (secret_variable(base, env), base):
        if environ.get(name):
            return name, environ[name]
    return base, None


def stripe_key_from_env(environ: Mapping[str, str], env: str) -> tuple[str, str | None]:
    """The variable holding `env`'s Stripe key, and the key (None when neither is set)."""
    return _secret_env(environ, STRIPE_KEY_VAR, env)


def local_overrides(doc: Mapping[str, Any]) -> dict[str, str]:
    """Stack-config values pointing at the running stand-ins."""
    sf, st, aws = doc["salesforce"], doc["stripe"], doc["aws"]
    return {key("salesforceLoginUrl").full: sf["login_url"],
            key("salesforceUsername").full: sf["username"],
            key("salesforceConsumerKey").full: sf["consumer_key"],
            key("salesforceDeployUsername").full: sf["deploy"]["username"],
            key("salesforceDeployConsumerKey").full: sf["deploy"]["consumer_key"],
            key("salesforceAuth").full: "jwt",
            key("stripeApiBase").full: st["api_base"],
            key("awsEndpointUrl").full: aws["endpoint_url"],
            key("aws:region").full: aws["region"]}


def load_stack(env: str, *, root: Path = Path(),
               state_dir: Path | None = None) -> tuple[StackConfig, dict[str, Any] | None]:
    """The checked configuration of `env` (StackConfigError listing every problem), and for
    `local` with a `state_dir`, the running stand-ins' endpoint document it was completed
    with."""
    raw = read_stack_file(env, root)  # a missing stack file is the first thing said
    doc = load_endpoints(state_dir) if env == LOCAL and state_dir is not None else None
    stack = resolve(raw, env=env, source=str(stack_path(env, root)),
                    overrides=local_overrides(doc) if doc else None)
    return stack, doc


def import_settings(stack: StackConfig) -> Settings:
    """The import's settings from a stack: the same variables the Lambda gets."""
    require_login(stack)
    environ = {**lambda_environment(stack), "SFB_TABLE_NAME": stack.table_name,
               "AWS_REGION": str(stack["aws:region"] or "us-east-1")}
    return Settings.from_env(environ)


@dataclass(frozen=True, slots=True)
class SyncTarget:
    """What one `sfbilling sync` needs."""

    stack: StackConfig
    settings: Settings
    secrets: Secrets


def use_local_environment(doc: Mapping[str, Any], environ: MutableMapping[str, str]) -> Secrets:
    """Trust the stand-in's certificate, use moto's dummy AWS keys; the local secrets."""
    environ["REQUESTS_CA_BUNDLE"] = doc["ca_bundle"]
    environ["AWS_ACCESS_KEY_ID"] = doc["aws"]["access_key_id"]
    environ["AWS_SECRET_ACCESS_KEY"] = doc["aws"]["secret_access_key"]
    return Secrets(stripe_api_key=doc["stripe"]["api_key"],
                   salesforce_private_key=Path(doc["salesforce"]["private_key_file"]).read_text())


def ensure_state_table(settings: Settings) -> None:
    """Create the state table in the local moto if it is not there (Pulumi does it in AWS)."""
    client = boto3.client("dynamodb", region_name=settings.aws_region,
                          endpoint_url=settings.aws_endpoint_url)
    try:
        client.describe_table(TableName=settings.table_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        create_table(client, settings.table_name)


def sync_target(env: str, *, root: Path = Path(), state_dir: Path = DEFAULT_STATE_DIR,
                environ: MutableMapping[str, str] | None = None) -> SyncTarget:
    """Settings and secrets for `env`, validated before any network call."""
    environ = os.environ if environ is None else environ
    stack, doc = load_stack(env, root=root, state_dir=state_dir)
    settings = import_settings(stack)
    secrets = use_local_environment(doc, environ) if doc else secrets_from_env(environ, env)
    if not doc:
        check_secrets(secrets, settings, env, stripe=True)
    secrets.check(settings)
    if doc:
        ensure_state_table(settings)
    return SyncTarget(stack, settings, secrets)


class StateTableMissingError(UnreachableError):
    """The state table cannot be read because it (or a way to it) does not exist yet: no
    table, or no AWS credentials on this machine. A dry run goes on with a sample."""


def require_state_table(settings: Settings, env: str) -> None:
    """The deployed state table is there and readable (UnreachableError naming the table, the
    region and what to do otherwise: the one line instead of botocore's traceback;
    StateTableMissingError when there is no table or no credentials)."""
    region = settings.aws_region
    client = boto3.client("dynamodb", region_name=region,
                          endpoint_url=settings.aws_endpoint_url)
    where = f"the state table {settings.table_name} in {region}"
    try:
        client.describe_table(TableName=settings.table_name)
    except NoCredentialsError:
        raise StateTableMissingError(
            f"AWS: no credentials to read {where}: set AWS_PROFILE (or SSO, or the AWS_* "
            "variables) for the account of the stack") from None
    except EndpointConnectionError as exc:
        raise UnreachableError(f"AWS: cannot reach {where} ({exc}); check aws:region and "
                               "awsEndpointUrl in the stack file") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise StateTableMissingError(
                f"AWS: {where} does not exist: deploy the {env} stack first (`pulumi up`), or "
                "check aws:region and resourcePrefix in the stack file") from None
        raise UnreachableError(f"AWS refused to read {where}: {code}: "
                               f"{exc.response.get('Error', {}).get('Message', '')}") from None


def check_secrets(secrets: Secrets, settings: Settings, env: str, *, stripe: bool,
                  deploy: bool = False) -> None:
    """The CLI's credentials for `env` are there and usable, each problem naming the variable
    to set (ConfigError, before any network call); `deploy`: the deploy user's."""
    problems = []
    if stripe:
        var = secret_variable(STRIPE_KEY_VAR, env)
        problems += [f"{var} (or {STRIPE_KEY_VAR}): {p}"
                     for p in stripe_key_problems(secrets.stripe_api_key,
                                                  settings.environment_kind)]
    file_var, secret_var = (SF_DEPLOY_PRIVATE_KEY_FILE_VAR, SF_DEPLOY_CONSUMER_SECRET_VAR) \
        if deploy else (SF_PRIVATE_KEY_FILE_VAR, SF_CONSUMER_SECRET_VAR)
    app = "the deploy user's connected app" if deploy else "the connected app"
    if settings.salesforce_auth == "jwt":
        var = f"{secret_variable(file_var, env)} (or {file_var})"
        if not secrets.salesforce_private_key:
            problems.append(f"{var} is not set: {app}'s private key file "
                            "(sfbilling:salesforceAuth is jwt)")
        elif not private_key_readable(secrets.salesforce_private_key):
            problems.append(f"{var} does not name a PEM private key (-----BEGIN PRIVATE "
                            f"KEY-----): the one whose certificate {app} holds")
    elif not secrets.salesforce_consumer_secret:
        var = f"{secret_variable(secret_var, env)} (or {secret_var})"
        problems.append(f"{var} is not set: {app}'s consumer secret "
                        "(sfbilling:salesforceAuth is client_credentials)")
    if problems:
        raise ConfigError(f"credentials of {env}:\n  " + "\n  ".join(problems))


def private_key_readable(pem: str) -> bool:
    """Whether `pem` loads as a private key (a malformed one would fail the login later, in
    the middle of a run)."""
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415 - CLI only
        load_pem_private_key,
    )

    try:
        load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class OrgTarget:
    """What the org-config commands need: the config, how the deploy user reaches the org,
    and the integration user the permission set goes to."""

    stack: StackConfig
    config: OrgConfig
    credentials: SalesforceCredentials  # the deploy user's
    assignee: str | None  # the integration user


def deploy_credentials(stack: StackConfig, settings: Settings,
                       secrets: Secrets) -> SalesforceCredentials:
    """How the org config's deploy user logs in: the import's org, flow and audience, its own
    connected app, user and secret."""
    return SalesforceCredentials(
        flow=settings.salesforce_auth, login_url=settings.salesforce_login_url,
        consumer_key=str(stack["salesforceDeployConsumerKey"]),
        username=stack["salesforceDeployUsername"], api_version=settings.salesforce_api_version,
        timeout_s=settings.salesforce_timeout_s, audience=settings.jwt_audience,
        private_key=secrets.salesforce_private_key,
        consumer_secret=secrets.salesforce_consumer_secret)


def org_config(env: str, *, root: Path = Path()) -> OrgConfig:
    """The org config of `env` alone (render needs no org and no credentials)."""
    return OrgConfig.from_stack(load_stack(env, root=root)[0])


def read_only_credentials(stack: StackConfig, settings: Settings,
                          environ: Mapping[str, str]) -> SalesforceCredentials:
    """A read-only user's login (JWT, its own connected app), from its variables (ConfigError
    naming every one missing). It can plan and doctor, never deploy."""
    found = {base: _secret_env(environ, base, stack.env) for base in (
        SF_READONLY_USERNAME_VAR, SF_READONLY_CONSUMER_KEY_VAR, SF_READONLY_PRIVATE_KEY_FILE_VAR)}
    missing = [name for name, value in found.values() if not value]
    if missing:
        raise ConfigError(f"--read-only needs the read-only user's login: set {', '.join(missing)} "
                          f"(or their SFBILLING_{stack.env.upper()}_… forms): docs/ci.md")
    key_file = Path(str(found[SF_READONLY_PRIVATE_KEY_FILE_VAR][1]))
    try:
        private_key = key_file.read_text()
    except OSError as exc:
        raise ConfigError(f"{found[SF_READONLY_PRIVATE_KEY_FILE_VAR][0]}: cannot read "
                          f"{key_file}: {exc.strerror}") from None
    return SalesforceCredentials(
        flow="jwt", login_url=settings.salesforce_login_url,
        consumer_key=str(found[SF_READONLY_CONSUMER_KEY_VAR][1]),
        username=found[SF_READONLY_USERNAME_VAR][1], api_version=settings.salesforce_api_version,
        timeout_s=settings.salesforce_timeout_s, audience=settings.jwt_audience,
        private_key=private_key)


def org_target(env: str, *, root: Path = Path(), state_dir: Path = DEFAULT_STATE_DIR,
               environ: MutableMapping[str, str] | None = None,
               read_only: bool = False) -> OrgTarget:
    """Org config plus Salesforce connection for `env`, validated before any network call
    (`read_only`: the read-only user's, never the deploy user's)."""
    environ = os.environ if environ is None else environ
    stack, doc = load_stack(env, root=root, state_dir=state_dir)
    if read_only and not doc:
        settings = import_settings(stack)
        return OrgTarget(stack, OrgConfig.from_stack(stack),
                         read_only_credentials(stack, settings, environ),
                         stack["salesforceUsername"])
    if doc:
        use_local_environment(doc, environ)
        deploy = doc["salesforce"]["deploy"]
        secrets = Secrets(stripe_api_key="", salesforce_private_key=Path(
            deploy["private_key_file"]).read_text())
    else:
        secrets = deploy_secrets_from_env(environ, env)
    require_login(stack)
    require_deploy_login(stack)
    settings = import_settings(stack)
    if not doc:
        check_secrets(secrets, settings, env, stripe=False, deploy=True)
    secrets.check_salesforce(settings)
    return OrgTarget(stack, OrgConfig.from_stack(stack),
                     deploy_credentials(stack, settings, secrets), stack["salesforceUsername"])


def recorded_validation(stack: StackConfig) -> ValidationRecord | None:
    """The validation the stack file records (`sfbilling:prodValidation`), if any."""
    text = stack[VALIDATION_KEY]
    return None if text is None else ValidationRecord.from_json(str(text))


def record_validation(env: str, root: Path, record: ValidationRecord,
                      also: Mapping[str, str | None] | None = None, *,
                      expected: bytes | None = None) -> None:
    """Write the record into `env`'s stack file, with `also` (promoted keys), in one guarded
    write that changes no other line (`expected`: the file as it was read)."""
    write_keys(stack_path(env, root), {**(also or {}), key(VALIDATION_KEY).full:
                                       record.to_json()}, expected=expected)


def deployer_for(target: OrgTarget, *,
                 progress: Callable[[str], None] = lambda _m: None) -> OrgDeployer:
    """The org-config deployer of one environment: logs in as its deploy user, checks the org
    is the one its stack names, assigns the permission set to the integration user, deploys
    as production when it is production."""
    return OrgDeployer(SalesforceConnection(target.credentials, fail_fast=True),
                       assignee=target.assignee, progress=progress,
                       sandbox=target.stack.kind != "production",
                       expected_org_id=target.stack["salesforceOrgId"])


PREVIEW: Final = "pulumi preview"
CLI_COMMANDS: Final = "sfbilling sync"
ORG_COMMANDS: Final = "sfbilling plan, apply, validate, doctor, promote"


def refused_later(raw: Mapping[str, RawValue], *, env: str, source: str,
                  overrides: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """What a stack that resolves cleanly will still be refused for: by `pulumi preview` (its
    secrets unset, the login keys), and by the CLI's commands (their credential variables on
    this machine). Empty for the local environment."""
    environ = os.environ if environ is None else environ
    stack = resolve(raw, env=env, source=source, overrides=overrides)
    if stack.kind == LOCAL:
        return {}
    out: dict[str, list[str]] = {}
    # The program needs its secrets and both logins: the import's (the Lambda's) and the
    # deploy user's (the org config's).
    out[PREVIEW] = _problems(lambda: resolve(raw, env=env, source=source, overrides=overrides,
                                             require_secrets=True)) \
        + _problems(lambda: require_login(stack)) + _problems(lambda: require_deploy_login(stack))
    cli: list[str] = []

    def import_credentials() -> None:
        secrets = secrets_from_env(environ, env, stripe=False)
        if not secrets.stripe_api_key:
            cli.append(f"{secret_variable(STRIPE_KEY_VAR, env)} (or {STRIPE_KEY_VAR}) is not "
                       "set: the Stripe restricted key of this environment")
        check_secrets(secrets, import_settings(stack), env, stripe=bool(secrets.stripe_api_key))

    def deploy_credentials() -> None:
        require_deploy_login(stack)
        check_secrets(deploy_secrets_from_env(environ, env), import_settings(stack), env,
                      stripe=False, deploy=True)

    out[CLI_COMMANDS] = cli + _problems(import_credentials)
    out[ORG_COMMANDS] = _problems(deploy_credentials)
    return {command: problems for command, problems in out.items() if problems}


def _problems(check: Callable[[], object]) -> list[str]:
    """The problems `check` raises, one per line (none when it passes)."""
    try:
        check()
    except StackConfigError as exc:
        return exc.problems
    except ConfigError as exc:
        lines = str(exc).splitlines()
        return [line.strip() for line in lines[1:]] or lines
    return []


def _salesforce_secrets(environ: Mapping[str, str], env: str, file_base: str,
                        secret_base: str) -> tuple[str | None, str | None]:
    """(private key, consumer secret) from the variables named by `file_base` and
    `secret_base` (ConfigError when the key file is not a file)."""
    private_key = None
    file_var, file_name = _secret_env(environ, file_base, env)
    if file_name:
        path = Path(file_name)
        if not path.is_file():
            raise ConfigError(f"{file_var}: {path} is not a file")
        private_key = path.read_text()
    return private_key, _secret_env(environ, secret_base, env)[1]


def deploy_secrets_from_env(environ: Mapping[str, str], env: str) -> Secrets:
    """The deploy user's Salesforce credential of `env`, from its own variables."""
    private_key, consumer_secret = _salesforce_secrets(
        environ, env, SF_DEPLOY_PRIVATE_KEY_FILE_VAR, SF_DEPLOY_CONSUMER_SECRET_VAR)
    return Secrets(stripe_api_key="", salesforce_private_key=private_key,
                   salesforce_consumer_secret=consumer_secret)


def secrets_from_env(environ: Mapping[str, str], env: str, *, stripe: bool = True) -> Secrets:
    """The secrets of `env` from its environment variables (ConfigError naming the variable)."""
    key_var, key_value = _secret_env(environ, STRIPE_KEY_VAR, env)
    if not key_value and stripe:
        raise ConfigError(f"{secret_variable(STRIPE_KEY_VAR, env)} (or {STRIPE_KEY_VAR}) is not "
                          "set: the Stripe restricted key of this environment")
    del key_var
    private_key, consumer_secret = _salesforce_secrets(
        environ, env, SF_PRIVATE_KEY_FILE_VAR, SF_CONSUMER_SECRET_VAR)
    return Secrets(stripe_api_key=key_value or "", salesforce_private_key=private_key,
                   salesforce_consumer_secret=consumer_secret)
