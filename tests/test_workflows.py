"""The GitHub workflows' security rules, read from the files (actionlint and zizmor lint them in
`make check`; these are the project's own rules, docs/ci.md): no pull-request job can reach a
deploy credential, every action is pinned by commit, permissions are per job."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
SHA = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
# What a pull request's job may read: its token, and the read-only identities (docs/ci.md).
PR_SECRETS = {"GITHUB_TOKEN", "SF_READONLY_PRIVATE_KEY_PROD", "SF_READONLY_PRIVATE_KEY_SANDBOX"}
PR_VARS = {"PULUMI_BACKEND_URL", "AWS_REGION", "AWS_PREVIEW_ROLE_ARN_PROD",
           "AWS_PREVIEW_ROLE_ARN_SANDBOX", "SF_READONLY_USERNAME_PROD",
           "SF_READONLY_USERNAME_SANDBOX", "SF_READONLY_CONSUMER_KEY_PROD",
           "SF_READONLY_CONSUMER_KEY_SANDBOX"}


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return dict(doc)


def _triggers(doc: dict[str, Any]) -> set[str]:
    on = doc["on"]
    return {on} if isinstance(on, str) else set(on)


def _names(text: str, kind: str) -> set[str]:
    return set(re.findall(rf"\b{kind}\.([A-Z0-9_]+)", text))


def test_there_are_the_pipeline_s_workflows() -> None:
    assert {p.stem for p in FILES} == {"check", "preview", "deploy-sandbox",
                                        "deploy-production", "promote", "drift"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_actions_are_pinned_by_commit_and_permissions_are_per_job(path: Path) -> None:
    doc = _load(path)
    assert doc.get("permissions") == {}, "no workflow-wide grant"
    assert "pull_request_target" not in _triggers(doc)
    for name, job in doc["jobs"].items():
        assert "permissions" in job, name
        for step in job["steps"]:
            if "uses" in step:
                assert SHA.match(step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_pull_request_job_reaches_a_deploy_credential(path: Path) -> None:
    doc = _load(path)
    if "pull_request" not in _triggers(doc):
        return
    text = path.read_text()
    assert _names(text, "secrets") <= PR_SECRETS
    assert _names(text, "vars") <= PR_VARS
    for name, job in doc["jobs"].items():
        assert "environment" not in job, f"{path.name}:{name} would get an environment's secrets"
        if job.get("permissions", {}).get("id-token") == "write":
            # OIDC only from the same repository: forks get no token and no preview.
            assert job["if"] == "github.event.pull_request.head.repo.full_name == " \
                                "github.repository"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_deploy_credentials_only_in_environment_jobs(path: Path) -> None:
    doc = _load(path)
    text = path.read_text()
    deploys = {n for n in _names(text, "secrets") | _names(text, "vars")
               if "DEPLOY" in n or n.startswith("PROMOTION_")}
    if not deploys:
        return
    assert _triggers(doc) <= {"push", "workflow_dispatch"}
    for name, job in doc["jobs"].items():
        assert job.get("environment") in ("sandbox", "production"), name


def test_production_is_behind_its_environment() -> None:
    for stem in ("deploy-production", "promote"):
        doc = _load(WORKFLOWS / f"{stem}.yml")
        assert all(job["environment"] == "production" for job in doc["jobs"].values()), stem
    prod = _load(WORKFLOWS / "deploy-production.yml")
    assert prod["on"]["push"] == {"branches": ["main"], "paths": ["Pulumi.prod.yaml"]}


def test_the_pulumi_cli_version_is_pinned_for_every_pulumi_step() -> None:
    version = (WORKFLOWS.parents[1] / ".pulumi-version").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    for path in FILES:
        for job in _load(path)["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("pulumi/actions@"):
                    assert step["with"]["pulumi-version-file"] == ".pulumi-version"


def test_a_pull_request_preview_refuses_a_stack_holding_a_deploy_key() -> None:
    steps = _load(WORKFLOWS / "preview.yml")["jobs"]["preview"]["steps"]
    names = [step.get("name", step.get("uses", step.get("run", ""))) for step in steps]
    guard = next(i for i, n in enumerate(names) if n.startswith("no deploy key"))
    aws = next(i for i, step in enumerate(steps)
               if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert guard < aws  # before any identity is taken
    script = steps[guard]["run"]
    for key in ("salesforceDeployPrivateKey", "salesforceDeployConsumerSecret",
                "stripeAdminApiKey"):
        assert key in script
