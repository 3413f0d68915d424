"""The program's tests share one package, built once per session (not a build per run)."""

from __future__ import annotations

import pytest

from infra.lambda_package import PACKAGE_VAR, Package, build


@pytest.fixture(scope="session")
def lambda_package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build(out=tmp_path_factory.mktemp("package") / "lambda.zip")


@pytest.fixture(autouse=True)
def prebuilt(lambda_package: Package, monkeypatch: pytest.MonkeyPatch) -> Package:
    """Every program run here deploys the session's package."""
    monkeypatch.setenv(PACKAGE_VAR, str(lambda_package.path))
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS", raising=False)
    return lambda_package
