"""Specifications of the decisions that stop an import: which org this is, and how many payment
methods one run may deactivate (sync_lambda/guards.py; `make mutation` runs these).

The service and the adapter around them are exercised against the stand-ins in tests/sync
(test_org_guard, test_refreshed_sandbox, test_safety); these pin each rule down alone."""

from __future__ import annotations

import pytest

from sync_lambda.guards import (
    DeactivationLimit,
    StateOrg,
    same_org,
    stack_org_problem,
    state_org,
    state_org_problem,
)

ORG = "00D5g000004SXYZ"  # 15 characters
ORG_18 = ORG + "EAQ"  # the same org, 18 characters
OTHER = "00D5g000004SXYA"  # differs in the 15th character only


# -- the same org ----------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "same"), [
    (ORG, ORG, True),
    (ORG, ORG_18, True),
    (ORG_18, ORG, True),
    (ORG_18, OTHER + "EAQ", False),
    (ORG, OTHER, False),
    (ORG.lower(), ORG, False),  # ids are case-sensitive in their 15-character form
])
def test_ids_name_the_same_org_in_either_form(a: str, b: str, same: bool) -> None:
    assert same_org(a, b) is same


# -- the org the stack names -----------------------------------------------------------------
def test_no_org_named_by_the_stack_accepts_any_org() -> None:
    assert stack_org_problem(ORG, None) is None
    assert stack_org_problem(ORG, "") is None


def test_the_org_the_stack_names_is_accepted_in_either_form() -> None:
    assert stack_org_problem(ORG_18, ORG) is None
    assert stack_org_problem(ORG, ORG_18) is None


def test_another_org_is_refused_naming_both_ids_the_key_and_the_way_on() -> None:
    problem = stack_org_problem(OTHER, ORG)
    assert problem is not None
    assert problem.startswith(f"this org is {OTHER}, but sfbilling:salesforceOrgId "
                              f"(SFB_SF_ORG_ID) is {ORG}:")
    assert "nothing was written" in problem
    assert f"If this is the org you mean: set sfbilling:salesforceOrgId to {OTHER}" in problem
    assert "`sfbilling sync --env ENV --full`" in problem
    assert problem.endswith('invoke the Lambda once with {"full": true})')


# -- the org the state was written for -------------------------------------------------------
def test_a_first_run_records_its_org() -> None:
    # GIVEN a state that names no org WHEN a run reaches one THEN it records it
    assert state_org(None, ORG, explicit_full=False, dry_run=False) is StateOrg.RECORD
    assert state_org("", ORG, explicit_full=False, dry_run=False) is StateOrg.RECORD


def test_the_same_org_is_kept_as_recorded() -> None:
    assert state_org(ORG, ORG, explicit_full=False, dry_run=False) is StateOrg.KEEP
    assert state_org(ORG, ORG, explicit_full=True, dry_run=False) is StateOrg.KEEP


def test_the_other_form_of_the_same_id_is_recorded_not_refused() -> None:
    assert state_org(ORG, ORG_18, explicit_full=False, dry_run=False) is StateOrg.RECORD


def test_another_orgs_state_is_refused() -> None:
    # GIVEN a state written for another org (a refreshed sandbox) WHEN an ordinary run,
    # dry or not, reaches this one THEN it stops
    assert state_org(OTHER, ORG, explicit_full=False, dry_run=False) is StateOrg.REFUSE
    assert state_org(OTHER, ORG, explicit_full=False, dry_run=True) is StateOrg.REFUSE


def test_an_explicit_full_reconcile_takes_another_orgs_state_over() -> None:
    assert state_org(OTHER, ORG, explicit_full=True, dry_run=False) is StateOrg.RECORD


def test_a_dry_run_records_nothing() -> None:
    assert state_org(None, ORG, explicit_full=False, dry_run=True) is StateOrg.KEEP
    assert state_org(OTHER, ORG, explicit_full=True, dry_run=True) is StateOrg.KEEP


def test_an_unknown_org_id_decides_nothing() -> None:
    # (a sink that cannot tell its org: the stand-in-free fakes of older tests)
    assert state_org(OTHER, "", explicit_full=False, dry_run=False) is StateOrg.KEEP


def test_the_state_refusal_names_both_orgs_and_the_confirmation() -> None:
    problem = state_org_problem(OTHER, ORG)
    assert problem.startswith(f"the import's state was written for org {OTHER}, but this "
                              f"is org {ORG}")
    assert ("(a refreshed sandbox?): nothing was written. Confirm the refresh: apply the org "
            "config, then run a full reconcile (`sfbilling sync --env ENV --full`, or invoke "
            'the Lambda once with {"full": true}); it takes the state over') in problem


# -- the mass-deactivation limit -------------------------------------------------------------
def test_the_default_limit_is_ten_percent_and_twenty() -> None:
    assert DeactivationLimit() == DeactivationLimit(share=0.10, count=20)


@pytest.mark.parametrize(("deactivations", "needs"), [(0, False), (20, False), (21, True)])
def test_the_org_is_asked_for_its_active_count_only_past_the_absolute_count(
        deactivations: int, needs: bool) -> None:
    assert DeactivationLimit().needs_active_count(deactivations) is needs


@pytest.mark.parametrize(("deactivations", "active", "exceeded"), [
    (21, 210, False),  # exactly 10 %: not more than the share
    (22, 210, True),  # more than 10 % and more than 20
    (20, 100, False),  # 20 %, but not more than 20
    (21, 100, True),
    (100, 1001, False),  # under 10 % of a large org
    (101, 1000, True),
    (21, 0, True),  # an org with no active methods cannot lose 21
])
def test_the_limit_is_crossed_only_past_both_the_share_and_the_count(
        deactivations: int, active: int, exceeded: bool) -> None:
    assert DeactivationLimit().exceeded(deactivations, active) is exceeded


def test_a_custom_limit_uses_its_own_share_and_count() -> None:
    limit = DeactivationLimit(share=0.5, count=3)
    assert limit.needs_active_count(4)
    assert not limit.needs_active_count(3)
    assert limit.exceeded(4, 7)
    assert not limit.exceeded(4, 8)


def test_the_operators_confirmation_lets_a_mass_deactivation_through() -> None:
    limit = DeactivationLimit()
    assert limit.holds_back(50, 100, allowed=False)
    assert not limit.holds_back(50, 100, allowed=True)
    assert not limit.holds_back(5, 100, allowed=False)


def test_the_held_back_message_gives_the_counts_the_limit_and_both_confirmations() -> None:
    message = DeactivationLimit().held_back_message(50, 100, dry_run=False)
    assert message.startswith("held back 50 deactivations out of 100 active payment methods "
                              "(more than 10% and more than 20): nothing was deactivated.")
    assert ("If Stripe really lost these, confirm with `sfbilling sync "
            "--allow-mass-deactivation`, or invoke the Lambda once with "
            '{"allowMassDeactivation": true}; if not,') in message
    assert message.endswith("check the Stripe key and account")


def test_a_dry_run_says_it_would_hold_back() -> None:
    message = DeactivationLimit(share=0.25, count=3).held_back_message(4, 8, dry_run=True)
    assert message.startswith("would hold back 4 deactivations out of 8 active payment "
                              "methods (more than 25% and more than 3)")
