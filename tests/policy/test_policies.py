"""The policy pack against what the program registers: every resource of the sandbox and the
production stacks (and one with Stripe's events on), fed to every policy through the policy SDK's
own argument types with the props wrapped as its server wraps them (deserialized from the
registration's wire form, behind the unknown-checking proxy). None may fail; and each policy
fails on a broken copy of a resource it guards."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from infra.lambda_package import PACKAGE_VAR
from policy.policies import POLICIES
from tests.infra.program import ProgramRun, Registered, run_program, stack_config

if TYPE_CHECKING:
    from infra.lambda_package import Package

KINDS: Final = {"sandbox": "sandbox", "prod": "production"}
BY_NAME: Final = {p.name: p for p in POLICIES}


def _run(env: str, package: Package, **changes: str) -> ProgramRun:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PACKAGE_VAR, str(package.path))
        config, secret_keys = stack_config(env, **changes)
        return run_program(env, config, secret_keys)


@pytest.fixture(scope="module", params=["sandbox", "prod", "sandbox with events"])
def stack(request: pytest.FixtureRequest, lambda_package: Package) -> tuple[str, ProgramRun]:
    env, _, events = str(request.param).partition(" with ")
    return env, _run(env, lambda_package, **({"eventDestination": "create"} if events else {}))


def _args(r: Registered, wire: dict[str, Any], kind: str) -> ResourceValidationArgs:
    props = unknown_checking_proxy(deserialize_properties(copy.deepcopy(wire)))
    opts = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None,
                                 aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                 additional_secret_outputs=list(r.secret_outputs),
                                 parent=r.parent)
    return ResourceValidationArgs(r.typ, props, f"urn:pulumi:test::sfbilling::{r.typ}::{r.name}",
                                  r.name, opts, None, {"environmentKind": kind}, {})


def _violations(policy_name: str, r: Registered, wire: dict[str, Any], kind: str) -> list[str]:
    found: list[str] = []
    BY_NAME[policy_name].validate(_args(r, wire, kind),
                                  lambda message, _urn: found.append(message))
    return found


def test_every_registered_resource_passes_every_policy(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    failures = [f"{p.name}: {m}" for r in run.resources if r.custom for p in POLICIES
                for m in _violations(p.name, r, r.wire, KINDS[env])]
    assert failures == []
    assert run.function.wire  # the wire form was recorded (the check above saw real inputs)


def _one(run: ProgramRun, typ: str, name: str | None = None) -> tuple[Registered, dict[str, Any]]:
    r = run.one(typ, name)
    return r, copy.deepcopy(r.wire)


SECRET: Final = "4dabf18193072939515e22adb298388d"  # the SDK's signature key


def test_a_secret_in_the_lambda_environment_fails(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    fn, wire = _one(run, "aws:lambda/function:Function")
    variables = wire["environment"]["variables"]
    # a variable the schema does not declare, holding a key that came in as a secret
    variables["SFB_STRIPE_KEY"] = "rk_live_leaked0123456789"
    [message] = _violations("no-secret-in-lambda-environment", fn, wire, KINDS[env])
    assert "SFB_STRIPE_KEY" in message and "rk_live" not in message
    del variables["SFB_STRIPE_KEY"]
    # a declared variable holding a PEM key, wrapped as a secret on the wire
    variables["SFB_SF_USERNAME"] = {
        SECRET: "1b47061264138c4ac30d75fd1eb44270",
        "value": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"}
    assert len(_violations("no-secret-in-lambda-environment", fn, wire, KINDS[env])) == 1
    # the secret's ARN variable holding the secret itself
    fn2, wire2 = _one(run, "aws:lambda/function:Function")
    wire2["environment"]["variables"]["SFB_SF_SECRET_ARN"] = '{"private_key": "x"}'
    assert len(_violations("no-secret-in-lambda-environment", fn2, wire2, KINDS[env])) == 1


def test_a_wildcard_in_a_policy_fails(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    r, wire = _one(run, "aws:iam/rolePolicy:RolePolicy", "sync-policy")
    document = json.loads(wire["policy"])
    document["Statement"][0]["Action"] = ["dynamodb:*"]
    document["Statement"][1]["Resource"] = "*"
    wire["policy"] = json.dumps(document)
    found = _violations("no-wildcard-iam", r, wire, KINDS[env])
    assert len(found) == 2 and "action dynamodb:*" in found[0] and "resource *" in found[1]


def test_concurrency_other_than_one_fails(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    fn, wire = _one(run, "aws:lambda/function:Function")
    for value in (2, None):
        broken = copy.deepcopy(wire)
        if value is None:
            del broken["reservedConcurrentExecutions"]
        else:
            broken["reservedConcurrentExecutions"] = value
        assert len(_violations("reserved-concurrency-one", fn, broken, KINDS[env])) == 1


def test_the_state_table_needs_pitr_and_production_deletion_protection(
        stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    table, wire = _one(run, "aws:dynamodb/table:Table")
    no_pitr = copy.deepcopy(wire)
    no_pitr["pointInTimeRecovery"]["enabled"] = False
    assert len(_violations("state-table-protected", table, no_pitr, KINDS[env])) == 1
    unprotected = copy.deepcopy(wire)
    unprotected["deletionProtectionEnabled"] = False
    assert len(_violations("state-table-protected", table, unprotected, "production")) == 1
    assert _violations("state-table-protected", table, unprotected, "sandbox") == []


def test_a_log_group_without_retention_fails(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    logs, wire = _one(run, "aws:cloudwatch/logGroup:LogGroup")
    del wire["retentionInDays"]
    assert len(_violations("log-retention-set", logs, wire, KINDS[env])) == 1


def test_an_asynchronous_target_without_a_dlq_fails(stack: tuple[str, ProgramRun]) -> None:
    env, run = stack
    schedule, wire = _one(run, "aws:scheduler/schedule:Schedule", "sync-schedule")
    del wire["target"]["deadLetterConfig"]
    assert len(_violations("dlq-on-async-targets", schedule, wire, KINDS[env])) == 1
    invoke, wire = _one(run, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    del wire["destinationConfig"]
    assert len(_violations("dlq-on-async-targets", invoke, wire, KINDS[env])) == 1
    if run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        target, wire = _one(run, "aws:cloudwatch/eventTarget:EventTarget")
        del wire["deadLetterConfig"]
        assert len(_violations("dlq-on-async-targets", target, wire, KINDS[env])) == 1


def test_the_pack_builds_from_the_same_policies() -> None:
    main = (Path(__file__).resolve().parents[2] / "policy" / "__main__.py").read_text()
    assert "from policies import POLICIES" in main
    assert 'PolicyPack(name="sfbilling", policies=POLICIES)' in main
    assert len(BY_NAME) == len(POLICIES) == 6


@pytest.mark.parametrize(("stack_name", "kind"), [("sandbox", "sandbox"), ("prod", "production")])
def test_each_stack_s_policy_config_names_its_environment(stack_name: str, kind: str) -> None:
    path = Path(__file__).resolve().parents[2] / "policy" / f"{stack_name}.json"
    config = json.loads(path.read_text())
    assert set(config) <= set(BY_NAME)
    assert config["state-table-protected"] == {"environmentKind": kind}
