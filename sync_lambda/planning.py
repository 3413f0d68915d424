"""The write plan for a batch of customers: what to create, link, insert, update, deactivate.
Pure: it compares Stripe's current state with what Salesforce holds, so a re-run plans nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync_lambda import names
from sync_lambda.mapping import FieldNames, map_payment_method
from sync_lambda.matching import AccountIndex, Match, Scenario, match_customer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sync_lambda.models import Mode, OrgFacts, SfPaymentMethod, Snapshot


@dataclass(frozen=True, slots=True)
class AccountWrite:
    """Link an existing Account (`account_id`) or create one (`name`) for a customer."""

    customer_id: str
    scenario: Scenario
    account_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PmWrite:
    """One payment-method row: an insert (`sf_id` None, linked through the customer id) or an
    update of the changed fields only."""

    stripe_id: str
    customer_id: str
    values: Mapping[str, Any]
    sf_id: str | None = None


@dataclass(frozen=True, slots=True)
class Issue:
    """A customer or payment method not imported (or imported with a note), and why."""

    stripe_id: str
    customer_id: str
    reason: str


@dataclass(slots=True)
class Plan:
    """Everything one batch will write, in the order it must be written."""

    account_links: list[AccountWrite] = field(default_factory=list)
    account_creates: list[AccountWrite] = field(default_factory=list)
    autopay_clears: list[PmWrite] = field(default_factory=list)
    deactivations: list[PmWrite] = field(default_factory=list)
    pm_updates: list[PmWrite] = field(default_factory=list)
    pm_inserts: list[PmWrite] = field(default_factory=list)
    quarantined: list[Issue] = field(default_factory=list)
    skipped: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    unchanged: int = 0

    @property
    def writes(self) -> int:
        """How many rows this plan writes."""
        return (len(self.account_links) + len(self.account_creates) + len(self.autopay_clears)
                + len(self.deactivations) + len(self.pm_updates) + len(self.pm_inserts))


@dataclass(slots=True)
class SalesforceView:
    """What Salesforce holds for a batch: candidate Accounts and their payment methods."""

    accounts: AccountIndex
    pms_by_stripe_id: dict[str, SfPaymentMethod] = field(default_factory=dict)
    pms_by_account: dict[str, list[SfPaymentMethod]] = field(default_factory=dict)

    def pms_of(self, account_id: str) -> list[SfPaymentMethod]:
        """Every payment method of an Account (Stripe-imported or not)."""
        return self.pms_by_account.get(account_id, [])


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Per-environment choices that shape the plan."""

    mode: Mode
    fields: FieldNames
    metadata_key: str
    include_bank_accounts: bool
    reconcile: bool  # deactivate Salesforce rows whose Stripe method is no longer attached


def _same(current: Any, desired: Any) -> bool:
    if isinstance(desired, bool) or isinstance(current, bool):
        return bool(current) == bool(desired)
    return bool((current if current != "" else None) == desired)


def _changes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if not _same(current.get(k), v)}


def build_plan(snapshots: Iterable[Snapshot], view: SalesforceView, facts: OrgFacts,
               options: PlanOptions, *, detached: Iterable[str] = ()) -> Plan:
    """The plan for `snapshots` given `view`. `detached`: Stripe ids of payment methods that
    events say were detached (deactivated unless attached again)."""
    plan = Plan()
    attached_now: set[str] = set()
    for snap in sorted(snapshots, key=lambda s: (s.customer.created, s.customer.id)):
        attached_now.update(pm.id for pm in snap.payment_methods)
        if snap.customer.deleted:
            _deactivate_customer(plan, view, snap.customer.id, options.fields.pm_customer)
            continue
        match = match_customer(snap.customer, view.accounts, mode=options.mode,
                               metadata_key=options.metadata_key,
                               account_name_length=facts.account_name_length)
        plan.scenarios[snap.customer.id] = match.scenario
        if match.scenario is Scenario.SKIPPED:
            plan.skipped.append(Issue(snap.customer.id, snap.customer.id, match.reason or ""))
            continue
        _account(plan, snap, match)
        _payment_methods(plan, snap, match, view, facts, options)
    for stripe_id in sorted(set(detached) - attached_now):
        row = view.pms_by_stripe_id.get(stripe_id)
        if row is not None:
            _deactivate(plan, row, str(row.values.get(options.fields.pm_customer) or ""))
    return plan


def _account(plan: Plan, snap: Snapshot, match: Match) -> None:
    cid = snap.customer.id
    if match.scenario is Scenario.NEW:
        plan.account_creates.append(AccountWrite(cid, match.scenario, name=match.new_name))
    elif match.scenario in (Scenario.BY_ID, Scenario.BY_NAME):
        plan.account_links.append(AccountWrite(cid, match.scenario, account_id=match.account_id))


def _payment_methods(plan: Plan, snap: Snapshot, match: Match, view: SalesforceView,
                     facts: OrgFacts, options: PlanOptions) -> None:
    cid = snap.customer.id
    account_id = match.account_id  # None for a new Account: every row is then an insert
    wanted: dict[str, dict[str, Any]] = {}
    for pm in snap.payment_methods:
        if pm.type == names.STRIPE_US_BANK_ACCOUNT and not options.include_bank_accounts:
            continue
        mapped = map_payment_method(pm, cid, facts, options.fields)
        if mapped.quarantine:
            plan.quarantined.append(Issue(pm.id, cid, mapped.quarantine))
            continue
        plan.notes.extend(Issue(pm.id, cid, note) for note in mapped.notes)
        existing = view.pms_by_stripe_id.get(pm.id)
        if existing is not None and account_id is not None and existing.account_id != account_id:
            plan.quarantined.append(Issue(pm.id, cid, f"already imported under Account "
                                          f"{existing.account_id}; a payment method's Account "
                                          "cannot change (master-detail)"))
            continue
        wanted[pm.id] = dict(mapped.values)
    default = snap.customer.default_payment_method
    default = default if default in wanted else None
    for pm_id, values in wanted.items():
        values[names.PM_AUTOPAY] = pm_id == default
    if default is not None and account_id is not None:
        # One AutoPay method per Account: clear the others before the new one is set.
        for row in view.pms_of(account_id):
            if row.autopay and row.stripe_id != default:
                plan.autopay_clears.append(PmWrite(row.stripe_id or row.id, cid,
                                                   {names.PM_AUTOPAY: False}, row.id))
    cleared = {w.sf_id for w in plan.autopay_clears}
    for pm_id, values in wanted.items():
        current = view.pms_by_stripe_id.get(pm_id)
        if current is None:
            plan.pm_inserts.append(PmWrite(pm_id, cid, values))
            continue
        changes = _changes(current.values, values)
        if current.id in cleared:
            changes.pop(names.PM_AUTOPAY, None)
        if changes:
            plan.pm_updates.append(PmWrite(pm_id, cid, changes, current.id))
        else:
            plan.unchanged += 1
    if options.reconcile and account_id is not None:
        quarantined = {q.stripe_id for q in plan.quarantined}
        for row in view.pms_of(account_id):
            if row.stripe_id and row.stripe_id not in wanted and row.stripe_id not in quarantined:
                _deactivate(plan, row, cid)


def _deactivate_customer(plan: Plan, view: SalesforceView, customer_id: str,
                         pm_customer_field: str) -> None:
    acct = view.accounts.by_stripe_id.get(customer_id)
    rows = list(view.pms_of(acct.id)) if acct else []
    rows += [r for r in view.pms_by_stripe_id.values() if r not in rows and str(
        r.values.get(pm_customer_field, "")) == customer_id]
    plan.notes.append(Issue(customer_id, customer_id, "customer deleted in Stripe: its "
                            "payment methods are deactivated, the Account is kept"))
    for row in rows:
        if row.stripe_id:
            _deactivate(plan, row, customer_id)


def _deactivate(plan: Plan, row: SfPaymentMethod, customer_id: str) -> None:
    if any(w.sf_id == row.id for w in plan.deactivations):
        return
    if row.active or row.autopay:
        plan.deactivations.append(PmWrite(row.stripe_id or row.id, customer_id,
                                          {names.PM_ACTIVE: False, names.PM_AUTOPAY: False},
                                          row.id))
    else:
        plan.unchanged += 1


def merge(plans: Iterable[Plan]) -> Plan:
    """One plan holding the rows of several (for reporting a multi-batch dry run)."""
    out = Plan()
    for p in plans:
        for name in ("account_links", "account_creates", "autopay_clears", "deactivations",
                     "pm_updates", "pm_inserts", "quarantined", "skipped", "notes"):
            getattr(out, name).extend(getattr(p, name))
        out.scenarios.update(p.scenarios)
        out.unchanged += p.unchanged
    return out
