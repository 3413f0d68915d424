"""How the Pulumi CLI starts this project's processes, as rules: where the program runs, which
interpreter the language host picks, and which one the dynamic-provider plugin's launcher picks.

Each rule restates one upstream place (pulumi/pulumi; read, not copied). They are written down
here because neither the Go engine nor the launcher script ships in the `pulumi` wheel:

- `pwd_and_entry`: pkg/engine/project.go `getPwdMain`: a `main` that is a directory becomes the
  working directory and the entry point becomes "."; no `main` means the project root and ".".
- `host_virtualenv`: sdk/python/toolchain/pip.go `resolveVirtualEnvironmentPath`: a relative
  `virtualenv` is joined to the project **root**.
- `shim_virtualenv`: sdk/python/dist/pulumi-resource-pulumi-python, the launcher the engine
  runs for `pulumi-python` dynamic providers (with `cmd.Dir` = the pwd above:
  sdk/go/common/resource/plugin/plugin.go): `*) PULUMI_RUNTIME_VIRTUALENV=$PWD/$…` makes a
  relative `virtualenv` absolute against **its own working directory**, then runs
  `$VENV/bin/python -u -m pulumi.dynamic`, or prints "The 'virtualenv' option in Pulumi.yaml is
  set to …, but … doesn't exist." and exits 1 (pulumi/pulumi#7061).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

PYTHON_EXEC: Final = Path(__file__).with_name("exec_program.py")


class LauncherError(Exception):
    """The launcher script would have printed this and exited 1."""


@dataclass(frozen=True, slots=True)
class Project:
    """What the engine reads from Pulumi.yaml to start processes."""

    root: Path
    name: str
    main: str | None
    options: dict[str, Any]

    @classmethod
    def read(cls, root: Path) -> Project:
        """Pulumi.yaml of `root`."""
        doc = yaml.safe_load((root / "Pulumi.yaml").read_text())
        runtime = doc["runtime"]
        options = dict(runtime.get("options") or {}) if isinstance(runtime, dict) else {}
        return cls(root, str(doc["name"]), doc.get("main"), options)

    @property
    def virtualenv(self) -> str | None:
        """The `virtualenv` runtime option as written."""
        value = self.options.get("virtualenv")
        return None if value is None else str(value)


def pwd_and_entry(project: Project) -> tuple[Path, str]:
    """The working directory the engine gives the program and every plugin, and the entry point
    it hands the language host."""
    if project.main is None:
        return project.root, "."
    main = project.root / project.main
    if main.is_dir():
        return main, "."
    return project.root, project.main


def host_virtualenv(root: Path, option: str) -> Path:
    """The virtualenv the Python language host runs the program with."""
    path = Path(option)
    return path if path.is_absolute() else root / path


def shim_virtualenv(pwd: Path, option: str) -> Path:
    """The interpreter the dynamic-provider launcher runs, started in `pwd` with
    PULUMI_RUNTIME_VIRTUALENV=`option` (LauncherError with the launcher's own words when
    `<virtualenv>/bin/python` is missing)."""
    venv = option.rstrip("/")
    resolved = Path(venv) if venv.startswith("/") else Path(f"{pwd}/{venv}")
    python = resolved / "bin" / "python"
    if not python.is_file():
        state = ("doesn't appear to be a virtual environment" if resolved.is_dir()
                 else "doesn't exist")
        raise LauncherError(f"The 'virtualenv' option in Pulumi.yaml is set to \"{resolved}\", "
                            f"but \"{resolved}\" {state}.")
    return python


def venv_environment(venv: Path, base: dict[str, str]) -> dict[str, str]:
    """The environment a process gets when it runs in `venv`: its bin first on PATH, no
    PYTHONHOME, VIRTUAL_ENV set (toolchain.go `ActivateVirtualEnv`; the launcher does the
    same for PATH and PYTHONHOME)."""
    env = {k: v for k, v in base.items() if k != "PYTHONHOME"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env
