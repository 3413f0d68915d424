"""Secrets Manager reads through Powertools parameters, cached per container: a warm Lambda
reads each secret at most once every `CACHE_S` seconds, so a rotated secret is picked up within
that time without a redeploy."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from sync_lambda.errors import ConfigError
from sync_lambda.settings import Secrets, Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

CACHE_S: Final = 300
# One provider (and its cache) per endpoint, for the life of the container.
_providers: dict[tuple[str, str | None], SecretsProvider] = {}


def provider_for(settings: Settings) -> SecretsProvider:
    """The container's cached provider for the settings' region and endpoint."""
    where = (settings.aws_region, settings.aws_endpoint_url)
    if where not in _providers:
        client: SecretsManagerClient = boto3.client(
            "secretsmanager", region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url)
        _providers[where] = SecretsProvider(boto3_client=client)
    return _providers[where]


def clear_cache() -> None:
    """Forget every cached secret (tests; a new container starts empty)."""
    _providers.clear()


def _get(provider: SecretsProvider, arn: str) -> str:
    try:
        value = provider.get(arn, max_age=CACHE_S)
    except GetParameterError as exc:
        # The SDK's message names the error code and the secret, never its value.
        raise ConfigError(f"secret {arn} cannot be read: {exc}") from None
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str):
        raise ConfigError(f"secret {arn} holds no text")
    return value


def load_secrets(provider: SecretsProvider, settings: Settings) -> Secrets:
    """The Stripe key (plain string or JSON {"api_key"}) and the Salesforce credential (JSON
    {"private_key"} for JWT, {"consumer_secret"} for client credentials)."""
    if not settings.stripe_secret_arn or not settings.salesforce_secret_arn:
        raise ConfigError("SFB_STRIPE_SECRET_ARN and SFB_SF_SECRET_ARN are required")
    stripe_raw = _get(provider, settings.stripe_secret_arn).strip()
    if stripe_raw.startswith("{"):
        stripe_raw = str(json.loads(stripe_raw).get("api_key", ""))
    try:
        sf = json.loads(_get(provider, settings.salesforce_secret_arn))
    except ValueError:
        raise ConfigError(f"secret {settings.salesforce_secret_arn} is not JSON") from None
    secrets = Secrets(stripe_api_key=stripe_raw, salesforce_private_key=sf.get("private_key"),
                      salesforce_consumer_secret=sf.get("consumer_secret"))
    secrets.check(settings)
    return secrets
