"""The Lambda entry point: settings from the environment, secrets from Secrets Manager."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from sync_lambda import handler
from sync_lambda.errors import ConfigError
from tests.sync.lambda_runtime import Context

if TYPE_CHECKING:
    from tests.sync.harness import World


def test_handler_runs_and_reports(lambda_env: World, capsys: pytest.CaptureFixture[str]) -> None:
    cus, _ = lambda_env.customer(name="Ada Lovelace", email="ada@example.com")
    result = handler.lambda_handler({}, Context())
    assert result["kind"] == "full"
    assert result["outcomes"]["accounts_created"] == 1
    assert cus in lambda_env.accounts()
    out = capsys.readouterr().out
    # Structured logs and EMF metrics, without the customer's name or email.
    assert '"_aws"' in out
    assert "accounts_created" in out
    assert "Ada" not in out
    assert "ada@example.com" not in out
    assert lambda_env.stripe_api.api_key not in out
    dry = handler.lambda_handler({"dry_run": True, "full": True}, Context())
    assert dry["dry_run"] is True


def test_handler_rejects_bad_settings_before_any_call(lambda_env: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFB_MODE", "import_everything")
    monkeypatch.setenv("SFB_STRIPE_RATE", "0")
    before = lambda_env.salesforce.counters_json()["api_requests"]
    with pytest.raises(ConfigError) as exc:
        handler.lambda_handler({}, Context())
    message = str(exc.value)
    assert "SFB_MODE: must be one of create_and_link" in message
    assert "SFB_STRIPE_RATE: must be between" in message
    assert lambda_env.salesforce.counters_json()["api_requests"] == before
    assert lambda_env.stripe_api.stats()["requests"] == 0


def test_a_held_back_mass_deactivation_is_confirmed_by_one_invoke(
        lambda_env: World, capsys: pytest.CaptureFixture[str]) -> None:
    ids = [lambda_env.customer(name=f"C{i:02d}")[0] for i in range(25)]
    handler.lambda_handler({}, Context())
    for cus in ids:
        lambda_env.stripe.v1.customers.delete(cus)
    capsys.readouterr()
    held = handler.lambda_handler({"full": True}, Context())
    assert held["outcome"] == "held_back"
    assert held["held_back"]["deactivations"] == 25
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()
           if line.startswith('{"_aws"')]
    assert emf[-1]["mass_deactivation_held_back"] == [25.0]
    confirmed = handler.lambda_handler({"allowMassDeactivation": True}, Context())
    assert confirmed["outcome"] == "ok"
    assert confirmed["outcomes"]["payment_methods_deactivated"] == 25


def test_a_reconcile_invocation_emits_its_counts(lambda_env: World,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    handler.lambda_handler({}, Context())
    lambda_env.customer(name="Grace Hopper")
    capsys.readouterr()
    result = handler.lambda_handler({"reconcile": True}, Context())
    assert (result["kind"], result["outcome"]) == ("reconcile", "disagreement")
    assert result["reconcile"]["counts"]["unlinked_customers"] == 1
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()
           if '"_aws"' in line]
    values = {k: v[0] if isinstance(v, list) else v
              for doc in emf for k, v in doc.items() if not k.startswith("_")}
    assert values["reconcile_disagreements"] == 1.0
    assert values["reconcile_unlinked_customers"] == 1.0
    assert 0 < values["salesforce_api_usage_percent"] < 100
    assert "Grace" not in json.dumps(emf)
