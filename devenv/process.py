"""Start a stand-in as a child process and wait for the JSON line it prints when ready."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Self

import requests

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


class StandInStartError(RuntimeError):
    """A stand-in process exited or stayed silent instead of announcing its endpoint."""


def wait_until_ready(url: str, *, name: str, timeout: float = 15.0,
                     verify: bool | str = True) -> None:
    """Poll `url` with real requests until the server answers (any HTTP status): after this, a
    client's first request is not refused. Raises StandInStartError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            requests.get(url, timeout=2, verify=verify).close()
            return
        except requests.ConnectionError as exc:
            if time.monotonic() >= deadline:
                raise StandInStartError(f"{name} announced its endpoint but {url} still "
                                        f"refuses connections after {timeout:.0f} s") from exc
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class ChildServer:
    """A `python -m <module>` server whose first stdout line is JSON connection info."""

    def __init__(self, module: str, args: Sequence[str] = (), *, name: str,
                 log_file: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.module = module
        self.args = list(args)
        self.name = name
        self.log_file = log_file
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout: float = 15.0) -> dict[str, Any]:
        """Spawn the process and return its announced info (raises StandInStartError)."""
        self.spawn()
        return self.wait(timeout)

    def spawn(self) -> None:
        """Start the process; `wait` collects its announcement (lets several start at once)."""
        stderr = (self.log_file.open("a") if self.log_file  # closed right after Popen
                  else subprocess.DEVNULL)
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", self.module, *self.args], stdout=subprocess.PIPE,
            stderr=stderr, text=True, env=env, start_new_session=True)
        if self.log_file:
            stderr.close()  # type: ignore[union-attr]  # the child holds its own copy

    def wait(self, timeout: float = 15.0) -> dict[str, Any]:
        """Block until the process printed its JSON line (raises StandInStartError)."""
        assert self.proc is not None, "spawn() first"
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            code = self.proc.poll()
            self.stop()
            where = f" (see {self.log_file})" if self.log_file else ""
            state = f"exited with {code}" if code is not None else f"silent for {timeout:.0f} s"
            raise StandInStartError(f"{self.name} {state} before announcing its endpoint{where}")
        try:
            self.info = json.loads(line[0])
        except ValueError as exc:
            self.stop()
            raise StandInStartError(f"{self.name} printed {line[0]!r}, not JSON") from exc
        return self.info

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in `timeout` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None


class ChildStandIn:
    """Base for the stand-ins that run as a child process (Stripe, AWS)."""

    module = ""
    display_name = ""

    def __init__(self, *, port: int = 0, log_file: Path | None = None) -> None:
        self._child = ChildServer(self.module, ["--port", str(port)], name=self.display_name,
                                  log_file=log_file)

    def spawn(self) -> None:
        """Start the process without waiting (see `wait`), so several can start at once."""
        self._child.spawn()

    def ready_url(self) -> str:
        """A URL that answers once the server works (asked after the announcement)."""
        raise NotImplementedError

    def wait(self) -> Self:
        """Wait until the process announced its endpoint and answers a real request."""
        self._child.wait()
        try:
            wait_until_ready(self.ready_url(), name=self.display_name)
        except StandInStartError:
            self.stop()
            raise
        return self

    def start(self) -> Self:
        """Start and wait until it listens."""
        self.spawn()
        return self.wait()

    def stop(self) -> None:
        """Stop the process."""
        self._child.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def info(self) -> dict[str, Any]:
        """Connection info, as printed by `sfbilling local up`."""
        return dict(self._child.info)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (servers run until told to stop)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
