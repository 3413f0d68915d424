"""`--json` on every command: one document on stdout, in the shape docs/cli.md lists
(sfbilling/shapes.py), human output on stderr, no secret anywhere."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sfbilling.cli import main
from sfbilling.shapes import COMMON, ERROR, SHAPES
from tests.sync.test_cli import local_state

if TYPE_CHECKING:
    from tests.sync.harness import World

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def local(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`--env local` arguments pointing at this test's stand-ins, in a copy of the stack files
    (`validate` writes its record into the stack file)."""
    for name in ("REQUESTS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.local.yaml"):
        shutil.copy(REPO / name, root / name)
    return ["--env", "local", "--root", str(root), "--state-dir",
            str(local_state(world, tmp_path))]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # exactly one document: json.loads refuses trailing text
    assert doc["exit_code"] == code
    assert doc["command"] == argv[0]
    return code, doc, captured.err


def _secrets(world: World) -> list[str]:
    key_file = world.salesforce.app.private_key_file
    assert key_file is not None
    body = key_file.read_text().splitlines()[1]
    return [body, world.stripe_api.api_key, world.salesforce.app.consumer_secret]


def test_every_org_command_writes_its_shape(world: World, local: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    docs = {}
    code, docs["config"], _ = _json(capsys, "config", *local)
    assert code == 0
    code, docs["render"], err = _json(capsys, "render", *local, "--out", str(tmp_path / "r"))
    assert (code, "rendered" in err) == (0, True)  # the human lines went to stderr
    code, docs["plan"], _ = _json(capsys, "plan", *local)
    assert code == 8  # a fresh org: everything to create
    assert {"kind": "setting", "name": "PAYMENT_CREATION_BATCH_SIZE", "action": "update",
            "detail": "Payment creation batch size: 50 → 70"} in docs["plan"]["changes"]
    code, docs["doctor"], _ = _json(capsys, "doctor", *local)
    assert (code, docs["doctor"]["ok"]) == (1, False)
    code, docs["apply"], _ = _json(capsys, "apply", *local)
    assert code == 0
    code, again, _ = _json(capsys, "plan", *local)
    assert (code, again["changes"], again["drift"]) == (0, [], [])
    code, docs["validate"], _ = _json(capsys, "validate", *local)
    assert code == 0
    assert docs["validate"]["validation_id"].startswith("0Af")
    stack_file = (Path(local[local.index("--root") + 1]) / "Pulumi.local.yaml").read_text()
    assert f'\\"id\\":\\"{docs["validate"]["validation_id"]}\\"' in stack_file
    world.customer(name="Ada")
    code, docs["sync"], _ = _json(capsys, "sync", *local)
    assert code == 0
    assert docs["sync"]["report"]["outcomes"]["accounts_created"] == 1
    code, docs["reconcile"], _ = _json(capsys, "reconcile", *local)
    assert code == 0
    assert docs["reconcile"]["report"]["reconcile"]["disagreements"] == 0
    late, _ = world.customer(name="Late")
    code, disagrees, err = _json(capsys, "reconcile", *local)
    assert code == 8
    found = disagrees["report"]["reconcile"]
    assert found["counts"]["unlinked_customers"] == 1
    assert found["samples"]["unlinked_customers"][0]["id"] == late
    assert "unlinked_customers: 1" in err  # the human summary went to stderr
    for command, doc in docs.items():
        assert set(doc) == COMMON | SHAPES[command], command
    text = json.dumps(docs)
    assert not [s for s in _secrets(world) if s in text]


def test_config_shows_unset_as_null(local: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _code, doc, _ = _json(capsys, "config", *local)
    values = {row["key"]: row["value"] for row in doc["keys"]}
    assert values["sfbilling:salesforceOrgId"] is None
    assert "—" not in json.dumps(doc)


def test_a_failure_is_one_error_document(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = _json(capsys, "plan", "--env", "nowhere", "--root", str(REPO))
    assert code == 2
    assert set(doc) == ERROR
    assert "Pulumi.nowhere.yaml not found" in doc["error"]
    assert "Traceback" not in err
    del tmp_path


def test_sync_json_path_still_writes_a_file_with_a_warning(
        world: World, local: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", *local]) == 0
    capsys.readouterr()
    target = tmp_path / "report.json"
    assert main(["sync", *local, "--json", str(target)]) == 0
    captured = capsys.readouterr()
    assert "deprecated" in captured.err and "--json-file" in captured.err
    assert json.loads(target.read_text())["outcome"] == "ok"
    assert main(["sync", *local, "--json-file", str(tmp_path / "new.json")]) == 0
    assert json.loads((tmp_path / "new.json").read_text())["kind"] in ("noop", "incremental")
    del world
