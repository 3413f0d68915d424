"""Minimal extensions of localstripe for what the importer relies on. Each one is documented in
docs/stand-ins.md; call `install()` once, before the server starts.

1. No disk persistence. Stock localstripe pickles its whole store to /tmp/localstripe.pickle on
   every write (quadratic, and shared between instances).
2. Per-type and per-customer indexes, so listing customers or a customer's payment methods does
   not scan the whole store; lists are newest first, as Stripe's are.
3. `payment_method.attached`, `payment_method.detached` and `payment_method.updated` events.
4. `types[]` (up to 20, with `*` wildcards) on GET /v1/events, like Stripe's API.
5. `us_bank_account` payment methods (create, list with type=us_bank_account, attach, detach).
6. Card brand derived from the number's BIN (localstripe reports every card as visa), numbers of
   13 to 19 digits with a Luhn check, 4-digit CVC for Amex, and more `pm_card_*` test ids.
7. Every event created is also delivered to the v2 event destinations (`destinations`).
"""

from __future__ import annotations

import fnmatch
import hashlib
from typing import TYPE_CHECKING, Any

from localstripe import resources as ls
from localstripe.errors import UserError

from devenv.stripe import destinations

if TYPE_CHECKING:
    from collections.abc import Callable

_installed = False
# object type → id → object, in creation order (Python dicts keep insertion order).
_by_type: dict[str, dict[str, Any]] = {}
# customer id → payment method id → payment method.
_pm_by_customer: dict[str, dict[str, Any]] = {}

BRANDS = (  # (prefixes, brand), checked in order: longer, more specific ranges first
    (tuple(str(n) for n in range(3528, 3590)), "jcb"),
    (("34", "37"), "amex"),
    (("300", "301", "302", "303", "304", "305", "36", "38", "39"), "diners"),
    (("62", "81"), "unionpay"),
    (("6011", "644", "645", "646", "647", "648", "649", "65"), "discover"),
    ((*tuple(str(n) for n in range(2221, 2721)), "51", "52", "53", "54", "55"), "mastercard"),
    (("4",), "visa"),
)
TEST_CARDS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_diners": "3056930009020004",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
}
MAX_EVENT_TYPES = 20


def card_brand(number: str) -> str:
    """Stripe's `card.brand` for a card number (by BIN prefix)."""
    for prefixes, brand in BRANDS:
        if number.startswith(prefixes):
            return brand
    return "unknown"


def luhn_ok(number: str) -> bool:
    """Whether `number` passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _fingerprint(s: str) -> str:
    return hashlib.sha1(s.encode(), usedforsecurity=False).hexdigest()[:16]


def _store_set(self: ls.Store, key: str, value: Any) -> None:
    dict.__setitem__(self, key, value)
    kind, _, oid = key.partition(":")
    _by_type.setdefault(kind, {})[oid] = value


def _store_del(self: ls.Store, key: str) -> None:
    dict.__delitem__(self, key)
    kind, _, oid = key.partition(":")
    _by_type.get(kind, {}).pop(oid, None)


def _store_clear(self: ls.Store) -> None:
    dict.clear(self)
    _by_type.clear()
    _pm_by_customer.clear()


def _list_all(cls: type[Any], /, url: str, limit: Any = None, starting_after: Any = None,
              **kwargs: Any) -> Any:
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    li = ls.List(url, limit=limit, starting_after=starting_after)
    li._list = list(reversed(list(_by_type.get(cls.object, {}).values())))
    return li


def _pm_customer_get(self: Any) -> str | None:
    value = self.__dict__.get("_customer_id")
    return None if value is None else str(value)


def _pm_customer_set(self: Any, value: str | None) -> None:
    old = self.__dict__.get("_customer_id")
    if old:
        _pm_by_customer.get(old, {}).pop(self.id, None)
    self.__dict__["_customer_id"] = value
    if value:
        _pm_by_customer.setdefault(value, {})[self.id] = self


def _pm_list(_cls: type[Any], /, url: str, customer: Any = None, type: Any = None,
             limit: Any = None, starting_after: Any = None, **kwargs: Any) -> Any:
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    if not (isinstance(customer, str) and customer.startswith("cus_")):
        raise UserError(400, "Bad request", {"param": "customer"})
    if type not in ("card", "us_bank_account", "sepa_debit"):
        raise UserError(400, "Bad request", {"param": "type"})
    ls.Customer._api_retrieve(customer)  # 404 for an unknown customer
    li = ls.List(url, limit=limit, starting_after=starting_after)
    owned = _pm_by_customer.get(customer, {}).values()
    li._list = [pm for pm in reversed(list(owned)) if pm.type == type]
    return li


def _pm_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, type: Any = None, billing_details: Any = None,
                 card: Any = None, us_bank_account: Any = None, metadata: Any = None,
                 **kwargs: Any) -> None:
        if type == "card":
            _init_card(self, billing_details, card, metadata, kwargs)
        elif type == "us_bank_account":
            _init_bank(self, billing_details, us_bank_account, metadata, kwargs)
        else:
            original(self, type=type, billing_details=billing_details, metadata=metadata,
                     **kwargs)

    return init


def _init_card(self: Any, billing_details: Any, card: Any, metadata: Any,
               extra: dict[str, Any]) -> None:
    if extra:
        raise UserError(400, "Unexpected " + ", ".join(extra.keys()))
    try:
        if not isinstance(card, dict) or set(card) != {"number", "exp_month", "exp_year", "cvc"}:
            raise TypeError(card)
        number = str(card["number"]).replace(" ", "")
        exp_month = int(card["exp_month"])
        exp_year = int(card["exp_year"])
        cvc = str(card["cvc"])
        if billing_details is not None and not isinstance(billing_details, dict):
            raise TypeError(billing_details)
    except (ValueError, TypeError):
        raise UserError(400, "Bad request") from None
    if not number.isdigit() or not 13 <= len(number) <= 19 or not luhn_ok(number):
        raise UserError(402, "Your card number is incorrect.", {"code": "incorrect_number",
                                                                 "param": "card[number]"})
    if not 1 <= exp_month <= 12:
        raise UserError(400, "Your card's expiration month is invalid.",
                        {"code": "invalid_expiry_month", "param": "card[exp_month]"})
    if exp_year < 100:
        exp_year += 2000
    if not 2019 <= exp_year < 2100:
        raise UserError(400, "Your card's expiration year is invalid.",
                        {"code": "invalid_expiry_year", "param": "card[exp_year]"})
    brand = card_brand(number)
    if not cvc.isdigit() or len(cvc) != (4 if brand == "amex" else 3):
        raise UserError(400, "Your card's security code is invalid.",
                        {"code": "invalid_cvc", "param": "card[cvc]"})
    ls.StripeObject.__init__(self)
    self.type = "card"
    self.billing_details = billing_details or {}
    self._card_number = number
    self.card = {
        "brand": brand, "display_brand": brand,
        "checks": {"address_line1_check": None, "address_postal_code_check": None,
                   "cvc_check": "pass"},
        "country": "US", "exp_month": exp_month, "exp_year": exp_year,
        "fingerprint": _fingerprint(number), "funding": "credit", "last4": number[-4:],
        "networks": {"available": [brand], "preferred": None},
        "three_d_secure_usage": {"supported": True}, "wallet": None,
    }
    self.customer = None
    self.metadata = metadata or {}


def _init_bank(self: Any, billing_details: Any, bank: Any, metadata: Any,
               extra: dict[str, Any]) -> None:
    if extra:
        raise UserError(400, "Unexpected " + ", ".join(extra.keys()))
    try:
        if not isinstance(bank, dict):
            raise TypeError(bank)
        account = str(bank["account_number"])
        routing = str(bank["routing_number"])
        holder = bank.get("account_holder_type", "individual")
        kind = bank.get("account_type", "checking")
        valid = (holder in ("individual", "company") and kind in ("checking", "savings")
                 and account.isdigit() and 4 <= len(account) <= 17
                 and routing.isdigit() and len(routing) == 9
                 # Stripe requires the account holder's name for us_bank_account.
                 and isinstance(billing_details, dict) and bool(billing_details.get("name")))
        if not valid:
            raise TypeError(bank)
    except (KeyError, TypeError):
        raise UserError(400, "Bad request") from None
    ls.StripeObject.__init__(self)
    self.type = "us_bank_account"
    self.billing_details = billing_details
    self.us_bank_account = {
        "account_holder_type": holder, "account_type": kind, "bank_name": "STRIPE TEST BANK",
        "financial_connections_account": None, "fingerprint": _fingerprint(routing + account),
        "last4": account[-4:], "networks": {"preferred": "ach", "supported": ["ach"]},
        "routing_number": routing, "status_details": {},
    }
    self.customer = None
    self.metadata = metadata or {}


def _test_article(original: Callable[[str], Any]) -> Callable[[Any, str], Any]:
    def get(_cls: type[Any], pm_id: str) -> Any:
        if pm_id in TEST_CARDS:
            number = TEST_CARDS[pm_id]
            return ls.PaymentMethod(type="card", card={
                "number": number, "exp_month": "12", "exp_year": "2034",
                "cvc": "1234" if card_brand(number) == "amex" else "123"})
        if pm_id == "pm_usBankAccount":
            return ls.PaymentMethod(type="us_bank_account",
                                   billing_details={"name": "Jenny Rosen"},
                                   us_bank_account={"account_number": "000123456789",
                                                    "routing_number": "110000000"})
        return original(pm_id)

    return get


def _with_event(event_type: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def call(_cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        obj = original(*args, **kwargs)
        ls.schedule_webhook(ls.Event(event_type, obj))
        return obj

    return call


def _detach(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(_cls: type[Any], id: str, **kwargs: Any) -> Any:
        obj = ls.PaymentMethod._api_retrieve(id)
        if obj.customer is None:
            raise UserError(400, f"The payment method {id} is not attached to a customer.",
                            {"code": "payment_method_unexpected_state"})
        obj = original(id, **kwargs)
        ls.schedule_webhook(ls.Event("payment_method.detached", obj))
        return obj

    return call


def _events_list(cls: type[Any], /, url: str, type: Any = None, types: Any = None,
                 created: Any = None, limit: Any = None, starting_after: Any = None,
                 **kwargs: Any) -> Any:
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    if type is not None and types is not None:
        raise UserError(400, "You may only specify one of these parameters: type, types.",
                        {"param": "types"})
    patterns: list[str] | None = None
    if type is not None:
        patterns = [str(type)]
    elif types is not None:
        if not isinstance(types, list) or not types or len(types) > MAX_EVENT_TYPES:
            raise UserError(400, f"types must be a list of 1 to {MAX_EVENT_TYPES} event types",
                            {"param": "types"})
        patterns = [str(t) for t in types]
    bounds: dict[str, int] = {}
    if created is not None:
        if not isinstance(created, dict) or set(created) - {"gt", "gte", "lt", "lte"}:
            raise UserError(400, "Bad request", {"param": "created"})
        try:
            bounds = {k: int(v) for k, v in created.items()}
        except ValueError:
            raise UserError(400, "Bad request", {"param": "created"}) from None

    def keep(ev: Any) -> bool:
        if patterns is not None and not any(fnmatch.fnmatchcase(ev.type, p) for p in patterns):
            return False
        c = ev.created
        return not (("gt" in bounds and c <= bounds["gt"])
                    or ("gte" in bounds and c < bounds["gte"])
                    or ("lt" in bounds and c >= bounds["lt"])
                    or ("lte" in bounds and c > bounds["lte"]))

    li = _list_all(cls, url, limit=limit, starting_after=starting_after)
    # Newest first by `created`, as Stripe lists them (a stable sort keeps the newer of two
    # events of one second first): events made in the past (`seed_history`) sort in place.
    li._list = sorted((ev for ev in li._list if keep(ev)), key=lambda ev: ev.created,
                      reverse=True)
    return li


def seed_customers(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customers with cards made by localstripe's own code (its events included), in bulk."""
    made = []
    for spec in specs:
        cus = ls.Customer(name=spec.get("name"), email=spec.get("email"),
                          metadata=spec.get("metadata"))
        pms = []
        for number in spec.get("cards", []):
            cvc = "1234" if card_brand(number) == "amex" else "123"
            pm = ls.PaymentMethod(type="card", card={"number": number, "exp_month": 12,
                                                      "exp_year": 2034, "cvc": cvc})
            ls.PaymentMethod._api_attach(pm.id, customer=cus.id)
            pms.append(pm.id)
        default = spec.get("default")
        if default is not None and pms:
            ls.Customer._api_update(cus.id, invoice_settings={
                "default_payment_method": pms[int(default)]})
        made.append({"id": cus.id, "payment_methods": pms})
    return made


def seed_history(specs: list[dict[str, Any]]) -> int:
    """`customer.updated` events of existing customers, stamped in the past; how many."""
    for spec in specs:
        customer = ls.store[f"customer:{spec['customer']}"]
        event = ls.Event("customer.updated", customer)
        event.created = int(spec["created"])
    return len(specs)


def _deliver_too(original: Callable[[Any], None]) -> Callable[[Any], None]:
    # Every event localstripe (or an extension) creates also goes to the event destinations.
    def schedule(event: Any) -> None:
        destinations.deliver(event._export())
        original(event)

    return schedule


def install() -> None:
    """Apply every extension to the imported localstripe modules (idempotent)."""
    global _installed  # noqa: PLW0603 - localstripe's state is module-global by design
    if _installed:
        return
    _installed = True
    ls.Store.try_load_from_disk = lambda _self: None
    ls.Store.dump_to_disk = lambda _self: None
    ls.Store.__setitem__ = _store_set
    ls.Store.__delitem__ = _store_del
    ls.Store.clear = _store_clear
    _by_type.clear()
    for key, value in ls.store.items():
        kind, _, oid = key.partition(":")
        _by_type.setdefault(kind, {})[oid] = value
    ls.StripeObject._api_list_all = classmethod(_list_all)
    pm = ls.PaymentMethod
    pm.customer = property(_pm_customer_get, _pm_customer_set)
    pm.__init__ = _pm_init(pm.__init__)
    pm._api_list_all = classmethod(_pm_list)
    pm._try_get_canonical_test_article = classmethod(
        _test_article(pm._try_get_canonical_test_article))
    pm._api_attach = classmethod(_with_event("payment_method.attached", pm._api_attach))
    pm._api_detach = classmethod(_detach(pm._api_detach))
    pm._api_update = classmethod(_with_event("payment_method.updated", pm._api_update))
    ls.Event._api_list_all = classmethod(_events_list)
    ls.schedule_webhook = _deliver_too(ls.schedule_webhook)
    # The attach/detach routes captured the old bound methods at import; point them anew.
    ls.extra_apis[:] = [
        (m, u, pm._api_attach if u.endswith("/attach") else pm._api_detach
         if u.endswith("/detach") else f) for m, u, f in ls.extra_apis]
