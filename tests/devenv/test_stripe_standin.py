"""The Stripe stand-in (localstripe + extensions) through stripe-python's StripeClient."""

from __future__ import annotations

import concurrent.futures
import time
from typing import TYPE_CHECKING

import pytest
import stripe

if TYPE_CHECKING:
    from devenv.stripe import StripeStandIn


def _card(number: str, *, cvc: str = "123", exp_year: int = 2031) -> dict[str, object]:
    return {"type": "card", "card": {"number": number, "exp_month": 4, "exp_year": exp_year,
                                     "cvc": cvc}}


@pytest.mark.parametrize(("number", "cvc", "brand"), [
    ("4242424242424242", "123", "visa"),
    ("5555555555554444", "123", "mastercard"),
    ("2223003122003222", "123", "mastercard"),
    ("378282246310005", "1234", "amex"),
    ("6011111111111117", "123", "discover"),
    ("3056930009020004", "123", "diners"),
    ("36227206271667", "123", "diners"),
    ("3566002020360505", "123", "jcb"),
    ("6200000000000005", "123", "unionpay"),
])
def test_card_brand_from_number(stripe_client: stripe.StripeClient, number: str, cvc: str,
                                brand: str) -> None:
    pm = stripe_client.v1.payment_methods.create(params=_card(number, cvc=cvc))  # type: ignore[arg-type]
    assert pm.card is not None
    assert (pm.card.brand, pm.card.last4, pm.card.exp_year) == (brand, number[-4:], 2031)


def test_invalid_card_numbers(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as exc:
        stripe_client.v1.payment_methods.create(params=_card("4242424242424241"))  # type: ignore[arg-type]
    assert exc.value.code == "incorrect_number"
    with pytest.raises(stripe.InvalidRequestError) as bad_cvc:
        stripe_client.v1.payment_methods.create(params=_card("378282246310005"))  # type: ignore[arg-type]
    assert bad_cvc.value.code == "invalid_cvc"


def test_test_card_ids(stripe_client: stripe.StripeClient) -> None:
    cus = stripe_client.v1.customers.create(params={"name": "A"})
    pm = stripe_client.v1.payment_methods.attach("pm_card_mastercard",
                                                 params={"customer": cus.id})
    assert pm.card is not None and pm.card.brand == "mastercard"
    assert pm.customer == cus.id


def test_us_bank_account(stripe_client: stripe.StripeClient) -> None:
    cus = stripe_client.v1.customers.create(params={"name": "A"})
    bank = stripe_client.v1.payment_methods.create(params={
        "type": "us_bank_account", "billing_details": {"name": "Jenny Rosen"},
        "us_bank_account": {"account_number": "000123456789", "routing_number": "110000000",
                            "account_holder_type": "company", "account_type": "savings"}})
    stripe_client.v1.payment_methods.attach(bank.id, params={"customer": cus.id})
    stripe_client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    banks = stripe_client.v1.payment_methods.list(params={"customer": cus.id,
                                                          "type": "us_bank_account"})
    assert [b.id for b in banks.data] == [bank.id]
    only = banks.data[0].us_bank_account
    assert only is not None
    assert (only.last4, only.account_holder_type, only.account_type) == ("6789", "company",
                                                                          "savings")
    cards = stripe_client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"})
    assert len(cards.data) == 1


def test_lists_are_newest_first_and_page(stripe_client: stripe.StripeClient) -> None:
    made = [stripe_client.v1.customers.create(params={"name": f"C{i}"}).id for i in range(25)]
    page = stripe_client.v1.customers.list(params={"limit": 10})
    assert [c.id for c in page.data] == made[::-1][:10]
    assert page.has_more is True
    every = [c.id for c in page.auto_paging_iter()]
    assert every == made[::-1]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        stripe_client.v1.customers.list(params={"limit": 101})
    assert exc.value.param == "limit"


def test_payment_method_events_and_types_filter(stripe_client: stripe.StripeClient) -> None:
    cus = stripe_client.v1.customers.create(params={"name": "A"})
    pm = stripe_client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    stripe_client.v1.payment_methods.update(pm.id, params={"metadata": {"k": "v"}})
    stripe_client.v1.payment_methods.detach(pm.id)
    events = stripe_client.v1.events.list(params={"types": ["payment_method.*"]})
    assert [e.type for e in events.data] == ["payment_method.detached", "payment_method.updated",
                                             "payment_method.attached"]
    assert events.data[0].data.object["id"] == pm.id
    both = stripe_client.v1.events.list(params={"types": ["customer.created",
                                                          "payment_method.attached"]})
    assert [e.type for e in both.data] == ["payment_method.attached", "customer.created"]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.events.list(params={"types": [f"t{i}" for i in range(21)]})
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_methods.detach(pm.id)  # not attached any more


def test_events_created_filter(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create(params={"name": "old"})
    time.sleep(1.1)
    cutoff = int(time.time())
    time.sleep(0.05)
    stripe_client.v1.customers.create(params={"name": "new"})
    later = stripe_client.v1.events.list(params={"created": {"gte": cutoff},
                                                 "types": ["customer.*"]})
    assert [e.data.object["name"] for e in later.data] == ["new"]


def test_deleted_customer(stripe_client: stripe.StripeClient) -> None:
    cus = stripe_client.v1.customers.create(params={"name": "A"})
    stripe_client.v1.customers.delete(cus.id)
    gone = stripe_client.v1.customers.retrieve(cus.id)
    assert gone.to_dict()["deleted"] is True
    types = [e.type for e in stripe_client.v1.events.list().data]
    assert types[0] == "customer.deleted"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        stripe_client.v1.customers.retrieve("cus_doesnotexist")
    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")


def test_5xx_fault_is_deterministic_and_capped(stripe_api: StripeStandIn,
                                               stripe_client: stripe.StripeClient) -> None:
    def outcomes() -> list[int]:
        out = []
        for _ in range(20):
            try:
                stripe_client.v1.customers.list()
                out.append(200)
            except stripe.APIError as exc:
                out.append(exc.http_status or 0)
        return out

    stripe_api.set_faults(seed=5, error_rate=0.3, error_status=503)
    first = outcomes()
    assert 503 in first and 200 in first
    stripe_api.set_faults(seed=5, error_rate=0.3, error_status=503)
    assert outcomes() == first
    stripe_api.set_faults(error_rate=1.0, error_times=2)
    assert outcomes()[:3] == [500, 500, 200]


def test_rate_limit_429(stripe_api: StripeStandIn, stripe_client: stripe.StripeClient) -> None:
    stripe_api.set_faults(rate_limit_per_s=5)

    def call(_: int) -> str:
        try:
            stripe_client.v1.customers.list()
            return "ok"
        except stripe.RateLimitError:
            return "429"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(12)))
    assert results.count("ok") == 5
    assert results.count("429") == 7
    assert stripe_api.stats()["rate_limited"] == 7


def test_latency(stripe_api: StripeStandIn, stripe_client: stripe.StripeClient) -> None:
    stripe_api.set_faults(latency_ms=120)
    t = time.monotonic()
    stripe_client.v1.customers.list()
    assert time.monotonic() - t >= 0.12


def test_stats_per_route(stripe_api: StripeStandIn, stripe_client: stripe.StripeClient) -> None:
    cus = stripe_client.v1.customers.create(params={"name": "A"})
    stripe_client.v1.customers.retrieve(cus.id)
    stripe_client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"})
    stats = stripe_api.stats()
    assert stats["routes"] == {"POST /v1/customers": 1, "GET /v1/customers/{cus}": 1,
                               "GET /v1/payment_methods": 1}
    assert stripe_api.stats(reset=True)["requests"] == 3
    assert stripe_api.stats()["requests"] == 0


def test_bad_fault_plan(stripe_api: StripeStandIn) -> None:
    with pytest.raises(ValueError, match="unknown key 'nope'"):
        stripe_api.set_faults(nope=1)
    with pytest.raises(ValueError, match="error_status must be a 5xx"):
        stripe_api.set_faults(error_status=404)


def test_reset_forgets_everything(stripe_api: StripeStandIn,
                                  stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create(params={"name": "A"})
    stripe_api.set_faults(latency_ms=1)
    stripe_api.reset()
    assert stripe_client.v1.customers.list().data == []
    assert stripe_client.v1.events.list().data == []
    assert stripe_api.stats()["requests"] == 2


def test_unauthenticated(stripe_api: StripeStandIn) -> None:
    anon = stripe.StripeClient("pk_test_x", base_addresses={"api": stripe_api.api_base})
    with pytest.raises(stripe.AuthenticationError):
        anon.v1.customers.list()


def test_bulk_seed(stripe_api: StripeStandIn, stripe_client: stripe.StripeClient) -> None:
    made = stripe_api.seed([{"name": "A", "cards": ["4242424242424242", "378282246310005"],
                             "default": 1}, {"name": "B", "email": "b@x.test"}])
    assert [len(m["payment_methods"]) for m in made] == [2, 0]
    cus = stripe_client.v1.customers.retrieve(made[0]["id"])
    assert cus.invoice_settings is not None
    assert cus.invoice_settings.default_payment_method == made[0]["payment_methods"][1]
    cards = stripe_client.v1.payment_methods.list(params={"customer": made[0]["id"],
                                                          "type": "card"})
    assert {c.card.brand for c in cards.data if c.card} == {"visa", "amex"}
    types = [e.type for e in stripe_client.v1.events.list(params={"limit": 100}).data]
    assert types.count("customer.created") == 2
    assert types.count("payment_method.attached") == 2
