"""The program with Stripe's events on, and its StripeEventDestination provider, run the way the
Pulumi engine runs them (tests/infra/engine/test_engine.py says how): the program in its own
process against the engine double; the provider in a real `python -m pulumi.dynamic` process,
driven over gRPC through its lifecycle against the Stripe stand-in and moto's EventBridge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import boto3
import pytest
import stripe
from pulumi.runtime.proto import engine_pb2, provider_pb2

from infra.lambda_package import PACKAGE_VAR
from infra.pickled import PICKLED_PROVIDERS
from sync_lambda import names
from tests.infra.engine.conftest import base_env, org_stack
from tests.infra.engine.double import is_secret, secret_paths, strip_secrets
from tests.infra.engine.language_host import run_program
from tests.infra.engine.provider_host import ProviderHost, Resource, pickled_path
from tests.infra.program import DESTINATION, MOCK_DESTINATION_ID

if TYPE_CHECKING:
    from pathlib import Path

    from devenv.aws import AwsStandIn
    from devenv.salesforce import SalesforceStandIn
    from devenv.stripe import StripeStandIn
    from infra.lambda_package import Package
    from tests.infra.engine.launcher import Project

pytestmark = pytest.mark.engine

SECRET_STATE: Final = {"api_key", "__provider"}
PATH: Final = ("aws:cloudwatch/eventBus:EventBus", "aws:cloudwatch/eventRule:EventRule",
               "aws:cloudwatch/eventTarget:EventTarget",
               "aws:lambda/eventSourceMapping:EventSourceMapping")


def test_up_with_events_registers_the_path_and_drives_the_destination(
        project: Project, salesforce: SalesforceStandIn, stripe_api: StripeStandIn,
        aws: AwsStandIn, stripe_client: stripe.StripeClient, lambda_package: Package,
        tmp_path: Path) -> None:
    # GIVEN the sandbox stack with eventDestination: create, its Stripe and AWS the stand-ins
    stripe_api.deliver_to(aws.endpoint_url, source_delay_s=0.3)
    admin_key = stripe_api.api_key
    config, secret_keys = org_stack(
        "sandbox", salesforce, eventDestination="create", stripeApiBase=stripe_api.api_base,
        awsEndpointUrl=aws.endpoint_url, **{"aws:region": "us-east-1"})
    config["sfbilling:stripeAdminApiKey"] = admin_key
    env = base_env(**{PACKAGE_VAR: str(lambda_package.path)})
    # WHEN `pulumi up` runs the program
    result = run_program(project, "sandbox", config, secret_keys, dry_run=False, base_env=env)
    assert result.exit_code == 0, (result.recorded.messages(engine_pb2.ERROR), result.stderr)
    recorded = result.recorded
    # THEN the destination and the AWS half are registered; the bus named from its output
    types = [r.type for r in recorded.registrations]
    assert types.count(DESTINATION) == 1 and all(types.count(t) == 1 for t in PATH)
    dest = recorded.one(DESTINATION)
    bus = recorded.one("aws:cloudwatch/eventBus:EventBus")
    assert bus.inputs["name"] == bus.inputs["eventSourceName"] == \
        f"aws.partner/stripe.com/{MOCK_DESTINATION_ID}"
    assert dest.urn in bus.dependencies
    # ... the provider pickled by reference to a listed class, the key secret on the wire
    assert pickled_path(dest.inputs["__provider"]["value"]) in PICKLED_PROVIDERS
    assert set(secret_paths(dest.inputs)) == SECRET_STATE
    assert dest.additional_secret_outputs == ["api_key"]
    assert recorded.stack_outputs is not None
    assert secret_paths(recorded.stack_outputs) == []
    assert admin_key not in str(recorded.stack_outputs)

    # AND the engine starts the provider plugin and drives the destination's lifecycle
    host = ProviderHost(project, result.engine_address, base_env(), tmp_path / "plugin.err")
    service = stripe_client.v2.core.event_destinations
    try:
        assert host.configure() is False
        resource = Resource(host, dest.urn, dest.additional_secret_outputs, admin_key,
                            SECRET_STATE)
        checked = resource.check(dest.inputs)
        resource.create(checked)
        dest_id = resource.id
        assert dest_id.startswith("ed_test_")
        # the partner source exists before the bus is registered (Create waited for it)
        events = boto3.client("events", **aws.client_kwargs())
        source = events.describe_event_source(Name=f"aws.partner/stripe.com/{dest_id}")
        assert source["State"] == "PENDING"
        state: dict[str, Any] = strip_secrets(resource.state)
        assert (state["status"], state["event_source_name"]) == (
            "enabled", f"aws.partner/stripe.com/{dest_id}")
        assert service.retrieve(dest_id).enabled_events == list(names.EVENT_TYPES)
        assert resource.diff(checked).changes == provider_pb2.DiffResponse.DIFF_NONE
        # `pulumi refresh` after someone disabled it: the status and why; the next up enables
        service.disable(dest_id)
        resource.refresh()
        state = strip_secrets(resource.state)
        assert (state["status"], state["disabled_reason"]) == ("disabled", "user")
        diff = resource.diff(checked)
        assert (diff.changes, list(diff.replaces)) == (provider_pb2.DiffResponse.DIFF_SOME, [])
        resource.update(checked)
        assert service.retrieve(dest_id).status == "enabled"
        # `pulumi destroy`: deleted in Stripe
        host.delete(resource.id, resource.urn, resource.state)
        with pytest.raises(stripe.InvalidRequestError):
            service.retrieve(dest_id)
        log = host.stderr()
        assert "StripeEventDestination: created" in log
        assert admin_key not in log
        assert is_secret(resource.state["api_key"])
    finally:
        host.close()
