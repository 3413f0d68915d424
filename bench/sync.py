"""`make bench` (import part): Salesforce and Stripe calls of a first import of 10,000 customers,
of a run with no changes, and the Stripe request rate achieved under added latency.

Targets (issue 3): first import of 10,000 customers with one card each into an empty org in at
most 60 Salesforce API calls; a run with no Stripe changes in at most 2 Stripe calls and 0
Salesforce calls; Stripe calls of a full import at most the API's floor (customer pages + one
payment-method list per customer) plus a small constant; with 50 ms of added latency, at least
90 % of the configured request rate (20/s).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from devenv.aws import AwsStandIn
from devenv.process import ChildServer
from devenv.stripe import StripeStandIn
from devenv.tls import combined_bundle
from metadata.config import OrgConfig
from metadata.deployer import OrgDeployer
from metadata.render import render_release
from stackconfig.resolve import resolve
from stackconfig.stackfile import RawValue
from sync_lambda.adapters.dynamodb_state import create_table
from sync_lambda.adapters.salesforce_connection import SalesforceConnection, SalesforceCredentials
from sync_lambda.adapters.stripe_source import StripeSourceAdapter
from sync_lambda.models import Customer
from sync_lambda.settings import Secrets, Settings
from sync_lambda.wiring import build_service

CUSTOMERS = 10_000
RATE_CALLS = 200
TABLE = "bench-state"


def _row(name: str, value: float, unit: str, target: str, ok: bool) -> None:
    print(f"  {name:<62} {value:>9.2f} {unit:<5} target {target:<10} "
          f"{'ok' if ok else 'MISSED'}")


def _counters(url: str) -> dict[str, Any]:
    return dict(requests.get(url + "/_admin/counters", timeout=30).json())


def main() -> None:
    """Run the import benchmarks against stand-ins in their own processes."""
    print(f"import benchmarks ({CUSTOMERS:,} customers; 2 cores; wall-clock)")
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        sf_child = ChildServer("devenv.salesforce", ["--state-dir", str(work / "sf")],
                               name="salesforce", log_file=work / "sf.log")
        sf_child.spawn()
        stripe_api = StripeStandIn(log_file=work / "stripe.log")
        stripe_api.spawn()
        aws = AwsStandIn(log_file=work / "aws.log")
        aws.spawn()
        try:
            info = sf_child.wait()
            stripe_api.wait()
            aws.wait()
            _run(work, info, stripe_api, aws)
        finally:
            sf_child.stop()
            stripe_api.stop()
            aws.stop()


def _run(work: Path, info: dict[str, Any], stripe_api: StripeStandIn, aws: AwsStandIn) -> None:
    os.environ["REQUESTS_CA_BUNDLE"] = str(combined_bundle(Path(info["ca_file"]),
                                                           work / "bundle.pem"))
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    settings = Settings.from_env({
        "SFB_ENVIRONMENT_KIND": "local", "SFB_SF_LOGIN_URL": info["login_url"],
        "SFB_SF_USERNAME": info["username"],
        "SFB_SF_CONSUMER_KEY": info["consumer_key"], "SFB_STRIPE_API_BASE": stripe_api.api_base,
        "SFB_TABLE_NAME": TABLE, "SFB_AWS_ENDPOINT_URL": aws.endpoint_url,
        "SFB_STRIPE_RATE": "400", "SFB_STRIPE_CONCURRENCY": "16"})
    secrets = Secrets(stripe_api_key=stripe_api.api_key,
                      salesforce_private_key=Path(info["private_key_file"]).read_text())
    # The org config (fields, permission set, batch size 70), as `sfbilling apply` does it.
    release = render_release(OrgConfig.from_stack(resolve(
        {"sfbilling:environmentKind": RawValue("local")}, env="bench", source="bench")))
    OrgDeployer(SalesforceConnection(SalesforceCredentials.of(settings, secrets))).apply(release)
    create_table(boto3.client("dynamodb", **aws.client_kwargs()), TABLE)
    t = time.perf_counter()
    for start in range(0, CUSTOMERS, 1000):
        stripe_api.seed([{"name": f"Customer {i:05d}", "email": f"c{i}@example.com",
                          "cards": ["4242424242424242"], "default": 0}
                         for i in range(start, start + 1000)])
    print(f"  (seeded {CUSTOMERS:,} Stripe customers with a card in "
          f"{time.perf_counter() - t:.1f} s)")
    time.sleep(1.1)  # the import starts in a later second than the seeding's events
    requests.post(info["login_url"] + "/_admin/counters/reset", timeout=30)
    stripe_api.stats(reset=True)
    t = time.perf_counter()
    report = build_service(settings, secrets).run()
    elapsed = time.perf_counter() - t
    sf = _counters(info["login_url"])
    stripe_calls = stripe_api.stats()["requests"]
    assert report.outcomes["accounts_created"] == CUSTOMERS, report.render()
    assert report.outcomes["payment_methods_inserted"] == CUSTOMERS, report.render()
    sf_total = sf["api_requests"] + sf["categories"].get("auth", 0)
    _row(f"first import of {CUSTOMERS:,} customers: Salesforce API calls", sf_total, "calls",
         "<= 60", sf_total <= 60)
    print("    by route: " + ", ".join(f"{k} {v}" for k, v in sorted(sf["routes"].items())))
    floor = math.ceil(CUSTOMERS / 100) + CUSTOMERS
    _row(f"  Stripe calls (floor {floor:,}: pages + one list per customer)", stripe_calls,
         "calls", f"<= {floor + 5:,}", stripe_calls <= floor + 5)
    _row("  duration (Stripe paced at 400/s here)", elapsed, "s", "-", True)
    requests.post(info["login_url"] + "/_admin/counters/reset", timeout=30)
    stripe_api.stats(reset=True)
    again = build_service(settings, secrets).run()
    sf = _counters(info["login_url"])
    sf_total = sf["api_requests"] + sf["categories"].get("auth", 0)
    st = stripe_api.stats()["requests"]
    _row("run with no Stripe changes: Stripe calls", st, "calls", "<= 2", st <= 2)
    _row("run with no Stripe changes: Salesforce calls", sf_total, "calls", "0",
         sf_total == 0 and again.kind == "noop")
    _rate(stripe_api)


def _rate(stripe_api: StripeStandIn) -> None:
    """Achieved Stripe request rate at the default 20/s with 50 ms added to every call."""
    ids = [c["id"] for c in stripe_api.seed([{"name": f"R{i}"} for i in range(RATE_CALLS)])]
    stripe_api.set_faults(latency_ms=50)
    source = StripeSourceAdapter.connect(stripe_api.api_key, api_base=stripe_api.api_base,
                                         rate=20.0, concurrency=8, include_bank_accounts=False)
    t = time.perf_counter()
    source.snapshots([Customer(i) for i in ids])
    elapsed = time.perf_counter() - t
    stripe_api.clear_faults()
    achieved = source.calls / elapsed
    _row(f"Stripe rate at 20/s with 50 ms latency ({source.calls} calls)", achieved, "req/s",
         ">= 18", achieved >= 18)


if __name__ == "__main__":
    main()
