"""Fixtures for org-config tests: a deployer on the stand-in org."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from metadata.config import OrgConfig
from metadata.deployer import OrgDeployer
from sync_lambda.adapters.salesforce_api import SalesforceApi
from sync_lambda.settings import Secrets, Settings

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn


def connection(salesforce: SalesforceStandIn) -> tuple[Settings, Secrets]:
    key_file = salesforce.app.private_key_file
    assert key_file is not None
    settings = Settings.from_env({"SFB_SF_LOGIN_URL": salesforce.url,
                                  "SFB_SF_USERNAME": salesforce.app.username,
                                  "SFB_SF_CONSUMER_KEY": salesforce.app.consumer_key})
    return settings, Secrets(stripe_api_key="", salesforce_private_key=key_file.read_text())


def make_deployer(salesforce: SalesforceStandIn, **kw: Any) -> OrgDeployer:
    settings, secrets = connection(salesforce)
    return OrgDeployer(SalesforceApi(settings, secrets),
                       assignee=settings.salesforce_username, **kw)


@pytest.fixture
def deployer(salesforce: SalesforceStandIn) -> OrgDeployer:
    return make_deployer(salesforce)


def config(**keys: Any) -> OrgConfig:
    return OrgConfig.from_config({f"sfbilling:{k}": v for k, v in keys.items()}, source="test")
