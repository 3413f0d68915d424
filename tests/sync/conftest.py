"""The Lambda's environment for handler tests: secrets in Secrets Manager (moto), the
variables the Pulumi program sets."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest

from sync_lambda.adapters import secrets as secrets_module

if TYPE_CHECKING:
    from tests.sync.harness import World


@pytest.fixture
def lambda_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    sm = boto3.client("secretsmanager", **world.aws.client_kwargs())
    stripe_arn = sm.create_secret(Name="sfbilling/stripe",
                                  SecretString=world.stripe_api.api_key)["ARN"]
    key_file = world.salesforce.app.private_key_file
    assert key_file is not None
    sf_arn = sm.create_secret(Name="sfbilling/salesforce", SecretString=json.dumps(
        {"private_key": key_file.read_text()}))["ARN"]
    for k, v in world.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SFB_STRIPE_SECRET_ARN", stripe_arn)
    monkeypatch.setenv("SFB_SF_SECRET_ARN", sf_arn)
    secrets_module.clear_cache()
    return world
