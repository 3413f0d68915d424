"""Deploy credentials read at apply time: a dynamic provider given a Secrets Manager ARN
(`salesforceDeploySecretArn`, `stripeAdminSecretArn`) reads the value here, with the deploy
identity, when it creates, updates, refreshes or deletes, never in a preview (Check and Diff
need no credential). So the stack's own secrets, which a preview decrypts, hold no deploy key
(docs/ci.md).

With `infra/stripe_destinations.py`, one of the two modules of `infra/` allowed boto3
(docs/architecture.md). Nothing is cached: the engine pickles the providers.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError


class ApplySecretError(Exception):
    """The secret could not be read: which one, and why (never its value)."""


def secret_value(arn: str, *, endpoint_url: str | None = None) -> str:
    """The secret's string value (the region is the ARN's)."""
    region = arn.split(":")[3]
    client = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
    try:
        value = client.get_secret_value(SecretId=arn).get("SecretString")
    except (ClientError, BotoCoreError) as exc:
        raise ApplySecretError(f"reading {arn}: {exc} (the deploy identity needs "
                               "secretsmanager:GetSecretValue on it)") from None
    if not value:
        raise ApplySecretError(f"{arn} holds no text value")
    return str(value)
