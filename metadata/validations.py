"""The validation record: every check-only deploy (`sfbilling validate`, promotion, the Pulumi
program's org-config resource), one JSON object per line in `releases/validations.jsonl`,
committed with the repository.

A line: {"validation_id", "release", "org_id", "env", "test_level", "validated_at"} —
`release` is the content hash of the release that was validated, `validated_at` an ISO 8601 UTC
time. A quick deploy (`deployRecentValidation`) is allowed only for the release and the org the
validation ran for, within Salesforce's 10-day window: anything else deploys something that was
never validated, or fails half-way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

VALIDATIONS_FILE = "releases/validations.jsonl"
# Salesforce keeps a validation quick-deployable for 10 days; stay a little inside that.
QUICK_DEPLOY_WINDOW = timedelta(days=10) - timedelta(minutes=10)


class ValidationRefusedError(Exception):
    """A quick deploy of this validation is not allowed; the message says what to run."""


@dataclass(frozen=True, slots=True)
class ValidationRecord:
    """One successful check-only deploy."""

    validation_id: str
    release: str
    org_id: str
    env: str
    test_level: str
    validated_at: str

    @property
    def when(self) -> datetime:
        """`validated_at` as an aware datetime."""
        return datetime.fromisoformat(self.validated_at)

    def usable(self, now: datetime) -> bool:
        """Still inside the quick-deploy window."""
        return now - self.when < QUICK_DEPLOY_WINDOW


def now_utc() -> datetime:
    """The current time, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


class ValidationLog:
    """The JSON Lines file of validations."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[ValidationRecord]:
        """Every record, oldest first (an absent file has none)."""
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(ValidationRecord(**json.loads(line)))
            except (TypeError, ValueError) as exc:
                raise ValidationRefusedError(f"{self.path}:{n} is not a validation record: "
                                             f"{exc}") from None
        return out

    def append(self, record: ValidationRecord) -> None:
        """Add one record at the end."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(asdict(record), sort_keys=True) + "\n")

    def latest(self, *, release: str, org_id: str, now: datetime) -> ValidationRecord | None:
        """The newest validation of `release` on `org_id` that can still be quick-deployed."""
        fit = [r for r in self.records() if r.release == release and r.org_id == org_id
               and r.usable(now)]
        return fit[-1] if fit else None

    def check(self, validation_id: str, *, release: str, org_id: str, env: str,
              now: datetime) -> ValidationRecord:
        """The record of `validation_id` if it may be quick-deployed now as `release` to
        `org_id`; otherwise ValidationRefusedError saying what to run instead."""
        again = (f"run `sfbilling validate --env {env}` and quick-deploy the id it prints, or "
                 f"`sfbilling apply --env {env}` to deploy without a validation")
        found = _find(self.records(), validation_id)
        if found is None:
            raise ValidationRefusedError(f"validation {validation_id} is not in {self.path}: "
                                         f"it was not recorded by this repository; {again}")
        if found.release != release:
            raise ValidationRefusedError(
                f"validation {validation_id} validated release {found.release[:12]}, but this "
                f"config renders release {release[:12]}: quick-deploying it would deploy "
                f"something else than what you asked for; {again}")
        if found.org_id != org_id:
            raise ValidationRefusedError(
                f"validation {validation_id} ran against org {found.org_id}, but {env} is org "
                f"{org_id}; {again}")
        if not found.usable(now):
            raise ValidationRefusedError(
                f"validation {validation_id} ran at {found.validated_at}, past Salesforce's "
                f"10-day quick-deploy window; {again}")
        return found


def _find(records: Iterable[ValidationRecord], validation_id: str) -> ValidationRecord | None:
    matches = [r for r in records if r.validation_id == validation_id]
    return matches[-1] if matches else None
