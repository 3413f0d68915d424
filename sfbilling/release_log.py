"""releases/releases.jsonl: one line per promotion, committed with the repository."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final

from sync_lambda.errors import SyncError

if TYPE_CHECKING:
    from pathlib import Path

RELEASES_FILE: Final = "releases/releases.jsonl"


class PromotionRefusedError(SyncError):
    """The promotion cannot go ahead as asked; nothing was changed. The message names the fix."""


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """One promotion, one line of releases/releases.jsonl."""

    release_id: str  # commit.config.package
    commit: str
    config_hash: str
    package_sha256: str
    release: str  # the org config's content hash
    validation_id: str | None
    from_env: str
    to_env: str
    who: str
    when: str
    forced_reason: str | None = None


def parse_records(text: str, source: str) -> list[ReleaseRecord]:
    """Every record of the file's `text`, oldest first. A line that is not one (a merge
    conflict, a hand edit) is refused with its number, never skipped: the log is what an
    auditor reads."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(ReleaseRecord(**json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise PromotionRefusedError(
                f"{source}:{n} is not a release record ({exc}): fix or remove that line "
                "(each line is one JSON object written by `sfbilling promote`)") from None
    return out


def record_line(record: ReleaseRecord) -> str:
    """The line `record` is written as (keys sorted: a diff of the log reads well)."""
    return json.dumps(asdict(record), sort_keys=True) + "\n"


class ReleaseLog:
    """The JSON Lines file of promotions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[ReleaseRecord]:
        """Every record, oldest first (PromotionRefusedError naming a line that is not one)."""
        if not self.path.exists():
            return []
        return parse_records(self.path.read_text(), str(self.path))

    def append(self, record: ReleaseRecord) -> None:
        """Add one record at the end."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(record_line(record))
