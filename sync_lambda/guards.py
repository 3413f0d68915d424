"""The decisions that stop an import before it does harm, pure so they can be pinned down
(`make mutation`): which org this is, and how many payment methods one run may deactivate.

The service and the Salesforce adapter ask these; they only do the I/O around them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# A Salesforce id has a 15-character case-sensitive form and an 18-character form (the same id
# plus a checksum suffix); either may be configured or recorded.
ID_LENGTH = 15


def same_org(a: str, b: str) -> bool:
    """Whether two org ids name the same org, in either the 15- or the 18-character form."""
    return a[:ID_LENGTH] == b[:ID_LENGTH]


def stack_org_problem(org_id: str, expected: str | None) -> str | None:
    """Why the org reached is not the one the stack names (None: it is, or none is named)."""
    if not expected or same_org(org_id, expected):
        return None
    return (f"this org is {org_id}, but sfbilling:salesforceOrgId (SFB_SF_ORG_ID) is "
            f"{expected}: a refreshed sandbox gets a new org id and carries production's "
            "data, so nothing was written. If this is the org you mean: set "
            f"sfbilling:salesforceOrgId to {org_id}, apply the org config again, then run a "
            "full reconcile (`sfbilling sync --env ENV --full`, or invoke the Lambda once "
            'with {"full": true})')


class StateOrg(enum.Enum):
    """What a run does with the org its state was written for."""

    KEEP = "keep"  # the state is this org's, recorded as it is
    RECORD = "record"  # record this org's id (first run, the other id form, a confirmed refresh)
    REFUSE = "refuse"  # another org's state: stop before writing


def state_org(recorded: str | None, org_id: str, *, explicit_full: bool,
              dry_run: bool) -> StateOrg:
    """The state was written for `recorded`; the run reached `org_id`. An explicit full
    reconcile is the operator's confirmation of a refresh: the state then becomes this org's.
    A dry run records nothing."""
    if not org_id:
        return StateOrg.KEEP
    if recorded and not same_org(recorded, org_id) and not explicit_full:
        return StateOrg.REFUSE
    if recorded != org_id and not dry_run:
        return StateOrg.RECORD
    return StateOrg.KEEP


def state_org_problem(recorded: str, org_id: str) -> str:
    """The refusal of `StateOrg.REFUSE`, naming the way on."""
    return (f"the import's state was written for org {recorded}, but this is org {org_id} "
            "(a refreshed sandbox?): nothing was written. Confirm the refresh: apply the "
            "org config, then run a full reconcile (`sfbilling sync --env ENV --full`, or "
            'invoke the Lambda once with {"full": true}); it takes the state over')


@dataclass(frozen=True, slots=True)
class DeactivationLimit:
    """A run stops before deactivating more than `share` of the org's active payment methods
    *and* more than `count` of them (so a small org is not blocked by a handful)."""

    share: float = 0.10
    count: int = 20

    def needs_active_count(self, deactivations: int) -> bool:
        """Whether the org's count of active payment methods can change the verdict: at or
        under the absolute count no share can cross the limit, so the org is not asked."""
        return deactivations > self.count

    def exceeded(self, deactivations: int, active: int) -> bool:
        """Whether `deactivations` out of `active` crosses the limit."""
        return deactivations > self.share * active and deactivations > self.count

    def holds_back(self, deactivations: int, active: int, *, allowed: bool) -> bool:
        """Whether the run holds its deactivations back: over the limit, and not confirmed
        by the operator (`--allow-mass-deactivation`)."""
        return self.exceeded(deactivations, active) and not allowed

    def held_back_message(self, deactivations: int, active: int, *, dry_run: bool) -> str:
        """What the operator reads when the run held its deactivations back."""
        return (f"{'would hold' if dry_run else 'held'} back {deactivations} deactivations out "
                f"of {active} active payment methods (more than {self.share:.0%} and more than "
                f"{self.count}): nothing was deactivated. If Stripe really lost these, "
                "confirm with `sfbilling sync --allow-mass-deactivation`, or invoke the "
                'Lambda once with {"allowMassDeactivation": true}; if not, check the Stripe '
                "key and account")
