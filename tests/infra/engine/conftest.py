"""The engine harness's fixtures: the project as the engine reads it, and stack configs that
reach the stand-in org."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import deploy_keys
from tests.infra.engine.launcher import Project
from tests.infra.program import ROOT, stack_config

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn


@pytest.fixture(scope="session")
def project() -> Project:
    """This repository's Pulumi.yaml, as the engine reads it."""
    return Project.read(ROOT)


def org_stack(env: str, salesforce: SalesforceStandIn,
              **changes: Any) -> tuple[dict[str, str], list[str]]:
    """`env`'s committed stack file, pointed at the stand-in org (its login URL, connected
    app, integration user, org id and private key)."""
    key_file = salesforce.app.private_key_file
    assert key_file is not None
    return stack_config(env, **{
        "salesforceLoginUrl": salesforce.url, "salesforceUsername": salesforce.app.username,
        "salesforceConsumerKey": salesforce.app.consumer_key,
        "salesforceOrgId": salesforce.org.profile.org_id,
        "salesforcePrivateKey": key_file.read_text(), **deploy_keys(salesforce), **changes})


def base_env(**extra: str) -> dict[str, str]:
    """The environment the CLI would pass on: this process's, which trusts the stand-ins'
    certificates (REQUESTS_CA_BUNDLE) and holds moto's dummy AWS credentials."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PULUMI_", "SFBILLING_", "PYTEST_"))}
    env.update(extra)
    return env
