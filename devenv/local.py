"""The `local` environment: Salesforce, Stripe and AWS stand-ins started together."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.aws import AwsStandIn
from devenv.process import wait_for_signal
from devenv.salesforce import SalesforceStandIn
from devenv.stripe import StripeStandIn
from devenv.tls import combined_bundle

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_STATE_DIR = Path(".local")
ENDPOINTS_FILE = "endpoints.json"
PID_FILE = "local.pid"


class LocalEnvError(RuntimeError):
    """The local environment could not be started, found or stopped."""


class LocalEnv:
    """All three stand-ins; Salesforce in this process, Stripe and moto as child processes."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR) -> None:
        self.state_dir = state_dir
        self.salesforce: SalesforceStandIn | None = None
        self.stripe: StripeStandIn | None = None
        self.aws: AwsStandIn | None = None

    def start(self) -> dict[str, Any]:
        """Start everything (children in parallel); returns the endpoint document."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        logs = self.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        self.stripe = StripeStandIn(log_file=logs / "stripe.log")
        self.aws = AwsStandIn(log_file=logs / "aws.log")
        try:
            self.stripe.spawn()
            self.aws.spawn()
            self.salesforce = SalesforceStandIn(state_dir=self.state_dir / "salesforce").start()
            self.stripe.wait()
            self.aws.wait()
        except Exception:
            self.stop()
            raise
        return self.endpoints()

    def endpoints(self) -> dict[str, Any]:
        """What a client needs: URLs, throwaway credentials, the CA bundle to trust."""
        assert self.salesforce is not None, "start() first"
        assert self.stripe is not None
        assert self.aws is not None
        bundle = combined_bundle(self.salesforce.ca_file, self.state_dir / "ca-bundle.pem")
        return {
            "salesforce": self.salesforce.info(),
            "stripe": self.stripe.info(),
            "aws": self.aws.info(),
            "ca_bundle": str(bundle.resolve()),
            "pid": os.getpid(),
        }

    def stop(self) -> None:
        """Stop whatever was started."""
        for part in (self.salesforce, self.stripe, self.aws):
            if part is not None:
                part.stop()
        self.salesforce = self.stripe = self.aws = None

    def __enter__(self) -> LocalEnv:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_until_stopped(state_dir: Path, json_file: Path | None,
                      announce: Callable[[dict[str, Any]], None]) -> None:
    """`sfbilling local up`: start, publish endpoints, block until SIGINT/SIGTERM."""
    pid_file = state_dir / PID_FILE
    if pid_file.exists() and _alive(int(pid_file.read_text().strip() or 0)):
        raise LocalEnvError(f"a local environment is already running (pid "
                            f"{pid_file.read_text().strip()}); run `sfbilling local down` first")
    env = LocalEnv(state_dir)
    started = time.monotonic()
    doc = env.start()
    doc["startup_s"] = round(time.monotonic() - started, 2)
    text = json.dumps(doc, indent=2)
    (state_dir / ENDPOINTS_FILE).write_text(text)
    (state_dir / ENDPOINTS_FILE).chmod(0o600)
    if json_file is not None:
        json_file.write_text(text)
    pid_file.write_text(str(os.getpid()))
    announce(doc)
    try:
        wait_for_signal()
    finally:
        env.stop()
        pid_file.unlink(missing_ok=True)
        (state_dir / ENDPOINTS_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited child whose parent has not reaped it yet is a zombie: it is gone for us.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_running(state_dir: Path, timeout: float = 10.0) -> int:
    """`sfbilling local down`: SIGTERM the running `local up`; returns its pid."""
    pid_file = state_dir / PID_FILE
    if not pid_file.exists():
        raise LocalEnvError(f"no local environment is running ({pid_file} not found)")
    pid = int(pid_file.read_text().strip() or 0)
    if not _alive(pid):
        pid_file.unlink(missing_ok=True)
        raise LocalEnvError(f"the local environment (pid {pid}) is not running; cleaned up")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        raise LocalEnvError(f"pid {pid} did not stop within {timeout:.0f} s")
    return pid


def load_endpoints(state_dir: Path = DEFAULT_STATE_DIR) -> dict[str, Any]:
    """The endpoint document a running `local up` wrote (for `--env local` commands)."""
    path = state_dir / ENDPOINTS_FILE
    if not path.exists():
        raise LocalEnvError(f"{path} not found: start the local environment with "
                            "`sfbilling local up` first")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc
