"""The exit codes of every `sfbilling` command: one table, printed by `--help`, checked against
the README by a test. Alarms and scripts depend on 1 to 5: their meanings never change."""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class Exit(IntEnum):
    """What a command's exit status means."""

    OK = 0
    FAILED_ROWS = 1
    CONFIG = 2
    STOPPED = 3
    HELD_BACK = 4
    LEASE = 5
    ORG_IDENTITY = 6
    UNREACHABLE = 7
    DIFFERENCES = 8
    API_BUDGET = 9
    INTERRUPTED = 130


MEANINGS: Final[dict[Exit, str]] = {
    Exit.OK: "done",
    Exit.FAILED_ROWS: "done, with failed or quarantined rows (named in the report)",
    Exit.CONFIG: "configuration or input error: nothing was called, or nothing was changed",
    Exit.STOPPED: "the run or deploy stopped: Stripe or Salesforce kept failing or refused",
    Exit.HELD_BACK: "a mass deactivation was held back for confirmation",
    Exit.LEASE: "another run holds the lease (or took it)",
    Exit.ORG_IDENTITY: "the org reached is not the one sfbilling:salesforceOrgId names",
    Exit.UNREACHABLE: "AWS, the network or TLS: an endpoint unreachable, untrusted or "
                      "refusing the credentials",
    Exit.DIFFERENCES: "plan or reconcile found differences or drift",
    Exit.API_BUDGET: "stopped at the Salesforce daily API budget (sfbilling:"
                     "salesforceApiBudgetShare, or the org's limit): progress saved, the next "
                     "run continues",
    Exit.INTERRUPTED: "interrupted (Ctrl-C): nothing is half-written, the next run continues",
}


def table() -> str:
    """The table as plain text lines (`--help`, the README)."""
    return "\n".join(f"  {int(code):>3}  {MEANINGS[code]}" for code in Exit)
