"""The arrows of docs/architecture.md, checked on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("sync_lambda", "stackconfig", "metadata", "infra", "sfbilling", "devenv", "policy")
# package → top-level modules it must never import.
NEVER = {
    "sync_lambda": {"stackconfig", "metadata", "infra", "sfbilling", "devenv", "yaml",
                    "jinja2", "pulumi", "pulumi_aws", "ruamel"},
    "stackconfig": {"metadata", "infra", "sfbilling", "devenv", "stripe", "simple_salesforce",
                    "boto3", "pulumi", "pulumi_aws"},
    "metadata": {"infra", "sfbilling", "devenv", "stripe", "boto3", "pulumi"},
    "infra": {"sfbilling", "devenv", "stripe", "boto3"},
    "devenv": {"sync_lambda", "stackconfig", "metadata", "infra", "sfbilling"},
    "policy": {"metadata", "infra", "sfbilling", "devenv", "stripe", "boto3",
               "simple_salesforce", "pulumi_aws"},
}
# The one module of a package allowed an SDK the rest of it must never import: the event
# destination provider's I/O (the provider process has no other way to reach Stripe and AWS).
EXCEPTIONS = {"infra/stripe_destinations.py": {"stripe", "boto3"},
              "infra/apply_secrets.py": {"boto3"}}
# Only adapters (and the Lambda handler's composition) may import the SDKs.
SDKS = {"stripe", "simple_salesforce", "boto3", "botocore"}
SDK_ALLOWED = ("sync_lambda/adapters/", "sync_lambda/handler.py", "sync_lambda/wiring.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(NEVER))
def test_no_package_imports_what_it_must_not(package: str) -> None:
    broken = {}
    for p in _modules(package):
        name = str(p.relative_to(ROOT))
        found = _imports(p) & NEVER[package] - EXCEPTIONS.get(name, set())
        if found:
            broken[name] = sorted(found)
    assert broken == {}


def test_the_exceptions_are_used_and_nothing_else_of_infra_imports_the_sdks() -> None:
    for name, allowed in EXCEPTIONS.items():
        assert _imports(ROOT / name) & allowed == allowed  # still needed, or drop it
    importers = {str(p.relative_to(ROOT)) for p in _modules("infra")
                 if _imports(p) & {"stripe", "boto3", "botocore"}}
    assert importers == set(EXCEPTIONS)


def test_only_adapters_import_the_sdks_in_the_lambda() -> None:
    broken = [str(p.relative_to(ROOT)) for p in _modules("sync_lambda")
              if _imports(p) & SDKS and not str(p.relative_to(ROOT)).startswith(SDK_ALLOWED)]
    assert broken == []


def test_metadata_reaches_the_lambda_only_through_names_and_the_connection() -> None:
    allowed = {"sync_lambda.names", "sync_lambda.adapters.salesforce_connection",
               "sync_lambda.errors"}
    used: set[str] = set()
    for path in _modules("metadata"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "sync_lambda":
                used |= {f"sync_lambda.{a.name}" for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "sync_lambda"):
                used.add(str(node.module))
            elif isinstance(node, ast.Import):
                used |= {a.name for a in node.names if a.name.startswith("sync_lambda")}
    assert used <= allowed, used - allowed


def test_the_architecture_doc_names_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for package in PRODUCT:
        assert f"`{package}/`" in text
