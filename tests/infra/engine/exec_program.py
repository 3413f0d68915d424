"""This project's stand-in for `pulumi-language-python-exec`, the script the Python language host
runs the program with (sdk/python/cmd/pulumi-language-python-exec upstream; it ships with the
CLI, not the wheel). Written for the harness, not copied; it keeps what decides how the program
starts:

- it is run by the virtualenv's python as a script file, so its own directory is on sys.path;
- config comes from PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS through `set_all_config`
  (upstream line 110), the runtime is configured with the monitor and engine addresses;
- it changes to `--pwd` (l.149), then runs PROGRAM with `runpy.run_path(PROGRAM,
  run_name="__main__")` inside `run_in_stack` (l.188), which puts PROGRAM's directory (".") at
  sys.path[0]: the project root is on sys.path only when the program runs from it;
- a `pulumi.RunError` is logged as an error without a traceback, anything else with one; both
  exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import runpy
import sys
import traceback

import pulumi
import pulumi.runtime


def main() -> int:
    """Run the program once, as the language host would."""
    ap = argparse.ArgumentParser()
    for flag in ("--project", "--stack", "--parallel", "--dry_run", "--pwd", "--monitor",
                 "--engine", "--organization", "--root_directory"):
        ap.add_argument(flag)
    ap.add_argument("PROGRAM")
    args = ap.parse_args()

    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(),
                                  pulumi.runtime.get_config_secret_keys_env())
    pulumi.runtime.configure(pulumi.runtime.Settings(
        project=args.project, stack=args.stack, monitor=args.monitor, engine=args.engine,
        parallel=int(args.parallel), dry_run=args.dry_run == "true",
        organization=args.organization, root_directory=args.root_directory))
    sys.argv = [args.PROGRAM]
    if args.pwd:
        os.chdir(args.pwd)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    ok = False

    def program() -> None:
        runpy.run_path(args.PROGRAM, run_name="__main__")

    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        ok = True
    except pulumi.RunError as exc:
        pulumi.log.error(str(exc))
    except Exception:  # noqa: BLE001 - reported to the engine, as the real script does
        pulumi.log.error(traceback.format_exc())
    finally:
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
