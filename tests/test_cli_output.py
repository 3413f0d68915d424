"""What the command line tells its user: help, deployable zips, quiet ends in a pipe."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from metadata.render import bundle, render_release
from sfbilling import cli
from sfbilling.cli import main
from sfbilling.environments import org_config
from sfbilling.exits import Exit, table
from sync_lambda.report import Outcome

REPO = Path(__file__).resolve().parents[1]


def test_help_is_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert "sfbilling sync --env sandbox --dry-run" in out
    assert "exit codes (every command):" in out
    assert table() in out
    assert "No logic lives here" not in out


@pytest.mark.parametrize("command", ["local", "sync", "render", "plan", "apply", "validate",
                                     "doctor"])
def test_each_command_says_what_it_changes_and_never_touches(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert any(word in text for word in ("Never", "never", "changes nothing",
                                         "Changes nothing", "Touches nothing",
                                         "needs no credentials"))


def test_render_writes_deployable_zips(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--env", "local", "--root", str(REPO), "--out", str(tmp_path)]) == 0
    release = render_release(org_config("local", root=REPO))
    package = (tmp_path / "package.zip").read_bytes()
    assert package == bundle(release.metadata_files)
    with zipfile.ZipFile(tmp_path / "package.zip") as zf:
        names = zf.namelist()
    assert "package.xml" in names
    assert not any(n.startswith(("stamp/", "data/")) for n in names)
    assert (tmp_path / "stamp.zip").read_bytes() == bundle(release.stamp_files)
    assert hashlib.sha256(package).hexdigest() in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--help"], ["render", "--env", "local", "--root", str(REPO),
                                               "--out", "OUT"]], ids=["help", "render"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    # GIVEN a reader that has already gone away (as `| head` does after its lines)
    read_end, write_end = os.pipe()
    os.close(read_end)
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "sfbilling.cli", *argv], stdout=write_end,
                          stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    os.close(write_end)
    # THEN no traceback; our own output ends with the status of a process ended by SIGPIPE
    # (argparse swallows the failed write of --help itself)
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert proc.returncode == (0 if argv == ["--help"] else 141)


def test_exit_codes_follow_the_outcome() -> None:
    assert cli.EXIT == {Outcome.OK: 0, Outcome.FAILED_ROWS: 1, Outcome.HELD_BACK: 4,
                        Outcome.SKIPPED: 5, Outcome.LEASE_LOST: 5, Outcome.DISAGREEMENT: 8,
                        Outcome.API_BUDGET: 9, Outcome.INCOMPLETE: 3}


def test_the_readmes_exit_code_table_is_the_codes() -> None:
    # The README shows the table `sfbilling --help` prints, line for line.
    readme = (REPO / "README.md").read_text()
    assert table() in readme
    assert [int(code) for code in Exit] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130]


def test_make_help_lists_every_target() -> None:
    makefile = (REPO / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:"))
    targets = set(phony.split(":", 1)[1].split())
    shown = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True,
                           timeout=60, check=True).stdout
    listed = {line.split()[1] for line in shown.splitlines() if line.startswith("  make ")}
    assert listed == targets


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("sfbilling 0.")


def test_config_says_what_preview_and_the_cli_will_refuse(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a sandbox stack whose secrets were never set, and no CLI credentials here
    for name in [n for n in os.environ if n.startswith("SFBILLING_")]:
        monkeypatch.delenv(name)
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  sfbilling:environmentKind: sandbox\n  aws:region: eu-west-1\n"
        "  sfbilling:salesforceUsername: u@example.com\n"
        "  sfbilling:salesforceConsumerKey: 3MVG9key\n")
    # WHEN config checks it THEN it fails as `pulumi preview` would, naming the commands
    assert main(["config", "--env", "dev", "--root", str(tmp_path), "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["problems"] == []
    assert any("sfbilling:stripeApiKey is not set" in p
               for p in doc["refused_by"]["pulumi preview"])
    assert any("SFBILLING_DEV_SF_PRIVATE_KEY_FILE" in p
               for p in doc["refused_by"]["sfbilling sync"])
    # ... and the org-config commands, which log in as the deploy user the stack does not name
    assert any("sfbilling:salesforceDeployConsumerKey is not set" in p
               for p in doc["refused_by"]["pulumi preview"])
    assert any("sfbilling:salesforceDeployConsumerKey is not set" in p
               for p in doc["refused_by"]["sfbilling plan, apply, validate, doctor, promote"])
    assert "pulumi preview will refuse: sfbilling:stripeApiKey is not set" in captured.err
