"""Both org checks come before the run's first Salesforce read, count or write, whatever path the
run takes: the org must be the one the stack names (`sfbilling:salesforceOrgId`), and the one
the state was written for (a refreshed sandbox keeps production's record ids, so a write there
lands on the wrong records)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
import requests

from sync_lambda import names
from sync_lambda.errors import FatalSyncError
from sync_lambda.report import Outcome
from sync_lambda.state import SyncState
from sync_lambda.wiring import build_service
from tests.sync.harness import TABLE, World, add_import_fields, env_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from devenv.aws import AwsStandIn
    from devenv.salesforce import SalesforceStandIn
    from devenv.stripe import StripeStandIn

OTHER_ORG = "00D5g000004OTHaEAO"
# What a run may call before it stops: the login, the org id, the describes and the gateway
# query of the facts. Nothing else: no write, no count, no lookup.
ORG_CHECK_ROUTES = {"auth.token", "rest.query", "rest.describe"}


def _routes(world: World) -> dict[str, int]:
    return dict(world.salesforce.counters_json()["routes"])


def _reset_counters(world: World) -> None:
    requests.post(f"{world.salesforce.url}/_admin/counters/reset", timeout=10).raise_for_status()


def _snapshot(world: World) -> list[Any]:
    return [world.records(names.ACCOUNT), world.records(names.PAYMENT_METHOD)]


def _customers(world: World, n: int) -> list[str]:
    return [world.customer(name=f"Customer {i:03d}")[0] for i in range(n)]


# -- the paths: each leaves a run whose first Salesforce touch is a different one ----------
def _held_deactivations_and_nothing_else(world: World) -> dict[str, Any]:
    ids = _customers(world, 30)
    world.run()
    for cus in ids[:25]:
        world.stripe.v1.customers.delete(cus)
    assert world.run(full=True).outcome is Outcome.HELD_BACK
    return {"allow_mass_deactivation": True}


def _bulk_jobs_in_flight(world: World) -> dict[str, Any]:
    _customers(world, 2)
    world.run()
    state = world.state().load()
    world.save_state(state.with_jobs(("7505g000001AbCdAAK",)))
    return {}


def _full_run_of_an_empty_stripe(world: World) -> dict[str, Any]:
    _customers(world, 3)
    world.run()
    world.stripe_api.reset()  # Stripe lists nobody: the first touch is the reconcile's read
    # No checkpoint: a full run the operator did not ask for (an explicit --full is the
    # confirmation that takes the state over from another org, on purpose).
    world.save_state(SyncState())
    return {}


def _incremental_backlog(world: World) -> dict[str, Any]:
    ids = _customers(world, 6)
    world.run()
    for cus in ids:
        world.stripe.v1.customers.update(cus, {"email": f"{cus}@example.com"})
    # segments of 2: the backlog does not fit, and whether a full run is cheaper is a count
    world.env["SFB_SEGMENT_SIZE"] = "100"
    return {"segment_size": 2}


def _an_ordinary_batch(world: World) -> dict[str, Any]:
    _customers(world, 2)
    world.run()
    world.customer(name="New")
    return {}


PATHS: dict[str, Callable[[World], dict[str, Any]]] = {
    "held deactivations": _held_deactivations_and_nothing_else,
    "bulk jobs in flight": _bulk_jobs_in_flight,
    "full run, Stripe empty": _full_run_of_an_empty_stripe,
    "incremental backlog": _incremental_backlog,
    "ordinary batch": _an_ordinary_batch,
}


def _wrong_stack_org(world: World) -> None:
    world.env["SFB_SF_ORG_ID"] = OTHER_ORG


def _state_of_another_org(world: World) -> None:
    world.as_operator(lambda store: store.record_org(OTHER_ORG))


@pytest.mark.parametrize("wrong", [_wrong_stack_org, _state_of_another_org],
                         ids=["stack names another org", "state written for another org"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_wrong_org_gets_no_write_and_no_count_whatever_the_path(
        world: World, path: str, wrong: Callable[[World], None]) -> None:
    # GIVEN a run whose first Salesforce touch is the path's
    kwargs = PATHS[path](world)
    segment_size = kwargs.pop("segment_size", None)
    settings_overrides = {} if segment_size is None else {"SFB_SEGMENT_SIZE": "100"}
    before = _snapshot(world)
    # AND an org that is not the right one
    wrong(world)
    _reset_counters(world)
    settings = world.settings(**settings_overrides)
    if segment_size is not None:
        settings = replace(settings, segment_size=segment_size)
    # WHEN the run starts THEN it stops, having only checked the org
    with pytest.raises(FatalSyncError, match=OTHER_ORG):
        build_service(settings, world.secrets).run(**kwargs)
    routes = _routes(world)
    assert set(routes) <= ORG_CHECK_ROUTES, routes
    assert routes.get("rest.query", 0) <= 2, routes  # the org id and the gateway, no count
    assert _snapshot(world) == before


def test_a_sync_before_the_org_config_leaves_no_state_and_the_next_run_imports(
        salesforce: SalesforceStandIn, stripe_api: StripeStandIn, aws: AwsStandIn) -> None:
    # GIVEN an org without the import's fields (the org config not applied yet), and a Stripe
    # account with nobody in it yet
    import boto3

    from sync_lambda.adapters.dynamodb_state import create_table

    create_table(boto3.client("dynamodb", **aws.client_kwargs()), TABLE)
    world = World(salesforce, stripe_api, aws, env_for(salesforce, stripe_api, aws))
    # WHEN the import runs
    with pytest.raises(FatalSyncError, match="apply the org config first"):
        world.run()
    # THEN it wrote nothing to its state (no "listed everything" to skip later)
    assert world.state().load() == SyncState()
    # AND once the org config is applied, the next run imports what Stripe has
    add_import_fields(salesforce)
    world.customer(name="Ada")
    assert world.run().outcome is Outcome.OK
    assert len(world.accounts()) == 1
