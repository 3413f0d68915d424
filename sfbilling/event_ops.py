"""Day 2 of the near-real-time path: find a deployed environment's event path (by the names the
Pulumi program gives it, never from `pulumi stack output`), read the state of its pieces for
`sfbilling doctor`, and ping it end to end for `sfbilling events ping`.

The partner bus is the one whose rule is named `<prefix>-stripe-events`; its name holds the
destination's id (`aws.partner/stripe.com/ed_…`). Stripe's side is read with the deploy key,
which only the operator holds: `STRIPE_ADMIN_API_KEY` (the stand-ins' own key for `local`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.stripe_destinations import DestinationApi, DestinationApiError, event_source_state
from sfbilling.day2 import store
from stackconfig.errors import StackConfigError
from sync_lambda import names
from sync_lambda.errors import UnreachableError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sfbilling.day2 import Deployed

ADMIN_KEY_VAR: Final = "STRIPE_ADMIN_API_KEY"
PING_TIMEOUT_S: Final = 120.0
PING_POLL_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class EventPathFound:
    """One environment's deployed event path, as AWS shows it."""

    destination_id: str
    bus: str
    source_state: str | None  # PENDING, ACTIVE, DELETED; None: the partner source is gone
    mapping_state: str | None  # Lambda's: Enabled, Disabled, Creating, …; None: no mapping


def _events(target: Deployed) -> Any:
    return boto3.client("events", region_name=target.region, endpoint_url=target.endpoint_url)


def _lambda(target: Deployed) -> Any:
    return boto3.client("lambda", region_name=target.region, endpoint_url=target.endpoint_url)


def require_events(target: Deployed) -> str:
    """The stack's eventDestination mode (StackConfigError when it is off)."""
    mode = str(target.stack["eventDestination"])
    if mode == "off":
        raise StackConfigError(target.stack.source, [
            "sfbilling:eventDestination is off: Stripe's events do not reach this "
            "environment (docs/deploy.md, \"Stripe's events\", says how to turn them on)"])
    return mode


def find(target: Deployed) -> EventPathFound:
    """The partner bus carrying this stack's rule, and the state of its source and mapping."""
    events = _events(target)
    rule = target.stack.events_rule_name
    try:
        buses = [b["Name"] for b in events.list_event_buses(
            NamePrefix=names.STRIPE_PARTNER_SOURCE_PREFIX).get("EventBuses", [])]
        bus = next((b for b in buses if _has_rule(events, b, rule)), None)
    except (ClientError, BotoCoreError) as exc:
        raise UnreachableError(f"AWS: listing the partner event buses in {target.region}: "
                               f"{exc}") from None
    if bus is None:
        raise UnreachableError(
            f"AWS: no partner event bus in {target.region} carries the rule {rule}: run "
            f"`pulumi up` for {target.env} with eventDestination on (or check aws:region and "
            "resourcePrefix)")
    dest_id = bus.removeprefix(names.STRIPE_PARTNER_SOURCE_PREFIX)
    try:
        source = event_source_state(bus, region=target.region, endpoint_url=target.endpoint_url)
    except DestinationApiError as exc:
        raise UnreachableError(str(exc)) from None
    return EventPathFound(dest_id, bus, source, _mapping_state(target))


def _has_rule(events: Any, bus: str, rule: str) -> bool:
    try:
        events.describe_rule(Name=rule, EventBusName=bus)
    except events.exceptions.ResourceNotFoundException:
        return False
    return True


def _mapping_state(target: Deployed) -> str | None:
    queue = target.stack.events_queue_name
    try:
        mappings = _lambda(target).list_event_source_mappings(
            FunctionName=target.function).get("EventSourceMappings", [])
    except (ClientError, BotoCoreError):
        return None
    found = [m for m in mappings if str(m.get("EventSourceArn", "")).endswith(f":{queue}")]
    return str(found[0].get("State")) if found else None


def admin_api(target: Deployed, environ: Mapping[str, str]) -> DestinationApi:
    """Stripe's event destinations with the operator's deploy key (StackConfigError naming the
    variable to set when it is not there)."""
    key = environ.get(ADMIN_KEY_VAR) or (
        str(target.local["stripe"]["api_key"]) if target.local else None)
    if not key:
        raise StackConfigError(target.stack.source, [
            f"{ADMIN_KEY_VAR} is not set: Stripe's side of the event path is read with the "
            f"deploy key: `export {ADMIN_KEY_VAR}=$(pulumi config get --stack {target.env} "
            "sfbilling:stripeAdminApiKey)`"])
    return DestinationApi(key, target.settings.stripe_api_base)


def destination(api: DestinationApi, dest_id: str) -> dict[str, Any]:
    """What Stripe says of the destination: status, why disabled, the source as it sees it."""
    try:
        dest = api.retrieve(dest_id)
    except DestinationApiError as exc:
        raise UnreachableError(str(exc)) from None
    eb = dest.get("amazon_eventbridge") or {}
    reason = ((dest.get("status_details") or {}).get("disabled") or {}).get("reason")
    return {"id": dest_id, "status": dest.get("status"), "disabled_reason": reason,
            "aws_event_source_status": eb.get("aws_event_source_status"),
            "enabled_events": list(dest.get("enabled_events") or [])}


def ping(target: Deployed, found: EventPathFound, api: DestinationApi, *,
         timeout_s: float = PING_TIMEOUT_S, progress: Callable[[str], None] = lambda _m: None,
         clock: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Ask Stripe to ping the destination, then wait until the function records an event
    received after the ping was sent (the whole path: Stripe → EventBridge → rule → SQS →
    mapping → function → state table). UnreachableError when it does not arrive in time."""
    state = store(target)
    sent = clock()
    try:
        api.ping(found.destination_id)
    except DestinationApiError as exc:
        raise UnreachableError(str(exc)) from None
    progress(f"pinged {found.destination_id}; waiting for the function to receive it "
             f"(up to {timeout_s:.0f} s)")
    # The state records whole seconds: an event in the second of the ping counts.
    while True:
        received = state.last_event_received()
        if received is not None and received >= int(sent):
            return {"env": target.env, "destination_id": found.destination_id,
                    "received": True, "seconds": round(max(0.0, clock() - sent), 1)}
        if clock() - sent >= timeout_s:
            break
        sleep(PING_POLL_S)
    raise UnreachableError(
        f"the ping sent to {found.destination_id} did not reach {target.function} within "
        f"{timeout_s:.0f} s: `sfbilling doctor --env {target.env}` shows which piece is off "
        "(a disabled destination, a partner source not ACTIVE, a disabled mapping: "
        "importEnabled false)")


def checks(found: EventPathFound, dest: Mapping[str, Any] | None, *,
           import_enabled: bool) -> list[dict[str, Any]]:
    """Doctor's findings on the path: (ok, warning, what, fix) as the org checks have them."""
    out = []
    state = found.source_state
    out.append({"ok": state == "ACTIVE", "warning": False,
                "what": f"partner event source {found.bus}: {state or 'does not exist'}",
                "fix": None if state == "ACTIVE" else
                "`pulumi up` associates it (the partner bus); a source left Pending 7 days is "
                "deleted and the destination disabled: create a new one"})
    if dest is None:
        out.append({"ok": False, "warning": True,
                    "what": f"destination {found.destination_id}: not read",
                    "fix": f"set {ADMIN_KEY_VAR} to read its status"})
    else:
        enabled = dest["status"] == "enabled"
        missing = [t for t in names.EVENT_TYPES if t not in dest["enabled_events"]]
        out.append({"ok": enabled, "warning": False,
                    "what": f"destination {found.destination_id}: {dest['status']}"
                            + (f" ({dest['disabled_reason']})" if dest["disabled_reason"]
                               else ""),
                    "fix": None if enabled else
                    "`pulumi up` enables a destination the stack created; enable an adopted "
                    "one in the Dashboard. Meanwhile the schedule carries the import"})
        out.append({"ok": not missing, "warning": False,
                    "what": "destination sends every event type the import reads"
                            + (f" (missing {', '.join(missing)})" if missing else ""),
                    "fix": None if not missing else "`pulumi up` (create) or the Dashboard "
                                                    "(adopt)"})
    wanted = "Enabled" if import_enabled else "Disabled"
    out.append({"ok": found.mapping_state == wanted, "warning": not import_enabled,
                "what": f"queue → function mapping: {found.mapping_state or 'none'} "
                        f"(importEnabled {str(import_enabled).lower()})",
                "fix": None if found.mapping_state == wanted else
                "`pulumi up` sets it from importEnabled"})
    return out
