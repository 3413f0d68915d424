"""The StripeEventDestination provider: its decisions (pure, fast) and its lifecycle in this
process against the Stripe stand-in (real `stripe` SDK) and moto's EventBridge (real boto3).
The same provider in the engine's provider process: tests/infra/engine/test_event_engine.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
import stripe

from infra.event_destination import (
    ADOPT,
    CREATE,
    EventDestinationError,
    StripeEventDestinationProvider,
    adopt_problems,
    changed_keys,
    check_failures,
    create_params,
    outputs_of,
    source_name,
    wait_for_source,
)
from sync_lambda import names
from tests.eventpath import ACCOUNT, create_destination

if TYPE_CHECKING:
    from devenv.aws import AwsStandIn
    from devenv.stripe import StripeStandIn

REGION = "us-east-1"  # moto's


def _props(**changes: Any) -> dict[str, Any]:
    return {"mode": CREATE, "adopt_id": None, "api_key": "sk_test_x", "api_base": None,
            "aws_account_id": ACCOUNT, "aws_region": REGION, "aws_endpoint_url": None,
            "name": "sfbilling-sandbox", "description": "d", "environment_kind": "sandbox",
            "enabled_events": list(names.EVENT_TYPES), "enabled": True,
            "source_timeout_s": 5, **changes}


def _dest(**changes: Any) -> dict[str, Any]:
    return {"id": "ed_test_1", "type": "amazon_eventbridge", "livemode": False,
            "status": "enabled", "status_details": None, "event_payload": "snapshot",
            "enabled_events": list(names.EVENT_TYPES),
            "amazon_eventbridge": {
                "aws_account_id": ACCOUNT, "aws_event_source_status": "active",
                "aws_event_source_arn": f"arn:aws:events:{REGION}::event-source/"
                                        "aws.partner/stripe.com/ed_test_1"}, **changes}


# -- decisions -------------------------------------------------------------------------------
def test_a_created_destination_sends_exactly_the_import_s_events_as_snapshots() -> None:
    params = create_params(_props())
    assert params["enabled_events"] == list(names.EVENT_TYPES)
    assert (params["type"], params["event_payload"]) == ("amazon_eventbridge", "snapshot")
    assert params["amazon_eventbridge"] == {"aws_account_id": ACCOUNT, "aws_region": REGION}


def test_the_outputs_name_the_source_and_say_why_it_is_disabled() -> None:
    outs = outputs_of(_dest(status="disabled", status_details={
        "disabled": {"reason": "no_aws_event_source_exists"}}))
    assert outs["event_source_name"] == "aws.partner/stripe.com/ed_test_1" == \
        source_name("ed_test_1")
    assert (outs["status"], outs["disabled_reason"]) == ("disabled", "no_aws_event_source_exists")
    assert outs["aws_event_source_status"] == "active" and outs["livemode"] is False


@pytest.mark.parametrize(("dest", "props", "says"), [
    (_dest(), _props(aws_region="eu-west-1"), "sends to AWS account 123456789012 in us-east-1"),
    (_dest(), _props(aws_account_id="999999999999"), "this stack is 999999999999"),
    (_dest(livemode=True), _props(), "is a live-mode destination and this is a sandbox stack"),
    (_dest(), _props(environment_kind="production"), "is a test-mode destination"),
    (_dest(enabled_events=["customer.created"]), _props(), "does not send customer.updated"),
    (_dest(event_payload="thin"), _props(), "sends thin events"),
    (_dest(type="webhook_endpoint"), _props(), "is a webhook_endpoint destination"),
])
def test_an_adopted_destination_must_serve_this_stack(dest: dict[str, Any],
                                                      props: dict[str, Any], says: str) -> None:
    [problem] = adopt_problems(dest, props)
    assert says in problem


def test_an_adopted_destination_that_fits_has_no_problem() -> None:
    assert adopt_problems(_dest(enabled_events=[*names.EVENT_TYPES, "invoice.paid"]),
                          _props()) == []


def test_what_changes_a_destination_and_what_replaces_it() -> None:
    stored = {**_props(), **outputs_of(_dest())}
    assert changed_keys(stored, _props()) == ([], [])
    assert changed_keys(stored, _props(api_key="sk_test_rotated")) == (["api_key"], [])
    assert changed_keys(stored, _props(enabled_events=["customer.created"])) == \
        (["enabled_events"], [])
    assert changed_keys(stored, _props(aws_region="eu-west-1"))[1] == ["aws_region"]
    assert changed_keys(stored, _props(mode=ADOPT, adopt_id="ed_x"))[1] == ["mode", "adopt_id"]
    # GIVEN a refresh that found it disabled by hand THEN the next up enables it again
    disabled = {**stored, "status": "disabled"}
    assert changed_keys(disabled, _props()) == (["status"], [])
    # AND an adopted destination's status is not ours to change
    assert changed_keys({**disabled, "mode": ADOPT, "adopt_id": "ed_x"},
                        _props(mode=ADOPT, adopt_id="ed_x")) == ([], [])


def test_check_names_each_bad_input() -> None:
    assert check_failures(_props()) == []
    assert [p for p, _ in check_failures(_props(mode="on", enabled_events=[]))] == \
        ["mode", "enabled_events"]
    assert check_failures(_props(mode=ADOPT))[0][0] == "adopt_id"


def test_the_source_wait_polls_until_it_answers_and_stops_at_its_timeout() -> None:
    now = [0.0]
    answers = iter([None, None, "PENDING"])
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    assert wait_for_source("s", lambda: next(answers), timeout_s=60, clock=lambda: now[0],
                           sleep=sleep) == "PENDING"
    assert slept == [2.0, 2.0]
    now[0], slept[:] = 0.0, []
    assert wait_for_source("s", lambda: None, timeout_s=5, clock=lambda: now[0],
                           sleep=sleep) is None
    assert sum(slept) == 5.0  # never beyond the timeout


# -- the lifecycle against the stand-ins -------------------------------------------------------
@pytest.fixture
def live_props(stripe_api: StripeStandIn, aws: AwsStandIn) -> dict[str, Any]:
    stripe_api.deliver_to(aws.endpoint_url, source_delay_s=0.3)
    return _props(api_key=stripe_api.api_key, api_base=stripe_api.api_base,
                  aws_endpoint_url=aws.endpoint_url)


def _source(aws: AwsStandIn, name: str) -> dict[str, Any] | None:
    events = boto3.client("events", **aws.client_kwargs())
    try:
        return dict(events.describe_event_source(Name=name))
    except events.exceptions.ResourceNotFoundException:
        return None


def test_create_waits_for_the_source_then_refresh_update_and_delete(
        live_props: dict[str, Any], stripe_client: stripe.StripeClient,
        aws: AwsStandIn) -> None:
    provider = StripeEventDestinationProvider()
    service = stripe_client.v2.core.event_destinations
    # WHEN the destination is created
    created = provider.create(live_props)
    dest_id = created.id
    assert dest_id.startswith("ed_test_")
    outs = created.outs
    assert outs is not None
    # THEN its partner source exists in AWS already (the bus can be registered next)
    assert _source(aws, outs["event_source_name"]) is not None
    assert (outs["status"], outs["aws_event_source_status"]) == ("enabled", "pending")
    assert service.retrieve(dest_id).enabled_events == list(names.EVENT_TYPES)
    # AND a refresh after someone disabled it says so, and the next up enables it again
    service.disable(dest_id)
    read = provider.read(dest_id, outs)
    assert read.outs is not None
    assert (read.outs["status"], read.outs["disabled_reason"]) == ("disabled", "user")
    diff = provider.diff(dest_id, read.outs, live_props)
    assert diff.changes and not diff.replaces
    updated = provider.update(dest_id, read.outs, live_props)
    assert updated.outs is not None and updated.outs["status"] == "enabled"
    assert service.retrieve(dest_id).status == "enabled"
    # AND an edited event list is written to the same destination
    fewer = {**live_props, "enabled_events": ["customer.created"]}
    assert provider.update(dest_id, updated.outs, fewer).outs is not None
    assert service.retrieve(dest_id).enabled_events == ["customer.created"]
    # AND delete removes it from Stripe; a refresh then finds it gone
    provider.delete(dest_id, updated.outs)
    with pytest.raises(stripe.InvalidRequestError):
        service.retrieve(dest_id)
    assert provider.read(dest_id, updated.outs).id == ""


def test_a_source_that_never_appears_leaves_nothing_behind(
        live_props: dict[str, Any], stripe_api: StripeStandIn,
        stripe_client: stripe.StripeClient) -> None:
    # GIVEN Stripe never creates the partner source (here: no AWS to create it in)
    stripe_api.deliver_to(None)
    # WHEN the destination is created THEN the wait ends with what to check and do
    with pytest.raises(EventDestinationError) as caught:
        StripeEventDestinationProvider().create({**live_props, "source_timeout_s": 1})
    message = str(caught.value)
    assert message.startswith("Stripe did not create the partner event source aws.partner/")
    assert "within 1 s" in message and "nothing is left behind" in message
    assert message.endswith("then run `pulumi up` again")
    # AND the destination it made is gone: the next up will not make a second one
    assert list(stripe_client.v2.core.event_destinations.list().data) == []


def test_adopt_reads_a_destination_made_elsewhere_and_never_changes_it(
        live_props: dict[str, Any], stripe_client: stripe.StripeClient,
        stripe_api: StripeStandIn) -> None:
    made = create_destination(stripe_client, list(names.EVENT_TYPES))
    stripe_client.v2.core.event_destinations.disable(made.id)
    # GIVEN only a restricted key (reads only)
    restricted = stripe_api.api_key.replace("sk_", "rk_", 1)
    props = {**live_props, "mode": ADOPT, "adopt_id": made.id, "api_key": restricted}
    provider = StripeEventDestinationProvider()
    outs = provider.create(props).outs
    assert outs is not None
    assert (outs["destination_id"], outs["status"]) == (made.id, "disabled")
    # AND an update reads it again, and does not enable it (not ours)
    assert provider.diff(made.id, outs, props).changes is False
    provider.delete(made.id, outs)
    assert stripe_client.v2.core.event_destinations.retrieve(made.id).status == "disabled"


def test_adopting_a_destination_for_another_region_is_refused(
        live_props: dict[str, Any], stripe_client: stripe.StripeClient) -> None:
    made = create_destination(stripe_client, list(names.EVENT_TYPES))
    props = {**live_props, "mode": ADOPT, "adopt_id": made.id, "aws_region": "eu-west-1"}
    with pytest.raises(EventDestinationError, match=r"^cannot adopt the event destination: "
                                                    r".* this stack is 123456789012 in "
                                                    r"eu-west-1"):
        StripeEventDestinationProvider().create(props)


def test_a_refused_key_is_a_clear_error_without_the_key(live_props: dict[str, Any]) -> None:
    restricted = str(live_props["api_key"]).replace("sk_", "rk_", 1)
    with pytest.raises(EventDestinationError) as caught:
        StripeEventDestinationProvider().create({**live_props, "api_key": restricted})
    assert str(caught.value).startswith("Stripe refused creating the event destination "
                                        "(HTTP 403)")
    assert restricted not in str(caught.value)


def test_the_deploy_key_by_arn_is_read_at_apply_time_and_never_stored(
        live_props: dict[str, Any], stripe_api: StripeStandIn, aws: AwsStandIn) -> None:
    arn = boto3.client("secretsmanager", **aws.client_kwargs()).create_secret(
        Name="sfbilling-sandbox/stripe-admin", SecretString=stripe_api.api_key)["ARN"]
    props = {**live_props, "api_key": None, "api_key_arn": arn}
    provider = StripeEventDestinationProvider()
    created = provider.create(props)
    assert created.outs is not None
    assert stripe_api.api_key not in repr(created.outs)
    assert provider.read(created.id, created.outs).outs is not None
    provider.delete(created.id, created.outs)
    with pytest.raises(EventDestinationError, match=r"^no Stripe deploy key: set "):
        provider.create({**live_props, "api_key": None})
