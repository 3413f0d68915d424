"""`python -m devenv.aws [--port N]`: moto in server mode on 127.0.0.1, Lambda docker off."""

from __future__ import annotations

import argparse
import json
import logging
import urllib.request
from typing import Any

from devenv.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from devenv.process import wait_for_signal


def _partner_sources_as_aws() -> None:
    """moto's partner event sources, closer to EventBridge's (docs/stand-ins.md):
    DescribeEventSource of an unknown name is ResourceNotFoundException (moto: a 500); a source
    is PENDING until a bus is associated with it and PENDING again when that bus is deleted
    (moto: ACTIVE at once); its ARN names it once (moto prefixes `aws.partner/` again); a
    partner bus's name, slashes and all, names it in rules and PutEvents (moto keeps only
    the part after the last slash)."""
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415 - see main()
    from moto.events import models  # noqa: PLC0415

    backend = models.EventsBackend
    init, describe = models.PartnerEventSource.__init__, backend.describe_event_source
    create_bus, delete_bus = backend.create_event_bus, backend.delete_event_bus

    def source_init(self: Any, region: str, name: str) -> None:
        init(self, region, name)
        self.arn = f"arn:aws:events:{region}::event-source/{name}"
        self.state = "PENDING"

    def describe_source(self: Any, name: str) -> Any:
        if name not in self.event_sources:
            raise JsonRESTError("ResourceNotFoundException", f"Event source {name} does not "
                                "exist.")
        return describe(self, name)

    def create(self: Any, name: str, event_source_name: str | None = None,
               *args: Any, **kwargs: Any) -> Any:
        bus = create_bus(self, name, event_source_name, *args, **kwargs)
        if event_source_name:
            self.event_sources[event_source_name].state = "ACTIVE"
        return bus

    def delete(self: Any, name: str) -> None:
        delete_bus(self, name)
        if name in self.event_sources:
            self.event_sources[name].state = "PENDING"

    def bus_name(_self: Any, name_or_arn: str | None) -> str:
        # A partner bus's name holds slashes: only an ARN is cut (moto cuts every name).
        if name_or_arn is None:
            return "default"
        return name_or_arn.split(":event-bus/")[-1] if name_or_arn.startswith("arn:") \
            else name_or_arn

    backend._normalize_event_bus_arn = bus_name  # type: ignore[method-assign,assignment]  # noqa: SLF001 - the one place moto reads a bus name
    models.PartnerEventSource.__init__ = source_init  # type: ignore[method-assign]
    backend.describe_event_source = describe_source  # type: ignore[method-assign]
    backend.create_event_bus = create  # type: ignore[method-assign]
    backend.delete_event_bus = delete  # type: ignore[method-assign]


def main() -> None:
    """Start moto, announce the endpoint as one JSON line, serve until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m devenv.aws", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="port to bind (0 = any free port)")
    args = p.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - heavy; only in this process

    _partner_sources_as_aws()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto would try to run Lambda code in Docker, which this machine does not have.
    req = urllib.request.Request(url + "/moto-api/config"  # noqa: S310 - http://127.0.0.1 only
                                , method="POST",
                                 data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - our own local server
    print(  # noqa: T201 - announcing the endpoint is the job
        json.dumps({"endpoint_url": url, "region": REGION, "access_key_id": ACCESS_KEY_ID,
                    "secret_access_key": SECRET_ACCESS_KEY}), flush=True)
    try:
        wait_for_signal()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
