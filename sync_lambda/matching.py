"""Which Account a Stripe customer belongs to. Pure.

Order: 1. the Account already carrying the customer's id; 2. the Account whose id is in
the customer's metadata; 3. the one unlinked Account with exactly that name (trimmed,
case-insensitive); 4. a new Account. An Account linked to another customer is never taken over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from sync_lambda.models import Mode

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sync_lambda.models import Customer, SfAccount

_SF_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


class Scenario(StrEnum):
    """How a customer was matched (the three scenarios of Stripe's guidance, plus skips)."""

    LINKED = "already_linked"  # payment methods only
    BY_ID = "existing_by_id"
    BY_NAME = "existing_by_name"
    NEW = "new_customer"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Match:
    """The decision for one customer."""

    scenario: Scenario
    account_id: str | None = None  # set for LINKED / BY_ID / BY_NAME
    new_name: str | None = None  # set for NEW
    reason: str = ""  # set for SKIPPED


def normalize_name(name: str) -> str:
    """The comparison key of an Account name: trimmed, case-folded."""
    return name.strip().casefold()


def to_18(record_id: str) -> str | None:
    """The 18-character form of a Salesforce id, or None if it is not one."""
    if not _SF_ID.match(record_id):
        return None
    id15 = record_id[:15]
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]) if "A" <= ch <= "Z")
        suffix += _SUFFIX[bits]
    if len(record_id) == 18 and record_id[15:].upper() != suffix:
        return None
    return id15 + suffix


def account_name_for(customer: Customer, max_length: int | None = None) -> str:
    """Name for a new Account: the customer's name, else email, else id; cut to the length
    (whole when no length is given)."""
    for candidate in (customer.name, customer.email, customer.id):
        if candidate and candidate.strip():
            return candidate.strip()[:max_length]
    return customer.id[:max_length]


@dataclass(slots=True)
class AccountIndex:
    """The Accounts a batch of customers may match, looked up three ways."""

    by_stripe_id: dict[str, SfAccount] = field(default_factory=dict)
    by_id: dict[str, SfAccount] = field(default_factory=dict)
    by_name: dict[str, list[SfAccount]] = field(default_factory=dict)

    @classmethod
    def of(cls, accounts: Iterable[SfAccount]) -> AccountIndex:
        """Index every account once (duplicates by id are merged)."""
        index = cls()
        for acct in accounts:
            index.add(acct)
        return index

    def add(self, acct: SfAccount) -> None:
        """Add or replace one account."""
        old = self.by_id.get(acct.id)
        if old is not None:
            # Every indexed Account is in its name's bucket and, if linked, under its customer
            # (Salesforce's unique external id: one Account a customer).
            self.by_name[normalize_name(old.name)].remove(old)
            if old.stripe_id:
                del self.by_stripe_id[old.stripe_id]
        self.by_id[acct.id] = acct
        if acct.stripe_id:
            self.by_stripe_id[acct.stripe_id] = acct
        self.by_name.setdefault(normalize_name(acct.name), []).append(acct)

    def claim(self, acct: SfAccount, customer_id: str) -> None:
        """Record that `acct` is now linked to `customer_id` (later customers see it linked)."""
        self.add(replace(acct, stripe_id=customer_id))


def same_email(a: str | None, b: str | None) -> bool:
    """Both set and equal, trimmed and case-insensitive."""
    return bool(a and b and a.strip().casefold() == b.strip().casefold())


def match_customer(customer: Customer, index: AccountIndex, *, mode: Mode,
                   metadata_key: str, account_name_length: int,
                   email_field: str | None = None) -> Match:
    """Decide which Account `customer` maps to. Claims linked accounts in `index`.

    Trust: a match by name trusts the customer's name as much as the Account's. Where
    customers name themselves (a public sign-up), anyone could claim an unlinked Account by
    its name; `email_field` then also requires that Account field to equal the customer's
    email."""
    linked = index.by_stripe_id.get(customer.id)
    if linked is not None:
        return Match(Scenario.LINKED, linked.id)
    if mode is Mode.PAYMENT_METHODS_ONLY:
        return Match(Scenario.SKIPPED, reason="not linked to an Account (mode "
                     "payment_methods_only imports payment methods of linked customers only)")
    raw_id = (customer.metadata.get(metadata_key) or "").strip()
    if raw_id:
        return _by_metadata_id(customer, raw_id, index, metadata_key)
    if customer.name and customer.name.strip():
        key = normalize_name(customer.name)
        candidates = [a for a in index.by_name.get(key, []) if not a.stripe_id]
        if email_field is not None and candidates:
            confirmed = [a for a in candidates if same_email(a.email, customer.email)]
            if not confirmed:
                return Match(Scenario.SKIPPED, reason=f"an unlinked Account has this name, but "
                             f"its {email_field} is not the customer's email: names alone are "
                             "not trusted here; link it by the customer id on the Account or "
                             f"metadata[{metadata_key!r}]")
            candidates = confirmed
        if len(candidates) == 1:
            index.claim(candidates[0], customer.id)
            return Match(Scenario.BY_NAME, candidates[0].id)
        if candidates:
            return Match(Scenario.SKIPPED, reason=f"ambiguous name: {len(candidates)} unlinked "
                         "Accounts have this name; set the Account id in the customer's "
                         f"metadata[{metadata_key!r}] to choose one")
    if mode is Mode.LINK_EXISTING:
        return Match(Scenario.SKIPPED, reason="no matching Account (mode link_existing never "
                     "creates Accounts)")
    return Match(Scenario.NEW, new_name=account_name_for(customer, account_name_length))


def _by_metadata_id(customer: Customer, raw_id: str, index: AccountIndex,
                    metadata_key: str) -> Match:
    record_id = to_18(raw_id)
    if record_id is None:
        return Match(Scenario.SKIPPED, reason=f"metadata[{metadata_key!r}] is not a Salesforce "
                     "record id (15 or 18 characters with a valid checksum)")
    acct = index.by_id.get(record_id)
    if acct is None:
        return Match(Scenario.SKIPPED, reason=f"metadata[{metadata_key!r}] names Account "
                     f"{record_id}, which does not exist")
    if acct.stripe_id and acct.stripe_id != customer.id:
        return Match(Scenario.SKIPPED, reason=f"Account {acct.id} is already linked to another "
                     "Stripe customer; it is never overwritten")
    index.claim(acct, customer.id)
    return Match(Scenario.BY_ID, acct.id)


def metadata_ids(customers: Iterable[Customer], metadata_key: str) -> set[str]:
    """The valid 18-character Account ids named in customers' metadata."""
    out = set()
    for c in customers:
        raw = c.metadata.get(metadata_key)
        rid = to_18(raw.strip()) if raw else None
        if rid:
            out.add(rid)
    return out


def names_to_look_up(customers: Iterable[Customer], linked: Mapping[str, SfAccount]) -> set[str]:
    """Trimmed names of customers that are not linked yet (candidates for rule 3)."""
    return {c.name.strip() for c in customers
            if c.id not in linked and c.name and c.name.strip()}
