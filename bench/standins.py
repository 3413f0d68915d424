"""`make bench`: how fast the stand-ins are, so they are never the bottleneck of our benchmarks.

Targets (issue 2): Bulk API 2.0 upsert of 100,000 Account rows in under 15 s; a SOQL query with an
IN list of 200 external ids over 100,000 records in under 100 ms; the Salesforce stand-in starts in
under 1 s and the whole local environment in under 5 s.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from devenv.local import LocalEnv
from devenv.process import ChildServer
from devenv.salesforce import SalesforceStandIn
from devenv.salesforce.samples import account_external_id_zip
from devenv.stripe import StripeStandIn
from devenv.tls import combined_bundle

ROWS = 100_000
IN_LIST = 200


def _row(name: str, value: float, unit: str, target: str, ok: bool) -> None:
    print(f"  {name:<58} {value:>9.2f} {unit:<3} target {target:<9} {'ok' if ok else 'MISSED'}")


def _login(info: dict[str, str]) -> Any:
    """A client on the stand-in (Any: simple-salesforce's sObject API is dynamic)."""
    token = requests.post(info["login_url"] + "/services/oauth2/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": info["consumer_key"],
        "client_secret": info["consumer_secret"]}).json()["access_token"]
    return Salesforce(session_id=token, instance_url=info["instance_url"], version="59.0")


def _deploy_external_id(sf: Any) -> None:
    async_id = sf.deploy(account_external_id_zip(), sandbox=True,
                         rollbackOnError=True)["asyncId"]
    while sf.checkDeployStatus(async_id)["state"] not in ("Succeeded", "Failed"):
        time.sleep(0.05)
    sf._generate_headers()  # noqa: SLF001 - simple-salesforce leaks SOAP headers otherwise


def bench_salesforce(work: Path) -> None:
    """Bulk upsert of 100k rows and the 200-id IN query, against a stand-in child process."""
    child = ChildServer("devenv.salesforce", ["--state-dir", str(work / "sf")],
                        name="salesforce", log_file=work / "sf.log")
    info = child.start()
    os.environ["REQUESTS_CA_BUNDLE"] = str(combined_bundle(Path(info["ca_file"]),
                                                           work / "bundle.pem"))
    try:
        sf = _login(info)
        _deploy_external_id(sf)
        records = [{"Stripe_Customer_Id__c": f"cus_{i:08d}", "Name": f"Customer {i}"}
                   for i in range(ROWS)]
        t = time.perf_counter()
        result = sf.bulk2.Account.upsert(records=records,
                                         external_id_field="Stripe_Customer_Id__c", wait=0.2)
        upsert_s = time.perf_counter() - t
        assert sum(r["numberRecordsProcessed"] for r in result) == ROWS, result
        assert sum(r["numberRecordsFailed"] for r in result) == 0, result
        _row(f"bulk2 upsert of {ROWS:,} Account rows (create job → JobComplete)", upsert_s,
             "s", "< 15 s", upsert_s < 15)
        job = sf.bulk2.Account._client.get_job(result[0]["job_id"], False)  # noqa: SLF001
        _row("  of which the stand-in processed rows for", job["totalProcessingTime"] / 1000,
             "s", "-", True)
        t = time.perf_counter()
        again = sf.bulk2.Account.upsert(records=records,
                                        external_id_field="Stripe_Customer_Id__c", wait=0.2)
        _row(f"  same {ROWS:,} rows again (all updates)", time.perf_counter() - t, "s",
             "< 15 s", time.perf_counter() - t < 15)
        assert sum(r["numberRecordsFailed"] for r in again) == 0
        timings = []
        for k in range(20):
            ids = [f"cus_{(k * 4999 + i * 497) % ROWS:08d}" for i in range(IN_LIST)]
            soql = format_soql("SELECT Id, Name, Stripe_Customer_Id__c FROM Account WHERE "
                               "Stripe_Customer_Id__c IN {}", ids)
            t = time.perf_counter()
            got = sf.query(soql)
            timings.append((time.perf_counter() - t) * 1000)
            assert got["totalSize"] == len(set(ids))
        median = statistics.median(timings)
        _row(f"SOQL IN ({IN_LIST} external ids) over {ROWS:,} rows, median of 20", median,
             "ms", "< 100 ms", median < 100)
        _row("  slowest of the 20", max(timings), "ms", "-", True)
        t = time.perf_counter()
        total = sf.query("SELECT COUNT() FROM Account WHERE Name LIKE 'Customer 9%'")
        _row(f"  full scan: COUNT() with LIKE over {ROWS:,} rows ({total['totalSize']:,} hits)",
             (time.perf_counter() - t) * 1000, "ms", "-", True)
    finally:
        child.stop()


def bench_startup(work: Path) -> None:
    """Start-up time of the Salesforce stand-in and of the whole local environment."""
    t = time.perf_counter()
    standin = SalesforceStandIn(state_dir=work / "startup-sf").start()
    sf_s = time.perf_counter() - t
    standin.stop()
    _row("Salesforce stand-in start (in-process, incl. cert + app key)", sf_s, "s", "< 1 s",
         sf_s < 1)
    t = time.perf_counter()
    env = LocalEnv(work / "local")
    env.start()
    local_s = time.perf_counter() - t
    env.stop()
    _row("local environment start (Salesforce + localstripe + moto)", local_s, "s", "< 5 s",
         local_s < 5)


def bench_stripe() -> None:
    """localstripe without its pickle-per-write (stock: 161 s for this workload)."""
    import stripe  # noqa: PLC0415 - only this part needs it

    with StripeStandIn() as server:
        # The stand-in's own speed: on an account whose limits Stripe raised.
        server.set_limits(global_per_s=1e6, endpoint_per_s=1e6)
        client = stripe.StripeClient(server.api_key, base_addresses={"api": server.api_base})
        t = time.perf_counter()
        for i in range(1000):
            cus = client.v1.customers.create(params={"name": f"C{i}", "email": f"c{i}@x.test"})
            client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
        elapsed = time.perf_counter() - t
        _row("Stripe: 1,000 customers + attach a card (2,000 calls, sequential)", elapsed, "s",
             "-", True)
        t = time.perf_counter()
        n = sum(1 for _ in client.v1.customers.list(params={"limit": 100}).auto_paging_iter())
        _row(f"Stripe: list all {n:,} customers (limit=100 pages)", time.perf_counter() - t, "s",
             "-", True)


def main() -> None:
    """Run every stand-in benchmark and print one line per figure."""
    print("stand-in benchmarks (2 cores; figures are wall-clock)")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        bench_startup(work)
        bench_salesforce(work)
        bench_stripe()


if __name__ == "__main__":
    main()
