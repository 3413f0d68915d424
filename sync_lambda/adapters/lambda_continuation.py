"""The continuation through Lambda itself: an asynchronous invoke of this very function.

With reserved concurrency 1 the new invocation waits until the current one has returned (it has
released its lease by then); a duplicate or late continuation does no harm, because the lease
and the saved progress decide what a run does, not the event.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from sync_lambda.invocation import CONTINUATION

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_lambda.client import LambdaClient

EVENT: Final = {CONTINUATION: True}
ACTION: Final = "lambda:InvokeFunction"  # what the function's role must allow on its own ARN


class LambdaContinuation:
    """Implements `ports.Continuation` with an async self-invoke."""

    def __init__(self, client: LambdaClient, function_arn: str) -> None:
        self._client = client
        self._arn = function_arn

    def start_next(self, event: Mapping[str, Any]) -> None:
        self._client.invoke(FunctionName=self._arn, InvocationType="Event",
                            Payload=json.dumps(dict(event)).encode())
