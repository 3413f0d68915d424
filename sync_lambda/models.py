"""Values the import works with: Stripe objects, Salesforce rows, and org facts. All frozen."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sync_lambda import names

if TYPE_CHECKING:
    from collections.abc import Mapping


class Mode(StrEnum):
    """What the import may do to Accounts (per environment)."""

    CREATE_AND_LINK = "create_and_link"  # matching rules 1-4
    LINK_EXISTING = "link_existing"  # rules 1-3, never creates Accounts
    PAYMENT_METHODS_ONLY = "payment_methods_only"  # only customers already linked (rule 1)


@dataclass(frozen=True, slots=True)
class FieldNames:
    """The configurable field names the import writes."""

    account_customer: str = names.DEFAULT_ACCOUNT_CUSTOMER_FIELD
    pm_external_id: str = names.DEFAULT_PM_EXTERNAL_ID_FIELD
    pm_customer: str = names.DEFAULT_PM_CUSTOMER_FIELD
    # An Account field holding the billing email: when set, a match by name also needs it to
    # equal the customer's email (names alone are not trusted).
    account_email: str | None = None


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Per-environment choices that shape the plan."""

    mode: Mode
    fields: FieldNames
    metadata_key: str
    include_bank_accounts: bool
    reconcile: bool  # deactivate Salesforce rows whose Stripe method is no longer attached


@dataclass(frozen=True, slots=True)
class Address:
    """A billing address as Stripe gives it (all parts optional)."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A Stripe payment method, reduced to what Salesforce Billing stores (no secrets exist)."""

    id: str
    customer: str | None
    type: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str | None = None
    email: str | None = None
    address: Address = field(default_factory=Address)
    bank_name: str | None = None
    account_holder_type: str | None = None
    account_type: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """A Stripe customer (or the stub Stripe returns for a deleted one)."""

    id: str
    name: str | None = None
    email: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    default_payment_method: str | None = None
    deleted: bool = False
    created: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A customer and the payment methods attached to it right now.

    `error`: why Stripe could not be read for this customer (e.g. a 404: not in this account or
    mode). Such a snapshot says nothing about the customer, so nothing is written for it.
    """

    customer: Customer
    payment_methods: tuple[PaymentMethod, ...] = ()
    error: str | None = None
    # Stripe says the customer exists in live mode and the key is a test key: a sandbox copied
    # from production names it. Nothing is written or deactivated for it, and it is no failure.
    live_mode: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of the full listing: the customers read (with their payment methods), the
    cursor after the last of them, and whether more follow."""

    snapshots: tuple[Snapshot, ...]
    cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class SfAccount:
    """An Account as the import reads it."""

    id: str
    name: str
    stripe_id: str | None
    created_by_import: bool = False  # the import manages its Name
    email: str | None = None  # the name-match email field's value, when one is configured


@dataclass(frozen=True, slots=True)
class SfPaymentMethod:
    """A blng__PaymentMethod__c row: its id, owner and the field values the import manages."""

    id: str
    account_id: str
    stripe_id: str | None
    values: Mapping[str, Any]

    @property
    def active(self) -> bool:
        """The Active checkbox."""
        return bool(self.values.get(names.PM_ACTIVE))

    @property
    def autopay(self) -> bool:
        """The AutoPay checkbox."""
        return bool(self.values.get(names.PM_AUTOPAY))


@dataclass(frozen=True, slots=True)
class OrgFacts:
    """What the import must learn from the org before mapping (ids and picklists differ per org).

    Picklists map value → label; `None` for a field the org does not have.
    """

    gateway_id: str
    account_name_length: int
    picklists: Mapping[str, Mapping[str, str]]
    lengths: Mapping[str, int]
    fields: frozenset[str]
    org_id: str = ""  # the org's id, as it answers (a refreshed sandbox has a new one)
    # value or label, case-folded → value; built once, so a lookup costs one dict access
    _folded: Mapping[str, Mapping[str, str]] = field(init=False, repr=False, compare=False)
    # expiry month number → the expiry-month picklist value naming it (" 5", "05" or "5")
    _months: Mapping[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded: dict[str, dict[str, str]] = {}
        for name, values in self.picklists.items():
            index: dict[str, str] = {}
            # Reversed: where two entries answer to the same text, the first one listed wins.
            for value, label in reversed(list(values.items())):
                index[label.casefold()] = value
                index[value.casefold()] = value
            folded[name] = index
        object.__setattr__(self, "_folded", folded)
        months = self.picklists.get(names.PM_EXP_MONTH, {})
        object.__setattr__(self, "_months", {int(v): v for v in reversed(list(months))
                                             if v.strip().isdigit()})

    def pick(self, field_name: str, wanted: str) -> str | None:
        """The picklist value of `field_name` equal to `wanted` by value or label (any case)."""
        index = self._folded.get(field_name)
        return None if index is None else index.get(wanted.casefold())

    def month(self, number: int) -> str | None:
        """The expiry-month picklist value for month `number`."""
        return self._months.get(number)


@dataclass(frozen=True, slots=True)
class Event:
    """A Stripe event, reduced to what the incremental run needs."""

    id: str
    type: str
    created: int
    object_id: str
    customer_id: str | None


@dataclass(frozen=True, slots=True)
class EventListing:
    """Events since a second, oldest first, and Stripe's own clock when the listing began.

    `stripe_time` (from the response's Date header) is what checkpoints are taken from, so a host
    clock running ahead of Stripe's can never make a checkpoint skip events.

    `complete` is False when a page budget stopped the listing first: Stripe lists newest
    first, so what was listed is the newest part of the window and the checkpoint cannot move
    on it; `oldest_page_s` (the seconds the last, oldest page listed spans) then tells how
    dense the window is where the listing stopped.
    """

    events: tuple[Event, ...]
    stripe_time: int
    complete: bool = True
    pages: int = 1
    oldest_page_s: int | None = None
