"""An HTTPS forward proxy (HTTP CONNECT) in front of the stand-in org, so a client can use a
real Salesforce host name (the org's My Domain, login.salesforce.com, test.salesforce.com)
exactly as it would in production: `HTTPS_PROXY=<proxy_url>` with the stand-in's certificate
trusted. The client's code path is then production's own, TLS host checks included (the
stand-in's certificate names those hosts); nothing in the client knows it is talking to a
stand-in.

Only `*.salesforce.com:443` is tunnelled, always to the stand-in's own TLS port; anything else
is refused with 403, so a test that forgot NO_PROXY for another stand-in fails loudly.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("devenv.salesforce.proxy")
SALESFORCE_SUFFIX = ".salesforce.com"
_CHUNK = 64 * 1024


class ConnectProxy:
    """CONNECT tunnels from `*.salesforce.com:443` to one upstream (host, port)."""

    def __init__(self, upstream: tuple[str, int], *, host: str = "127.0.0.1") -> None:
        self._upstream = upstream
        self._httpd = ThreadingHTTPServer((host, 0), _handler(upstream))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="sf-standin-proxy")
        self.tunnels: list[str] = []  # the host:port of every tunnel opened (tests read it)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT: the value of HTTPS_PROXY."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ConnectProxy:
        """Serve on a background thread."""
        self._httpd.tunnels = self.tunnels  # type: ignore[attr-defined]
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(upstream: tuple[str, int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

        def do_CONNECT(self) -> None:
            host, _, port = self.path.rpartition(":")
            if not host.endswith(SALESFORCE_SUFFIX) or port != "443":
                self.send_error(403, f"this proxy only tunnels *{SALESFORCE_SUFFIX}:443")
                return
            try:
                remote = socket.create_connection(upstream, timeout=10)
            except OSError as exc:
                self.send_error(502, f"stand-in not reachable: {exc}")
                return
            self.server.tunnels.append(self.path)  # type: ignore[attr-defined]
            self.send_response(200, "Connection Established")
            self.end_headers()
            self.close_connection = True
            _pipe(self.connection, remote)

        def do_GET(self) -> None:
            self.send_error(405, "only CONNECT (https through the proxy)")

    return Handler


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select(timeout=120):
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                data = src.recv(_CHUNK)
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        sel.close()
        b.close()
