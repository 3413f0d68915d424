"""The figures of the event path the Pulumi program registers (infra/event_path.py), pure, so
the local stand-in of Lambda's event source mapping (sfbilling/event_queue.py) and the demo use
the same ones without importing the AWS provider."""

from __future__ import annotations

import json
from typing import Final

from sync_lambda import names

VISIBILITY_FACTOR: Final = 6  # times the function's timeout (AWS's advice for SQS → Lambda)
MAX_RECEIVES: Final = 10  # before a message goes to the DLQ
RETENTION_S: Final = 4 * 86_400  # a paused import's events wait this long in the queue
DLQ_RETENTION_S: Final = 14 * 86_400  # SQS's maximum: time to look
# EventBridge's defaults for a rule target, written out: retried for a day, then the DLQ.
TARGET_RETRIES: Final = 185
TARGET_EVENT_AGE_S: Final = 86_400
# The mapping: up to BATCH_SIZE messages, gathered for up to BATCHING_WINDOW_S, per invocation.
BATCH_SIZE: Final = 100
BATCHING_WINDOW_S: Final = 10


def event_pattern(source: str) -> str:
    """What the rule matches: this destination's source, the import's types and the ping."""
    return json.dumps({"source": [source],
                       "detail-type": [*names.EVENT_TYPES, names.EVENT_DESTINATION_PING]})
