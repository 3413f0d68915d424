"""Making sample Stripe data through the real API (tests and the demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import stripe


def create_customer(client: stripe.StripeClient, *, cards: tuple[str, ...] = ("pm_card_visa",),
                    default: int | None = 0, **params: Any) -> tuple[str, list[str]]:
    """A customer with test cards (`pm_card_*`) attached; card number `default` becomes the
    default payment method. Returns (customer id, payment method ids)."""
    cus = client.v1.customers.create(params=params)  # type: ignore[arg-type]
    pm_ids = [client.v1.payment_methods.attach(c, params={"customer": cus.id}).id
              for c in cards]
    if default is not None and pm_ids:
        client.v1.customers.update(cus.id, params={
            "invoice_settings": {"default_payment_method": pm_ids[default]}})
    return cus.id, pm_ids
