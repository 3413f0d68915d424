"""The local stand-in for Lambda's SQS event source mapping: pollers drain the queue of Stripe's
events into the real handler, as AWS would, so the whole near-real-time path runs on 127.0.0.1.

What it imitates, and how (`MappingConfig.registered` reads its figures from what the Pulumi
program registers: the mapping's batch size and batching window, the function's reserved
concurrency, the queue's visibility timeout and redrive):
- `pollers` concurrent pollers each gather up to `batch_size` messages, for at most
  `window_s` (the mapping's batching window), then invoke the function with the SQS batch
  shape (`{"Records": [...]}`);
- the function's reserved concurrency (`concurrency`, 1 for the import): a poller that finds
  every slot taken is throttled, and its messages stay invisible until the queue's visibility
  timeout has passed, as on AWS (the queue is created with it: `MappingConfig.scaled` shortens
  it by a stated factor so a test does not wait 90 minutes); so nothing is lost, only
  received again (the run holding the slot picks up the changes: SyncService.run's
  follow_events);
- a successful invocation deletes its batch; a failed one leaves it for a later receive (after
  `maxReceiveCount` receives SQS moves it to the DLQ, the queue's own redrive);
- a continuation the handler starts is an asynchronous invoke of the same function: it waits for
  a free slot, as Lambda's async queue does.

Not imitated (docs/stand-ins.md): the mapping's scaling of pollers with the backlog, its own
backoff after throttles, and partial batch responses (the import never returns one).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from infra import event_figures
from infra.event_figures import event_pattern
from sync_lambda import names

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sync_lambda.ports import Continuation
    from sync_lambda.settings import Settings

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ARN = "arn:aws:lambda:us-east-1:123456789012:function:sfbilling-local-sync"


class _Context:
    """The part of Lambda's context the handler reads."""

    def __init__(self, timeout_s: float) -> None:
        self._deadline = time.monotonic() + timeout_s
        self.invoked_function_arn = ARN
        self.function_name = ARN.rsplit(":", 1)[-1]
        self.aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class MappingStats:
    """What the mapping did: invocations, throttles, and the handlers' results."""

    invocations: int = 0
    throttled: int = 0
    failed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """The figures of the event path's mapping and queue, as the Pulumi program registers them."""

    batch_size: int
    window_s: float  # the batching window
    concurrency: int  # the function's reserved concurrency
    visibility_timeout_s: int  # the queue's: how long a throttled batch stays away
    max_receives: int  # the queue's redrive: receives before the DLQ

    @classmethod
    def registered(cls, mapping: Mapping[str, Any], queue: Mapping[str, Any],
                   function: Mapping[str, Any]) -> MappingConfig:
        """From the registered inputs (the engine's camelCase names) of the event source
        mapping, the queue and the function."""
        return cls(batch_size=int(mapping["batchSize"]),
                   window_s=float(mapping["maximumBatchingWindowInSeconds"]),
                   concurrency=int(function["reservedConcurrentExecutions"]),
                   visibility_timeout_s=int(queue["visibilityTimeoutSeconds"]),
                   max_receives=int(json.loads(queue["redrivePolicy"])["maxReceiveCount"]))

    def scaled(self, factor: float) -> MappingConfig:
        """The visibility timeout times `factor` (at least 1 s): runs on the stand-ins take
        seconds, not the minutes the timeout is sized for, so the ratio stays about AWS's."""
        return replace(self, visibility_timeout_s=max(1, round(self.visibility_timeout_s
                                                               * factor)))


class EventSourceMapping:
    """Drains `queue_url` into the handler `make(continuation)` builds, until `stop()`."""

    def __init__(self, sqs: Any, queue_url: str, make: Callable[..., Handler],
                 config: MappingConfig, *, pollers: int = 2, timeout_s: float = 900.0,
                 poll_interval_s: float = 0.2) -> None:
        self._sqs, self._queue_url = sqs, queue_url
        self._handler = make(continuation=self._continuation)
        self.config = config
        self._batch_size, self._window_s = config.batch_size, config.window_s
        self._pollers, self._timeout_s = pollers, timeout_s
        self._poll_interval_s = poll_interval_s
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.stats = MappingStats()

    def start(self) -> EventSourceMapping:
        """Read the queue's attributes (as Lambda does when a mapping is created: a queue it
        may not read is refused then), and start the pollers."""
        self._sqs.get_queue_attributes(QueueUrl=self._queue_url,
                                       AttributeNames=["VisibilityTimeout", "RedrivePolicy"])
        for n in range(self._pollers):
            t = threading.Thread(target=self._poll, name=f"poller-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop polling and wait for invocations in flight."""
        self._stop.set()
        for t in self._threads:
            t.join(self._timeout_s)

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.stats.invocations += 1
        result = self._handler(event, _Context(self._timeout_s))
        with self._lock:
            self.stats.results.append(result)
        return result

    def _continuation(self, _settings: Settings, _arn: str) -> Continuation:
        mapping = self

        class AsyncInvoke:
            def start_next(self, event: Mapping[str, Any]) -> None:
                def run() -> None:
                    with mapping._slots:  # Lambda's async queue waits for the slot
                        mapping._invoke(dict(event))

                t = threading.Thread(target=run, name="continuation", daemon=True)
                t.start()
                mapping._threads.append(t)

        return AsyncInvoke()

    def _gather(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        opened = time.monotonic()
        while not self._stop.is_set() and len(batch) < self._batch_size:
            got = self._sqs.receive_message(
                QueueUrl=self._queue_url, WaitTimeSeconds=0,
                MaxNumberOfMessages=min(10, self._batch_size - len(batch)),
                AttributeNames=["All"]).get("Messages", [])
            batch += got
            if batch and time.monotonic() - opened >= self._window_s:
                break
            if not got:
                if not batch:
                    opened = time.monotonic()  # the window opens with the first message
                time.sleep(self._poll_interval_s)
        return batch

    def _poll(self) -> None:
        while not self._stop.is_set():
            batch = self._gather()
            if not batch:
                continue
            handles = [m["ReceiptHandle"] for m in batch]
            if not self._slots.acquire(blocking=False):
                # Throttled: the batch is left as received, back after the visibility timeout.
                with self._lock:
                    self.stats.throttled += 1
                continue
            try:
                self._invoke({"Records": [{"messageId": m["MessageId"], "body": m["Body"],
                                           "receiptHandle": m["ReceiptHandle"],
                                           "eventSource": "aws:sqs"} for m in batch]})
            except Exception:  # noqa: BLE001 - as Lambda: the batch stays, to be received again
                with self._lock:
                    self.stats.failed += 1
                continue
            finally:
                self._slots.release()
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)])


def provision(events: Any, sqs: Any, source: str, config: MappingConfig, *, rule: str,
              queue: str, timeout_s: float = 30.0) -> str:
    """The AWS half of the event path as the Pulumi program builds it (infra/event_path.py) in
    the AWS stand-in, once Stripe's partner source exists: the partner bus (the association),
    the DLQ, the queue (`config`'s visibility timeout and redrive), the rule (the program's
    pattern) and its target (the input transformer, the DLQ). The queue's URL."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            events.describe_event_source(Name=source)
            break
        except events.exceptions.ResourceNotFoundException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    events.create_event_bus(Name=source, EventSourceName=source)
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    queue_url = sqs.create_queue(QueueName=queue, Attributes={
        "VisibilityTimeout": str(config.visibility_timeout_s),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(config.max_receives)})})["QueueUrl"]
    events.put_rule(Name=rule, EventBusName=source, EventPattern=event_pattern(source))
    events.put_targets(Rule=rule, EventBusName=source, Targets=[{
        "Id": "queue", "Arn": _arn(sqs, queue_url), "DeadLetterConfig": {"Arn": dlq_arn},
        "InputTransformer": {"InputPathsMap": dict(names.QUEUED_EVENT_FIELDS),
                             "InputTemplate": names.QUEUED_EVENT_TEMPLATE}}])
    return str(queue_url)


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"])


def program_config(timeout_s: int, *, scale: float = 1.0) -> MappingConfig:
    """The mapping's figures the program registers for a function of `timeout_s` (the same
    constants infra/event_path.py registers; tests/infra/test_event_path checks both), the
    visibility timeout times `scale`."""
    return MappingConfig(batch_size=event_figures.BATCH_SIZE,
                         window_s=float(event_figures.BATCHING_WINDOW_S), concurrency=1,
                         visibility_timeout_s=event_figures.VISIBILITY_FACTOR * timeout_s,
                         max_receives=event_figures.MAX_RECEIVES).scaled(scale)
