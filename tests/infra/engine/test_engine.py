"""The program and its OrgConfig provider, run the way the Pulumi engine runs them, with no mocks:
the program in its own process as the language host starts it, against an engine double on the
SDK's gRPC stubs; the provider in a real `python -m pulumi.dynamic` process, started the way the
plugin launcher starts it, driven over gRPC through its whole lifecycle against the stand-in org.

What this does not run: the Go engine's planning, the AWS provider plugin, and the launcher
script itself (its rule is `launcher.shim_virtualenv`). docs/deploy.md lists them.
"""

from __future__ import annotations

import base64
import os
import subprocess
from typing import TYPE_CHECKING, Any, Final

import pytest
from pulumi.runtime.proto import engine_pb2, provider_pb2

from infra.lambda_package import PACKAGE_VAR
from infra.pickled import PICKLED_PROVIDERS
from tests.conftest import batch_size, org_client
from tests.infra.engine.conftest import base_env, org_stack
from tests.infra.engine.double import OUTPUT_VALUE, is_secret, secret_paths, strip_secrets
from tests.infra.engine.language_host import ProgramResult, run_program
from tests.infra.engine.launcher import (
    LauncherError,
    Project,
    host_virtualenv,
    pwd_and_entry,
    shim_virtualenv,
)
from tests.infra.engine.provider_host import ProviderHost, Resource, dumps, pickled_path
from tests.infra.program import ROOT

if TYPE_CHECKING:
    from pathlib import Path

    from devenv.salesforce import SalesforceStandIn
    from infra.lambda_package import Package

pytestmark = pytest.mark.engine

DYNAMIC: Final = "pulumi-python:dynamic/salesforce:OrgConfig"
STACK: Final = "pulumi:pulumi:Stack"
SECRET_STATE: Final = {"private_key", "__provider"}


# -- the launcher's rule, pinned by a fixed example --------------------------------------------
def _venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").write_text("")
    return path


def test_the_launcher_resolves_a_relative_virtualenv_against_its_own_directory(
        tmp_path: Path) -> None:
    # GIVEN a project whose virtualenv is <root>/.venv, and a plugin started in <root>/infra
    root = tmp_path / "project"
    _venv(root / ".venv")
    (root / "infra").mkdir()
    # THEN the launcher looks for <root>/infra/.venv and stops with its own words
    with pytest.raises(LauncherError) as caught:
        shim_virtualenv(root / "infra", ".venv")
    assert str(caught.value) == (
        f"The 'virtualenv' option in Pulumi.yaml is set to \"{root}/infra/.venv\", but "
        f"\"{root}/infra/.venv\" doesn't exist.")
    # while the language host takes the same option from the root
    assert host_virtualenv(root, ".venv") == root / ".venv"
    # AND from the root, or with an absolute option, both find it
    assert shim_virtualenv(root, ".venv") == root / ".venv" / "bin" / "python"
    assert shim_virtualenv(root / "infra", f"{root}/.venv/") == root / ".venv" / "bin" / "python"


def test_the_program_and_the_plugin_start_in_one_place_with_one_interpreter(
        project: Project) -> None:
    pwd, entry = pwd_and_entry(project)
    option = project.virtualenv or ".venv"
    assert shim_virtualenv(pwd, option) == host_virtualenv(project.root, option) / "bin" / "python"
    assert (pwd, entry) == (ROOT, ".")
    assert (pwd / "__main__.py").is_file()


# -- the program, as the language host runs it -------------------------------------------------
def _program(project: Project, env: str, salesforce: SalesforceStandIn, *, dry_run: bool,
             extra_env: dict[str, str], **changes: Any) -> ProgramResult:
    config, secret_keys = org_stack(env, salesforce, **changes)
    result = run_program(project, env, config, secret_keys, dry_run=dry_run,
                         base_env=base_env(**extra_env))
    assert result.exit_code == 0, (result.recorded.messages(engine_pb2.ERROR), result.stderr)
    return result


def _assert_registration(result: ProgramResult, package: Package) -> dict[str, Any]:
    """What travels over gRPC for the program and its OrgConfig; that registration's inputs."""
    recorded = result.recorded
    types = [r.type for r in recorded.registrations]
    assert types[0] == STACK
    assert types.count(DYNAMIC) == 1
    assert recorded.invokes == ["aws:index/getCallerIdentity:getCallerIdentity"]
    assert OUTPUT_VALUE not in dumps([r.inputs for r in recorded.registrations])
    org = recorded.one(DYNAMIC)
    # The provider: a secret, pickled by reference to a listed class, small.
    assert is_secret(org.inputs["__provider"])
    provider = org.inputs["__provider"]["value"]
    assert pickled_path(provider) in PICKLED_PROVIDERS
    assert len(base64.b64decode(provider)) < 200
    # Nulls travel (the mocks drop them): an unset Card Mapping is there, as null.
    assert org.inputs["settings"] == {"Card Mapping": None, "Payment creation batch size": 70.0}
    assert set(secret_paths(org.inputs)) == {"__provider", "private_key"}
    assert set(org.additional_secret_outputs) == {"private_key", "consumer_secret"}
    # Stack outputs: all there, none secret; the package path is said in full.
    assert recorded.stack_outputs is not None
    assert secret_paths(recorded.stack_outputs) == []
    assert {"functionName", "orgReleaseHash", "packageSha256", "releaseId"} <= set(
        recorded.stack_outputs)
    infos = recorded.messages(engine_pb2.INFO)
    assert any(f"Lambda package {package.path} " in m for m in infos), infos
    return org.inputs




def _key_body(salesforce: SalesforceStandIn) -> str:
    key_file = salesforce.app.private_key_file
    assert key_file is not None
    return key_file.read_text().splitlines()[1]  # a line of the key itself


def test_a_sandbox_stack_up_and_the_org_configs_lifecycle(
        project: Project, salesforce: SalesforceStandIn, lambda_package: Package,
        tmp_path: Path) -> None:
    # GIVEN the sandbox stack pointed at the stand-in org, and a package path relative to the
    # root
    package_env = {PACKAGE_VAR: os.path.relpath(lambda_package.path, ROOT)}
    # WHEN `pulumi up` runs the program
    first = _program(project, "sandbox", salesforce, dry_run=False, extra_env=package_env)
    registered = _assert_registration(first, lambda_package)
    org = first.recorded.one(DYNAMIC)

    # AND the engine starts the provider plugin, as the launcher would, and drives it
    host = ProviderHost(project, first.engine_address, base_env(), tmp_path / "plugin.err")
    try:
        assert host.configure() is False  # so it gets plain values
        resource = Resource(host, org.urn, org.additional_secret_outputs, _key_body(salesforce),
                            SECRET_STATE)
        checked = resource.check(registered)
        resource.create(checked)
        # THEN the org runs the release
        assert resource.id == salesforce.org.profile.org_id
        assert batch_size(salesforce) == 70.0
        assert any("Payment creation batch size: 50 → 70" in line
                   for line in resource.state["applied"])
        # AND the next preview of the same program shows no change
        assert resource.diff(checked).changes == provider_pb2.DiffResponse.DIFF_NONE

        # A changed setting: the program registers new inputs; a diff, then the update.
        second = _program(project, "sandbox", salesforce, dry_run=False,
                          extra_env=package_env, paymentCreationBatchSize="60")
        changed = resource.check(second.recorded.one(DYNAMIC).inputs)
        diff = resource.diff(changed)
        assert (diff.changes, list(diff.replaces)) == (provider_pb2.DiffResponse.DIFF_SOME, [])
        resource.update(changed)
        assert batch_size(salesforce) == 60.0
        assert resource.diff(changed).changes == provider_pb2.DiffResponse.DIFF_NONE

        # Refresh: no drift; then a change by hand is drift, and the next up repairs it.
        resource.refresh()
        assert resource.state["drift"] == []
        sf = org_client(salesforce)
        rid = sf.query("SELECT Id FROM blng__BillingConfig__c WHERE Name = "
                       "'PAYMENT_CREATION_BATCH_SIZE'")["records"][0]["Id"]
        sf.blng__BillingConfig__c.update(rid, {"blng__NumberValue__c": 45})
        resource.refresh()
        assert any("60 → 45" in d for d in resource.state["drift"]), resource.state["drift"]
        assert resource.diff(changed).changes == provider_pb2.DiffResponse.DIFF_SOME
        resource.update(changed)
        assert batch_size(salesforce) == 60.0

        # Destroy leaves the org as it is.
        host.delete(resource.id, resource.urn, resource.state)
        assert batch_size(salesforce) == 60.0
        log = host.stderr()
        assert "OrgConfig:" in log  # the provider's progress reaches the engine's stderr
        assert _key_body(salesforce) not in log
    finally:
        host.close()


def test_a_production_stack_validates_first_then_quick_deploys(
        project: Project, salesforce: SalesforceStandIn, lambda_package: Package,
        tmp_path: Path) -> None:
    # GIVEN the production stack, with no validation recorded
    env = {PACKAGE_VAR: str(lambda_package.path)}
    result = _program(project, "prod", salesforce, dry_run=False, extra_env=env)
    registered = _assert_registration(result, lambda_package)
    assert strip_secrets(registered)["environment_kind"] == "production"
    org = result.recorded.one(DYNAMIC)
    host = ProviderHost(project, result.engine_address, base_env(**env),
                        tmp_path / "plugin.err")
    try:
        host.configure()
        resource = Resource(host, org.urn, org.additional_secret_outputs, _key_body(salesforce),
                            SECRET_STATE)
        checked = resource.check(registered)
        # WHEN the resource is created
        resource.create(checked)
        # THEN the release was validated, then quick-deployed; the validation used is in the
        # resource's own outputs (nothing is written back to the checkout)
        (validation,) = [d.id for d in salesforce.metadata.deployments.values()
                         if d.check_only]
        assert resource.state["deploy_mode"] == f"validated {validation}, then quick deploy"
        assert resource.state["quick_deployed_id"] == validation
        assert batch_size(salesforce) == 70.0
        assert not (ROOT / "releases" / "validations.jsonl").exists()
        resource.refresh()
        assert resource.state["drift"] == []
    finally:
        host.close()


def test_a_bad_stack_stops_before_any_registration(
        project: Project, salesforce: SalesforceStandIn, lambda_package: Package) -> None:
    # GIVEN a batch size over Salesforce Billing's maximum
    config, secret_keys = org_stack("sandbox", salesforce, paymentCreationBatchSize="71")
    # WHEN a preview runs the program
    result = run_program(project, "sandbox", config, secret_keys, dry_run=True,
                         base_env=base_env(**{PACKAGE_VAR: str(lambda_package.path)}))
    # THEN it exits 1 with the schema's message, no traceback, and only the Stack registered
    assert result.exit_code == 1
    errors = result.recorded.messages(engine_pb2.ERROR)
    assert len(errors) == 1
    assert "sfbilling:paymentCreationBatchSize" in errors[0]
    assert "Traceback" not in errors[0]
    assert [r.type for r in result.recorded.registrations] == [STACK]


def test_the_program_imports_from_the_root_alone(project: Project) -> None:
    # GIVEN the program's interpreter, run from the root as the engine runs it, with the
    # editable install's finder taken away (a non-editable install, or a moved checkout)
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path\n"
        "                    if 'editable' not in getattr(f, '__module__', '')]\n"
        "sys.path.insert(0, '.')\n"
        "import infra.program, infra.org_config\n"
        "print(infra.program.__file__)\n"
        "print(infra.org_config.OrgConfigProvider.__module__)\n"
    )
    python = host_virtualenv(project.root, project.virtualenv or ".venv") / "bin" / "python"
    pwd, _ = pwd_and_entry(project)
    done = subprocess.run([str(python), "-c", code], cwd=pwd, capture_output=True, text=True,
                          timeout=120, check=False)
    # THEN the checkout's own modules are imported
    assert done.returncode == 0, done.stderr
    path, module = done.stdout.split()
    assert path == str(ROOT / "infra" / "program.py")
    assert module == "infra.org_config"
