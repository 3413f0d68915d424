"""Stripe JSON (as dicts) → models. Pure: tolerant of missing fields, never raises on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_lambda import names
from sync_lambda.models import Address, Customer, Event, PaymentMethod


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id_of(value: Any) -> str | None:
    """A reference that may be an id or an expanded object."""
    if isinstance(value, Mapping):
        return _str(value.get("id"))
    return _str(value)


def customer_from(obj: Mapping[str, Any]) -> Customer:
    """A Customer from Stripe's customer (or deleted-customer) object."""
    metadata = {str(k): str(v) for k, v in _map(obj.get("metadata")).items()
                if v is not None}
    invoice = _map(obj.get("invoice_settings"))
    return Customer(
        id=str(obj.get("id", "")),
        name=_str(obj.get("name")),
        email=_str(obj.get("email")),
        metadata=metadata,
        default_payment_method=_id_of(invoice.get("default_payment_method")),
        deleted=bool(obj.get("deleted", False)),
        created=_int(obj.get("created")) or 0,
    )


def payment_method_from(obj: Mapping[str, Any]) -> PaymentMethod:
    """A PaymentMethod from Stripe's payment_method object (card or us_bank_account)."""
    kind = str(obj.get("type", ""))
    billing = _map(obj.get("billing_details"))
    addr = _map(billing.get("address"))
    address = Address(line1=_str(addr.get("line1")), line2=_str(addr.get("line2")),
                      city=_str(addr.get("city")), state=_str(addr.get("state")),
                      postal_code=_str(addr.get("postal_code")),
                      country=_str(addr.get("country")))
    common: dict[str, Any] = {
        "id": str(obj.get("id", "")), "customer": _id_of(obj.get("customer")), "type": kind,
        "holder_name": _str(billing.get("name")), "email": _str(billing.get("email")),
        "address": address,
    }
    if kind == names.STRIPE_CARD:
        card = _map(obj.get("card"))
        return PaymentMethod(**common, brand=_str(card.get("brand")),
                             last4=_str(card.get("last4")), exp_month=_int(card.get("exp_month")),
                             exp_year=_int(card.get("exp_year")))
    if kind == names.STRIPE_US_BANK_ACCOUNT:
        bank = _map(obj.get("us_bank_account"))
        return PaymentMethod(**common, last4=_str(bank.get("last4")),
                             bank_name=_str(bank.get("bank_name")),
                             account_holder_type=_str(bank.get("account_holder_type")),
                             account_type=_str(bank.get("account_type")))
    return PaymentMethod(**common)


def event_from(obj: Mapping[str, Any]) -> Event | None:
    """An Event, or None when it carries no usable object id."""
    data = _map(_map(obj.get("data")).get("object"))
    object_id = _str(data.get("id"))
    if object_id is None or _str(obj.get("id")) is None:
        return None
    kind = str(obj.get("type", ""))
    customer = object_id if kind.startswith("customer.") else _id_of(data.get("customer"))
    return Event(id=str(obj["id"]), type=kind, created=_int(obj.get("created")) or 0,
                 object_id=object_id, customer_id=customer)
