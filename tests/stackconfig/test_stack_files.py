"""The committed stack files, `sfbilling config`, and strict reading through the CLI: every
command reads the same keys the same way, and a bad stack makes no request."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from sfbilling.cli import main
from stackconfig.errors import StackConfigError
from stackconfig.resolve import require_login, resolve
from stackconfig.schema import KEYS, Scope
from stackconfig.stackfile import read_stack_file, stack_path
from tests.stackconfig.copies import FILLED, REPO, filled_copy

if TYPE_CHECKING:
    from pathlib import Path

    from tests.sync.harness import World

ENVS = ("sandbox", "prod")
# Per-environment keys a user must give a value: each is a placeholder in the committed files.
MUST_FILL = {"aws:region", "sfbilling:alarmEmail", "sfbilling:salesforceLoginUrl",
             "sfbilling:salesforceUsername", "sfbilling:salesforceConsumerKey",
             "sfbilling:salesforceOrgId", "sfbilling:salesforceDeployUsername",
             "sfbilling:salesforceDeployConsumerKey"}


@pytest.mark.parametrize("env", ENVS)
def test_the_committed_stack_files_report_their_placeholders_and_nothing_else(env: str) -> None:
    raw = read_stack_file(env, REPO)
    with pytest.raises(StackConfigError) as exc:
        resolve(raw, env=env, source=str(stack_path(env, REPO)))
    placeholders = {p.split(":", 2)[0] + ":" + p.split(":", 2)[1] for p in exc.value.problems}
    assert placeholders == MUST_FILL
    assert all("the placeholder '<" in p for p in exc.value.problems)
    assert all(f"pulumi config set --stack {env} " in p for p in exc.value.problems)


@pytest.mark.parametrize("env", ENVS)
def test_every_key_a_user_must_fill_is_a_placeholder_with_a_comment(env: str) -> None:
    text = (REPO / f"Pulumi.{env}.yaml").read_text()
    for name in MUST_FILL:
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{name}:"))
        assert '"<' in line, name
    assert text.lstrip().startswith("#")
    assert f"pulumi config set --secret --stack {env} sfbilling:stripeApiKey" in text
    per_env = {k.full for k in KEYS if k.scope is Scope.PER_ENVIRONMENT and not k.secret
               and k.default is None and k.name not in ("awsEndpointUrl", "stripeApiBase",
                                                        "resourcePrefix", "prodValidation",
                                                        "salesforceJwtAudience",
                                                        "stripeRatePerSecond",
                                                        "reconcileSchedule",
                                                        "eventDestinationId",
                                                        "salesforceDeploySecretArn",
                                                        "stripeAdminSecretArn")}
    assert per_env <= MUST_FILL | {"sfbilling:environmentKind"}


@pytest.mark.parametrize(("env", "kind"), [("sandbox", "sandbox"), ("prod", "production")])
def test_filled_in_copies_load_clean(env: str, kind: str, tmp_path: Path) -> None:
    filled_copy(env, tmp_path)
    stack = resolve(read_stack_file(env, tmp_path), env=env, source=env)
    require_login(stack)
    assert stack.kind == kind
    assert stack.secrets_set == {"stripeApiKey", "salesforcePrivateKey",
                                 "salesforceDeployPrivateKey"}
    assert stack["salesforceOrgId"] == FILLED["sfbilling:salesforceOrgId"]
    assert stack.table_name == f"sfbilling-{env}-state"


def test_sfbilling_config_shows_placeholders_and_unset_secrets(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--env", "sandbox", "--root", str(REPO)]) == 2
    captured = capsys.readouterr()
    out = captured.out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert rows["sfbilling:paymentCreationBatchSize"][1:5] == ["70", "stack", "file",
                                                               "promotable"]
    assert rows["sfbilling:stripeApiKey"][1] == "unset"
    assert rows["sfbilling:segmentSize"][1:3] == ["10000", "default"]
    assert "problem: sfbilling:salesforceUsername: the placeholder" in captured.err


def test_sfbilling_config_json_never_shows_a_secret(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    filled_copy("prod", tmp_path)
    assert main(["config", "--env", "prod", "--root", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["key"]: r for r in doc["keys"]}
    assert doc["problems"] == []
    assert rows["sfbilling:stripeApiKey"]["value"] == "set"
    assert rows["sfbilling:salesforceConsumerSecret"]["value"] == "unset"
    assert rows["sfbilling:paymentCreationBatchSize"] == {
        "key": "sfbilling:paymentCreationBatchSize", "value": "70", "source": "stack file",
        "scope": "promotable", "consumers": "org config", "secret": False, "problem": ""}
    assert rows["sfbilling:segmentSize"]["source"] == "default"
    assert "c2VjcmV0" not in json.dumps(doc)


@pytest.mark.parametrize(("content", "fragment"), [
    pytest.param("  sfbiling:syncMode: create_and_link\n",
                 "namespace `sfbiling:` is not `sfbilling:`; did you mean `sfbilling:syncMode`?",
                 id="namespace"),
    pytest.param("  sfbilling:syncMod: create_and_link\n",
                 "sfbilling:syncMod: unknown key; did you mean `sfbilling:syncMode`?",
                 id="key"),
    pytest.param("  sfbilling:segmentSize: 7_000\n", "must be a whole number between 100",
                 id="int"),
    pytest.param("  sfbilling:includeBankAccounts: yes\n", "must be true or false, got 'yes'",
                 id="bool"),
    pytest.param("  sfbilling:syncMode: everything\n", "must be one of create_and_link",
                 id="enum"),
    pytest.param("  sfbilling:environmentKind: null\n",
                 "sfbilling:environmentKind has no value, and it is required: `pulumi config "
                 "set --stack dev sfbilling:environmentKind VALUE`", id="null"),
    pytest.param("  sfbilling:stripeApiKey: rk_test_abc\n",
                 "`pulumi config set --secret --stack dev sfbilling:stripeApiKey`",
                 id="clear-secret"),
    pytest.param("  sfbilling:salesforceUsername: \"<integration user>\"\n",
                 "the placeholder '<integration user>' is still in the stack file",
                 id="placeholder"),
])
@pytest.mark.parametrize("command", ["sync", "plan", "config"])
def test_each_bad_stack_is_one_clear_error_before_any_request(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
        fragment: str, command: str) -> None:
    base = {"sfbilling:environmentKind": "sandbox", "aws:region": "eu-west-1",
            "sfbilling:salesforceConsumerKey": "3MVG9x",
            "sfbilling:salesforceUsername": "u@example.com"}
    name = content.split(":", 2)[0].strip() + ":" + content.split(":", 2)[1]
    lines = "".join(f"  {k}: {v}\n" for k, v in base.items() if k != name.strip())
    (tmp_path / "Pulumi.dev.yaml").write_text(f"config:\n{lines}{content}")
    before = world.salesforce.counters_json()["api_requests"]
    code = main([command, "--env", "dev", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert world.salesforce.counters_json()["api_requests"] == before
    assert world.stripe_api.stats()["requests"] == 0


@pytest.mark.parametrize("with_root", [True, False])
def test_a_missing_stack_file_names_the_exact_path(tmp_path: Path, with_root: bool,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--root", str(tmp_path)] if with_root else []
    assert main(["sync", "--env", "local", *args]) == 2
    assert f"{tmp_path / 'Pulumi.local.yaml'} not found" in capsys.readouterr().err


def test_every_command_reads_the_org_keys_of_the_same_file(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the local stack file, which holds org-config keys (batch size, permission set)
    from tests.sync.test_cli import local_state

    for name in ("REQUESTS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    state = local_state(world, tmp_path)
    text = (REPO / "Pulumi.local.yaml").read_text()
    assert "sfbilling:paymentCreationBatchSize" in text
    assert "sfbilling:permissionSetName" in text
    # THEN sync, render and config all accept it
    assert main(["sync", "--env", "local", "--root", str(REPO), "--state-dir", str(state),
                 "--dry-run"]) == 0
    assert main(["render", "--env", "local", "--root", str(REPO), "--out",
                 str(tmp_path / "out")]) == 0
    assert main(["config", "--env", "local", "--root", str(REPO), "--state-dir",
                 str(state)]) == 0
    assert "local environment" in capsys.readouterr().out
