"""Specifications of what a promotion carries (stackconfig/promotion.py; `make mutation` runs
these): the promotable keys where the stacks differ, rendered as a stack file writes them; never
a per-environment key, never a secret."""

from __future__ import annotations

from stackconfig.promotion import KeyChange, promotable_changes
from stackconfig.resolve import StackConfig, resolve
from stackconfig.schema import KEYS, Scope
from stackconfig.stackfile import RawValue

NS = "sfbilling:"


def _stack(**keys: str) -> StackConfig:
    raw = {f"{NS}environmentKind": RawValue("local")}
    raw |= {f"{NS}{name}": RawValue(value) for name, value in keys.items()}
    return resolve(raw, env="x", source="Pulumi.x.yaml")


def test_identical_stacks_carry_nothing() -> None:
    assert promotable_changes(_stack(), _stack()) == []


def test_a_changed_promotable_key_is_carried_with_both_texts() -> None:
    # GIVEN a sandbox that changed the batch size and set a card mapping the target lacks
    source = _stack(paymentCreationBatchSize="50", cardMapping="Card_Token__c")
    # THEN both are carried, as written in a stack file, in schema order
    assert promotable_changes(source, _stack()) == [
        KeyChange(f"{NS}paymentCreationBatchSize", "70", "50"),
        KeyChange(f"{NS}cardMapping", None, "Card_Token__c"),
    ]


def test_a_key_the_source_dropped_is_unset_in_the_target() -> None:
    changes = promotable_changes(_stack(), _stack(cardMapping="Card_Token__c"))
    assert changes == [KeyChange(f"{NS}cardMapping", "Card_Token__c", None)]


def test_values_are_rendered_in_the_kinds_text() -> None:
    # GIVEN a float written differently from its canonical text, and a boolean
    changes = promotable_changes(_stack(includeBankAccounts="true", massDeactivationShare="0.20"),
                                 _stack())
    assert changes == [KeyChange(f"{NS}includeBankAccounts", "false", "true"),
                       KeyChange(f"{NS}massDeactivationShare", "0.1", "0.2")]


def test_per_environment_keys_stay_where_they_are() -> None:
    source = _stack(importEnabled="true", salesforceOrgId="00D5g000004SXYZ",
                    stripeConcurrency="2", deployTestLevel="RunAllTestsInOrg")
    assert promotable_changes(source, _stack()) == []


def test_no_secret_is_ever_promotable() -> None:
    # (the rule the writer relies on: a secret travels through `pulumi config set --secret`)
    assert [k.name for k in KEYS if k.secret and k.scope is Scope.PROMOTABLE] == []
