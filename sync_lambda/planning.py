"""The write plan for a batch of customers: what to create, link, insert, update, deactivate.
Pure: it compares Stripe's current state with what Salesforce holds, so a re-run plans nothing.
Linear in the batch: every lookup goes through an index built once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync_lambda import names
from sync_lambda.mapping import map_payment_method
from sync_lambda.matching import AccountIndex, Match, Scenario, account_name_for, match_customer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sync_lambda.models import OrgFacts, PlanOptions, SfPaymentMethod, Snapshot


@dataclass(frozen=True, slots=True)
class AccountWrite:
    """Link an existing Account (`account_id`), create one (`name`), or rename one the import
    created (`account_id` and `name`) for a customer."""

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
    account_updates: list[AccountWrite] = field(default_factory=list)
    autopay_clears: list[PmWrite] = field(default_factory=list)
    deactivations: list[PmWrite] = field(default_factory=list)
    pm_updates: list[PmWrite] = field(default_factory=list)
    pm_inserts: list[PmWrite] = field(default_factory=list)
    quarantined: list[Issue] = field(default_factory=list)
    read_failures: list[Issue] = field(default_factory=list)
    live_mode: list[str] = field(default_factory=list)  # customers only live mode knows
    skipped: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    unchanged: int = 0
    # Stripe ids of every payment method this plan wants active (written or already so).
    active: set[str] = field(default_factory=set)
    deactivated_ids: set[str] = field(default_factory=set, repr=False)

    @property
    def writes(self) -> int:
        """How many rows this plan writes."""
        return (len(self.account_links) + len(self.account_creates) + len(self.account_updates)
                + len(self.autopay_clears) + len(self.deactivations) + len(self.pm_updates)
                + len(self.pm_inserts))

    def without_deactivations(self) -> Plan:
        """The same plan with its deactivations held back (they are applied at the end of the
        run, after the mass-deactivation check)."""
        return Plan(self.account_links, self.account_creates, self.account_updates,
                    self.autopay_clears, [], self.pm_updates, self.pm_inserts, self.quarantined,
                    self.read_failures, self.live_mode, self.skipped, self.notes,
                    self.scenarios, self.unchanged, self.active)


@dataclass(slots=True)
class SalesforceView:
    """What Salesforce holds for a batch: candidate Accounts and their payment methods, indexed
    by Stripe id, by Account and by the row's Stripe customer id."""

    accounts: AccountIndex
    pms_by_stripe_id: dict[str, SfPaymentMethod] = field(default_factory=dict)
    pms_by_account: dict[str | None, list[SfPaymentMethod]] = field(default_factory=dict)
    pms_by_customer: dict[str, list[SfPaymentMethod]] = field(default_factory=dict)
    row_ids: set[str] = field(default_factory=set)

    def add(self, row: SfPaymentMethod, customer_field: str) -> None:
        """Index one payment-method row (rows already indexed are ignored)."""
        if row.id in self.row_ids:
            return
        self.row_ids.add(row.id)
        self.pms_by_account.setdefault(row.account_id, []).append(row)
        if row.stripe_id:
            self.pms_by_stripe_id[row.stripe_id] = row
        customer = row.values.get(customer_field)
        if customer:
            self.pms_by_customer.setdefault(str(customer), []).append(row)

    def pms_of(self, account_id: str | None) -> list[SfPaymentMethod]:
        """Every payment method of an Account (Stripe-imported or not); none for None."""
        return self.pms_by_account.get(account_id, [])


def _same(current: Any, desired: Any) -> bool:
    """Whether two unequal values mean the same to Salesforce."""
    if isinstance(desired, bool) or isinstance(current, bool):
        return bool(current) == bool(desired)
    # Salesforce answers an empty text field as "" where Stripe has no value.
    return current == "" and desired is None


def _changes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    get = current.get
    # Equal values are by far the most common: they skip the call (planning is per field).
    return {k: v for k, v in desired.items() if get(k) != v and not _same(get(k), v)}


def build_plan(snapshots: Iterable[Snapshot], view: SalesforceView, facts: OrgFacts,
               options: PlanOptions, *, detached: Iterable[str] = ()) -> Plan:
    """The plan for `snapshots` given `view`. `detached`: Stripe ids of payment methods that
    events say were detached (deactivated unless attached again)."""
    plan = Plan()
    attached_now: set[str] = set()
    for snap in sorted(snapshots, key=lambda s: (s.customer.created, s.customer.id)):
        cid = snap.customer.id
        if snap.live_mode:
            # A live customer seen with a test key: nothing to say about it here, at all.
            plan.live_mode.append(cid)
            continue
        if snap.error is not None:
            # Stripe could not say what this customer holds: touch nothing, retry later.
            plan.read_failures.append(Issue(cid, cid, snap.error))
            continue
        attached_now.update(pm.id for pm in snap.payment_methods)
        if snap.customer.deleted:
            _deactivate_customer(plan, view, cid)
            continue
        match = match_customer(snap.customer, view.accounts, mode=options.mode,
                               metadata_key=options.metadata_key,
                               account_name_length=facts.account_name_length,
                               email_field=options.fields.account_email)
        plan.scenarios[cid] = match.scenario
        if match.scenario is Scenario.SKIPPED:
            plan.skipped.append(Issue(cid, cid, match.reason))
            continue
        _account(plan, snap, match, view, facts)
        _payment_methods(plan, snap, match, view, facts, options)
    for stripe_id in sorted(set(detached) - attached_now):
        row = view.pms_by_stripe_id.get(stripe_id)
        if row is not None:
            _deactivate(plan, row, str(row.values.get(options.fields.pm_customer) or ""))
    return plan


def _account(plan: Plan, snap: Snapshot, match: Match, view: SalesforceView,
             facts: OrgFacts) -> None:
    cid = snap.customer.id
    if match.scenario is Scenario.NEW:
        plan.account_creates.append(AccountWrite(cid, match.scenario, name=match.new_name))
        _note_name_cut(plan, snap, facts)
    elif match.scenario in (Scenario.BY_ID, Scenario.BY_NAME):
        plan.account_links.append(AccountWrite(cid, match.scenario, account_id=match.account_id))
    elif match.account_id is not None:
        acct = view.accounts.by_id.get(match.account_id)
        if acct is None or not acct.created_by_import:
            return
        wanted = account_name_for(snap.customer, facts.account_name_length)
        if acct.name != wanted:
            plan.account_updates.append(AccountWrite(cid, match.scenario, acct.id, wanted))
            _note_name_cut(plan, snap, facts)


def _note_name_cut(plan: Plan, snap: Snapshot, facts: OrgFacts) -> None:
    full = account_name_for(snap.customer)
    if len(full) > facts.account_name_length:
        plan.notes.append(Issue(snap.customer.id, snap.customer.id,
                                f"{names.ACCOUNT}.{names.ACCOUNT_NAME} cut to the field's "
                                f"{facts.account_name_length} characters (Stripe has "
                                f"{len(full)})"))


def _payment_methods(plan: Plan, snap: Snapshot, match: Match, view: SalesforceView,
                     facts: OrgFacts, options: PlanOptions) -> None:
    cid = snap.customer.id
    account_id = match.account_id  # None for a new Account: every row is then an insert
    wanted: dict[str, dict[str, Any]] = {}
    held: dict[str, SfPaymentMethod] = {}  # the rows Salesforce already has for them
    quarantined: set[str] = set()
    by_stripe_id = view.pms_by_stripe_id
    for pm in snap.payment_methods:
        if pm.type == names.STRIPE_US_BANK_ACCOUNT and not options.include_bank_accounts:
            continue
        mapped = map_payment_method(pm, cid, facts, options.fields)
        if mapped.quarantine:
            plan.quarantined.append(Issue(pm.id, cid, mapped.quarantine))
            quarantined.add(pm.id)
            continue
        if mapped.notes:
            plan.notes.extend(Issue(pm.id, cid, note) for note in mapped.notes)
        existing = by_stripe_id.get(pm.id)
        if existing is not None:
            if account_id is not None and existing.account_id != account_id:
                # Its row is under the other Account: this Account's reconcile never sees it.
                plan.quarantined.append(Issue(pm.id, cid, f"already imported under Account "
                                              f"{existing.account_id}; a payment method's "
                                              "Account cannot change (master-detail)"))
                continue
            held[pm.id] = existing
        wanted[pm.id] = mapped.values
    plan.active.update(wanted)
    default = snap.customer.default_payment_method
    default = default if default in wanted else None
    for pm_id, values in wanted.items():
        values[names.PM_AUTOPAY] = pm_id == default
    cleared: set[str] = set()
    rows = view.pms_of(account_id)  # none for a new Account
    if default is not None:
        # One AutoPay method per Account: clear the others before the new one is set.
        for row in rows:
            if row.autopay and row.stripe_id != default:
                plan.autopay_clears.append(PmWrite(row.stripe_id or row.id, cid,
                                                   {names.PM_AUTOPAY: False}, row.id))
                cleared.add(row.id)
    for pm_id, values in wanted.items():
        current = held.get(pm_id)
        if current is None:
            plan.pm_inserts.append(PmWrite(pm_id, cid, values))
            continue
        changes = _changes(current.values, values)
        if current.id in cleared:
            # A cleared row had AutoPay on and is not the default: its change is the clear.
            del changes[names.PM_AUTOPAY]
        if changes:
            plan.pm_updates.append(PmWrite(pm_id, cid, changes, current.id))
        else:
            plan.unchanged += 1
    if options.reconcile:
        for row in rows:
            if row.stripe_id and row.stripe_id not in wanted and row.stripe_id not in quarantined \
                    and not type_not_listed(row, options):
                _deactivate(plan, row, cid)


def type_not_listed(row: SfPaymentMethod, options: PlanOptions) -> bool:
    """A bank-account row while bank accounts are not imported: Stripe was not asked for it,
    so its absence says nothing (turning a type off stops importing it, never deactivates)."""
    kind = str(row.values.get(names.PM_PAYMENT_TYPE) or "")
    return not options.include_bank_accounts and kind.upper() == names.PAYMENT_TYPE_ACH.upper()


def _deactivate_customer(plan: Plan, view: SalesforceView, customer_id: str) -> None:
    """A deleted customer: its rows, found through its linked Account or through the rows' own
    Stripe customer id, are deactivated; the Account stays."""
    acct = view.accounts.by_stripe_id.get(customer_id)
    rows = [*(view.pms_of(acct.id) if acct else ()), *view.pms_by_customer.get(customer_id, ())]
    plan.notes.append(Issue(customer_id, customer_id, "customer deleted in Stripe: its "
                            "payment methods are deactivated, the Account is kept"))
    for row in rows:
        if row.stripe_id:
            _deactivate(plan, row, customer_id)


def _deactivate(plan: Plan, row: SfPaymentMethod, customer_id: str) -> None:
    if row.id in plan.deactivated_ids:
        return
    plan.deactivated_ids.add(row.id)
    if row.active or row.autopay:
        plan.deactivations.append(PmWrite(row.stripe_id or row.id, customer_id,
                                          {names.PM_ACTIVE: False, names.PM_AUTOPAY: False},
                                          row.id))
    else:
        plan.unchanged += 1
