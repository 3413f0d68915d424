"""`sfbilling sync` as an operator runs it, and the client-credentials login."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sfbilling.cli import main
from sync_lambda.settings import Secrets
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from tests.sync.harness import World

REPO = Path(__file__).resolve().parents[2]


def local_state(world: World, tmp_path: Path) -> Path:
    """A state directory describing the test's stand-ins as `sfbilling local up` would."""
    state = tmp_path / "state"
    state.mkdir()
    doc = {"salesforce": world.salesforce.info(), "stripe": world.stripe_api.info(),
           "aws": world.aws.info(), "ca_bundle": os.environ["REQUESTS_CA_BUNDLE"], "pid": 0}
    (state / "endpoints.json").write_text(json.dumps(doc))
    return state


@pytest.fixture
def restore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--env local` points the process at the stand-ins; undo that after the test."""
    for name in ("REQUESTS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, ""))


def test_sync_local_dry_run_then_import(world: World, tmp_path: Path, restore_env: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cus, _ = world.customer(name="Ada")
    state = local_state(world, tmp_path)
    args = ["sync", "--env", "local", "--root", str(REPO), "--state-dir", str(state)]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "DRY RUN full run" in out
    assert "would_create_account 1" in out
    assert world.records("Account") == []
    report_file = tmp_path / "report.json"
    assert main([*args, "--json", str(report_file)]) == 0
    report = json.loads(report_file.read_text())
    assert report["outcomes"]["accounts_created"] == 1
    assert cus in world.accounts()


def test_secrets_come_from_documented_variables(world: World, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  sfbilling:environmentKind: sandbox\n"
        "  aws:region: eu-west-1\n"
        "  sfbilling:salesforceUsername: u@example.com\n"
        "  sfbilling:salesforceConsumerKey: 3MVG9key\n"
        "  sfbilling:stripeApiKey:\n    secure: AAABAMxyz\n")
    for name in ("SFBILLING_STRIPE_API_KEY", "SFBILLING_DEV_STRIPE_API_KEY",
                 "SFBILLING_SF_PRIVATE_KEY_FILE", "SFBILLING_DEV_SF_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["sync", "--env", "dev", "--root", str(tmp_path)]) == 2
    assert "SFBILLING_DEV_STRIPE_API_KEY (or SFBILLING_STRIPE_API_KEY) is not set" in \
        capsys.readouterr().err
    monkeypatch.setenv("SFBILLING_DEV_STRIPE_API_KEY", "sk_test_x")
    assert main(["sync", "--env", "dev", "--root", str(tmp_path)]) == 2
    assert "SFBILLING_DEV_SF_PRIVATE_KEY_FILE (or SFBILLING_SF_PRIVATE_KEY_FILE) is not set" in \
        capsys.readouterr().err
    monkeypatch.setenv("SFBILLING_DEV_STRIPE_API_KEY", "rk_live_x")
    assert main(["sync", "--env", "dev", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "a live Stripe key (rk_live_…) in a sandbox environment" in err
    assert "rk_live_x" not in err
    del world


def test_client_credentials_flow(world: World) -> None:
    cus, _ = world.customer(name="Ada")
    secrets = Secrets(stripe_api_key=world.stripe_api.api_key,
                      salesforce_consumer_secret=world.salesforce.app.consumer_secret)
    settings = world.settings(SFB_SF_AUTH="client_credentials")
    report = build_service(settings, secrets).run()
    assert report.outcomes["accounts_created"] == 1
    assert cus in world.accounts()


def test_quarantined_rows_fail_the_run_and_are_named(world: World, tmp_path: Path,
                                                     restore_env: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a customer whose card brand the org's picklist lacks (JCB)
    _cus, (jcb, visa) = world.customer(name="Linus", cards=("pm_card_jcb", "pm_card_visa"))
    args = ["sync", "--env", "local", "--root", str(REPO), "--state-dir",
            str(local_state(world, tmp_path))]
    # WHEN the import runs THEN the exit code says rows failed, and the summary names them
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "quarantined (failed rows):" in out
    assert f"{jcb} [" in out
    assert "1 failed rows: 0 refused or unreadable" in out
    assert visa in world.payment_methods()  # the other card went in


def test_progress_never_announces_writes_when_there_is_nothing_to_write(world: World) -> None:
    world.customer(name="Ada")
    world.run()
    stages: list[str] = []
    service = build_service(world.settings(), world.secrets,
                            progress=lambda stage, *_counts: stages.append(stage))
    report = service.run(full=True)
    assert report.outcomes["unchanged"] == 1
    assert "reading Salesforce" in stages
    assert "writing Salesforce" not in stages
