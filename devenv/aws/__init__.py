"""AWS stand-in: moto in server mode (DynamoDB, Secrets Manager, SQS, CloudWatch, Scheduler)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import requests

from devenv.process import ChildServer

if TYPE_CHECKING:
    from pathlib import Path

REGION = "us-east-1"
# moto accepts any credentials; these are the conventional dummies, never real ones.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto's dummy, not a secret


class ClientKwargs(TypedDict):
    """Keyword arguments for `boto3.client(service, **kwargs)` against the stand-in."""

    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


class AwsStandIn:
    """Controls one `python -m devenv.aws` (moto server) process."""

    def __init__(self, *, port: int = 0, log_file: Path | None = None) -> None:
        self._child = ChildServer("devenv.aws", ["--port", str(port)], name="moto",
                                  log_file=log_file)

    def spawn(self) -> None:
        """Start the process without waiting (see `wait`)."""
        self._child.spawn()

    def wait(self) -> AwsStandIn:
        """Wait until the process announced its endpoint."""
        self._child.wait()
        return self

    def start(self) -> AwsStandIn:
        """Start and wait until it listens."""
        self.spawn()
        return self.wait()

    def stop(self) -> None:
        """Stop the process."""
        self._child.stop()

    def __enter__(self) -> AwsStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """What to pass as boto3's `endpoint_url`."""
        return str(self._child.info["endpoint_url"])

    def info(self) -> dict[str, Any]:
        """Connection info, as printed by `sfbilling local up`."""
        return dict(self._child.info)

    def reset(self) -> None:
        """Forget every resource in every service."""
        requests.post(self.endpoint_url + "/moto-api/reset", timeout=10).raise_for_status()

    def client_kwargs(self) -> ClientKwargs:
        """Keyword arguments for `boto3.client(service, **kwargs)` against this stand-in."""
        return {"endpoint_url": self.endpoint_url, "region_name": REGION,
                "aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
