"""Run localstripe (with our extensions, faults and stats) on 127.0.0.1.

    python -m devenv.stripe --port 0 --json endpoints.json

prints one JSON line `{"api_base": ..., "api_key": ..., "port": ...}` once it listens.
Control routes (no API key needed, like localstripe's own /_config routes):
    DELETE /_config/data      forget every object
    GET/PUT/DELETE /_config/faults
    GET/DELETE /_config/stats
    POST /_config/seed        many customers with cards in one call (benchmarks, demos)
    POST /_config/history     past `customer.updated` events of existing customers (backlogs)
    GET/PUT /_config/limits   Stripe's rate limits, enforced with 429s: {"global_per_s",
                              "endpoint_per_s"} (test mode: 25 and 25); GET adds the 429s so far
    POST /_config/live_mode   {"customers": [...]}: ids that exist in live mode only (a sandbox
                              refreshed from production links them); a test key reading one gets
                              Stripe's own 404 saying so
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from devenv.stripe import destinations, extensions
from devenv.stripe.faults import FaultConfigError, Stats, StripeFaults
from devenv.stripe.limits import RateLimits

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

TEST_KEY = "sk_test_sfbilling_local"
_ID_SEGMENT = re.compile(r"/(cus|pm|evt|card|src|seti|pi|in|sub)_[A-Za-z0-9_]+")
_deleted_customers: set[str] = set()
# Customer ids of the live mode, seen by this (test-mode) account as Stripe sees them.
_live_mode_customers: set[str] = set()
_state: dict[str, Any] = {"faults": StripeFaults(), "stats": Stats(), "limits": RateLimits()}
RATE_LIMITED = ("Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.")


def route_name(method: str, path: str) -> str:
    """`GET /v1/customers/{id}`-style name used for per-route counters."""
    return f"{method} {_ID_SEGMENT.sub(lambda m: '/{' + m.group(1) + '}', path)}"


def _error(status: int, message: str, kind: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, **extra}},
                             status=status)


@web.middleware
async def standin_middleware(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
    """Count, fault, and patch the few response shapes where localstripe differs from Stripe."""
    path = request.path
    if path == "/_config/data" and request.method == "DELETE":
        _reset_own_state()
    if path.startswith("/_config/"):
        return await handler(request)
    faults: StripeFaults = _state["faults"]
    stats: Stats = _state["stats"]
    route = route_name(request.method, path)
    stats.count(route)
    if path.startswith("/v1/"):
        limits: RateLimits = _state["limits"]
        if limits.admit(route, time.monotonic()) is not None:
            # Stripe's 429: the error type and code stripe-python maps to RateLimitError; Stripe
            # sends no Retry-After or rate-limit headers.
            stats.rate_limited += 1
            return _error(429, RATE_LIMITED, "invalid_request_error", code="rate_limit",
                          doc_url="https://stripe.com/docs/error-codes/rate-limit")
    if faults.applies(path):
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.rate_limited():
            stats.rate_limited += 1
            return _error(429, "Too many requests hit the API too quickly. We recommend an "
                          "exponential backoff of your requests.", "invalid_request_error",
                          code="rate_limit")
        status = faults.error()
        if status is not None:
            stats.errors += 1
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return web.json_response({"error": faults.error_body(status, path, key)},
                                     status=status)
    limit = request.query.get("limit")
    if request.method == "GET" and limit is not None and (
            not limit.isdigit() or not 1 <= int(limit) <= 100):
        return _error(400, "This value must be greater than or equal to 1 and less than or "
                      f"equal to 100 (it currently is '{limit}').", "invalid_request_error",
                      param="limit")
    refused = destinations.refusal(request)
    if refused is not None:
        return refused
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer rk_"):
        # Stripe takes restricted keys wherever secret keys go; localstripe knows only sk_.
        request = request.clone(headers={**request.headers,
                                         "Authorization": "Bearer sk_" + auth[len("Bearer rk_"):]})
    m = re.fullmatch(r"/v1/customers/(cus_\w+)", path)
    asked = m.group(1) if m else request.query.get("customer") \
        if path == "/v1/payment_methods" else None
    if asked in _live_mode_customers and request.method == "GET":
        # Stripe's answer to a test key asking for an object of the live mode.
        return _error(404, f"No such customer: '{asked}'; a similar object exists in live "
                      "mode, but a test mode key was used to make this request.",
                      "invalid_request_error", code="resource_missing",
                      param="id" if m else "customer")
    response = await handler(request)
    if m and response.status == 200 and request.method == "DELETE":
        _deleted_customers.add(m.group(1))
    if m and response.status == 404 and request.method == "GET" and m.group(1) in \
            _deleted_customers:
        # Stripe keeps answering for a deleted customer with a stub marked deleted.
        return web.json_response({"id": m.group(1), "object": "customer", "deleted": True})
    if response.status == 404 and isinstance(response, web.Response) and \
            response.content_type == "application/json":
        body = json.loads(response.text or "{}")
        err = body.get("error", {})
        if "code" not in err:
            err["code"] = "resource_missing"
            return web.json_response(body, status=404)
    return response


async def _faults(request: web.Request) -> web.Response:
    if request.method == "PUT":
        try:
            _state["faults"] = StripeFaults.from_json(await request.json())
        except (FaultConfigError, ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
    elif request.method == "DELETE":
        _state["faults"] = StripeFaults()
    return web.json_response(_state["faults"].to_json())


async def _seed(request: web.Request) -> web.Response:
    """Create many customers with cards in one call (benchmarks and demos; not a Stripe API).

    Body: {"customers": [{"name", "email", "metadata", "cards": [number, ...], "default": i}]}.
    Objects and their events are made by localstripe's own code, as the API would make them.
    """
    body = await request.json()
    made = extensions.seed_customers(body.get("customers", []))
    return web.json_response({"customers": made})


async def _history(request: web.Request) -> web.Response:
    """Events Stripe would have emitted in the past (a backlog for tests; not a Stripe API).

    Body: {"events": [{"customer": "cus_…", "created": epoch seconds}]}: one `customer.updated`
    event per entry, carrying the customer as it is now, stamped `created`.
    """
    body = await request.json()
    try:
        made = extensions.seed_history(body.get("events", []))
    except KeyError as exc:
        return web.json_response({"error": f"no such customer: {exc}"}, status=400)
    return web.json_response({"events": made})


async def _limits(request: web.Request) -> web.Response:
    if request.method == "PUT":
        try:
            new = RateLimits.from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        _state["limits"].set(global_per_s=new.global_per_s, endpoint_per_s=new.endpoint_per_s)
    return web.json_response(_state["limits"].to_json())


async def _live_mode(request: web.Request) -> web.Response:
    body = await request.json()
    _live_mode_customers.update(str(c) for c in body.get("customers", []))
    return web.json_response({"customers": sorted(_live_mode_customers)})


async def _stats(request: web.Request) -> web.Response:
    body = _state["stats"].to_json()
    if request.method == "DELETE":  # answer with what was counted, then start over
        _state["stats"] = Stats()
    return web.json_response(body)


def _reset_own_state() -> None:
    _deleted_customers.clear()
    _live_mode_customers.clear()
    _state["stats"] = Stats()
    _state["faults"] = StripeFaults()
    _state["limits"] = RateLimits()
    destinations.reset()


def build_app() -> web.Application:
    """localstripe's aiohttp app with the extensions and our middleware installed."""
    extensions.install()
    # localstripe.server builds its routes at import time from the (now patched) resources.
    from localstripe import server  # noqa: PLC0415 - must import after install()

    app: web.Application = server.app
    app.middlewares.insert(0, standin_middleware)
    app.router.add_route("*", "/_config/faults", _faults)
    app.router.add_route("*", "/_config/stats", _stats)
    app.router.add_post("/_config/seed", _seed)
    app.router.add_post("/_config/history", _history)
    app.router.add_post("/_config/live_mode", _live_mode)
    app.router.add_route("*", "/_config/limits", _limits)
    destinations.add_routes(app)
    return app


def serve(port: int, json_file: Path | None) -> None:
    """Listen on 127.0.0.1:`port` (0 = free port), announce the endpoint, serve until SIGTERM or
    SIGINT. The endpoint is announced only once the socket accepts connections."""
    app = build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    info = {"api_base": f"http://127.0.0.1:{sock.getsockname()[1]}", "api_key": TEST_KEY,
            "port": sock.getsockname()[1]}

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        # aiohttp's on_startup runs before the site listens; announcing there let clients
        # connect too early. SockSite.start() calls listen(): from here on, connects succeed.
        await web.SockSite(runner, sock).start()
        if json_file:
            json_file.write_text(json.dumps(info, indent=2))
        print(json.dumps(info), flush=True)  # noqa: T201 - the launcher reads this line
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt, web.GracefulExit):
        asyncio.run(run())
