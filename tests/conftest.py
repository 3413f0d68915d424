"""Shared fixtures: one server of each stand-in per test session, state reset before each test."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
import requests
import stripe
from simple_salesforce.api import Salesforce

from devenv.aws import AwsStandIn
from devenv.salesforce import SalesforceStandIn
from devenv.stripe import StripeStandIn
from devenv.tls import combined_bundle

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
from typing import Any, TypeAlias

# simple-salesforce's sObject API is dynamic (`sf.Account`, `sf.bulk2.Account`) and its
# annotations are unions that strict mypy cannot narrow, so tests hold the client as Any.
SF: TypeAlias = Any


def errors_of(exc: BaseException) -> list[dict[str, Any]]:
    """The JSON error list a simple-salesforce exception carries (typed loosely upstream)."""
    content: Any = getattr(exc, "content", None)
    assert isinstance(content, list), content
    return content


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("standins")


@pytest.fixture(scope="session")
def sf_server(state_dir: Path) -> Iterator[SalesforceStandIn]:
    server = SalesforceStandIn(state_dir=state_dir / "salesforce", deploy_delay_s=0.01).start()
    # Trust the stand-in's certificate on top of the system roots, for requests and zeep alike.
    bundle = combined_bundle(server.ca_file, state_dir / "ca-bundle.pem")
    old = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    yield server
    server.stop()
    if old is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = old


@pytest.fixture
def salesforce(sf_server: SalesforceStandIn) -> SalesforceStandIn:
    """The Salesforce stand-in, reset to a fresh Billing org."""
    sf_server.reset(sessions=True)
    return sf_server


def session_id(server: SalesforceStandIn, *, integration: bool = False) -> str:
    """A fresh session through the client-credentials flow, over HTTP: the deploy user's (an
    admin), or with `integration` the import's user (no admin rights)."""
    app = server.app if integration else server.deploy_app
    r = requests.post(server.url + "/services/oauth2/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": app.consumer_key,
        "client_secret": app.consumer_secret})
    r.raise_for_status()
    return str(r.json()["access_token"])


@pytest.fixture
def sf(salesforce: SalesforceStandIn) -> SF:
    """A simple-salesforce client with a valid admin session on a fresh org."""
    return Salesforce(session_id=session_id(salesforce), instance_url=salesforce.url,
                      version="59.0")


@pytest.fixture
def integration_sf(salesforce: SalesforceStandIn) -> SF:
    """A simple-salesforce client logged in as the import's integration user."""
    return Salesforce(session_id=session_id(salesforce, integration=True),
                      instance_url=salesforce.url, version="59.0")


@pytest.fixture
def admin(salesforce: SalesforceStandIn) -> requests.Session:
    """An HTTP session for the stand-in's admin API (base URL in `.base`)."""
    s = requests.Session()
    s.base = salesforce.url + "/_admin"  # type: ignore[attr-defined]
    return s


@pytest.fixture(scope="session")
def stripe_server(state_dir: Path) -> Iterator[StripeStandIn]:
    server = StripeStandIn(log_file=state_dir / "stripe.log").start()
    yield server
    server.stop()


# Stripe raises an account's rate limits on request; tests run on such an account so the
# import's speed is theirs to choose (tests of the limits themselves lower them again).
RAISED_LIMIT_PER_S = 2000.0


@pytest.fixture
def stripe_api(stripe_server: StripeStandIn) -> StripeStandIn:
    """The Stripe stand-in with no objects, faults or counters, on an account with raised
    rate limits."""
    stripe_server.reset()
    stripe_server.set_limits(global_per_s=RAISED_LIMIT_PER_S, endpoint_per_s=RAISED_LIMIT_PER_S)
    return stripe_server


@pytest.fixture
def stripe_client(stripe_api: StripeStandIn) -> stripe.StripeClient:
    return stripe.StripeClient(stripe_api.api_key, base_addresses={"api": stripe_api.api_base},
                               max_network_retries=0)


@pytest.fixture(scope="session")
def aws_server(state_dir: Path) -> Iterator[AwsStandIn]:
    server = AwsStandIn(log_file=state_dir / "aws.log").start()
    yield server
    server.stop()


@pytest.fixture
def aws(aws_server: AwsStandIn) -> AwsStandIn:
    """moto, with every resource forgotten."""
    aws_server.reset()
    return aws_server


@pytest.fixture(scope="session")
def lambda_package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The Lambda package, built once per session for every test that deploys or records it
    (a build per program run would be slow and prove nothing more)."""
    from infra.lambda_package import build

    return build(out=tmp_path_factory.mktemp("package") / "lambda.zip")


@pytest.fixture
def world(salesforce: SalesforceStandIn, stripe_api: StripeStandIn, aws: AwsStandIn) -> Any:
    """Fresh stand-ins prepared for the import (fields, state table); see tests/sync/harness."""
    from tests.sync.harness import make_world

    return make_world(salesforce, stripe_api, aws)


@pytest.fixture(autouse=True, scope="session")
def _dummy_aws_credentials() -> Iterator[None]:
    """moto's dummy credentials, so no test can ever reach a real AWS account."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True, scope="session")
def _committed_files_stay_as_they_are() -> Iterator[None]:
    """No test may write into the repository's stack files or release records (commands that
    write them run on copies): a test that did would leave a change to commit by accident."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def snapshot() -> dict[str, bytes]:
        paths = [*root.glob("Pulumi*.yaml"), *(root / "releases").glob("*")]
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(paths) if p.is_file()}

    before = snapshot()
    yield
    after = snapshot()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"tests changed committed files: {changed}"


def deploy_keys(server: SalesforceStandIn) -> dict[str, str]:
    """The stack keys of the stand-in org's deploy user (its own connected app, an admin)."""
    key_file = server.deploy_app.private_key_file
    assert key_file is not None
    return {"salesforceDeployUsername": server.deploy_app.username,
            "salesforceDeployConsumerKey": server.deploy_app.consumer_key,
            "salesforceDeployPrivateKey": key_file.read_text()}


def org_client(server: SalesforceStandIn) -> Any:
    """A simple-salesforce client on a stand-in org, with a fresh session."""
    return Salesforce(session_id=session_id(server), instance_url=server.url, version="59.0")


def batch_size(server: SalesforceStandIn) -> float:
    """The org's Payment creation batch size, as Salesforce Billing holds it."""
    rows = org_client(server).query("SELECT blng__NumberValue__c FROM blng__BillingConfig__c "
                                    "WHERE Name = 'PAYMENT_CREATION_BATCH_SIZE'")["records"]
    return float(rows[0]["blng__NumberValue__c"])
