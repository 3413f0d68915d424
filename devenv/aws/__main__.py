"""`python -m devenv.aws [--port N]`: moto in server mode on 127.0.0.1, Lambda docker off."""

from __future__ import annotations

import argparse
import json
import logging
import urllib.request

from devenv.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from devenv.process import wait_for_signal


def main() -> None:
    """Start moto, announce the endpoint as one JSON line, serve until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m devenv.aws", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="port to bind (0 = any free port)")
    args = p.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - heavy; only in this process

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
