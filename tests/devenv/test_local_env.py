"""`sfbilling local up` / `local down` as a user runs them: a real process, real endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import boto3
import requests
import stripe
from simple_salesforce.api import Salesforce

from devenv.salesforce.client import redirecting_session

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

CLI = [sys.executable, "-m", "sfbilling.cli"]


def test_local_up_serves_all_three_and_down_stops_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    state, out = tmp_path / "state", tmp_path / "endpoints.json"
    proc = subprocess.Popen([*CLI, "local", "up", "--state-dir", str(state), "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.exists(), proc.stdout.read() if proc.stdout else ""
        doc = json.loads(out.read_text())
        sf_info, st, aws = doc["salesforce"], doc["stripe"], doc["aws"]
        # Salesforce over HTTPS, trusted through the bundle the command wrote (requests lets
        # REQUESTS_CA_BUNDLE override a session's `verify`, so the variable is the way).
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", doc["ca_bundle"])
        session = redirecting_session(sf_info["instance_url"])
        sf = Salesforce(username=sf_info["username"], consumer_key=sf_info["consumer_key"],
                        privatekey_file=sf_info["private_key_file"], session=session)
        assert sf.query("SELECT Name FROM blng__PaymentGateway__c")["records"][0][
            "Name"] == "Stripe"
        client = stripe.StripeClient(st["api_key"], base_addresses={"api": st["api_base"]})
        assert client.v1.customers.create(params={"name": "x"}).id.startswith("cus_")
        kwargs = {"endpoint_url": aws["endpoint_url"], "region_name": aws["region"],
                  "aws_access_key_id": aws["access_key_id"],
                  "aws_secret_access_key": aws["secret_access_key"]}
        assert boto3.client("secretsmanager", **kwargs).list_secrets()["SecretList"] == []
        assert json.loads((state / "endpoints.json").read_text())["pid"] == proc.pid
        # A second `up` refuses while the first runs.
        second = subprocess.run([*CLI, "local", "up", "--state-dir", str(state)],
                                capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode == 2
        assert "already running" in second.stderr
        down = subprocess.run([*CLI, "local", "down", "--state-dir", str(state)],
                              capture_output=True, text=True, timeout=30, check=False)
        assert down.returncode == 0, down.stderr
        assert proc.wait(timeout=15) == 0
        for url in (st["api_base"] + "/v1/customers", aws["endpoint_url"]):
            try:
                requests.get(url, timeout=2)
                raise AssertionError(f"{url} still answers")
            except requests.ConnectionError:
                pass
        assert not (state / "endpoints.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
    again = subprocess.run([*CLI, "local", "down", "--state-dir", str(state)],
                           capture_output=True, text=True, timeout=30, check=False,
                           env={**os.environ})
    assert again.returncode == 2
    assert "no local environment is running" in again.stderr
