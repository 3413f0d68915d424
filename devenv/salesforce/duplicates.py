"""The org's one active Account duplicate rule, as Salesforce runs it on API saves.

The rule matches an Account being created against the Accounts already saved, on the Name
(case ignored; the standard rule's fuzzy match on Name and billing address is a known gap,
docs/stand-ins.md). Its action is `alert` (Salesforce's standard Account rule: the
save goes through unless the request's `Sforce-Duplicate-Rule-Header` says `allowSave=false`)
or `block` (never saved). A hit answers DUPLICATES_DETECTED with the match results' ids, in
the shape of the REST API and sObject Collections; the Bulk API, which takes no header, reports
only the error text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devenv.salesforce import errors as codes
from devenv.salesforce.errors import FieldError, RecordError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

HEADER = "sforce-duplicate-rule-header"
RULE = "Standard_Account_Duplicate_Rule"
MATCH_RULE = "Standard_Account_Match_Rule_v1_0"
MESSAGE = "Use one of these records?"
ACTIONS = ("alert", "block")


@dataclass(frozen=True, slots=True)
class DuplicateRule:
    """Whether the rule runs, and what it does on a hit."""

    active: bool = True
    action: str = "alert"

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DuplicateRule:
        """From the admin API's body (ValueError naming what is wrong)."""
        unknown = set(raw) - {"active", "action"}
        action = raw.get("action", "alert")
        if unknown or action not in ACTIONS or not isinstance(raw.get("active", True), bool):
            raise ValueError('expected {"active": bool, "action": "alert" | "block"}')
        return cls(bool(raw.get("active", True)), str(action))


def allow_save(headers: Iterable[tuple[str, str]]) -> bool | None:
    """The header's allowSave (None: no header, or no allowSave in it)."""
    for name, value in headers:
        if name.lower() == HEADER:
            for part in value.split(","):
                key, _, setting = part.strip().partition("=")
                if key.strip().lower() == "allowsave":
                    return setting.strip().lower() == "true"
    return None


def stops(rule: DuplicateRule, allowed: bool | None) -> bool:
    """Whether a hit stops the save (an alert rule only when the header says allowSave=false)."""
    return rule.active and (rule.action == "block" or allowed is False)


def refuse(matching: Iterable[str], version: str = "59.0") -> None:
    """Raise DUPLICATES_DETECTED naming the matching Accounts (none: nothing to refuse)."""
    ids = sorted(matching)
    if not ids:
        return
    matches = [{"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
                "record": {"attributes": {"type": "Account",
                                          "url": f"/services/data/v{version}/sobjects/Account/"
                                                 f"{rid}"}, "Id": rid}} for rid in ids]
    raise RecordError(FieldError(codes.DUPLICATES_DETECTED, MESSAGE, (), {
        "allowSave": False, "duplicateRule": RULE, "duplicateRuleEntityType": "Account",
        "errorMessage": MESSAGE, "matchResults": [{
            "entityType": "Account", "errors": [], "matchEngine": "FuzzyMatchEngine",
            "matchRecords": matches, "rule": MATCH_RULE, "size": len(matches),
            "success": True}]}))
