"""The keys of the Lambda's event: the handler reads them, `sfbilling invoke` and the
continuation write them (one spelling for all three)."""

from __future__ import annotations

from typing import Final

FULL: Final = "full"  # a full reconcile
DRY_RUN: Final = "dry_run"  # plan only, no writes
ALLOW_MASS_DEACTIVATION: Final = "allowMassDeactivation"  # confirm held-back deactivations
CONTINUATION: Final = "continuation"  # started by the previous run of the same work
RECHECK_UNKNOWN: Final = "recheckUnknown"  # read the live-mode-only customers again
RECONCILE: Final = "reconcile"  # compare Stripe with Salesforce, write nothing to Salesforce


def payload(*, full: bool = False, allow_mass_deactivation: bool = False,
            recheck_unknown: bool = False, reconcile: bool = False) -> dict[str, bool]:
    """An operator's invoke: only the keys that are set."""
    return {**({FULL: True} if full else {}), **({RECONCILE: True} if reconcile else {}),
            **({ALLOW_MASS_DEACTIVATION: True} if allow_mass_deactivation else {}),
            **({RECHECK_UNKNOWN: True} if recheck_unknown else {})}
