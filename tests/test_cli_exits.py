"""Each exit code of the table, from a real `sfbilling` process: the code, the one line, and no
traceback. (1, 4 and 5 come from run outcomes: tests/sync covers them in-process.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.sync.test_cli import local_state

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devenv.salesforce import SalesforceStandIn
    from tests.sync.harness import World

REPO = Path(__file__).resolve().parents[1]


def _stack(root: Path, salesforce: SalesforceStandIn, **keys: str) -> Path:
    """A sandbox stack `dev` whose org is the stand-in (keys override its values)."""
    values = {"sfbilling:environmentKind": "sandbox", "aws:region": "eu-west-1",
              "sfbilling:salesforceLoginUrl": salesforce.url,
              "sfbilling:salesforceUsername": salesforce.app.username,
              "sfbilling:salesforceConsumerKey": salesforce.app.consumer_key,
              "sfbilling:salesforceDeployUsername": salesforce.deploy_app.username,
              "sfbilling:salesforceDeployConsumerKey": salesforce.deploy_app.consumer_key,
              "sfbilling:salesforceOrgId": salesforce.org.profile.org_id, **keys}
    root.mkdir(exist_ok=True)
    (root / "Pulumi.yaml").write_text("name: sfbilling\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text(
        "config:\n" + "".join(f"  {k}: {v!r}\n".replace("'", '"') for k, v in values.items()))
    return root


def _env(salesforce: SalesforceStandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFBILLING_")}
    env["SFBILLING_DEV_SF_PRIVATE_KEY_FILE"] = str(salesforce.app.private_key_file)
    env["SFBILLING_DEV_SF_DEPLOY_PRIVATE_KEY_FILE"] = str(salesforce.deploy_app.private_key_file)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str],
         cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfbilling.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("sfbilling: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_0_and_8_plan(salesforce: SalesforceStandIn, tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", salesforce)
    done = _run(["plan", "--env", "dev", "--root", str(root)], _env(salesforce))
    assert done.returncode == 8, done.stderr  # a fresh org: changes to make
    assert "Payment creation batch size: 50 → 70" in done.stdout
    done = _run(["config", "--env", "local"], _env(salesforce))
    assert done.returncode == 0, done.stderr


def test_2_an_unknown_stack_found_from_a_subdirectory(salesforce: SalesforceStandIn) -> None:
    # --root defaults to the nearest directory holding Pulumi.yaml: docs/ finds the repository
    done = _run(["plan", "--env", "production"], _env(salesforce), cwd=REPO / "docs")
    assert done.returncode == 2
    line = _one_line(done)
    assert str(REPO / "Pulumi.production.yaml") in line or "Pulumi.production.yaml" in \
        done.stderr
    assert "did you mean `--env prod`?" in done.stderr


def test_3_stripe_refuses(world: World, tmp_path: Path) -> None:
    state = local_state(world, tmp_path)
    world.stripe_api.set_faults(error_rate=1.0, error_status=403)
    done = _run(["sync", "--env", "local", "--state-dir", str(state)], dict(os.environ))
    assert done.returncode == 3
    assert "the run stopped" in _one_line(done)


def test_6_another_org(salesforce: SalesforceStandIn, tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", salesforce,
                  **{"sfbilling:salesforceOrgId": "00D5g000004OLDaEAO"})
    for command in ("plan", "doctor"):
        done = _run([command, "--env", "dev", "--root", str(root)], _env(salesforce))
        assert done.returncode == 6, done.stderr
        assert "but sfbilling:salesforceOrgId is 00D5g000004OLDaEAO" in _one_line(done)
        assert "no changes" not in done.stdout


@pytest.mark.parametrize(("case", "expect"), [
    ("untrusted", "certificate is not trusted"),
    ("refused", "connection was refused"),
])
def test_7_an_org_that_cannot_be_reached_fails_at_once(
        salesforce: SalesforceStandIn, tmp_path: Path, case: str, expect: str) -> None:
    env = _env(salesforce)
    url = salesforce.url
    if case == "untrusted":
        env.pop("REQUESTS_CA_BUNDLE", None)  # the stand-in's CA is not trusted
    else:
        url = "https://127.0.0.1:9"  # nothing listens there
    root = _stack(tmp_path / "repo", salesforce, **{"sfbilling:salesforceLoginUrl": url})
    started = time.monotonic()
    done = _run(["plan", "--env", "dev", "--root", str(root)], env)
    assert done.returncode == 7, done.stderr
    line = _one_line(done)
    assert expect in line and url in line and "sfbilling:salesforceLoginUrl" in line
    assert time.monotonic() - started < 15  # no minute of retries first


def test_7_aws_without_a_state_table(world: World, tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", world.salesforce,
                  **{"sfbilling:awsEndpointUrl": world.aws.endpoint_url})
    env = _env(world.salesforce, SFBILLING_DEV_STRIPE_API_KEY=world.stripe_api.api_key)
    done = _run(["sync", "--env", "dev", "--root", str(root)], env)
    assert done.returncode == 7, done.stderr
    line = _one_line(done)
    assert "sfbilling-dev-state" in line and "eu-west-1" in line and "pulumi up" in line


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTPS URL whose server accepts connections and never answers (not even TLS)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[Any] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_7_a_login_that_never_answers_times_out(salesforce: SalesforceStandIn, tmp_path: Path,
                                                 silent_server: str) -> None:
    # GIVEN a login URL that accepts the connection and never answers, and a 10 s timeout
    root = _stack(tmp_path / "repo", salesforce,
                  **{"sfbilling:salesforceLoginUrl": silent_server,
                     "sfbilling:salesforceTimeoutSeconds": "10"})
    started = time.monotonic()
    done = _run(["plan", "--env", "dev", "--root", str(root)], _env(salesforce))
    # THEN the login gives up after the timeout, not never
    assert done.returncode == 7, done.stderr
    assert "did not answer in time" in _one_line(done)
    assert time.monotonic() - started < 30


def test_130_interrupted(salesforce: SalesforceStandIn, tmp_path: Path,
                         silent_server: str) -> None:
    root = _stack(tmp_path / "repo", salesforce,
                  **{"sfbilling:salesforceLoginUrl": silent_server})
    proc = subprocess.Popen([sys.executable, "-m", "sfbilling.cli", "plan", "--env", "dev",
                             "--root", str(root)], env=_env(salesforce), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # waiting for the login's answer
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "nothing is half-written" in err and "the next run continues" in err


def test_2_a_malformed_private_key_before_any_call(salesforce: SalesforceStandIn,
                                                   tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", salesforce)
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    before = salesforce.api_calls
    # plan logs in as the deploy user: its key is the one checked
    done = _run(["plan", "--env", "dev", "--root", str(root)],
                _env(salesforce, SFBILLING_DEV_SF_DEPLOY_PRIVATE_KEY_FILE=str(bad)))
    assert done.returncode == 2
    assert "SFBILLING_DEV_SF_DEPLOY_PRIVATE_KEY_FILE (or SFBILLING_SF_DEPLOY_PRIVATE_KEY_FILE) " \
           "does not name a PEM private key" in done.stderr
    assert "Traceback" not in done.stderr
    assert salesforce.api_calls == before


def test_7_no_aws_credentials(world: World, tmp_path: Path) -> None:
    root = _stack(tmp_path / "repo", world.salesforce,
                  **{"sfbilling:awsEndpointUrl": world.aws.endpoint_url})
    env = {k: v for k, v in _env(world.salesforce).items() if not k.startswith("AWS_")}
    env.update(SFBILLING_DEV_STRIPE_API_KEY=world.stripe_api.api_key,
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    done = _run(["sync", "--env", "dev", "--root", str(root)], env)
    assert done.returncode == 7, done.stderr
    assert "no credentials" in _one_line(done)


def test_3_apply_that_fails_after_changing_the_org(
        salesforce: SalesforceStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an apply whose permission-set assignment fails after the metadata was deployed
    from metadata.deployer import OrgConfigError, OrgDeployer
    from sfbilling.cli import main

    def refuse(_self: OrgDeployer, permission_set: str) -> None:
        raise OrgConfigError(f"assigning {permission_set} failed")

    monkeypatch.setattr(OrgDeployer, "_assign", refuse)
    for name, value in _env(salesforce).items():
        monkeypatch.setenv(name, value)
    root = _stack(tmp_path / "repo", salesforce)
    # WHEN it runs THEN it is not "nothing was called" (2): the org changed, exit 3 says so
    assert main(["apply", "--env", "dev", "--root", str(root)]) == 3
    err = capsys.readouterr().err
    assert "the org was changed before this" in err


def test_plan_read_only_logs_in_as_the_read_only_user_without_any_deploy_credential(
        salesforce: SalesforceStandIn, tmp_path: Path) -> None:
    # GIVEN no deploy credential at all, and a read-only user's login (here the stand-in's
    # integration user: no admin, its own connected app)
    root = _stack(tmp_path / "repo", salesforce)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFBILLING_")}
    readonly = {"SFBILLING_SF_READONLY_USERNAME": salesforce.app.username,
                "SFBILLING_SF_READONLY_CONSUMER_KEY": salesforce.app.consumer_key,
                "SFBILLING_SF_READONLY_PRIVATE_KEY_FILE": str(salesforce.app.private_key_file)}
    # WHEN a pull request's job plans THEN the plan is read (8: changes to make)
    done = _run(["plan", "--env", "dev", "--root", str(root), "--read-only"], env | readonly)
    assert done.returncode == 8, done.stderr
    assert "Payment creation batch size" in done.stdout + done.stderr
    # AND without the read-only login: exit 2 naming every variable, nothing called
    done = _run(["plan", "--env", "dev", "--root", str(root), "--read-only"], env | {
        "SFBILLING_SF_READONLY_USERNAME": salesforce.app.username})
    assert done.returncode == 2
    line = _one_line(done)
    assert "SFBILLING_SF_READONLY_CONSUMER_KEY" in line
    assert "SFBILLING_SF_READONLY_PRIVATE_KEY_FILE" in line
    # AND apply has no --read-only: the deploy user alone deploys
    assert _run(["apply", "--env", "dev", "--root", str(root), "--read-only"],
                env | readonly).returncode == 2
