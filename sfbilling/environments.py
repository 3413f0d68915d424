"""Turns `--env ENV` into settings and secrets for `sfbilling sync`.

Non-secret settings: the stack file `Pulumi.<ENV>.yaml`. Secrets: the environment variables
below, or for `--env local` what `sfbilling local up` wrote (the stand-ins' throwaway
credentials), which also supplies the local endpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from devenv.local import DEFAULT_STATE_DIR, load_endpoints
from metadata.config import OrgConfig
from sfbilling.stackfile import load_stack_config, stack_path
from sync_lambda.adapters.dynamodb_state import create_table
from sync_lambda.errors import ConfigError
from sync_lambda.settings import CONFIG_NAMESPACE, Secrets, Settings

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

STRIPE_KEY_VAR = "SFBILLING_STRIPE_API_KEY"
SF_PRIVATE_KEY_FILE_VAR = "SFBILLING_SF_PRIVATE_KEY_FILE"
SF_CONSUMER_SECRET_VAR = "SFBILLING_SF_CONSUMER_SECRET"  # noqa: S105 - a variable name
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class SyncTarget:
    """What one `sfbilling sync` needs."""

    settings: Settings
    secrets: Secrets


def _key(name: str) -> str:
    return f"{CONFIG_NAMESPACE}:{name}"


def local_overrides(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Stack-config values pointing at the running stand-ins."""
    sf, st, aws = doc["salesforce"], doc["stripe"], doc["aws"]
    return {_key("salesforceLoginUrl"): sf["login_url"],
            _key("salesforceUsername"): sf["username"],
            _key("salesforceConsumerKey"): sf["consumer_key"], _key("salesforceAuth"): "jwt",
            _key("stripeApiBase"): st["api_base"], _key("awsEndpointUrl"): aws["endpoint_url"],
            _key("awsRegion"): aws["region"]}


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
    if not settings.table_name:
        return
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
    source = str(stack_path(env, root))
    config = load_stack_config(env, root, required=env != LOCAL)
    if env == LOCAL:
        return local_target(load_endpoints(state_dir), config, source=source, environ=environ)
    settings = Settings.from_config(config, source=source)
    secrets = _secrets_from_env(environ)
    secrets.check(settings)
    return SyncTarget(settings, secrets)


def local_target(doc: Mapping[str, Any], config: Mapping[str, Any], *, source: str,
                 environ: MutableMapping[str, str]) -> SyncTarget:
    """The local environment described by `doc` (what `local up` wrote), with the settings of
    Pulumi.local.yaml; creates the state table in moto if needed."""
    settings = Settings.from_config({**config, **local_overrides(doc)}, source=source,
                                    other_keys=OrgConfig.keys())
    secrets = use_local_environment(doc, environ)
    secrets.check(settings)
    ensure_state_table(settings)
    return SyncTarget(settings, secrets)


@dataclass(frozen=True, slots=True)
class OrgTarget:
    """What the org-config commands need: the config, and how to reach the org."""

    config: OrgConfig
    settings: Settings
    secrets: Secrets


def org_config(env: str, *, root: Path = Path()) -> OrgConfig:
    """The org config of `env` alone (render needs no org and no credentials)."""
    return OrgConfig.from_config(load_stack_config(env, root, required=env != LOCAL),
                                 source=str(stack_path(env, root)))


def org_target(env: str, *, root: Path = Path(), state_dir: Path = DEFAULT_STATE_DIR,
               environ: MutableMapping[str, str] | None = None) -> OrgTarget:
    """Org config plus Salesforce connection for `env`, validated before any network call."""
    environ = os.environ if environ is None else environ
    source = str(stack_path(env, root))
    config = load_stack_config(env, root, required=env != LOCAL)
    org = OrgConfig.from_config(config, source=source)
    if env == LOCAL:
        doc = load_endpoints(state_dir)
        settings = Settings.from_config({**config, **local_overrides(doc)}, source=source,
                                        other_keys=OrgConfig.keys())
        secrets = use_local_environment(doc, environ)
    else:
        settings = Settings.from_config(config, source=source, other_keys=OrgConfig.keys())
        secrets = _secrets_from_env(environ, stripe=False)
    secrets.check_salesforce(settings)
    return OrgTarget(org, settings, secrets)


def _secrets_from_env(environ: Mapping[str, str], *, stripe: bool = True) -> Secrets:
    key = environ.get(STRIPE_KEY_VAR, "")
    if not key and stripe:
        raise ConfigError(f"{STRIPE_KEY_VAR} is not set (the Stripe secret or restricted key)")
    private_key = None
    if environ.get(SF_PRIVATE_KEY_FILE_VAR):
        path = Path(environ[SF_PRIVATE_KEY_FILE_VAR])
        if not path.is_file():
            raise ConfigError(f"{SF_PRIVATE_KEY_FILE_VAR}: {path} is not a file")
        private_key = path.read_text()
    return Secrets(stripe_api_key=key, salesforce_private_key=private_key,
                   salesforce_consumer_secret=environ.get(SF_CONSUMER_SECRET_VAR) or None)
