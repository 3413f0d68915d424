"""AWS stand-in: moto in server mode (DynamoDB, Secrets Manager, SQS, CloudWatch, Scheduler)."""

from __future__ import annotations

from typing import TypedDict

import requests

from devenv.process import ChildStandIn

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


class AwsStandIn(ChildStandIn):
    """Controls one `python -m devenv.aws` (moto server) process."""

    module = "devenv.aws"
    display_name = "moto"

    @property
    def endpoint_url(self) -> str:
        """What to pass as boto3's `endpoint_url`."""
        return str(self._child.info["endpoint_url"])

    def ready_url(self) -> str:
        """moto's own API: answered by the same server that answers AWS calls."""
        return self.endpoint_url + "/moto-api/data.json"

    def reset(self) -> None:
        """Forget every resource in every service."""
        requests.post(self.endpoint_url + "/moto-api/reset", timeout=10).raise_for_status()

    def client_kwargs(self) -> ClientKwargs:
        """Keyword arguments for `boto3.client(service, **kwargs)` against this stand-in."""
        return {"endpoint_url": self.endpoint_url, "region_name": REGION,
                "aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
