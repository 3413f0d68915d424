"""Stripe's v2 event destinations (`/v2/core/event_destinations`), for the `amazon_eventbridge`
type, with delivery to the AWS stand-in (moto) as Stripe delivers to Amazon EventBridge.

- create, retrieve, list, update, enable, disable, delete and ping, with the v2 response shapes
  (stripe-python's `v2.core.EventDestination`) and v2 errors;
- on create, the partner event source `aws.partner/stripe.com/ed_test_…` appears in the given
  AWS account a little later (Stripe creates it asynchronously: `source_delay_s`), through
  moto's partner API (`CreatePartnerEventSource`);
- every event the stand-in creates whose type the destination enables, and every ping, is put
  on the bus named after the source (`PutEvents`, `detail-type` = the event's type, `detail` =
  the event, `source` = the source's name), while the destination is enabled. A source without
  a bus drops the event, as AWS does.
- writes need a secret key: the permission a restricted key would need is not documented, so
  the stand-in refuses `rk_` keys for writes (reads are allowed), the stricter reading.

Known gaps (docs/stand-ins.md): moto marks a partner source ACTIVE at once (AWS: PENDING until a
bus is associated) and never expires it; moto's PutEvents accepts an `aws.partner/…` source,
which AWS reserves for partners; thin payloads are not rendered (snapshot only).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

PREFIX = "/v2/core/event_destinations"
SOURCE_PREFIX = "aws.partner/stripe.com/"
PING = "v2.core.event_destination.ping"
TYPES = ("amazon_eventbridge", "azure_event_grid", "webhook_endpoint")
PAYLOADS = ("snapshot", "thin")
# What the stand-in knows of the AWS stand-in: set by `configure` (devenv.local / tests).
_aws: dict[str, Any] = {"endpoint_url": None, "region": "us-east-1", "source_delay_s": 0.5}
_destinations: dict[str, dict[str, Any]] = {}
_tasks: set[asyncio.Task[None]] = set()


def reset() -> None:
    """Forget every destination (the stand-in's data reset)."""
    _destinations.clear()


def configure(endpoint_url: str | None, *, region: str = "us-east-1",
              source_delay_s: float = 0.5) -> None:
    """Where the AWS stand-in answers, and how long Stripe takes to create a partner source."""
    _aws.update(endpoint_url=endpoint_url, region=region, source_delay_s=source_delay_s)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "api_error"
    return web.json_response({"error": {"type": kind, "code": code, "message": message}},
                             status=status)


def _missing(dest_id: str) -> web.Response:
    return _error(404, "resource_missing", f"No such event destination: '{dest_id}'")


def refusal(request: web.Request) -> web.Response | None:
    """The middleware's check, before it maps restricted keys onto localstripe's secret ones:
    a key is needed, and writes need a secret key."""
    if not request.path.startswith(PREFIX):
        return None
    auth = request.headers.get("Authorization", "")
    if not auth.startswith(("Bearer sk_test_", "Bearer rk_test_")):
        return _error(401, "unauthorized", "You did not provide a valid test API key.")
    if request.method != "GET" and auth.startswith("Bearer rk_"):
        return _error(403, "insufficient_permissions",
                      "The provided key does not have the required permissions for this "
                      "endpoint. Use a secret key to manage event destinations.")
    return None


def _spawn(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _region(dest: dict[str, Any]) -> str:
    """The AWS region the destination names (Stripe creates its source there)."""
    return str(dest["amazon_eventbridge"]["aws_event_source_arn"].split(":")[3])


async def _aws_call(target: str, body: dict[str, Any], region: str | None = None,
                    ) -> dict[str, Any] | None:
    """One EventBridge JSON call to moto in `region` (moto accepts any signature and reads the
    region from the credential scope)."""
    region = region or _aws["region"]
    url = _aws["endpoint_url"]
    if not url:
        return None
    day = time.strftime("%Y%m%d", time.gmtime())
    headers = {"X-Amz-Target": f"AWSEvents.{target}",
               "Content-Type": "application/x-amz-json-1.1",
               "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/{day}/{region}/"
                                "events/aws4_request, SignedHeaders=host, Signature=0"}
    async with aiohttp.ClientSession() as session, \
            session.post(url, data=json.dumps(body), headers=headers) as r:
        text = await r.text()
        return json.loads(text) if r.status == 200 and text else None


async def _create_source(dest: dict[str, Any]) -> None:
    await asyncio.sleep(_aws["source_delay_s"])
    if dest["id"] not in _destinations:
        return
    eb = dest["amazon_eventbridge"]
    await _aws_call("CreatePartnerEventSource", {
        "Name": SOURCE_PREFIX + dest["id"], "Account": eb["aws_account_id"]}, _region(dest))
    eb["aws_event_source_status"] = "pending"


async def _refresh_source_status(dest: dict[str, Any]) -> None:
    """What AWS reports of the partner source, as Stripe shows it: active once a bus is
    associated with it, pending before."""
    eb = dest["amazon_eventbridge"]
    if eb["aws_event_source_status"] == "unknown":
        return  # not created yet
    bus = await _aws_call("DescribeEventBus", {"Name": SOURCE_PREFIX + dest["id"]},
                          _region(dest))
    eb["aws_event_source_status"] = "active" if bus else "pending"


async def _put(dest: dict[str, Any], detail_type: str, detail: dict[str, Any]) -> None:
    name = SOURCE_PREFIX + dest["id"]
    await _aws_call("PutEvents", {"Entries": [{
        "Source": name, "EventBusName": name, "DetailType": detail_type,
        "Detail": json.dumps(detail)}]}, _region(dest))


def deliver(event: dict[str, Any]) -> None:
    """Put one v1 event (as exported) on every enabled destination that wants its type."""
    for dest in list(_destinations.values()):
        if dest["status"] == "enabled" and event.get("type") in dest["enabled_events"] and \
                dest["type"] == "amazon_eventbridge":
            _spawn(_put(dest, str(event["type"]), event))


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()  # (cached: a middleware may have read it already)
    data = json.loads(raw) if raw.strip() else {}
    return data if isinstance(data, dict) else {}


def _check_create(data: dict[str, Any]) -> str | None:
    for field in ("name", "enabled_events", "event_payload", "type"):
        if field not in data:
            return f"Missing required param: {field}."
    if data["type"] not in TYPES:
        return f"Invalid type: {data['type']!r}."
    if data["event_payload"] not in PAYLOADS:
        return f"Invalid event_payload: {data['event_payload']!r}."
    if data["event_payload"] == "thin":
        return "The stand-in renders snapshot events only (docs/stand-ins.md)."
    if not isinstance(data["enabled_events"], list) or not data["enabled_events"]:
        return "enabled_events must be a non-empty list of event types."
    if data["type"] == "amazon_eventbridge":
        eb = data.get("amazon_eventbridge") or {}
        if not eb.get("aws_account_id") or not eb.get("aws_region"):
            return "amazon_eventbridge.aws_account_id and aws_region are required."
        if not str(eb["aws_account_id"]).isdigit() or len(str(eb["aws_account_id"])) != 12:
            return "amazon_eventbridge.aws_account_id must be a 12-digit AWS account id."
    else:
        return f"The stand-in implements amazon_eventbridge destinations only, not {data['type']}."
    return None


async def create(request: web.Request) -> web.Response:
    """POST /v2/core/event_destinations."""
    data = await _body(request)
    problem = _check_create(data)
    if problem:
        return _error(400, "invalid_request", problem)
    dest_id = "ed_test_" + secrets.token_hex(12)
    eb = data["amazon_eventbridge"]
    now = _now()
    dest = {
        "id": dest_id, "object": "v2.core.event_destination", "name": data["name"],
        "description": data.get("description", ""), "type": "amazon_eventbridge",
        "enabled_events": list(data["enabled_events"]), "event_payload": data["event_payload"],
        "events_from": data.get("events_from", ["@self"]),
        "snapshot_api_version": data.get("snapshot_api_version"),
        "metadata": data.get("metadata") or {}, "livemode": False, "status": "enabled",
        "status_details": None, "created": now, "updated": now,
        "amazon_eventbridge": {
            "aws_account_id": str(eb["aws_account_id"]),
            "aws_event_source_arn": f"arn:aws:events:{eb['aws_region']}::event-source/"
                                    f"{SOURCE_PREFIX}{dest_id}",
            "aws_event_source_status": "unknown"},
        "azure_event_grid": None, "webhook_endpoint": None,
    }
    _destinations[dest_id] = dest
    _spawn(_create_source(dest))
    return web.json_response(dest)


async def one(request: web.Request) -> web.Response:
    """GET, POST (update) and DELETE /v2/core/event_destinations/:id."""
    dest_id = request.match_info["id"]
    dest = _destinations.get(dest_id)
    if dest is None:
        return _missing(dest_id)
    if request.method == "GET":
        await _refresh_source_status(dest)
    if request.method == "DELETE":
        del _destinations[dest_id]
        return web.json_response({"id": dest_id, "object": "v2.core.event_destination",
                                  "deleted": True})
    if request.method == "POST":
        data = await _body(request)
        unknown = set(data) - {"name", "description", "enabled_events", "metadata", "include",
                               "webhook_endpoint"}
        if unknown:
            return _error(400, "invalid_request",
                          f"Received unknown parameter: {sorted(unknown)[0]}")
        for key in ("name", "description", "enabled_events"):
            if key in data:
                dest[key] = data[key]
        if "metadata" in data:
            dest["metadata"] = {**dest["metadata"], **(data["metadata"] or {})}
        dest["updated"] = _now()
    return web.json_response(dest)


async def action(request: web.Request) -> web.Response:
    """POST /v2/core/event_destinations/:id/{enable,disable,ping}."""
    dest_id, verb = request.match_info["id"], request.match_info["verb"]
    dest = _destinations.get(dest_id)
    if dest is None:
        return _missing(dest_id)
    if verb == "enable":
        dest["status"], dest["status_details"] = "enabled", None
    elif verb == "disable":
        dest["status"], dest["status_details"] = "disabled", {"disabled": {"reason": "user"}}
    elif verb == "ping":
        event = {"id": "evt_test_" + secrets.token_hex(12), "object": "v2.core.event",
                 "type": PING, "created": _now(), "livemode": False,
                 "related_object": {"id": dest_id, "type": "v2.core.event_destination",
                                    "url": f"{PREFIX}/{dest_id}"}}
        if dest["status"] == "enabled":
            _spawn(_put(dest, PING, event))
        return web.json_response(event)
    else:
        return _error(404, "not_found", f"Unrecognized request URL (POST: {request.path})")
    dest["updated"] = _now()
    return web.json_response(dest)


async def listing(request: web.Request) -> web.Response:
    """GET /v2/core/event_destinations (v2 lists: `data` and `next_page_url`)."""
    limit = int(request.query.get("limit", "20"))
    data = list(_destinations.values())[:limit]
    return web.json_response({"data": data, "next_page_url": None, "previous_page_url": None})


async def config(request: web.Request) -> web.Response:
    """POST /_config/aws: where the AWS stand-in answers (endpoint_url, region,
    source_delay_s)."""
    data = await _body(request)
    configure(data.get("endpoint_url"), region=data.get("region", "us-east-1"),
              source_delay_s=float(data.get("source_delay_s", 0.5)))
    return web.json_response(_aws)


def add_routes(app: web.Application) -> None:
    """Route the v2 event destination endpoints (the middleware checks keys: `refusal`)."""
    app.router.add_get(PREFIX, listing)
    app.router.add_post(PREFIX, create)
    app.router.add_route("*", PREFIX + "/{id}", one)
    app.router.add_post(PREFIX + "/{id}/{verb}", action)
    app.router.add_post("/_config/aws", config)
