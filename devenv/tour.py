"""A guided tour of the local stand-ins alone (`python -m devenv.tour`); `make demo` runs the
product on them.

Starts the three stand-ins, then uses the same client libraries the product uses (simple-salesforce,
stripe, boto3) against them, printing what each step did.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import stripe
from simple_salesforce.api import Salesforce

from devenv.local import LocalEnv
from devenv.salesforce.client import redirecting_session
from devenv.salesforce.samples import account_external_id_zip


def step(title: str) -> None:
    """Print a step header."""
    print(f"\n== {title}", flush=True)  # noqa: T201 - the tour talks to the terminal


def say(text: str) -> None:
    """Print one line of a step."""
    print(f"   {text}", flush=True)  # noqa: T201 - the tour talks to the terminal


def salesforce_part(info: dict[str, Any]) -> None:
    """JWT login, the Billing org, a Metadata API deploy, a Bulk API 2.0 upsert."""
    step("Salesforce: JWT bearer login through simple-salesforce")
    deploy = info["deploy"]  # the admin: the integration user may not use the Metadata API
    sf: Any = Salesforce(username=deploy["username"], consumer_key=deploy["consumer_key"],
                         privatekey_file=deploy["private_key_file"],
                         session=redirecting_session(info["login_url"]), version="59.0")
    say(f"instance {sf.base_url}")
    gw = sf.query("SELECT Name, blng__GatewayType__c, blng__Active__c FROM "
                  "blng__PaymentGateway__c")["records"][0]
    say(f"gateway {gw['Name']!r} type {gw['blng__GatewayType__c']!r} active "
        f"{gw['blng__Active__c']}")
    settings = sf.query("SELECT Name, blng__FieldType__c, blng__NumberValue__c, "
                        "blng__StringValue__c, blng__BooleanValue__c FROM blng__BillingConfig__c "
                        "WHERE blng__Category__c = 'Payment' ORDER BY blng__Sequence__c")
    for s in settings["records"]:
        value = {"Number": s["blng__NumberValue__c"], "Boolean": s["blng__BooleanValue__c"]
                 }.get(s["blng__FieldType__c"], s["blng__StringValue__c"])
        say(f"package setting {s['Name']} = {value!r}")
    fields = {f["name"]: f for f in sf.blng__PaymentMethod__c.describe()["fields"]}
    say("card types (restricted picklist): " + ", ".join(
        v["value"] for v in fields["blng__CardType__c"]["picklistValues"]))

    step("Salesforce: deploy Account.Stripe_Customer_Id__c with the Metadata API")
    async_id = sf.deploy(account_external_id_zip(), sandbox=True,
                         rollbackOnError=True)["asyncId"]
    while (status := sf.checkDeployStatus(async_id))["state"] not in ("Succeeded", "Failed"):
        time.sleep(0.05)
    sf._generate_headers()  # noqa: SLF001 - simple-salesforce leaks SOAP headers otherwise
    say(f"deploy {async_id}: {status['state']}, "
        f"{status['deployment_detail']['deployed_count']} component(s)")
    ext = next(f for f in sf.Account.describe()["fields"] if f["name"] ==
               "Stripe_Customer_Id__c")
    say(f"describe now shows it: externalId={ext['externalId']} unique={ext['unique']}")

    step("Salesforce: Bulk API 2.0 upsert of 1,000 Accounts by Stripe Customer ID")
    records = [{"Stripe_Customer_Id__c": f"cus_tour{i:04d}", "Name": f"Tour Customer {i}"}
               for i in range(1000)]
    records[7]["Name"] = ""  # one bad row: reported, never fails the batch
    t = time.perf_counter()
    res = sf.bulk2.Account.upsert(records=records, external_id_field="Stripe_Customer_Id__c",
                                  wait=0.2)
    say(f"{res[0]['numberRecordsProcessed']} processed, {res[0]['numberRecordsFailed']} failed "
        f"in {time.perf_counter() - t:.2f} s")
    failed = sf.bulk2.Account.get_failed_records(res[0]["job_id"]).splitlines()
    say(f"failed row: {failed[1][:90]}")


def stripe_part(info: dict[str, Any]) -> None:
    """Customers with cards of several brands and the payment_method.* events."""
    step("Stripe (localstripe + extensions): customers, cards, events")
    client = stripe.StripeClient(info["api_key"], base_addresses={"api": info["api_base"]})
    for name, card in (("Ada", "pm_card_visa"), ("Grace", "pm_card_amex"),
                       ("Linus", "pm_card_jcb")):
        cus = client.v1.customers.create(params={"name": name, "email": f"{name}@x.test"})
        pm = client.v1.payment_methods.attach(card, params={"customer": cus.id})
        client.v1.customers.update(cus.id, params={
            "invoice_settings": {"default_payment_method": pm.id}})
        brand = pm.card.brand if pm.card else "?"
        say(f"{cus.id} {name:<6} {brand:<5} •••• {pm.card.last4 if pm.card else ''}")
    events = client.v1.events.list(params={"types": ["payment_method.*", "customer.created"]})
    say("events (newest first): " + ", ".join(e.type for e in events.data))


def aws_part(info: dict[str, Any]) -> None:
    """The state table's lease lock, conditional put against moto."""
    step("AWS (moto): a DynamoDB lease taken with a conditional put")
    kwargs = {"endpoint_url": info["endpoint_url"], "region_name": info["region"],
              "aws_access_key_id": info["access_key_id"],
              "aws_secret_access_key": info["secret_access_key"]}
    ddb = boto3.client("dynamodb", **kwargs)
    ddb.create_table(TableName="tour", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    for owner in ("run-1", "run-2"):
        try:
            ddb.put_item(TableName="tour", Item={"pk": {"S": "lease"}, "owner": {"S": owner}},
                         ConditionExpression="attribute_not_exists(pk)")
            say(f"{owner}: lease taken")
        except ddb.exceptions.ConditionalCheckFailedException:
            say(f"{owner}: lease held by another run, skipped")


def main() -> None:
    """Run the tour."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sfbilling-tour-") as tmp:
        step("Starting the local environment (Salesforce, Stripe, AWS stand-ins)")
        t = time.perf_counter()
        env = LocalEnv(Path(tmp))
        doc = env.start()
        os.environ["REQUESTS_CA_BUNDLE"] = doc["ca_bundle"]
        say(f"up in {time.perf_counter() - t:.2f} s: Salesforce "
            f"{doc['salesforce']['instance_url']}, Stripe {doc['stripe']['api_base']}, "
            f"AWS {doc['aws']['endpoint_url']}")
        try:
            salesforce_part(doc["salesforce"])
            stripe_part(doc["stripe"])
            aws_part(doc["aws"])
            assert env.salesforce is not None
            counters = env.salesforce.counters_json()
            step("Calls the Salesforce stand-in counted")
            for route, n in sorted(counters["routes"].items()):
                say(f"{route:<18} {n}")
        finally:
            env.stop()
        step(f"Done in {time.perf_counter() - started:.1f} s. `make demo` shows the product "
             "itself (org config and import) on the same stand-ins.")


if __name__ == "__main__":
    main()
