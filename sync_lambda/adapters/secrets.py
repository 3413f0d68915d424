"""Secrets Manager reads, cached per container for the life of a warm Lambda."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from sync_lambda.errors import ConfigError
from sync_lambda.settings import Secrets, Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

_TTL_S = 300.0
_cache: dict[str, tuple[float, str]] = {}


def _get(client: SecretsManagerClient, arn: str) -> str:
    hit = _cache.get(arn)
    if hit is not None and time.monotonic() - hit[0] < _TTL_S:
        return hit[1]
    try:
        value = client.get_secret_value(SecretId=arn)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        raise ConfigError(f"secret {arn} not found") from None
    _cache[arn] = (time.monotonic(), value)
    return value


def load_secrets(client: SecretsManagerClient, settings: Settings) -> Secrets:
    """The Stripe key (plain string or JSON {"api_key"}) and the Salesforce credential (JSON
    {"private_key"} for JWT, {"consumer_secret"} for client credentials)."""
    if not settings.stripe_secret_arn or not settings.salesforce_secret_arn:
        raise ConfigError("SFB_STRIPE_SECRET_ARN and SFB_SF_SECRET_ARN are required")
    stripe_raw = _get(client, settings.stripe_secret_arn).strip()
    if stripe_raw.startswith("{"):
        stripe_raw = str(json.loads(stripe_raw).get("api_key", ""))
    try:
        sf = json.loads(_get(client, settings.salesforce_secret_arn))
    except ValueError:
        raise ConfigError(f"secret {settings.salesforce_secret_arn} is not JSON") from None
    secrets = Secrets(stripe_api_key=stripe_raw, salesforce_private_key=sf.get("private_key"),
                      salesforce_consumer_secret=sf.get("consumer_secret"))
    secrets.check(settings)
    return secrets
