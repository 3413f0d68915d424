"""Lambda, as far as the handler can tell: its context (with a deadline), and the asynchronous
invoke queue of a function with reserved concurrency 1 — events run one at a time, in order, a
continuation only after the invocation that started it has returned."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync_lambda.adapters.lambda_continuation import ACTION
from sync_lambda.handler import make_handler

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sync_lambda.ports import Continuation
    from sync_lambda.settings import Settings

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:sfbilling-test-sync"


class Context:
    """The part of the Lambda context the handler uses."""

    def __init__(self, remaining_ms: int = 600_000, *,
                 remaining: Callable[[], float] | None = None,
                 function_arn: str = FUNCTION_ARN) -> None:
        self.remaining_ms = remaining_ms
        self._remaining = remaining  # seconds left, when the test drives the deadline
        self.function_name = function_arn.rsplit(":", 1)[-1]
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = function_arn
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        if self._remaining is not None:
            return int(self._remaining() * 1000)
        return self.remaining_ms


@dataclass
class Invocation:
    """One run of the handler: its event, its result, when it ran."""

    event: dict[str, Any]
    result: dict[str, Any]
    started: float
    ended: float


@dataclass
class AsyncQueue:
    """Lambda's async invoke queue for one function with reserved concurrency 1, running the
    real handler, whose continuations come back into this queue."""

    context: Callable[[], Context] = Context
    pending: list[dict[str, Any]] = field(default_factory=list)
    done: list[Invocation] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (IAM action, resource ARN)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.handler = make_handler(continuation=self.continuation)

    def continuation(self, _settings: Settings, function_arn: str) -> Continuation:
        """The `Continuation` port, as the handler builds it: an async self-invoke."""
        queue = self

        class SelfInvoke:
            def start_next(self, event: Mapping[str, Any]) -> None:
                queue.calls.append((ACTION, function_arn))
                queue.pending.append(dict(event))

        return SelfInvoke()

    def step(self) -> Invocation:
        """Run the next queued event."""
        event = self.pending.pop(0)
        started = time.monotonic()
        result = self.handler(event, self.context())
        self.done.append(Invocation(event, result, started, time.monotonic()))
        return self.done[-1]

    def drain(self, limit: int = 50) -> list[Invocation]:
        """Run queued events one after another until none is left."""
        while self.pending:
            assert len(self.done) < limit, "the continuations do not end: " + "; ".join(
                f"{i.event} → {i.result['kind']}: {i.result['message']}"
                for i in self.done[-3:])
            self.step()
        return self.done
