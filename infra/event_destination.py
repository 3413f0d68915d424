"""StripeEventDestination: a Stripe event destination of type `amazon_eventbridge` as a Pulumi
resource (a dynamic provider around Stripe's v2 API), so the same `pulumi up` that builds the
partner event bus creates the partner event source it associates with, and Stripe's 7-day
deadline for that association cannot pass unnoticed.

- create (`eventDestination: create`): POST /v2/core/event_destinations with the stack's AWS
  account and region and exactly the event types the import reads, snapshot payload (the rule's
  input transformer forwards only {id, type, created}: no customer field reaches SQS). Then it
  waits until `events:DescribeEventSource` answers for `aws.partner/stripe.com/<ed_id>`: Stripe
  creates the partner source asynchronously, and the bus registered after this resource needs
  it. If the source does not appear in time the destination is deleted again (no orphan that
  the next `pulumi up` would duplicate) and the message says so.
- adopt (`eventDestination: adopt`): a destination made in the Dashboard, by id. Only read:
  never updated, enabled, disabled or deleted. It must send to this stack's AWS account and
  region, in this environment's mode, every event type the import reads.
- diff / update: a changed name, description or event list is an update; a destination
  disabled outside Pulumi (seen by `pulumi refresh`) is enabled again by the next `pulumi up`;
  another account, region, mode or adopted id is another destination (replace).
- read (`pulumi refresh`): the destination's `status`, why it is disabled, and its
  `aws_event_source_status`; a destination deleted in Stripe is gone from the stack.
- delete: a created destination is deleted in Stripe; an adopted one is left as it is.

The deploy key (`stripeAdminApiKey`) arrives as a secret input and is secret again in the state,
or (`stripeAdminSecretArn`) as a Secrets Manager ARN read at apply time, so neither the stack's
config nor its state holds it; the Lambda never has it. The provider holds nothing between
calls (the engine pickles it by reference: infra/pickled.py). Its I/O is
`infra/stripe_destinations.py` (and `infra/apply_secrets.py`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from infra.apply_secrets import ApplySecretError, secret_value
from infra.stripe_destinations import DestinationApi, DestinationApiError, event_source_state
from sync_lambda import names

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

CREATE, ADOPT = "create", "adopt"
SECRET_INPUTS: Final = ("api_key",)
# Another of these is another destination.
REPLACING: Final = ("mode", "adopt_id", "aws_account_id", "aws_region", "api_base",
                    "environment_kind")
# A change of these is applied to the same destination (a rotated key is stored again).
UPDATING: Final = ("name", "description", "enabled_events", "enabled", "api_key",
                   "api_key_arn", "aws_endpoint_url", "source_timeout_s")
OUTPUTS: Final = ("destination_id", "event_source_name", "event_source_arn", "status",
                  "disabled_reason", "aws_event_source_status", "livemode")
POLL_S: Final = 2.0  # between two DescribeEventSource calls while Stripe creates the source
DEFAULT_SOURCE_TIMEOUT_S: Final = 300


class EventDestinationError(Exception):
    """What stops the resource, in words an operator acts on."""


def _progress(message: str) -> None:
    # stderr: the provider's stdout belongs to the engine's handshake.
    print(f"StripeEventDestination: {message}", file=sys.stderr)  # noqa: T201


# -- pure: what the provider decides -------------------------------------------------------------
def source_name(dest_id: str) -> str:
    """The partner event source (and bus) Stripe names after the destination."""
    return f"{names.STRIPE_PARTNER_SOURCE_PREFIX}{dest_id}"


def create_params(props: Mapping[str, Any]) -> dict[str, Any]:
    """The body of POST /v2/core/event_destinations."""
    return {"name": props["name"], "description": props["description"],
            "type": "amazon_eventbridge", "event_payload": "snapshot",
            "enabled_events": list(props["enabled_events"]),
            "amazon_eventbridge": {"aws_account_id": props["aws_account_id"],
                                   "aws_region": props["aws_region"]},
            "metadata": {"managed_by": "sfbilling"}}


def outputs_of(dest: Mapping[str, Any]) -> dict[str, Any]:
    """What the stack keeps of a destination Stripe returned."""
    eb = dest.get("amazon_eventbridge") or {}
    details = dest.get("status_details") or {}
    disabled = details.get("disabled") or {}
    return {"destination_id": dest["id"], "event_source_name": source_name(dest["id"]),
            "event_source_arn": eb.get("aws_event_source_arn"), "status": dest.get("status"),
            "disabled_reason": disabled.get("reason"),
            "aws_event_source_status": eb.get("aws_event_source_status"),
            "livemode": bool(dest.get("livemode"))}


def adopt_problems(dest: Mapping[str, Any], props: Mapping[str, Any]) -> list[str]:
    """Why a destination made elsewhere cannot serve this stack (empty: it can)."""
    problems = []
    dest_id = dest.get("id")
    if dest.get("type") != "amazon_eventbridge":
        problems.append(f"{dest_id} is a {dest.get('type')} destination, not "
                        "amazon_eventbridge")
        return problems
    arn = str((dest.get("amazon_eventbridge") or {}).get("aws_event_source_arn") or "")
    parts = arn.split(":")
    region = parts[3] if len(parts) > 3 else ""
    account = str((dest.get("amazon_eventbridge") or {}).get("aws_account_id") or "")
    if (account and account != props["aws_account_id"]) or region != props["aws_region"]:
        problems.append(f"{dest_id} sends to AWS account {account or '?'} in {region or '?'}, "
                        f"this stack is {props['aws_account_id']} in {props['aws_region']}")
    live = bool(dest.get("livemode"))
    if live != (props["environment_kind"] == "production"):
        problems.append(f"{dest_id} is a {'live' if live else 'test'}-mode destination and "
                        f"this is a {props['environment_kind']} stack")
    missing = [t for t in props["enabled_events"] if t not in (dest.get("enabled_events") or [])]
    if missing:
        problems.append(f"{dest_id} does not send {', '.join(missing)}: add them to it in the "
                        "Dashboard (Workbench → Event destinations), or let the stack create "
                        "its own (eventDestination: create)")
    if dest.get("event_payload") not in (None, "snapshot"):
        problems.append(f"{dest_id} sends {dest.get('event_payload')} events; the rule's input "
                        "transformer reads snapshot events")
    return problems


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(every input that changed, those that make another destination). A created destination
    found disabled by `pulumi refresh` is a change too: the next `pulumi up` enables it."""
    changed = [k for k in (*REPLACING, *UPDATING) if olds.get(k) != news.get(k)]
    if news.get("mode") == CREATE and olds.get("status") is not None \
            and (olds.get("status") == "enabled") != bool(news.get("enabled")):
        changed.append("status")
    return changed, [k for k in REPLACING if k in changed]


def check_failures(news: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The inputs' own problems, before any call."""
    failures = []
    if news.get("mode") not in (CREATE, ADOPT):
        failures.append(("mode", f"mode is create or adopt, got {news.get('mode')!r}"))
    if news.get("mode") == ADOPT and not news.get("adopt_id"):
        failures.append(("adopt_id", "adopt needs the destination's id (ed_…)"))
    if not news.get("enabled_events"):
        failures.append(("enabled_events", "at least one event type"))
    return failures


def wait_for_source(name: str, state: Callable[[], str | None], *, timeout_s: float,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Poll until the partner event source answers: its state, or None at the timeout."""
    deadline = clock() + timeout_s
    while True:
        found = state()
        if found is not None:
            return found
        if clock() >= deadline:
            return None
        _progress(f"waiting for Stripe to create the partner event source {name}")
        sleep(min(POLL_S, max(0.0, deadline - clock())))


# -- the provider: the calls around those decisions ----------------------------------------------
def _api(props: Mapping[str, Any]) -> DestinationApi:
    """Stripe with the deploy key: the secret input, or the secret `api_key_arn` names, read
    now (apply time)."""
    key = props.get("api_key")
    if not key and props.get("api_key_arn"):
        try:
            key = secret_value(str(props["api_key_arn"]),
                               endpoint_url=props.get("aws_endpoint_url"))
        except ApplySecretError as exc:
            raise EventDestinationError(f"the Stripe deploy key: {exc}") from None
    if not key:
        raise EventDestinationError("no Stripe deploy key: set sfbilling:stripeAdminApiKey or "
                                    "sfbilling:stripeAdminSecretArn")
    return DestinationApi(str(key), props.get("api_base"))


def _source_state(props: Mapping[str, Any], name: str) -> Callable[[], str | None]:
    return lambda: event_source_state(name, region=str(props["aws_region"]),
                                      endpoint_url=props.get("aws_endpoint_url"))


def _adopted(api: DestinationApi, props: Mapping[str, Any]) -> dict[str, Any]:
    dest = api.retrieve(str(props["adopt_id"]))
    problems = adopt_problems(dest, props)
    if problems:
        raise EventDestinationError("cannot adopt the event destination: " + "; ".join(problems))
    if dest.get("status") != "enabled":
        _progress(f"adopted {dest['id']} is {dest.get('status')} "
                  f"({outputs_of(dest)['disabled_reason']}): enable it in the Dashboard; the "
                  "schedule keeps the import going meanwhile")
    return dest


def _create(props: Mapping[str, Any]) -> dict[str, Any]:
    api = _api(props)
    if props["mode"] == ADOPT:
        dest = _adopted(api, props)
    else:
        dest = api.create(create_params(props))
        _progress(f"created {dest['id']}")
        if not props.get("enabled", True):
            dest = api.set_enabled(dest["id"], enabled=False)
    name = source_name(dest["id"])
    timeout = float(props.get("source_timeout_s") or DEFAULT_SOURCE_TIMEOUT_S)
    state = wait_for_source(name, _source_state(props, name), timeout_s=timeout)
    if state is None:
        if props["mode"] == CREATE:
            api.delete(dest["id"])
            raise EventDestinationError(
                f"Stripe did not create the partner event source {name} in AWS account "
                f"{props['aws_account_id']} ({props['aws_region']}) within {timeout:.0f} s; "
                f"destination {dest['id']} was deleted again, nothing is left behind. Check "
                "that Workbench is on in the Stripe account, then run `pulumi up` again")
        raise EventDestinationError(
            f"the partner event source {name} does not exist in AWS account "
            f"{props['aws_account_id']} ({props['aws_region']}): a source not associated "
            "within 7 days is deleted and its destination disabled; create a new destination "
            "(eventDestination: create), or make one in the Dashboard and adopt it")
    _progress(f"partner event source {name} is {state}")
    return {**props, **outputs_of(api.retrieve(dest["id"]))}


def _update(dest_id: str, olds: Mapping[str, Any],
            news: Mapping[str, Any]) -> dict[str, Any]:
    api = _api(news)
    if news["mode"] == ADOPT:
        return {**news, **outputs_of(_adopted(api, news))}
    edits = {k: list(news[k]) if k == "enabled_events" else news[k]
             for k in ("name", "description", "enabled_events") if olds.get(k) != news.get(k)}
    dest = api.update(dest_id, edits) if edits else api.retrieve(dest_id)
    wanted = bool(news.get("enabled", True))
    if (dest.get("status") == "enabled") != wanted:
        _progress(f"{dest_id} is {dest.get('status')}: {'enabling' if wanted else 'disabling'}")
        dest = api.set_enabled(dest_id, enabled=wanted)
    return {**news, **outputs_of(dest)}


class StripeEventDestinationProvider(ResourceProvider):
    """The dynamic provider. Stateless: every method builds what it needs from its props."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [CheckFailure(p, r) for p, r in check_failures(news)])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """`olds` are the stored outputs: the inputs of the last apply, plus its outputs."""
        changed, replaces = changed_keys(olds, news)
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        try:
            outs = _create(props)
        except DestinationApiError as exc:
            raise EventDestinationError(str(exc)) from None
        return CreateResult(id_=outs["destination_id"], outs=outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Full outputs every time: an UpdateResult without them empties the state.
        try:
            return UpdateResult(outs=_update(id_, olds, news))
        except DestinationApiError as exc:
            raise EventDestinationError(str(exc)) from None

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the destination as Stripe has it now; gone when Stripe no longer has it."""
        try:
            dest = _api(props).retrieve(id_)
        except DestinationApiError as exc:
            if "(HTTP 404)" in str(exc):
                _progress(f"{id_} no longer exists in Stripe")
                return ReadResult(id_="", outs={})
            raise EventDestinationError(str(exc)) from None
        return ReadResult(id_=id_, outs={**props, **outputs_of(dest)})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """A created destination is deleted; an adopted one is not ours to delete. Deleting
        the bus returns the partner source to Pending, and it later expires (docs/deploy.md)."""
        if props.get("mode") == ADOPT:
            _progress(f"{id_} was adopted: left as it is in Stripe")
            return
        try:
            _api(props).delete(id_)
        except DestinationApiError as exc:
            raise EventDestinationError(str(exc)) from None
        _progress(f"deleted {id_}")


@dataclass(frozen=True, slots=True)
class StripeEventDestinationArgs:
    """One environment's destination."""

    mode: str  # create or adopt
    adopt_id: str | None  # adopt: the destination's id
    api_key: pulumi.Input[str] | None  # stripeAdminApiKey, a secret Output
    api_key_arn: str | None  # or stripeAdminSecretArn: read at apply time
    api_base: str | None  # stripeApiBase (the stand-in)
    aws_account_id: pulumi.Input[str]
    aws_region: str
    aws_endpoint_url: str | None  # awsEndpointUrl (the stand-in)
    name: str
    description: str
    environment_kind: str
    enabled_events: Sequence[str] = names.EVENT_TYPES
    enabled: bool = True
    source_timeout_s: int = DEFAULT_SOURCE_TIMEOUT_S


def inputs_of(args: StripeEventDestinationArgs) -> dict[str, Any]:
    """The resource's inputs (the key as given: a secret Output)."""
    return {"mode": args.mode, "adopt_id": args.adopt_id, "api_key": args.api_key,
            "api_key_arn": args.api_key_arn,
            "api_base": args.api_base, "aws_account_id": args.aws_account_id,
            "aws_region": args.aws_region, "aws_endpoint_url": args.aws_endpoint_url,
            "name": args.name, "description": args.description,
            "environment_kind": args.environment_kind,
            "enabled_events": list(args.enabled_events), "enabled": args.enabled,
            "source_timeout_s": args.source_timeout_s, **dict.fromkeys(OUTPUTS)}


class StripeEventDestination(pulumi.dynamic.Resource, module="stripe",
                             name="EventDestination"):
    """The Stripe event destination of one environment."""

    destination_id: pulumi.Output[str]
    event_source_name: pulumi.Output[str]
    event_source_arn: pulumi.Output[str]
    status: pulumi.Output[str]
    aws_event_source_status: pulumi.Output[str]

    def __init__(self, name: str, args: StripeEventDestinationArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_INPUTS))
        super().__init__(StripeEventDestinationProvider(), name, inputs_of(args),
                         pulumi.ResourceOptions.merge(opts, secret))
