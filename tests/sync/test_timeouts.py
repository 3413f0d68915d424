"""A Salesforce request is bounded as a whole, not per socket read: a server that drips its
answer a byte at a time cannot hold a run (and its lease) for longer than about twice the
request timeout."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

import pytest
import requests

from sync_lambda.adapters.salesforce_connection import TimeoutSession

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def dripping() -> Iterator[str]:
    """An HTTP server that answers headers at once, then one body byte every 0.3 s (each read
    well inside any read timeout), 200 bytes in all: a minute for the whole answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 200\r\n\r\n")
            try:
                for _ in range(200):
                    if stop.wait(0.3):
                        break
                    conn.sendall(b" ")
            except OSError:
                pass
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_dripping_answer_times_out_as_a_whole(dripping: str) -> None:
    session = TimeoutSession(2.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout, match="no whole answer within 2 s"):
        session.get(dripping)
    assert time.monotonic() - started < 4.5


def test_a_prompt_answer_reads_as_usual(dripping: str) -> None:
    del dripping
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                     b'Content-Length: 12\r\n\r\n{"ok": true}')
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    response = TimeoutSession(2.0).get(f"http://127.0.0.1:{server.getsockname()[1]}/")
    thread.join(5)
    server.close()
    assert response.json() == {"ok": True}
