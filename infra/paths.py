"""Where the project is, and how a path given in the environment is read: against the project
root (the directory of Pulumi.yaml), never against whatever directory a process started in.

The engine starts the program and the dynamic-provider plugin in the project root today, but a
relative path that silently followed the working directory would move with the next layout
change (it once resolved against infra/, docs/deploy.md): reading it against the root, and
saying where it led, keeps it one file whoever reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

ROOT: Final = Path(__file__).resolve().parents[1]


def env_path(environ: Mapping[str, str], name: str, root: Path = ROOT) -> Path | None:
    """The absolute path the variable `name` names (a relative value is taken from `root`), or
    None when it is unset or empty."""
    given = environ.get(name, "").strip()
    if not given:
        return None
    path = Path(given).expanduser()
    return path if path.is_absolute() else (root / path).resolve()
