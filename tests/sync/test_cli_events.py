"""`sfbilling events ping` and doctor's event checks against the stand-ins: a destination in the
Stripe stand-in, its partner bus, rule and queue in moto named as `pulumi up` names them, and
the real handler behind the local event source mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from sfbilling import day2, event_ops
from sfbilling.cli import main
from sfbilling.event_queue import EventSourceMapping, MappingConfig
from sfbilling.shapes import COMMON, SHAPES
from sync_lambda import names
from sync_lambda.handler import make_handler
from tests.eventpath import create_destination, provision_event_path
from tests.test_cli_day2 import PREFIX, deployed_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.sync.harness import World




def _stack(root: Path, world: World) -> str:
    return str(deployed_stack(root, world, extra=(
        '  sfbilling:importEnabled: "true"\n'
        "  sfbilling:eventDestination: create\n"
        f"  sfbilling:stripeApiBase: {world.stripe_api.api_base}\n")))


@pytest.fixture
def path(lambda_env: World, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The deployed path: (the repository root, the destination's id); the mapping drains the
    queue into the real handler meanwhile."""
    lambda_env.stripe_api.deliver_to(lambda_env.aws.endpoint_url, source_delay_s=0.1)
    dest = create_destination(lambda_env.stripe, [*names.EVENT_TYPES])
    queue_url = provision_event_path(
        lambda_env.aws, f"{names.STRIPE_PARTNER_SOURCE_PREFIX}{dest.id}",
        rule=f"{PREFIX}-stripe-events", queue=f"{PREFIX}-events")
    sqs = boto3.client("sqs", **lambda_env.aws.client_kwargs())
    config = MappingConfig(batch_size=10, window_s=0.2, concurrency=1, visibility_timeout_s=5,
                           max_receives=10)
    mapping = EventSourceMapping(sqs, queue_url, make_handler, config, timeout_s=60).start()
    try:
        yield _stack(tmp_path / "repo", lambda_env), dest.id
    finally:
        mapping.stop()


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == code
    return code, doc


def test_ping_goes_through_the_whole_path(path: tuple[str, str], lambda_env: World,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root, dest_id = path
    monkeypatch.setenv(event_ops.ADMIN_KEY_VAR, lambda_env.stripe_api.api_key)
    # WHEN the operator pings after a deploy
    code, doc = _json(capsys, "events", "ping", "--env", "dev", "--root", root,
                      "--timeout", "30")
    # THEN the function received it, found by the names the program gives the path
    assert code == 0, doc
    assert set(doc) == COMMON | SHAPES["events"]
    assert (doc["destination_id"], doc["received"]) == (dest_id, True)
    assert 0 <= doc["seconds"] < 30
    # ... and no run was started by it
    assert lambda_env.state().last_event_received() is not None


def test_a_disabled_destination_fails_the_ping_with_where_to_look(
        path: tuple[str, str], lambda_env: World, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, dest_id = path
    monkeypatch.setenv(event_ops.ADMIN_KEY_VAR, lambda_env.stripe_api.api_key)
    lambda_env.stripe.v2.core.event_destinations.disable(dest_id)
    code, doc = _json(capsys, "events", "ping", "--env", "dev", "--root", root,
                      "--timeout", "3")
    assert code == 7
    assert doc["error"].startswith(f"the ping sent to {dest_id} did not reach "
                                   f"{PREFIX}-sync within 3 s")
    assert "sfbilling doctor --env dev" in doc["error"]
    # AND doctor's event checks say which piece is off, and why
    target = day2.deployed("dev", root=Path(root), state_dir=Path(root), environ={})
    found = event_ops.find(target)
    assert (found.destination_id, found.source_state) == (dest_id, "ACTIVE")
    dest = event_ops.destination(event_ops.admin_api(target, {
        event_ops.ADMIN_KEY_VAR: lambda_env.stripe_api.api_key}), dest_id)
    checks = {c["what"].split(":")[0]: c for c in event_ops.checks(found, dest,
                                                                  import_enabled=True)}
    assert checks[f"partner event source {found.bus}"]["ok"] is True
    assert checks[f"destination {dest_id}"]["ok"] is False
    assert checks[f"destination {dest_id}"]["what"].endswith("disabled (user)")


def test_ping_without_the_deploy_key_calls_nothing(
        path: tuple[str, str], lambda_env: World, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = path
    monkeypatch.delenv(event_ops.ADMIN_KEY_VAR, raising=False)
    before = lambda_env.stripe_api.stats()["requests"]
    code, doc = _json(capsys, "events", "ping", "--env", "dev", "--root", root)
    assert code == 2
    assert f"{event_ops.ADMIN_KEY_VAR} is not set" in doc["error"]
    assert "pulumi config get --stack dev sfbilling:stripeAdminApiKey" in doc["error"]
    assert lambda_env.stripe_api.stats()["requests"] == before
