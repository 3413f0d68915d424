"""The IAM documents the program renders: no `*` action, no `*` resource, only this stack's
ARNs, and parliament (an IAM linter) finds nothing. That they are also *enough* is
tests/infra/test_iam_contract.py."""

from __future__ import annotations

import gc
import json
import warnings
from typing import Any

import pytest

from tests.infra.program import ProgramRun, run_program, stack_config

# parliament opens its data files at import without closing them; collect those handles here,
# so the ResourceWarning they raise does not land on an unrelated test.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    from parliament import analyze_policy_string

    gc.collect()


@pytest.fixture(scope="module", params=["sandbox", "prod", "sandbox with events"])
def run(request: pytest.FixtureRequest, lambda_package: Any) -> ProgramRun:
    env, _, events = str(request.param).partition(" with ")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SFBILLING_LAMBDA_PACKAGE", str(lambda_package.path))
        config, secret_keys = stack_config(env, **(
            {"eventDestination": "create"} if events else {}))
        return run_program(env, config, secret_keys)


EVENT_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"


def _documents(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.name: json.loads(r.inputs["policy"])
            for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}


def _arn(run: ProgramRun, name: str) -> str:
    return str(next(r.state["arn"] for r in run.resources if r.name == name))


def test_parliament_finds_nothing(run: ProgramRun) -> None:
    queues = {r.name: json.loads(r.inputs["policy"])
              for r in run.of_type("aws:sqs/queuePolicy:QueuePolicy")}
    for name, document in {**_documents(run), **queues}.items():
        findings = analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == [], name


def test_no_wildcard_action_or_resource_and_only_this_stacks_arns(run: ProgramRun) -> None:
    ours = {_arn(run, n) for n in ("sync-state", "sync-stripe", "sync-salesforce",
                                   "sync-dead-letters", "sync-function", "sync-logs")
            + (("events-queue",) if run.of_type(EVENT_MAPPING) else ())}
    for name, document in _documents(run).items():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all("*" not in a for a in statement["Action"]), (name, statement)
            for resource in statement["Resource"]:
                assert resource != "*"
                # An exact ARN of ours, or its sub-resources (log streams, function versions).
                assert resource in ours or resource.removesuffix(":*") in ours, resource


def test_the_function_role_is_trusted_by_lambda_only(run: ProgramRun) -> None:
    trust = json.loads(run.one("aws:iam/role:Role", "sync-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                   "Principal": {"Service": "lambda.amazonaws.com"}}]
    policies = run.of_type("aws:iam/rolePolicy:RolePolicy")
    function_role = run.one("aws:iam/role:Role", "sync-role").state["name"]
    assert {p.name: p.inputs["role"] for p in policies} == {
        "sync-policy": function_role,
        "sync-scheduler-policy": run.one("aws:iam/role:Role", "sync-scheduler-role").state[
            "name"],
        **({"events-consumer-policy": function_role} if run.of_type(EVENT_MAPPING) else {})}
    assert "managedPolicyArns" not in run.one("aws:iam/role:Role", "sync-role").inputs
