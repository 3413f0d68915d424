"""Where Stripe and Salesforce disagree, by category, with samples. Pure.

A reconciliation plans every customer as the import would (the same matching, mapping and
settings) and writes nothing: whatever the import would still change is a disagreement. So an
org the import has just brought up to date reports zero, by construction, and a category
appears only where the two systems really differ:

- `unlinked_customers`: Stripe customers no Account carries (the import would create or link
  one, or cannot decide which);
- `unknown_customers`: Accounts or payment methods linked to customers Stripe cannot find;
- `stale_active_methods`: rows active in Salesforce whose payment method Stripe has detached
  or deleted (or whose customer it deleted);
- `missing_methods`: payment methods in Stripe with no row (or a row the import cannot write:
  a quarantined one, with its reason);
- `field_mismatches`: rows or import-created Account names whose fields differ from Stripe's
  (expiry, last four, AutoPay / default, billing email, …), with the fields named;
- `duplicate_accounts`: a customer's metadata names one Account while another carries its id;
- `duplicate_methods`: two rows holding one gateway token.

Differences by design are counted apart and are no disagreement: customers Stripe knows only
in live mode (a test key in a refreshed sandbox), deactivations held back for an operator's
confirmation, rows of a type the import does not read (bank accounts while
`includeBankAccounts` is off), and deleted customers whose Account the import keeps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync_lambda import names, telemetry
from sync_lambda.planning import type_not_listed

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sync_lambda.models import PlanOptions, Snapshot
    from sync_lambda.planning import Plan, SalesforceView

DISAGREEING = telemetry.RECONCILE_DISAGREEING
EXPECTED = telemetry.RECONCILE_EXPECTED
CATEGORIES = telemetry.RECONCILE_CATEGORIES
# Samples saved per category with a reconciliation's progress (counts are always complete): the
# state item that carries it across invocations stays far below DynamoDB's 400 KB.
SAMPLES = 100


@dataclass(slots=True)
class Findings:
    """Counts per category and a sample of each."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    cap: int | None = None  # samples kept per category (None: every finding)

    def add(self, category: str, subject: str, customer: str, detail: str) -> None:
        """One finding."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown reconcile category {category!r}")
        self.counts[category] += 1
        sample = self.samples.setdefault(category, [])
        if self.cap is None or len(sample) < self.cap:
            sample.append({"id": subject, "customer": customer, "detail": detail})

    @property
    def disagreements(self) -> int:
        """Findings in the disagreeing categories."""
        return sum(self.counts[c] for c in DISAGREEING)

    def add_plan(self, plan: Plan, snapshots: Iterable[Snapshot], view: SalesforceView,
                 options: PlanOptions, *, held: set[str], metadata_key: str) -> None:
        """What the import would still do for these customers, by category. An unlinked
        customer's payment methods are counted with it, not again as missing."""
        unlinked = {a.customer_id for a in (*plan.account_creates, *plan.account_links)}
        methods: dict[str, int] = {}
        for w in plan.pm_inserts:
            methods[w.customer_id] = methods.get(w.customer_id, 0) + 1
        for a in plan.account_creates:
            self.add("unlinked_customers", a.customer_id, a.customer_id,
                     "no Account carries it (the import would create one), "
                     f"{methods.get(a.customer_id, 0)} payment method(s)")
        for a in plan.account_links:
            self.add("unlinked_customers", a.customer_id, a.customer_id,
                     f"no Account carries it; Account {a.account_id} matches "
                     f"({a.scenario.value}), {methods.get(a.customer_id, 0)} payment "
                     "method(s)")
        for i in plan.skipped:
            self.add("unlinked_customers", i.customer_id, i.customer_id, i.reason)
        for a in plan.account_updates:
            self.add("field_mismatches", a.account_id or a.customer_id, a.customer_id,
                     f"{names.ACCOUNT}.{names.ACCOUNT_NAME}")
        for w in (*plan.autopay_clears, *plan.pm_updates):
            self.add("field_mismatches", w.stripe_id, w.customer_id,
                     ", ".join(sorted(w.values)))
        for w in plan.pm_inserts:
            if w.customer_id not in unlinked:
                self.add("missing_methods", w.stripe_id, w.customer_id, "no row in Salesforce")
        for i in plan.quarantined:
            self.add("missing_methods", i.stripe_id, i.customer_id, i.reason)
        for w in plan.deactivations:
            category = "held_back_deactivations" if w.sf_id in held else "stale_active_methods"
            self.add(category, w.stripe_id, w.customer_id,
                     f"row {w.sf_id} is active; Stripe no longer has it attached")
        for i in plan.read_failures:
            self.add("unknown_customers", i.customer_id, i.customer_id, i.reason)
        for cid in plan.live_mode:
            self.add("live_mode_customers", cid, cid, "known to Stripe's live mode only "
                     "(a test key in a sandbox refreshed from production)")
        for snap in snapshots:
            self._account_side(snap, view, options, metadata_key)

    def _account_side(self, snap: Snapshot, view: SalesforceView, options: PlanOptions,
                      metadata_key: str) -> None:
        cid = snap.customer.id
        linked = view.accounts.by_stripe_id.get(cid)
        if snap.customer.deleted and linked is not None:
            self.add("deleted_customers", linked.id, cid, "customer deleted in Stripe; the "
                     "import keeps its Account")
        if linked is None or snap.error is not None or snap.live_mode:
            return
        named = snap.customer.metadata.get(metadata_key)
        if named and named[:15] != linked.id[:15] and named[:15] in {
                a[:15] for a in view.accounts.by_id}:
            self.add("duplicate_accounts", cid, cid, f"Account {linked.id} carries the "
                     f"customer id, its metadata {metadata_key} names Account {named}")
        for row in view.pms_of(linked.id):
            if row.active and type_not_listed(row, options):
                self.add("excluded_types", row.stripe_id or row.id, cid,
                         f"row {row.id} is a bank account; includeBankAccounts is off")

    def add_duplicate_tokens(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """(gateway token, row id, customer id) of every row holding a token: a token on
        two rows or more is a duplicate."""
        by_token: dict[str, list[tuple[str, str]]] = {}
        for token, row_id, customer in rows:
            by_token.setdefault(token, []).append((row_id, customer))
        for token, held in sorted(by_token.items()):
            if len(held) > 1:
                self.add("duplicate_methods", token, held[0][1],
                         f"{len(held)} rows: {', '.join(sorted(r for r, _ in held))}")

    def to_dict(self, samples: int | None = None) -> dict[str, Any]:
        """JSON-ready, with at most `samples` of each category (None: all kept); also what
        carries a reconciliation across invocations (with SAMPLES)."""
        return {"disagreements": self.disagreements,
                "counts": {c: self.counts[c] for c in CATEGORIES},
                "disagreeing": list(DISAGREEING), "expected": list(EXPECTED),
                "samples": {c: list(self.samples.get(c, []))[:samples] for c in CATEGORIES}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cap: int | None = None) -> Findings:
        """Back from `to_dict`."""
        counts = Counter({c: int(n) for c, n in data.get("counts", {}).items()
                          if c in CATEGORIES and n})
        samples = {c: [dict(s) for s in v] for c, v in data.get("samples", {}).items()
                   if c in CATEGORIES and v}
        return cls(counts, samples, cap)

    def render(self, per_category: int = 5) -> list[str]:
        """Terminal lines: counts per category, a few samples of each."""
        lines = [f"  disagreements: {self.disagreements}"]
        for title, cats in (("disagree", DISAGREEING), ("differ by design", EXPECTED)):
            lines.append(f"  {title}:")
            for c in cats:
                lines.append(f"    {c}: {self.counts[c]}")
                for s in self.samples.get(c, [])[:per_category]:
                    owner = "" if s["id"] == s["customer"] else f" [{s['customer']}]"
                    lines.append(f"      {s['id']}{owner}: {s['detail']}")
                if self.counts[c] > per_category:
                    lines.append(f"      … and {self.counts[c] - per_category} more "
                                 "(see --json)")
        return lines
