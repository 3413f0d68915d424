"""`make demo`: org config and the import end to end on the local stand-ins.

Starts the local environment, applies the org config (plan first), seeds Stripe and the org with a
realistic sample, then runs what an operator would: a dry run, the import, changes in Stripe and
an incremental run, a run with nothing to do, a card reaching Salesforce through Stripe's events
(no schedule), and a reconciliation after a customer the import has not seen yet, printing each
report; ends with a promotion of the org config from a sandbox
org to a production org (sfbilling/demo_promotion.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import stripe
from simple_salesforce.api import Salesforce

from devenv.local import ENDPOINTS_FILE, LocalEnv
from devenv.salesforce.client import redirecting_session
from devenv.stripe.samples import create_customer
from metadata.render import render_release
from sfbilling import demo_events, demo_promotion
from sfbilling.environments import (
    LOCAL,
    OrgTarget,
    SyncTarget,
    deployer_for,
    org_target,
    sync_target,
)
from sync_lambda.wiring import build_service


def banner(text: str) -> None:
    """A section header."""
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}", flush=True)  # noqa: T201 - a terminal demo


def say(text: str) -> None:
    """One line of narration."""
    print(f"  {text}", flush=True)  # noqa: T201 - a terminal demo


def apply_org_config(target: OrgTarget) -> None:
    """The org config of Pulumi.local.yaml: plan first, then apply (what `sfbilling apply`
    does), so the org has the import's fields, permission set and batch size 70."""
    release = render_release(target.config)
    deployer = deployer_for(target)
    say(f"plan for release {release.content_hash[:12]}:")
    print(deployer.plan(release).render(), flush=True)  # noqa: T201 - a terminal demo
    deployer.apply(release)
    say("applied; a second plan:")
    print(deployer.plan(release).render(), flush=True)  # noqa: T201 - a terminal demo


def seed(sf: Any, client: stripe.StripeClient) -> dict[str, str]:
    """Accounts in the org and customers in Stripe covering every scenario."""
    initech = sf.Account.create({"Name": "Initech"})["id"]
    sf.Account.create({"Name": "Umbrella Corporation"})
    sf.Account.create({"Name": "Globex"})
    sf.Account.create({"Name": "GLOBEX"})
    say("org: Accounts Initech, Umbrella Corporation, Globex and GLOBEX (same name twice)")
    made: dict[str, str] = {}

    def customer(label: str, cards: tuple[str, ...], default: int | None = 0,
                 **params: Any) -> str:
        cus, pms = create_customer(client, cards=cards, default=default, **params)
        made[label] = cus
        for i, pm in enumerate(pms):
            made[f"{label}.card{i}"] = pm
        say(f"Stripe: {label:<28} {cus} cards: {', '.join(cards) or '-'}")
        return cus

    customer("Ada Lovelace (new)", ("pm_card_visa", "pm_card_mastercard"), default=1,
             name="Ada Lovelace", email="ada@example.com")
    customer("Grace Hopper (new)", ("pm_card_amex",), name="Grace Hopper")
    customer("no name (new)", ("pm_card_discover",), email="billing@nameless.example")
    customer("Initech (by Account id)", ("pm_card_visa",), name="Initech Inc.",
             metadata={"salesforce_account_id": initech})
    customer("Umbrella (by name)", ("pm_card_mastercard", "pm_card_visa"), default=0,
             name="umbrella corporation ")
    customer("Globex (ambiguous name)", ("pm_card_visa",), name="Globex")
    customer("Linus (JCB card)", ("pm_card_jcb", "pm_card_visa"), default=1, name="Linus")
    return made


def main() -> None:
    """Run the demo."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sfbilling-demo-") as tmp:
        banner("1. Local environment: Salesforce Billing org, Stripe and AWS stand-ins")
        state_dir = Path(tmp)
        env = LocalEnv(state_dir)
        doc = env.start()
        try:
            (state_dir / ENDPOINTS_FILE).write_text(json.dumps(doc))
            target: SyncTarget = sync_target(LOCAL, state_dir=state_dir)
            sf_info = doc["salesforce"]
            sf: Any = Salesforce(username=sf_info["username"],
                                 consumer_key=sf_info["consumer_key"],
                                 privatekey_file=sf_info["private_key_file"],
                                 session=redirecting_session(sf_info["login_url"]))
            client = stripe.StripeClient(doc["stripe"]["api_key"],
                                         base_addresses={"api": doc["stripe"]["api_base"]})
            say(f"Salesforce {sf_info['instance_url']}, Stripe {doc['stripe']['api_base']}, "
                f"AWS {doc['aws']['endpoint_url']}")
            banner("2. Org config as code (Pulumi.local.yaml): plan, then apply")
            apply_org_config(org_target(LOCAL, state_dir=state_dir))

            banner("3. Sample data")
            made = seed(sf, client)

            def run(title: str, **kwargs: bool) -> None:
                banner(title)
                service = build_service(target.settings, target.secrets)
                print(service.run(**kwargs).render(), flush=True)  # noqa: T201

            run("4. Dry run: the plan, nothing written", dry_run=True)
            run("5. The import (first run: a full import)")
            time.sleep(1.1)  # Stripe stamps events in whole seconds
            banner("6. Changes in Stripe")
            client.v1.payment_methods.detach(made["Ada Lovelace (new).card1"])
            say("detached Ada's default Mastercard")
            client.v1.customers.update(made["Ada Lovelace (new)"], params={
                "invoice_settings": {"default_payment_method":
                                     made["Ada Lovelace (new).card0"]}})
            say("made Ada's Visa the new default")
            new = client.v1.customers.create(params={"name": "Katherine Johnson"})
            client.v1.payment_methods.attach("pm_card_visa", params={"customer": new.id})
            say(f"new customer Katherine Johnson {new.id} with a Visa")
            run("7. Incremental run: only what the events say changed")
            run("8. Again, with nothing changed: no Salesforce call at all")
            banner("9. The org now")
            for a in sf.query_all("SELECT Name, Stripe_Customer_Id__c FROM Account "
                                  "ORDER BY Name")["records"]:
                say(f"Account {a['Name']:<26} {a['Stripe_Customer_Id__c'] or '(not linked)'}")
            for p in sf.query_all(
                    "SELECT blng__Account__r.Name, blng__CardType__c, blng__CardLastFour__c, "
                    "blng__Active__c, blng__AutoPay__c FROM blng__PaymentMethod__c "
                    "ORDER BY blng__Account__r.Name")["records"]:
                say(f"Payment method {p['blng__Account__r']['Name']:<22} "
                    f"{p['blng__CardType__c']:<17} •••• {p['blng__CardLastFour__c']}  "
                    f"active={p['blng__Active__c']!s:<5} autopay={p['blng__AutoPay__c']}")
            banner("10. Stripe's events: a change reaches Salesforce within seconds, no schedule")
            demo_events.run(env, doc, target, client, sf, new.id, say)
            banner("11. Reconciliation: do Stripe and Salesforce agree? (sfbilling reconcile)")
            late = client.v1.customers.create(params={"name": "Dorothy Vaughan"})
            say(f"new customer Dorothy Vaughan {late.id}, not imported yet")
            found = build_service(target.settings, target.secrets).reconcile()
            print(found.render(), flush=True)  # noqa: T201 - a terminal demo
            banner("12. Promotion: what the sandbox runs, to production (sfbilling promote)")
            demo_promotion.run(sf_info, doc["ca_bundle"], state_dir, say,
                               lambda text: print(text, flush=True))  # noqa: T201
        finally:
            env.stop()
    banner(f"Done in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
