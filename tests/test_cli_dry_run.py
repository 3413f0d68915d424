"""`sfbilling sync --dry-run` before the first deploy: no state table (or no AWS credentials
yet), so it plans a bounded sample from an empty state, writes nothing anywhere, and projects
the full import's time from Stripe's limits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest

from sync_lambda import names
from tests.test_cli_exits import _env, _run, _stack

if TYPE_CHECKING:
    from pathlib import Path

    from tests.sync.harness import World

CUSTOMERS = 7


@pytest.mark.parametrize("aws_credentials", [True, False], ids=["no-table", "no-credentials"])
def test_a_dry_run_before_the_first_deploy_plans_a_sample(world: World, tmp_path: Path,
                                                          aws_credentials: bool) -> None:
    # GIVEN a Stripe account with customers, an org, and no deployed stack (no state table)
    for n in range(CUSTOMERS):
        world.customer(name=f"Sample {n}")
    root = _stack(tmp_path / "repo", world.salesforce, **{
        "sfbilling:awsEndpointUrl": world.aws.endpoint_url,
        "sfbilling:resourcePrefix": "never-deployed",
        "sfbilling:stripeApiBase": world.stripe_api.api_base})
    env = _env(world.salesforce, SFBILLING_DEV_STRIPE_API_KEY=world.stripe_api.api_key)
    if not aws_credentials:
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                   AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    sf_writes = world.salesforce.counters_json()["routes"]
    # WHEN the operator asks for a dry run of 3 customers
    done = _run(["sync", "--env", "dev", "--root", str(root), "--dry-run", "--sample", "3",
                 "--json"], env)
    # THEN it plans them, projects the whole account, and says why it sampled
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["report"]
    assert report["dry_run"] is True
    assert report["customers"] == 3
    assert report["outcomes"]["would_create_account"] == 3
    projection = report["projection"]
    assert projection["customers_sampled"] == 3
    assert projection["customers"] == CUSTOMERS
    assert projection["payment_method_listings_per_customer"] == 1
    # A sandbox's test key: Stripe's 25/s per endpoint, less the reserve (10 %), halved for a
    # dry run: 11.25 payment-method listings a second.
    assert projection["payment_method_listings_per_s"] == 11.25
    assert projection["full_import_s"] == round(CUSTOMERS / 11.25)
    assert "sampled 3 of 7 customers; a full import takes at least" in report["message"]
    assert "so this dry run plans a sample of 3 customers from an empty state" in done.stderr
    # ... and wrote nothing anywhere: no table, no record
    tables = boto3.client("dynamodb", **world.aws.client_kwargs()).list_tables()["TableNames"]
    assert "never-deployed-state" not in tables
    assert world.records(names.ACCOUNT) == []
    after = world.salesforce.counters_json()["routes"]
    written = {k for k in after if after[k] != sf_writes.get(k)
               and any(w in k for w in ("create", "update", "upsert", "delete", "ingest"))}
    assert written == set()


def test_a_sample_goes_with_a_dry_run_only(world: World, tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", world.salesforce)
    done = _run(["sync", "--env", "dev", "--root", str(root), "--sample", "3"],
                _env(world.salesforce, SFBILLING_DEV_STRIPE_API_KEY=world.stripe_api.api_key))
    assert done.returncode == 2
    assert "--sample plans part of the customers, so it goes with --dry-run" in done.stderr


def test_without_a_dry_run_a_missing_table_stops_in_one_line(world: World,
                                                             tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", world.salesforce, **{
        "sfbilling:awsEndpointUrl": world.aws.endpoint_url,
        "sfbilling:resourcePrefix": "never-deployed"})
    done = _run(["sync", "--env", "dev", "--root", str(root)],
                _env(world.salesforce, SFBILLING_DEV_STRIPE_API_KEY=world.stripe_api.api_key))
    assert done.returncode == 7
    assert "Traceback" not in done.stderr
    assert "the state table never-deployed-state in eu-west-1 does not exist" in done.stderr
