"""The keys of the Lambda's event: the handler reads them, `sfbilling invoke` and the
continuation write them (one spelling for all three)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from sync_lambda import names

FULL: Final = "full"  # a full reconcile
DRY_RUN: Final = "dry_run"  # plan only, no writes
ALLOW_MASS_DEACTIVATION: Final = "allowMassDeactivation"  # confirm held-back deactivations
CONTINUATION: Final = "continuation"  # started by the previous run of the same work
RECHECK_UNKNOWN: Final = "recheckUnknown"  # read the live-mode-only customers again
RECONCILE: Final = "reconcile"  # compare Stripe with Salesforce, write nothing to Salesforce
# Set by the import's schedule (and carried by its continuations): only such runs emit
# telemetry.SCHEDULED_RUN_CHANGES, what the "no events" alarm compares Stripe's events with.
SCHEDULED: Final = "scheduled"
# Set on the continuation of a run Stripe's events started: it too looks for events that
# arrived while it ran (SyncService.run's follow_events).
STARTED_BY_EVENTS: Final = "startedByEvents"


# An SQS batch, as Lambda's event source mapping delivers the queue of Stripe's events.
SQS_RECORDS: Final = "Records"
SQS_BODY: Final = "body"


@dataclass(frozen=True, slots=True)
class StripeEvents:
    """What an SQS batch of Stripe's events says: only that something changed (the run reads
    /v1/events as always, so a duplicate, a lost or a late message costs nothing)."""

    count: int  # messages in the batch
    pings: int  # of which destination pings
    unreadable: int  # bodies not in the queued form (counted, never fatal: they start a run)
    ids: tuple[str, ...] = ()  # the Stripe event ids of the changes (pings left out)

    @property
    def starts_a_run(self) -> bool:
        """A batch of nothing but pings only proves the path; anything else starts a run."""
        return self.count > self.pings


def stripe_events(event: dict[str, Any]) -> StripeEvents | None:
    """The Stripe events of an SQS batch (None: the event is not one, e.g. the schedule's)."""
    records = event.get(SQS_RECORDS)
    if not isinstance(records, list):
        return None
    pings = unreadable = 0
    ids: list[str] = []
    for record in records:
        try:
            body = json.loads(record[SQS_BODY])
            kind, event_id = body[names.QUEUED_TYPE], str(body[names.QUEUED_ID])
        except (TypeError, KeyError, ValueError):
            unreadable += 1
            continue
        if kind == names.EVENT_DESTINATION_PING:
            pings += 1
        else:
            ids.append(event_id)
    return StripeEvents(len(records), pings, unreadable, tuple(ids))


def payload(*, full: bool = False, allow_mass_deactivation: bool = False,
            recheck_unknown: bool = False, reconcile: bool = False) -> dict[str, bool]:
    """An operator's invoke: only the keys that are set."""
    return {**({FULL: True} if full else {}), **({RECONCILE: True} if reconcile else {}),
            **({ALLOW_MASS_DEACTIVATION: True} if allow_mass_deactivation else {}),
            **({RECHECK_UNKNOWN: True} if recheck_unknown else {})}
