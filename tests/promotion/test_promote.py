"""`sfbilling promote` end to end on two stand-in orgs — a sandbox and a production org, each
with its own org id and IsSandbox — in a temporary copy of the repository (its own git repo);
the committed stack files are never rewritten."""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from yaml import safe_load as load_yaml

from devenv.salesforce import SalesforceStandIn
from devenv.salesforce.billing import OrgProfile
from infra.lambda_package import PACKAGE_VAR, Package
from infra.release import git
from sfbilling.cli import main
from sfbilling.demo_promotion import stack_repo
from sfbilling.release_log import RELEASES_FILE, ReleaseLog
from sfbilling.shapes import COMMON, SHAPES
from stackconfig.stackwrite import write_keys
from tests.conftest import batch_size, org_client

if TYPE_CHECKING:
    from collections.abc import Iterator

PROD_ORG = "00D5g000004PRDaEAO"


@pytest.fixture(scope="module")
def prod_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceStandIn]:
    base = OrgProfile()
    server = SalesforceStandIn(state_dir=tmp_path_factory.mktemp("prod-org"),
                               profile=replace(base, org_id=PROD_ORG, is_sandbox=False,
                                               org_name="Acme Billing (production stand-in)"),
                               deploy_delay_s=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def orgs(salesforce: SalesforceStandIn, prod_server: SalesforceStandIn,
         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, SalesforceStandIn]:
    prod_server.reset(sessions=True)
    # Trust both orgs' certificates.
    bundle = tmp_path / "both.pem"
    current = Path(os.environ["REQUESTS_CA_BUNDLE"]).read_bytes()
    bundle.write_bytes(current + b"\n" + prod_server.ca_file.read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    for env, server in (("SANDBOX", salesforce), ("PROD", prod_server)):
        assert server.app.private_key_file is not None
        monkeypatch.setenv(f"SFBILLING_{env}_SF_PRIVATE_KEY_FILE",
                           str(server.app.private_key_file))
        monkeypatch.setenv(f"SFBILLING_{env}_SF_DEPLOY_PRIVATE_KEY_FILE",
                           server.info()["deploy"]["private_key_file"])
    return {"sandbox": salesforce, "prod": prod_server}


@pytest.fixture
def repo(orgs: dict[str, SalesforceStandIn], tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch, lambda_package: Package) -> Path:
    """A copy of the repository's stack files pointing at the two stand-in orgs, committed;
    production still on its old config (batch size 50): the demo's own."""
    root = stack_repo(tmp_path, {env: {"login_url": server.url, "username": server.app.username,
                                       "consumer_key": server.app.consumer_key,
                                       "org_id": server.org.profile.org_id,
                                       "deploy": server.info()["deploy"]}
                                 for env, server in orgs.items()})
    monkeypatch.setenv(PACKAGE_VAR, str(lambda_package.path))
    return root




def _stamp(server: SalesforceStandIn) -> str | None:
    rows = org_client(server).query("SELECT Content_Hash__c FROM Sfbilling_Release__mdt")["records"]
    return rows[0]["Content_Hash__c"] if rows else None


def _promote(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`promote` as a pipeline runs it: no terminal, so --yes."""
    return _cli(capsys, "promote", "--yes", *args)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_apply_promote_validate_quick_deploy(orgs: dict[str, SalesforceStandIn], repo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo)
    prod_file = (repo / "Pulumi.prod.yaml").read_text()
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    code, out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--validate",
                              "--root", root)
    assert code == 0, err
    # The change for production, shown: keys, the plan against the prod org, the files.
    assert "sfbilling:paymentCreationBatchSize: 50 → 70" in out
    assert "Payment creation batch size: 50 → 70" in out
    files = out.split("rendered files:")[1]
    assert "--- data/billing-config.json (now)" in files
    assert '"field": "blng__NumberValue__c", "value": 70}' in files.split("+++")[1]
    # Only the promoted line changed in Pulumi.prod.yaml.
    after = (repo / "Pulumi.prod.yaml").read_text()
    changed = [line for line in difflib.ndiff(prod_file.splitlines(), after.splitlines())
               if line.startswith(("- ", "+ "))]
    assert changed[:2] == ['- ' + '  sfbilling:paymentCreationBatchSize: "50"',
                           '+ ' + '  sfbilling:paymentCreationBatchSize: "70"']
    assert [line[2:].split(":")[0].strip() for line in changed[2:]] == ["sfbilling"]
    assert "prodValidation" in changed[2]
    # Validated against production, recorded; nothing deployed there yet.
    validation = json.loads(load_yaml(after)["config"]["sfbilling:prodValidation"])
    assert (validation["orgId"], validation["release"]) == (PROD_ORG, _stamp(orgs["sandbox"]))
    assert not (repo / "releases/validations.jsonl").exists()
    assert batch_size(orgs["prod"]) == 50.0
    (record,) = ReleaseLog(repo / RELEASES_FILE).records()
    assert (record.from_env, record.to_env, record.validation_id, record.who) == (
        "sandbox", "prod", validation["id"], "release-manager@example.com")
    assert record.release == _stamp(orgs["sandbox"])
    # The commit promoted from (clean: the stack file is written after it is read).
    assert record.release_id.split(".")[0] == git(repo, "rev-parse", "--short=12", "HEAD")
    # The quick deploy: production now runs exactly the sandbox's release.
    code, _out, err = _cli(capsys, "apply", "--yes", "--env", "prod", "--root", root,
                           "--validated", record.validation_id or "")
    assert code == 0, err
    assert batch_size(orgs["prod"]) == 70.0
    assert _stamp(orgs["prod"]) == _stamp(orgs["sandbox"])
    code, out, _ = _cli(capsys, "releases", "--root", root)
    assert code == 0
    assert f"sandbox → prod  {record.release_id}" in out
    code, as_json, _ = _cli(capsys, "releases", "--root", root, "--json")
    doc = json.loads(as_json)
    assert code == 0
    assert set(doc) == COMMON | SHAPES["releases"]
    assert [r["release_id"] for r in doc["releases"]] == [record.release_id]
    assert {r["env"]: r["release"] for r in doc["running"]} == {
        "sandbox": record.release, "prod": record.release}
    assert f"sandbox: {record.release[:12]}" in out
    assert f"prod: {record.release[:12]}" in out


def test_refused_while_the_sandbox_runs_another_release(orgs: dict[str, SalesforceStandIn],
                                                        repo: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    root = str(repo)
    before = (repo / "Pulumi.prod.yaml").read_text()
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--root",
                           root)
    assert code == 2
    assert "the sandbox org runs release none" in err
    assert "sfbilling apply --env sandbox" in err
    assert (repo / "Pulumi.prod.yaml").read_text() == before
    assert not (repo / RELEASES_FILE).exists()
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--force",
                           "--root", root)
    assert code == 2
    assert "--force needs --reason" in err
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--force",
                           "--reason", "sandbox org down for maintenance", "--root", root)
    assert code == 0, err
    (record,) = ReleaseLog(repo / RELEASES_FILE).records()
    assert record.forced_reason == "sandbox org down for maintenance"
    del orgs


def test_drift_in_production_is_shown_before_promotion(orgs: dict[str, SalesforceStandIn],
                                                       repo: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--yes", "--env", "prod", "--root", root)[0] == 0
    sf = org_client(orgs["prod"])
    rid = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                   "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["Id"]
    sf.blng__BillingConfig__c.update(rid, {"blng__NumberValue__c": 45})
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    code, out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--root",
                          root)
    assert code == 0, err
    assert "drift: Payment creation batch size changed in Setup since release" in out
    assert "50 → 45" in out


def test_a_dirty_tree_is_refused_unless_allowed(orgs: dict[str, SalesforceStandIn], repo: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    sandbox = repo / "Pulumi.sandbox.yaml"
    sandbox.write_text(sandbox.read_text() + "# an uncommitted edit\n")
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--root",
                           root)
    assert code == 2
    assert "uncommitted changes" in err and "--allow-dirty" in err
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod",
                           "--allow-dirty", "--root", root)
    assert code == 0, err
    assert ReleaseLog(repo / RELEASES_FILE).records()[0].commit.endswith("-dirty")
    del orgs


def test_a_refreshed_sandbox_is_refused(orgs: dict[str, SalesforceStandIn], repo: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    # The sandbox was refreshed: the stack still names the org id it had before.
    write_keys(repo / "Pulumi.sandbox.yaml", {"sfbilling:salesforceOrgId": "00D5g000004OLDaEAO"})
    git(repo, "commit", "-qam", "the org id before the refresh")
    before = (repo / "Pulumi.prod.yaml").read_text()
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--root",
                           root)
    assert code == 6  # org identity
    assert "but sfbilling:salesforceOrgId is 00D5g000004OLDaEAO" in err
    assert "refreshed sandbox" in err
    assert (repo / "Pulumi.prod.yaml").read_text() == before
    del orgs


def test_unknown_stacks_are_clear_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "production",
                           "--root", str(repo))
    assert code == 2
    assert "Pulumi.production.yaml not found" in err
    assert "did you mean `--env prod`?" in err
    assert "(stacks here: " in err


def test_a_production_org_that_is_not_the_stacks_is_refused(
        orgs: dict[str, SalesforceStandIn], repo: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    write_keys(repo / "Pulumi.prod.yaml", {"sfbilling:salesforceOrgId": "00D5g000004XXXaEAO"})
    git(repo, "commit", "-qam", "a production org id that is not the org's")
    before = (repo / "Pulumi.prod.yaml").read_text()
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--root",
                           root)
    assert code == 6  # org identity
    assert f"the org is {PROD_ORG}, but sfbilling:salesforceOrgId is 00D5g000004XXXaEAO" in err
    # production is never refreshed: wrong credentials, and the message says so
    assert "refreshed" not in err
    assert "reach another org than production's" in err
    assert (repo / "Pulumi.prod.yaml").read_text() == before
    assert not (repo / RELEASES_FILE).exists()
    del orgs


def _tree(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_a_dry_run_writes_nothing_byte_for_byte(orgs: dict[str, SalesforceStandIn], repo: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    before = _tree(repo)
    checks_before = sum(1 for d in orgs["prod"].metadata.deployments.values() if d.check_only)
    # WHEN the promotion is shown as JSON, without --yes and without a terminal
    code, out, err = _cli(capsys, "promote", "--from", "sandbox", "--to", "prod", "--validate",
                          "--dry-run", "--json", "--root", root)
    # THEN it shows everything and writes nothing: no file, no validation in production
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == COMMON | SHAPES["promote"]
    assert doc["dry_run"] is True
    assert doc["keys"] == [{"key": "sfbilling:paymentCreationBatchSize", "old": "50",
                            "new": "70"}]
    assert (doc["release_id"], doc["validation_id"]) == (None, None)
    assert "Payment creation batch size: 50 → 70" in err  # the human view, on stderr
    assert _tree(repo) == before
    assert sum(1 for d in orgs["prod"].metadata.deployments.values()
               if d.check_only) == checks_before


def test_without_a_terminal_promote_needs_yes(orgs: dict[str, SalesforceStandIn], repo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    before = _tree(repo)
    code, _out, err = _cli(capsys, "promote", "--from", "sandbox", "--to", "prod", "--root", root)
    assert code == 2
    assert "pass --yes" in err
    assert _tree(repo) == before
    code, _out, err = _cli(capsys, "apply", "--env", "prod", "--root", root)
    assert code == 2
    assert "pass --yes" in err
    assert batch_size(orgs["prod"]) == 50.0


@pytest.mark.parametrize(("env", "key"), [("SANDBOX", "rk_live_abc"), ("PROD", "rk_test_abc")])
def test_promote_refuses_a_stripe_key_of_the_wrong_mode(
        orgs: dict[str, SalesforceStandIn], repo: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], env: str, key: str) -> None:
    root = str(repo)
    assert _cli(capsys, "apply", "--env", "sandbox", "--root", root)[0] == 0
    monkeypatch.setenv(f"SFBILLING_{env}_STRIPE_API_KEY", key)
    before = _tree(repo)
    code, _out, err = _promote(capsys, "--from", "sandbox", "--to", "prod", "--root", root)
    assert code == 2
    assert f"SFBILLING_{env}_STRIPE_API_KEY" in err
    assert key not in err  # the prefix only
    assert _tree(repo) == before
    del orgs


@pytest.mark.parametrize("line", ["<<<<<<< HEAD", '{"release_id": "x"}', "[1, 2]"])
def test_a_malformed_release_record_is_named_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: sfbilling\n")
    (tmp_path / "releases").mkdir()
    (tmp_path / RELEASES_FILE).write_text(line + "\n")
    code, _out, err = _cli(capsys, "releases", "--root", str(tmp_path))
    assert code == 2
    assert f"{RELEASES_FILE}:1 is not a release record" in err
    assert "Traceback" not in err
