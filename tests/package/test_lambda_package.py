"""The Lambda package: only what the Lambda runs, byte-reproducible, hash-checked, and a handler
that runs from it cold, importing the Salesforce side only when there is work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import requires
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from infra.lambda_package import (
    LAMBDA,
    LOCK,
    RUNTIME_PROVIDED,
    WHEELS,
    Package,
    PackageError,
    build,
    host_target,
    read_lock,
)

if TYPE_CHECKING:
    from tests.sync.harness import World

RUNNER = Path(__file__).with_name("run_handler.py")
EXCLUDED = {"boto3", "botocore", "s3transfer", "jinja2", "markupsafe", "yaml", "ruamel",
            "pulumi", "pulumi_aws", "devenv", "metadata", "stackconfig", "sfbilling", "infra",
            "tests", "bench", "localstripe", "moto", "packaging"}


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build(target=LAMBDA, out=tmp_path_factory.mktemp("pkg") / "lambda.zip")


@pytest.fixture(scope="session")
def host_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same lock built for this machine (boto3 beside it, as the runtime has it),
    unpacked: one prebuilt package for every test that runs it."""
    work = tmp_path_factory.mktemp("host")
    package = build(target=host_target(), out=work / "host.zip", include_runtime_provided=True)
    unpacked = work / "unpacked"
    with zipfile.ZipFile(package.path) as zf:
        zf.extractall(unpacked)
    return unpacked


def test_two_builds_are_byte_identical(lambda_zip: Package, tmp_path: Path) -> None:
    again = build(target=LAMBDA, out=tmp_path / "again.zip")
    assert again.data == lambda_zip.data
    assert again.sha256 == lambda_zip.sha256
    assert len(lambda_zip.code_hash) == 44  # base64 of 32 bytes, as Lambda's code hash is


def test_the_zip_holds_only_what_the_lambda_runs(lambda_zip: Package) -> None:
    with zipfile.ZipFile(lambda_zip.path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    tops = {n.split("/")[0].split("-")[0] for n in names}
    assert "sync_lambda" in tops
    assert {"stripe", "simple_salesforce", "aws_lambda_powertools", "requests"} <= tops
    assert tops & EXCLUDED == set()
    assert not any("__pycache__" in n or n.endswith((".pyc", ".pyo")) for n in names)
    assert not any(n.startswith("/") or ".." in n.split("/") for n in names)
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}
    assert not any(n.startswith("sync_lambda/") and not n.endswith(".py") for n in names)
    assert len(lambda_zip.data) <= 16 * 2**20


def test_every_pin_is_bundled_except_the_runtimes_own(lambda_zip: Package) -> None:
    pins = {p.name.lower().replace("_", "-") for p in read_lock()}
    bundled = {n.lower().replace("_", "-") for n in lambda_zip.distributions} - {"sync-lambda"}
    assert bundled == pins - RUNTIME_PROVIDED
    assert pins >= RUNTIME_PROVIDED  # locked for the host's tests all the same


def test_a_wheel_that_does_not_match_the_lock_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "wheels"
    shutil.copytree(WHEELS / "lambda", cache)
    wheel = next(cache.glob("stripe-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    with pytest.raises(PackageError, match=r"SHA-256 [0-9a-f]{64} is not one the lock allows"):
        build(target=LAMBDA, wheels=cache, out=tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_a_missing_wheel_says_to_run_make_install(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="run `make install`"):
        build(target=LAMBDA, wheels=tmp_path, out=tmp_path / "x.zip")


def _ranges(dist: str, dependency: str) -> list[Requirement]:
    found = [Requirement(r) for r in requires(dist) or []
             if Requirement(r).name == dependency]
    return [r for r in found if r.marker is None or r.marker.evaluate(LAMBDA.environment)]


@pytest.mark.parametrize(("user", "dependency", "probe"), [
    # From the handler's cold-start floors (RUNTIME_FLOORS) up.
    ("requests", "urllib3", ["1.26.0", "1.26.20", "2.0.7", "2.1.0", "2.3.0", "2.8.0"]),
    ("aws-lambda-powertools", "jmespath", ["1.0.1", "1.1.0"]),
])
def test_the_runtimes_sdk_stack_is_not_shadowed_and_fits_our_users(
        lambda_zip: Package, user: str, dependency: str, probe: list[str]) -> None:
    # botocore's dependencies come from the runtime, never from the package (a bundled copy
    # would shadow the runtime's under its botocore) ...
    with zipfile.ZipFile(lambda_zip.path) as zf:
        assert not any(n.split("/")[0] == dependency for n in zf.namelist())
    # ... and what needs them accepts every version botocore accepts (probed across its range).
    botocore = _ranges("botocore", dependency)
    assert botocore
    ours = _ranges(user, dependency)
    for version in map(Version, probe):
        if all(version in r.specifier for r in botocore):
            assert all(version in r.specifier for r in ours), (user, version)


def test_the_lock_resolves_for_this_machine_too() -> None:
    # Tests run what the Lambda runs: the installed versions are the locked ones.
    from importlib.metadata import version

    for pin in read_lock(LOCK):
        if pin.marker is None:
            assert version(pin.name) == pin.version, pin.name


def _run(package: Path, env: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-S", str(RUNNER), str(package), json.dumps(event)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_handler_loads_no_lazy_module(host_package: Path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(host_package)!r}); "
            "import sync_lambda.handler; "
            "print(sorted(m for m in ('simple_salesforce', 'zeep', 'lxml', 'cryptography', "
            "'jwt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": os.environ["PATH"]}).stdout
    assert out.strip() == "[]"


def test_the_handler_runs_from_the_package_idle_and_with_writes(host_package: Path,
                                                                world: World) -> None:
    # GIVEN the secrets in (moto's) Secrets Manager and the environment the program sets
    sm = boto3.client("secretsmanager", **world.aws.client_kwargs())
    key_file = world.salesforce.app.private_key_file
    assert key_file is not None
    env = {"PATH": os.environ["PATH"], "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],
           **world.env,
           "SFB_STRIPE_SECRET_ARN": sm.create_secret(
               Name="pkg/stripe", SecretString=world.stripe_api.api_key)["ARN"],
           "SFB_SF_SECRET_ARN": sm.create_secret(
               Name="pkg/sf", SecretString=json.dumps({"private_key": key_file.read_text()}))[
               "ARN"]}
    cus, _ = world.customer(name="Ada")
    # WHEN the first cold invocation imports THEN it writes, loading the Salesforce side
    first = _run(host_package, env, {})
    assert first["handler_file"].startswith(str(host_package))
    assert first["result"]["outcomes"]["accounts_created"] == 1
    assert first["lazy_at_import"] == []
    assert "simple_salesforce" in first["lazy_after_run"]
    assert cus in world.accounts()
    # ... and an idle cold invocation never imports it
    idle = _run(host_package, env, {})
    assert idle["result"]["kind"] == "noop"
    assert idle["lazy_after_run"] == []


def test_the_handler_checks_the_runtimes_sdk_floors() -> None:
    from sync_lambda import handler

    assert set(handler.RUNTIME_FLOORS) == {"boto3", "urllib3", "jmespath"}
    assert handler.RUNTIME_FLOORS["urllib3"][1] == (1, 26)  # requests' own floor


def test_an_old_runtime_sdk_fails_at_cold_start_with_a_message(tmp_path: Path) -> None:
    # GIVEN the runtime's boto3 as an old version would report itself
    fake = tmp_path / "boto3"
    shutil.copytree(Path(boto3.__file__).parent, fake)
    init = fake / "__init__.py"
    init.write_text(init.read_text().replace(f"__version__ = '{boto3.__version__}'",
                                             "__version__ = '1.20.0'"))
    proc = subprocess.run([sys.executable, "-c", "import sync_lambda.handler"],
                          env={**os.environ, "PYTHONPATH": f"{tmp_path}:{Path.cwd()}"},
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "the runtime's boto3 1.20.0 is older than 1.34" in proc.stderr
