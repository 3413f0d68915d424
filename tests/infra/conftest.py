"""Every program run here deploys the session's one package (tests/conftest.py)."""

from __future__ import annotations

import pytest

from infra.lambda_package import PACKAGE_VAR, Package


@pytest.fixture(autouse=True)
def prebuilt(lambda_package: Package, monkeypatch: pytest.MonkeyPatch) -> Package:
    """Every program run here deploys the session's package."""
    monkeypatch.setenv(PACKAGE_VAR, str(lambda_package.path))
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS", raising=False)
    return lambda_package
