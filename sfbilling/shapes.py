"""The top-level keys of each command's `--json` document: a contract for pipelines, pinned by
tests/test_cli_json.py and listed in docs/cli.md. Add a key freely; renaming or removing one
breaks someone's pipeline."""

from __future__ import annotations

from typing import Final

COMMON: Final = frozenset({"command", "exit_code"})
ERROR: Final = COMMON | {"error"}  # a command that failed: its one line, and nothing else

SHAPES: Final[dict[str, frozenset[str]]] = {
    "config": frozenset({"env", "stack_file", "keys", "problems", "refused_by"}),
    "render": frozenset({"env", "out", "format", "release", "config_version", "files", "zips"}),
    "plan": frozenset({"env", "org_id", "release", "changes", "drift", "metadata_changed"}),
    "apply": frozenset({"env", "release", "validation_id", "changes", "drift",
                        "metadata_changed"}),
    "validate": frozenset({"env", "release", "org_id", "validation_id", "validated_at",
                           "test_level"}),
    "doctor": frozenset({"env", "org_id", "ok", "checks", "events"}),
    "events": frozenset({"env", "destination_id", "received", "seconds"}),
    "sync": frozenset({"env", "report"}),
    "reconcile": frozenset({"env", "report"}),
    "promote": frozenset({"from", "to", "dry_run", "release", "keys", "changes", "drift",
                          "metadata_changed", "forced_reason", "release_id",
                          "validation_id"}),
    "releases": frozenset({"releases", "running"}),
    "status": frozenset({"env", "table", "region", "last_run", "checkpoint",
                         "checkpoint_age_s", "full_run_in_progress", "event_backlog", "lease",
                         "failed_rows", "held_back_deactivations", "org_id"}),
    "failures": frozenset({"env", "table", "failures"}),
    "invoke": frozenset({"env", "request_id", "status_code", "payload", "function",
                         "region"}),
}
