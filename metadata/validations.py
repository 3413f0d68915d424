"""The validation record: the check-only deploy a production release may be quick-deployed
from. It lives in the environment's stack file, as the per-environment key
`sfbilling:prodValidation`: a JSON string on one line, `{"id", "orgId", "release",
"validatedAt"}`, written by `sfbilling validate` and `sfbilling promote --validate` (there in the
same guarded write as the promoted keys) and committed with them. Nothing is written back after
a deploy: the OrgConfig resource records the validation it quick-deployed in its own outputs
(`quick_deployed_id`) and never quick-deploys that one again.

A quick deploy (`deployRecentValidation`) is allowed only for the release and the org the
validation ran for, within Salesforce's 10-day window, and only once: anything else deploys
something that was never validated, or fails half-way. `refusal` says why a record cannot be
used; callers then validate again. (`sfbilling apply --validated ID` first checks that ID is the
one the stack file records.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

VALIDATION_KEY: Final = "prodValidation"
# Salesforce keeps a validation quick-deployable for 10 days; stay a little inside that.
QUICK_DEPLOY_WINDOW: Final = timedelta(days=10) - timedelta(minutes=10)


class ValidationRefusedError(Exception):
    """A quick deploy of this validation is not allowed; the message says what to run."""


@dataclass(frozen=True, slots=True)
class ValidationRecord:
    """One successful check-only deploy."""

    validation_id: str
    release: str
    org_id: str
    validated_at: str

    @property
    def when(self) -> datetime:
        """`validated_at` as an aware datetime."""
        return datetime.fromisoformat(self.validated_at)

    def usable(self, now: datetime) -> bool:
        """Still inside the quick-deploy window."""
        return now - self.when < QUICK_DEPLOY_WINDOW

    def to_json(self) -> str:
        """The stack key's value: one line."""
        return json.dumps({"id": self.validation_id, "orgId": self.org_id,
                           "release": self.release, "validatedAt": self.validated_at},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ValidationRecord:
        """The record a stack key holds (ValidationRefusedError when it is not one)."""
        try:
            doc = json.loads(text)
            record = cls(str(doc["id"]), str(doc["release"]), str(doc["orgId"]),
                         str(doc["validatedAt"]))
            if record.when.tzinfo is None:
                raise ValueError("validatedAt has no time zone")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValidationRefusedError(
                f"sfbilling:{VALIDATION_KEY} is not a validation record ({exc!r}): expected "
                '{"id": "0Af…", "orgId": "00D…", "release": "<hash>", "validatedAt": '
                '"<ISO 8601>"}; run `sfbilling validate` again to replace it') from None
        return record


def now_utc() -> datetime:
    """The current time, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def refusal(record: ValidationRecord, *, release: str, org_id: str, now: datetime,
            quick_deployed_id: str | None = None) -> str | None:
    """Why `record` cannot be quick-deployed as `release` to `org_id` now (None: it can)."""
    if record.validation_id == quick_deployed_id:
        return (f"validation {record.validation_id} was already quick-deployed (Salesforce "
                "allows it once)")
    if record.release != release:
        return (f"validation {record.validation_id} validated release {record.release[:12]}, "
                f"not this config's {release[:12]}")
    if record.org_id[:15] != org_id[:15]:
        return f"validation {record.validation_id} ran against org {record.org_id}, not {org_id}"
    if not record.usable(now):
        return (f"validation {record.validation_id} ran at {record.validated_at}, past "
                "Salesforce's 10-day quick-deploy window")
    return None
