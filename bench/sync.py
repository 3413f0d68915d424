"""`make bench` (import part), against the stand-ins in their own processes.

Lines and goals:
- the stand-in's own request rate at 50 ms of added latency (so the floor measured below is
  Stripe's, not the stand-in's);
- a first import of 10,000 customers under Stripe's live limits (the stand-in enforcing 100/s
  for the account and 25/s per endpoint, 50 ms of latency), the import on its defaults for a
  live account (10 % of both limits left to other clients) and the shipped concurrency: wall
  time at most 1.10 times its per-endpoint floor (customers x payment-method types ÷ the
  import's share of the endpoint's limit), no 429; at most 90 Salesforce API calls (Account
  creations go through sObject Collections, 200 a call, so that a duplicate rule's hit names
  its matches: 50 of them for 10,000 new Accounts, the rest lookups and bulk jobs); Stripe calls
  at the API's floor (customer pages + one payment-method list per customer) plus a small
  constant;
- the same import into a fresh org while the stand-in halves its limits at random moments (for
  random stretches): it finishes, every customer and payment method arrives, the 429s are
  reported;
- the first import's Salesforce API requests as a share of an Enterprise Edition org's daily
  limit (100,000 + 1,000 per Salesforce licence; 15 licences assumed: 115,000, the stand-in's
  default), as counted by the stand-in and as the import read it off `Sforce-Limit-Info`;
- a run with no Stripe changes: at most 2 Stripe calls and no Salesforce call;
- a reconciliation of the same 10,000 customers right after (nothing disagrees): its Stripe
  and Salesforce calls (its documented cost: a full import's reads) and the Salesforce share;
- the peak RSS of a 10,000-customer full reconcile, end to end, in a process of its own:
  at most 150 MB;
- the Stripe request rate achieved at 20/s with 50 ms of latency: at least 90 % of it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import requests
import stripe

from bench.planning import row
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
from sync_lambda.adapters.stripe_budget import StripeLimits
from sync_lambda.adapters.stripe_source import StripeSourceAdapter
from sync_lambda.settings import Secrets, Settings
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from collections.abc import Iterator

CUSTOMERS = 10_000
RATE = 100.0  # Stripe's live-mode limit per account
ENDPOINT_RATE = 25.0  # Stripe's default limit per endpoint
RESERVE = 0.1  # the import's default share left to other clients
RAISED = 1e6  # the stand-in's limits when a line does not measure them
EE_DAILY_LIMIT = 115_000  # Enterprise Edition: 100,000 + 1,000 x 15 Salesforce licences
LATENCY_MS = 50
TABLE = "bench-state"


def _counters(url: str) -> dict[str, Any]:
    return dict(requests.get(url + "/_admin/counters", timeout=30).json())


def main() -> None:
    """Run the import benchmarks against stand-ins in their own processes (`python -m
    bench.sync halved`: only the line with the limits halved at random)."""
    only = set(sys.argv[1:])
    print(f"import benchmarks ({CUSTOMERS:,} customers; 2 cores; wall-clock)")
    with standins("bench-sync-") as (work, info, stripe_api, aws):
        _run(work, info, stripe_api, aws, only)


@contextlib.contextmanager
def standins(prefix: str) -> Iterator[tuple[Path, dict[str, Any], StripeStandIn, AwsStandIn]]:
    """Salesforce, Stripe and AWS stand-ins, each in a process of its own, started together."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        sf_child = ChildServer("devenv.salesforce", ["--state-dir", str(work / "sf")],
                               name="salesforce", log_file=work / "sf.log")
        sf_child.spawn()
        stripe_api = StripeStandIn(log_file=work / "stripe.log")
        stripe_api.spawn()
        aws = AwsStandIn(log_file=work / "aws.log")
        aws.spawn()
        try:
            sf_info, stripe_ready, aws_ready = sf_child.wait(), stripe_api.wait(), aws.wait()
            stripe_ready.set_limits(global_per_s=RAISED, endpoint_per_s=RAISED)
            yield work, sf_info, stripe_ready, aws_ready
        finally:
            sf_child.stop()
            stripe_api.stop()
            aws.stop()


def _environment(info: dict[str, Any], stripe_api: StripeStandIn,
                 aws: AwsStandIn) -> dict[str, str]:
    return {"SFB_ENVIRONMENT_KIND": "local", "SFB_SF_LOGIN_URL": info["login_url"],
            "SFB_SF_USERNAME": info["username"], "SFB_SF_CONSUMER_KEY": info["consumer_key"],
            "SFB_STRIPE_API_BASE": stripe_api.api_base, "SFB_TABLE_NAME": TABLE,
            "SFB_AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_REGION": "us-east-1",
            "SFB_STRIPE_RATE": f"{RATE:g}"}


def _run(work: Path, info: dict[str, Any], stripe_api: StripeStandIn, aws: AwsStandIn,
         only: set[str]) -> None:
    os.environ["REQUESTS_CA_BUNDLE"] = str(combined_bundle(Path(info["ca_file"]),
                                                           work / "bundle.pem"))
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    environment = _environment(info, stripe_api, aws)
    settings = Settings.from_env(environment)
    secrets = Secrets(stripe_api_key=stripe_api.api_key,
                      salesforce_private_key=Path(info["private_key_file"]).read_text())
    apply_org_config(settings, secrets, info)
    create_table(boto3.client("dynamodb", **aws.client_kwargs()), TABLE)
    t = time.perf_counter()
    for start in range(0, CUSTOMERS, 1000):
        stripe_api.seed([{"name": f"Customer {i:05d}", "email": f"c{i}@example.com",
                          "cards": ["4242424242424242"], "default": 0}
                         for i in range(start, start + 1000)])
    print(f"  (seeded {CUSTOMERS:,} Stripe customers with a card in "
          f"{time.perf_counter() - t:.1f} s)")
    time.sleep(1.1)  # the import starts in a later second than the seeding's events
    if not only:
        _standin_rate(stripe_api)
        _first_import(info, stripe_api, settings, secrets)
        _no_changes(info, stripe_api, settings, secrets)
        _reconcile(info, stripe_api, settings, secrets)
        _rss(info, stripe_api, environment)
        _rate(stripe_api)
    if not only or "halved" in only:
        _halved_limits(info, stripe_api, aws, settings, secrets)


def _standin_rate(stripe_api: StripeStandIn) -> None:
    """The stand-in's own ceiling at the added latency: many clients, no pacing."""
    stripe_api.set_faults(latency_ms=LATENCY_MS)
    client = stripe.StripeClient(stripe_api.api_key, base_addresses={"api": stripe_api.api_base},
                                 max_network_retries=0)
    calls = 1000
    t = time.perf_counter()
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(lambda _: client.v1.customers.list(params={"limit": 1}), range(calls)))
    rate = calls / (time.perf_counter() - t)
    stripe_api.clear_faults()
    row(f"stand-in's own rate at {LATENCY_MS} ms latency (64 clients, unpaced)", rate, "req/s",
        f"> {RATE:g}", rate > RATE * 1.2)


def _first_import(info: dict[str, Any], stripe_api: StripeStandIn, settings: Settings,
                  secrets: Secrets) -> None:
    requests.post(info["login_url"] + "/_admin/counters/reset", timeout=30)
    stripe_api.stats(reset=True)
    stripe_api.set_limits(global_per_s=RATE, endpoint_per_s=ENDPOINT_RATE)
    before = sum(stripe_api.limits()["refused"].values())
    stripe_api.set_faults(latency_ms=LATENCY_MS)
    t = time.perf_counter()
    report = build_service(settings, secrets).run()
    elapsed = time.perf_counter() - t
    stripe_api.clear_faults()
    refused = sum(stripe_api.limits()["refused"].values()) - before
    stripe_api.set_limits(global_per_s=RAISED, endpoint_per_s=RAISED)
    sf = _counters(info["login_url"])
    stripe_calls = int(stripe_api.stats()["requests"])
    assert report.outcomes["accounts_created"] == CUSTOMERS, report.render()
    assert report.outcomes["payment_methods_inserted"] == CUSTOMERS, report.render()
    ours = ENDPOINT_RATE * (1 - RESERVE)
    floor_s = CUSTOMERS * 1 / ours
    row(f"first import of {CUSTOMERS:,} under live limits ({RATE:g}/s account, "
        f"{ENDPOINT_RATE:g}/s per endpoint, {LATENCY_MS} ms, concurrency "
        f"{settings.stripe_concurrency}): wall time", elapsed, "s", "-", True)
    row(f"  ... over its per-endpoint floor ({CUSTOMERS:,} listings / {ours:g} = "
        f"{floor_s:.1f} s)", elapsed / floor_s, "x", "<= 1.10", elapsed / floor_s <= 1.10)
    raw_floor = CUSTOMERS / ENDPOINT_RATE
    row(f"  ... over Stripe's own per-endpoint floor ({CUSTOMERS:,} / {ENDPOINT_RATE:g} = "
        f"{raw_floor:.0f} s; 10 % left to other clients)", elapsed / raw_floor, "x", "-", True)
    row("  429s answered by the stand-in", refused, "429s", "0",
        refused == 0 and report.stripe_throttled == 0)
    sf_total = sf["api_requests"] + sf["categories"].get("auth", 0)
    creations = math.ceil(CUSTOMERS / 200)
    row(f"  Salesforce API calls ({creations} of them Account creations, 200 a call)",
        sf_total, "calls", "<= 90", sf_total <= 90)
    _api_share("  ... share of an Enterprise org's daily API limit", sf["api_requests"])
    usage = report.salesforce_api
    assert usage is not None, report.render()
    assert usage.limit == EE_DAILY_LIMIT, usage
    row("  ... the org's usage as the import last read it (Sforce-Limit-Info)", usage.used,
        "requests", f"<= {sf['api_requests']}", 0 < usage.used <= sf["api_requests"])
    print("    by route: " + ", ".join(f"{k} {v}" for k, v in sorted(sf["routes"].items())))
    floor = math.ceil(CUSTOMERS / 100) + CUSTOMERS
    row(f"  Stripe calls (floor {floor:,}: pages + one list per customer)", stripe_calls,
        "calls", f"<= {floor + 5:,}", stripe_calls <= floor + 5)


def _no_changes(info: dict[str, Any], stripe_api: StripeStandIn, settings: Settings,
                secrets: Secrets) -> None:
    requests.post(info["login_url"] + "/_admin/counters/reset", timeout=30)
    stripe_api.stats(reset=True)
    again = build_service(settings, secrets).run()
    sf = _counters(info["login_url"])
    sf_total = sf["api_requests"] + sf["categories"].get("auth", 0)
    st = stripe_api.stats()["requests"]
    row("run with no Stripe changes: Stripe calls", st, "calls", "<= 2", st <= 2)
    row("run with no Stripe changes: Salesforce calls", sf_total, "calls", "0",
        sf_total == 0 and again.kind == "noop")


def _api_share(label: str, requests_made: int) -> None:
    share = 100 * requests_made / EE_DAILY_LIMIT
    row(f"{label} ({requests_made} of {EE_DAILY_LIMIT:,}: 100,000 + 15 licences x 1,000)",
        share, "%", "< 0.1", share < 0.1)


def _reconcile(info: dict[str, Any], stripe_api: StripeStandIn, settings: Settings,
               secrets: Secrets) -> None:
    """A reconciliation of an org the import has just brought up to date."""
    requests.post(info["login_url"] + "/_admin/counters/reset", timeout=30)
    stripe_api.stats(reset=True)
    t = time.perf_counter()
    # Stripe's pace is a full import's (its floor is measured above): 400/s here.
    fast = replace(settings, stripe_rate=400.0, stripe_endpoint_rate=400.0,
                   stripe_concurrency=16)
    report = build_service(fast, secrets).reconcile()
    elapsed = time.perf_counter() - t
    sf = _counters(info["login_url"])
    found = report.findings
    assert found is not None, report.render()
    row(f"reconcile of {CUSTOMERS:,} customers (Stripe at 400/s): wall time", elapsed,
        "s", "-", True)
    row("  ... disagreements right after the import", found.disagreements, "", "0",
        found.disagreements == 0)
    floor = math.ceil(CUSTOMERS / 100) + CUSTOMERS
    st = int(stripe_api.stats()["requests"])
    row(f"  ... Stripe calls (a full import's reads: {floor:,})", st, "calls",
        f"<= {floor + 5:,}", st <= floor + 5)
    row("  ... Salesforce API calls", sf["api_requests"], "calls", "<= 60",
        sf["api_requests"] <= 60)
    _api_share("  ... share of an Enterprise org's daily API limit", sf["api_requests"])


def _rss(info: dict[str, Any], stripe_api: StripeStandIn, environment: dict[str, str]) -> None:
    """A full reconcile of every customer (nothing to write) in a process of its own."""
    env = {**os.environ, **environment, "SFB_STRIPE_RATE": "400",
           "SFB_STRIPE_ENDPOINT_RATE": "400",
           "SFB_STRIPE_CONCURRENCY": "16", "BENCH_STRIPE_KEY": stripe_api.api_key,
           "BENCH_SF_KEY_FILE": info["private_key_file"]}
    proc = subprocess.run([sys.executable, "-m", "bench.full_run"], env=env, check=True,
                          capture_output=True, text=True, timeout=1800)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["customers"] == CUSTOMERS, result
    row(f"peak RSS of a {CUSTOMERS:,}-customer full reconcile (own process)",
        result["rss_mib"], "MB", "<= 150", result["rss_mib"] <= 150)


def _rate(stripe_api: StripeStandIn) -> None:
    """Achieved Stripe request rate at 20/s with 50 ms added to every call."""
    stripe_api.set_faults(latency_ms=LATENCY_MS)
    source = StripeSourceAdapter.connect(
        stripe_api.api_key, api_base=stripe_api.api_base,
        limits=StripeLimits(RAISED, 20.0, reserve_share=0.0), concurrency=8,
        include_bank_accounts=False)
    t = time.perf_counter()
    segment = source.read_segment(None, 200, on_page=lambda _n: None, stop=lambda: False)
    elapsed = time.perf_counter() - t
    stripe_api.clear_faults()
    assert len(segment.snapshots) >= 200
    achieved = source.calls / elapsed
    row(f"Stripe rate at 20/s with {LATENCY_MS} ms latency ({source.calls} calls)", achieved,
        "req/s", ">= 18", achieved >= 18)



def _halved_limits(info: dict[str, Any], stripe_api: StripeStandIn, aws: AwsStandIn,
                   settings: Settings, secrets: Secrets) -> None:
    """The first import again, into a fresh org and state, while the stand-in halves its
    limits at random moments for random stretches (another client of the account, or Stripe
    itself, taking part of the budget): the import must finish, lose nothing, report its 429s."""
    requests.post(info["login_url"] + "/_admin/reset", json={}, timeout=60).raise_for_status()
    apply_org_config(settings, secrets, info)
    table = TABLE + "-halved"
    create_table(boto3.client("dynamodb", **aws.client_kwargs()), table)
    fresh = Settings.from_env({**_environment(info, stripe_api, aws), "SFB_TABLE_NAME": table})
    stripe_api.set_limits(global_per_s=RATE, endpoint_per_s=ENDPOINT_RATE)
    before = sum(stripe_api.limits()["refused"].values())
    stripe_api.set_faults(latency_ms=LATENCY_MS)
    done = threading.Event()
    halvings = []

    def squeeze() -> None:
        rng = random.Random(7)
        while not done.wait(rng.uniform(5, 30)):
            stripe_api.set_limits(global_per_s=RATE / 2, endpoint_per_s=ENDPOINT_RATE / 2)
            stretch = rng.uniform(2, 20)
            halvings.append(stretch)
            done.wait(stretch)
            stripe_api.set_limits(global_per_s=RATE, endpoint_per_s=ENDPOINT_RATE)

    squeezer = threading.Thread(target=squeeze, daemon=True)
    squeezer.start()
    t = time.perf_counter()
    report = build_service(fresh, secrets).run()
    elapsed = time.perf_counter() - t
    done.set()
    squeezer.join(30)
    stripe_api.clear_faults()
    refused = sum(stripe_api.limits()["refused"].values()) - before
    stripe_api.set_limits(global_per_s=RAISED, endpoint_per_s=RAISED)
    accounts = len(requests.get(info["login_url"] + "/_admin/records/Account",
                                timeout=300).json()["records"])
    pms = len(requests.get(info["login_url"] + "/_admin/records/blng__PaymentMethod__c",
                           timeout=300).json()["records"])
    row(f"the same import with the limits halved {len(halvings)} times at random "
        f"({sum(halvings):.0f} s in all): wall time", elapsed, "s", "-", True)
    row("  ... every customer and payment method arrived, no failed row",
        min(accounts, pms), "records", f"= {CUSTOMERS:,}",
        accounts == pms == CUSTOMERS and report.failed_rows == 0 and not report.continued)
    row("  ... 429s answered, and reported by the import", report.stripe_throttled, "429s",
        f"= {refused} (stand-in)", report.stripe_throttled == refused > 0)


def apply_org_config(settings: Settings, secrets: Secrets, info: dict[str, Any]) -> None:
    """The org config (fields, permission set, batch size 70), as `sfbilling apply` does it:
    as the deploy user."""
    release = render_release(OrgConfig.from_stack(resolve(
        {"sfbilling:environmentKind": RawValue("local")}, env="bench", source="bench")))
    deploy = info["deploy"]
    credentials = replace(SalesforceCredentials.of(settings, secrets),
                          consumer_key=deploy["consumer_key"], username=deploy["username"],
                          private_key=Path(deploy["private_key_file"]).read_text())
    OrgDeployer(SalesforceConnection(credentials), assignee=info["username"]).apply(release)


if __name__ == "__main__":
    main()
