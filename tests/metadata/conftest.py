"""Fixtures for org-config tests: a deployer on the stand-in org, configs from stack keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from metadata.config import OrgConfig
from metadata.deployer import OrgDeployer
from stackconfig.resolve import resolve
from stackconfig.stackfile import RawValue
from sync_lambda.adapters.salesforce_connection import SalesforceConnection, SalesforceCredentials

if TYPE_CHECKING:
    from devenv.salesforce import SalesforceStandIn


def credentials(salesforce: SalesforceStandIn, *,
                integration: bool = False) -> SalesforceCredentials:
    """The stand-in org's JWT bearer credentials: the deploy user's (an admin, as the org
    config logs in), or with `integration` the import's user."""
    app = salesforce.app if integration else salesforce.deploy_app
    key_file = app.private_key_file
    assert key_file is not None
    return SalesforceCredentials("jwt", salesforce.url, app.consumer_key, app.username, "59.0",
                                 60.0, private_key=key_file.read_text())


def make_deployer(salesforce: SalesforceStandIn, **kw: Any) -> OrgDeployer:
    creds = credentials(salesforce)
    return OrgDeployer(SalesforceConnection(creds), assignee=salesforce.app.username, **kw)


@pytest.fixture
def deployer(salesforce: SalesforceStandIn) -> OrgDeployer:
    return make_deployer(salesforce)


def config(**keys: Any) -> OrgConfig:
    """The org config of a local stack holding these `sfbilling:` keys (text values)."""
    raw = {f"sfbilling:{k}": RawValue(str(v)) for k, v in keys.items()}
    raw.setdefault("sfbilling:environmentKind", RawValue("local"))
    return OrgConfig.from_stack(resolve(raw, env="test", source="test"))
