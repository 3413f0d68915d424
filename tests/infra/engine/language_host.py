"""The program, run as a separate process the way the Python language host runs it
(sdk/python/cmd/pulumi-language-python/main.go `Run` and `constructArguments`; toolchain.go
`ActivateVirtualEnv`):

- the interpreter is `<root>/<virtualenv>/bin/python` (`launcher.host_virtualenv`), with the
  virtualenv activated in the environment;
- the environment carries `PULUMI_CONFIG` (every key of every namespace, secrets decrypted,
  values as strings) and `PULUMI_CONFIG_SECRET_KEYS` (a JSON list, `[]` when none);
- the arguments are the exec script, `--monitor A --engine A --project P --root_directory R
  --stack S --pwd PWD --dry_run B --parallel N --organization O` and the entry point;
- the working directory is the pwd (the exec script changes to it too).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tests.infra.engine.double import EngineDouble, Recorded
from tests.infra.engine.launcher import (
    PYTHON_EXEC,
    Project,
    host_virtualenv,
    pwd_and_entry,
    venv_environment,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

RUN_TIMEOUT_S: Final = 120


@dataclass(frozen=True)
class ProgramResult:
    """One run of the program: its exit code, output, and what the engine received."""

    exit_code: int
    stdout: str
    stderr: str
    recorded: Recorded
    engine_address: str


def run_program(project: Project, stack: str, config: Mapping[str, str],
                secret_keys: list[str], *, dry_run: bool,
                base_env: Mapping[str, str]) -> ProgramResult:
    """Run the program once against a fresh engine double."""
    pwd, entry = pwd_and_entry(project)
    venv = host_virtualenv(project.root, project.virtualenv or ".venv")
    env = venv_environment(venv, dict(base_env))
    env["PULUMI_CONFIG"] = json.dumps(dict(config))
    env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
    with EngineDouble(project=project.name, stack=stack, dry_run=dry_run) as engine:
        done = subprocess.run(
            [str(venv / "bin" / "python"), str(PYTHON_EXEC), "--monitor", engine.address,
             "--engine", engine.address, "--project", project.name, "--root_directory",
             str(project.root), "--stack", stack, "--pwd", str(pwd), "--dry_run",
             "true" if dry_run else "false", "--parallel", "16", "--organization",
             "organization", entry],
            cwd=pwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
            check=False)
        return ProgramResult(done.returncode, done.stdout, done.stderr, engine.recorded,
                             engine.address)
