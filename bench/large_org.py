"""`python -m bench.large_org`: the import's own peak memory when the org holds a million active
payment methods (review item 7). The reconcile of customers Stripe no longer lists reads every
active payment method's customer id; it must stream them a page at a time.

The stand-in org runs in a process of its own and is filled in-process (`/_admin/generate`:
500,000 Accounts with two active payment methods each, made without a million HTTP calls). The
import's read runs in another process (`python -m bench.large_org read`), whose own high-water
mark (VmHWM) is the figure.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.planning import row
from bench.sync import apply_org_config
from devenv.process import ChildServer
from devenv.tls import combined_bundle
from sync_lambda import names
from sync_lambda.settings import Secrets, Settings

ACCOUNTS = int(os.environ.get("BENCH_LARGE_ACCOUNTS", "500000"))
PER_ACCOUNT = 2
TARGET_MIB = 150


def _settings(info: dict[str, str]) -> tuple[Settings, Secrets]:
    settings = Settings.from_env({
        "SFB_ENVIRONMENT_KIND": "local", "SFB_SF_LOGIN_URL": info["login_url"],
        "SFB_SF_USERNAME": info["username"], "SFB_SF_CONSUMER_KEY": info["consumer_key"],
        "SFB_TABLE_NAME": "unused", "AWS_REGION": "us-east-1"})
    secrets = Secrets(stripe_api_key="sk_test_unused",
                      salesforce_private_key=Path(info["private_key_file"]).read_text())
    return settings, secrets


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read() -> None:
    """The child: the import's read of every customer with an active payment method."""
    from sync_lambda.adapters.salesforce_sink import SalesforceSink  # noqa: PLC0415

    info = json.loads(os.environ["BENCH_SF_INFO"])
    settings, secrets = _settings(info)
    started = time.perf_counter()
    customers = SalesforceSink(settings, secrets).customers_with_active_methods()
    print(json.dumps({"customers": len(customers), "seconds": time.perf_counter() - started,
                      "rss_mib": _peak_rss_mib()}))


def main() -> None:
    """Fill a stand-in org, read it from a child process, print the figure."""
    pms = ACCOUNTS * PER_ACCOUNT
    print(f"large org ({pms:,} active payment methods under {ACCOUNTS:,} Accounts)")
    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        work = Path(tmp)
        child = ChildServer("devenv.salesforce", ["--state-dir", str(work / "sf")],
                            name="salesforce", log_file=work / "sf.log")
        child.spawn()
        info = child.wait()
        try:
            bundle = combined_bundle(Path(info["ca_file"]), work / "bundle.pem")
            os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
            settings, secrets = _settings(info)
            apply_org_config(settings, secrets, info)
            started = time.perf_counter()
            made = requests.post(f"{info['instance_url']}/_admin/generate", timeout=3600, json={
                "parent": {"type": names.ACCOUNT, "count": ACCOUNTS, "fields": {
                    names.ACCOUNT_NAME: "Customer {i}",
                    names.DEFAULT_ACCOUNT_CUSTOMER_FIELD: "cus_{i:08d}"}},
                "child": {"type": names.PAYMENT_METHOD, "per_parent": PER_ACCOUNT,
                          "link": names.PM_ACCOUNT, "fields": {
                              names.PM_ACTIVE: True,
                              names.PM_PAYMENT_TYPE: names.PAYMENT_TYPE_CARD,
                              names.DEFAULT_PM_EXTERNAL_ID_FIELD: "pm_{j:09d}",
                              names.DEFAULT_PM_CUSTOMER_FIELD: "cus_{i:08d}"}}}).json()
            if not isinstance(made, dict):
                raise SystemExit(f"the stand-in refused to generate the org: {made}")
            print(f"  (seeded {made['children']:,} payment methods in "
                  f"{time.perf_counter() - started:.0f} s)")
            proc = subprocess.run([sys.executable, "-m", "bench.large_org", "read"],
                                  env={**os.environ, "BENCH_SF_INFO": json.dumps(info)},
                                  capture_output=True, text=True, timeout=3600, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            assert result["customers"] == ACCOUNTS, result
            row(f"peak RSS of the import's read of {pms:,} active payment methods (own "
                f"process; {result['seconds']:.0f} s)", result["rss_mib"], "MB",
                f"<= {TARGET_MIB}", result["rss_mib"] <= TARGET_MIB)
        finally:
            child.stop()


if __name__ == "__main__":
    read() if sys.argv[1:] == ["read"] else main()
