"""`sfbilling status`, `failures` and `invoke` against the deployed import's stand-ins: the state
table in moto (named as `pulumi up` names it), the function in moto's Lambda."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import boto3

from sfbilling.cli import main
from sfbilling.shapes import COMMON, SHAPES

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from tests.sync.harness import World

# The harness's table is sfbilling-test-state: the stack below names it through its prefix.
PREFIX = "sfbilling-test"


def deployed_stack(root: Path, world: World, extra: str = "") -> Path:
    """A sandbox stack `dev` named as the harness's deployed resources are, with `extra` config
    lines (each "  key: value\n")."""
    root.mkdir()
    (root / "Pulumi.yaml").write_text("name: sfbilling\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  sfbilling:environmentKind: sandbox\n"
        "  aws:region: us-east-1\n"
        f"  sfbilling:resourcePrefix: {PREFIX}\n"
        f"  sfbilling:awsEndpointUrl: {world.aws.endpoint_url}\n"
        f"  sfbilling:salesforceLoginUrl: {world.salesforce.url}\n"
        f"  sfbilling:salesforceUsername: {world.salesforce.app.username}\n"
        f"  sfbilling:salesforceConsumerKey: {world.salesforce.app.consumer_key}\n" + extra)
    return root


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == code
    return code, doc


def test_status_and_failures_read_the_deployed_state(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an import that ran: one card quarantined (a brand the org lacks)
    _cus, (jcb, _visa) = world.customer(name="Linus", cards=("pm_card_jcb", "pm_card_visa"))
    report = world.run()
    root = str(deployed_stack(tmp_path / "repo", world))
    # WHEN the operator asks
    code, status = _json(capsys, "status", "--env", "dev", "--root", root)
    # THEN the last run, the checkpoint, the lease and the failed rows are there
    assert code == 0
    assert set(status) == COMMON | SHAPES["status"]
    assert status["table"] == f"{PREFIX}-state"
    assert status["last_run"]["run_id"] == report.run_id
    assert status["last_run"]["outcome"] == "failed_rows"
    usage = status["last_run"]["salesforce_api_usage"]
    assert usage["limit"] == world.salesforce.org.profile.daily_api_limit
    assert 0 < usage["used"] <= world.salesforce.api_usage()[0]
    assert main(["status", "--env", "dev", "--root", root]) == 0
    assert f"of the org's {usage['limit']} daily requests used" in capsys.readouterr().out
    assert status["checkpoint"] is not None and status["checkpoint_age_s"] >= 0
    assert status["lease"] is None
    assert status["failed_rows"] == {"pending": 0, "rejected": 1}
    assert status["org_id"] == world.salesforce.org.profile.org_id
    code, failures = _json(capsys, "failures", "--env", "dev", "--root", root)
    assert code == 0
    assert set(failures) == COMMON | SHAPES["failures"]
    assert [(f["stripe_id"], f["status"]) for f in failures["failures"]] == [(jcb, "rejected")]
    assert "Linus" not in json.dumps(failures)  # ids and reasons, never names


def test_status_names_the_lease_holder(world: World, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = str(deployed_stack(tmp_path / "repo", world))
    store = world.state()
    assert store.acquire("run-abc123", 600, 0) is not None
    try:
        assert main(["status", "--env", "dev", "--root", root]) == 0
        out = capsys.readouterr().out
    finally:
        store.release()
    assert "held by run run-abc123 on " in out and " since " in out


def test_invoke_starts_the_function_asynchronously(world: World, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = str(deployed_stack(tmp_path / "repo", world))
    # A missing function is exit 7, named with its region.
    code, doc = _json(capsys, "invoke", "--env", "dev", "--root", root)
    assert code == 7
    assert f"{PREFIX}-sync does not exist in us-east-1" in doc["error"]
    # The deployed function (moto's Lambda does not run it: the request is what is tested).
    kw = world.aws.client_kwargs()
    role = boto3.client("iam", **kw).create_role(
        RoleName="sync", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code_zip = io.BytesIO()
    with zipfile.ZipFile(code_zip, "w") as zf:
        zf.writestr("h.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda", **kw).create_function(
        FunctionName=f"{PREFIX}-sync", Runtime="python3.12", Role=role, Handler="h.handler",
        Code={"ZipFile": code_zip.getvalue()})
    code, doc = _json(capsys, "invoke", "--env", "dev", "--root", root, "--full",
                      "--allow-mass-deactivation")
    assert code == 0
    assert set(doc) == COMMON | SHAPES["invoke"]
    assert doc["status_code"] == 202  # accepted, asynchronously
    assert doc["request_id"]
    assert doc["payload"] == {"full": True, "allowMassDeactivation": True}
    code, doc = _json(capsys, "invoke", "--env", "dev", "--root", root, "--reconcile")
    assert (code, doc["payload"]) == (0, {"reconcile": True})
    code, doc = _json(capsys, "invoke", "--env", "dev", "--root", root, "--reconcile",
                      "--full")
    assert code == 2 and "--reconcile reads and compares only" in doc["error"]


def test_a_missing_table_is_exit_7_naming_it(world: World, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = deployed_stack(tmp_path / "repo", world)
    text = (root / "Pulumi.dev.yaml").read_text().replace(PREFIX, "sfbilling-gone")
    (root / "Pulumi.dev.yaml").write_text(text)
    code, doc = _json(capsys, "status", "--env", "dev", "--root", str(root))
    assert code == 7
    assert "sfbilling-gone-state" in doc["error"] and "us-east-1" in doc["error"]

