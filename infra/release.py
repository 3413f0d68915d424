"""The release id: which commit, which configuration and which Lambda package a stack runs,
in one string an operator can compare between sandbox and production."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from infra.paths import ROOT

if TYPE_CHECKING:
    from pathlib import Path


def git(root: Path, *args: str) -> str:
    """`git -C root args…`'s output (CalledProcessError / OSError when it fails)."""
    # git from PATH, fixed arguments: the operator's own tool on their own checkout.
    return subprocess.run(["git", "-C", str(root), *args],  # noqa: S603, S607
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def git_commit(root: Path = ROOT) -> str:
    """The checkout's commit (12 hex digits, `-dirty` with uncommitted changes), or `unknown`
    outside a git checkout."""
    try:
        commit = git(root, "rev-parse", "--short=12", "HEAD")
        dirty = bool(git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def release_id(commit: str, config_hash: str, package_sha256: str) -> str:
    """commit · config · package, the hashes shortened to 12 hex digits."""
    return f"{commit}.{config_hash[:12]}.{package_sha256[:12]}"
