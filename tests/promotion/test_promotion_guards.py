"""Specifications of promotion's refusals and of the release log's reading
(sfbilling/promotion_guards.py, sfbilling/release_log.py; `make mutation` runs these).

test_promote.py drives the same refusals through `sfbilling promote` against two stand-in orgs;
these pin each rule down alone: what is refused, and what the message tells the operator to do."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

import pytest

from sfbilling.promotion_guards import (
    check_clean,
    check_request,
    check_source_kind,
    check_source_runs,
    check_stripe_key,
    check_target_renders,
)
from sfbilling.release_log import (
    PromotionRefusedError,
    ReleaseLog,
    ReleaseRecord,
    parse_records,
    record_line,
)

if TYPE_CHECKING:
    from pathlib import Path

VERIFIED = "a1b2c3d4e5f6a7b8c9d0"  # a release content hash (longer than shown)
OTHER = "ffffeeeeddddccccbbbb"


def _refusal(call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(PromotionRefusedError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


# -- the request -----------------------------------------------------------------------------
def test_a_promotion_from_an_environment_to_itself_is_refused() -> None:
    assert _refusal(check_request, "sandbox", "sandbox", force=False, reason=None) == \
        "--from and --to are both sandbox"


def test_force_needs_a_reason_because_the_reason_is_recorded() -> None:
    for reason in (None, ""):
        assert _refusal(check_request, "sandbox", "prod", force=True, reason=reason) == \
            '--force needs --reason "why": it is recorded'


def test_an_ordinary_or_a_reasoned_forced_request_goes_ahead() -> None:
    check_request("sandbox", "prod", force=False, reason=None)
    check_request("sandbox", "prod", force=True, reason="hotfix, verified by hand")


# -- the tree --------------------------------------------------------------------------------
def test_a_clean_tree_goes_ahead() -> None:
    check_clean("")


def test_uncommitted_changes_are_refused_and_listed() -> None:
    message = _refusal(check_clean, " M Pulumi.sandbox.yaml")
    assert message.startswith("the git tree has uncommitted changes")
    assert "commit them first, or pass --allow-dirty\n M Pulumi.sandbox.yaml" in message


# -- the Stripe keys on this machine ---------------------------------------------------------
def test_a_live_key_for_a_sandbox_is_refused_naming_the_variable() -> None:
    message = _refusal(check_stripe_key, "SFBILLING_SANDBOX_STRIPE_KEY", "rk_live_abcdefgh",
                       "sandbox")
    assert message.startswith("SFBILLING_SANDBOX_STRIPE_KEY: a live Stripe key (rk_live_…)")


def test_a_test_key_for_production_is_refused_naming_the_variable() -> None:
    message = _refusal(check_stripe_key, "SFBILLING_PROD_STRIPE_KEY", "rk_test_abcdefgh",
                       "production")
    assert message.startswith("SFBILLING_PROD_STRIPE_KEY: a test Stripe key (rk_test_…)")


def test_keys_of_the_right_mode_or_none_at_all_go_ahead() -> None:
    check_stripe_key("V", "rk_test_abcdefgh", "sandbox")
    check_stripe_key("V", "rk_live_abcdefgh", "production")
    check_stripe_key("V", None, "production")
    check_stripe_key("V", "", "production")


# -- the source ------------------------------------------------------------------------------
def test_a_production_stack_is_never_the_source() -> None:
    message = _refusal(check_source_kind, "prod", "production")
    assert message.startswith("prod is a production stack")
    assert message.endswith("promote from the sandbox the change was verified in")
    check_source_kind("sandbox", "sandbox")


def test_only_what_the_sandbox_runs_is_promoted() -> None:
    # GIVEN a sandbox org running another release than its config renders at this commit
    message = _refusal(check_source_runs, "sandbox", OTHER, VERIFIED, forced=False)
    # THEN both releases are named (short), and both ways on
    assert message.startswith("the sandbox org runs release ffffeeeedddd, but sandbox's "
                              "config at this commit renders a1b2c3d4e5f6:")
    assert "`sfbilling apply --env sandbox`" in message
    assert "`pulumi up` on the sandbox stack" in message
    assert message.endswith('promote anyway with --force --reason "why"')


def test_a_sandbox_never_applied_is_named_so() -> None:
    message = _refusal(check_source_runs, "sandbox", None, VERIFIED, forced=False)
    assert message.startswith("the sandbox org runs release none, but")


def test_the_running_release_goes_ahead_and_force_overrides() -> None:
    check_source_runs("sandbox", VERIFIED, VERIFIED, forced=False)
    check_source_runs("sandbox", OTHER, VERIFIED, forced=True)
    check_source_runs("sandbox", None, VERIFIED, forced=True)


# -- the target ------------------------------------------------------------------------------
def test_a_target_that_would_render_another_release_is_a_schema_defect() -> None:
    message = _refusal(check_target_renders, "sandbox", "prod", rendered=OTHER,
                       verified=VERIFIED)
    assert message.startswith("prod would render release ffffeeeedddd, not sandbox's "
                              "a1b2c3d4e5f6:")
    assert message.endswith("(a schema defect; report it)")
    check_target_renders("sandbox", "prod", rendered=VERIFIED, verified=VERIFIED)


# -- the release log -------------------------------------------------------------------------
RECORD = ReleaseRecord(release_id="c.h.p", commit="c", config_hash="h", package_sha256="p",
                       release=VERIFIED, validation_id=None, from_env="sandbox", to_env="prod",
                       who="ops@example.com", when="2026-12-05T03:00:00+00:00")


def test_records_are_written_one_sorted_json_object_per_line_and_read_back() -> None:
    forced = replace(RECORD, validation_id="0Af000000000001", forced_reason="hotfix")
    line = record_line(RECORD)
    assert line.endswith("}\n")
    assert line.count("\n") == 1
    assert list(json.loads(line)) == sorted(asdict(RECORD))
    assert parse_records(line + "\n" + record_line(forced), "log") == [RECORD, forced]


def test_an_empty_log_has_no_records() -> None:
    assert parse_records("", "log") == []
    assert parse_records("\n  \n", "log") == []


def test_a_record_without_a_reason_reads_as_not_forced() -> None:
    doc = asdict(RECORD)
    del doc["forced_reason"]
    assert parse_records(json.dumps(doc), "log") == [RECORD]


@pytest.mark.parametrize("bad", [
    "<<<<<<< HEAD",  # a merge conflict
    json.dumps({**asdict(RECORD), "extra": 1}),  # a hand edit
    json.dumps({"release_id": "x"}),  # fields missing
    "[1, 2]",  # JSON, but not an object
])
def test_a_line_that_is_not_a_record_is_refused_with_its_number(bad: str) -> None:
    text = record_line(RECORD) + "\n" + bad + "\n"
    message = _refusal(parse_records, text, "releases/releases.jsonl")
    assert message.startswith("releases/releases.jsonl:3 is not a release record (")
    assert message.endswith("fix or remove that line (each line is one JSON object written "
                            "by `sfbilling promote`)")


def test_the_log_file_starts_empty_and_grows_by_one_line_per_promotion(tmp_path: Path) -> None:
    # GIVEN a checkout without releases/ yet
    log = ReleaseLog(tmp_path / "releases" / "nested" / "releases.jsonl")
    assert log.records() == []
    # WHEN two promotions are recorded THEN the file holds both, oldest first
    second = replace(RECORD, release_id="d.h.p", commit="d")
    log.append(RECORD)
    log.append(second)
    assert log.path.read_text() == record_line(RECORD) + record_line(second)
    assert ReleaseLog(log.path).records() == [RECORD, second]


def test_a_bad_line_in_the_log_file_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "releases.jsonl"
    path.write_text("not json\n")
    assert _refusal(ReleaseLog(path).records).startswith(f"{path}:1 is not a release record")
