"""`sfbilling`: the operator's command line. It parses arguments, calls into the packages and
prints what they return; the work is done in `sync_lambda`, `metadata`, `devenv` and, for
promotion, `sfbilling.promotion`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.local import (
    DEFAULT_STATE_DIR,
    ENDPOINTS_FILE,
    LocalEnvError,
    load_endpoints,
    run_until_stopped,
    stop_running,
)
from metadata.deployer import DeployFailedError, OrgConfigError, OrgDeployer, summarize
from metadata.render import Release, bundle, render_release
from metadata.schema import validate_files
from metadata.validations import VALIDATIONS_FILE, ValidationLog
from sfbilling.environments import (
    LOCAL,
    deployer_for,
    local_overrides,
    org_config,
    org_target,
    sync_target,
)
from sfbilling.progress import ProgressLine
from sfbilling.promotion import (
    RELEASES_FILE,
    PromotionRefusedError,
    ReleaseLog,
    carry_out,
    prepare,
    running,
)
from stackconfig.describe import as_json, describe, render_table
from stackconfig.errors import StackConfigError
from stackconfig.stackfile import read_stack_file, stack_path
from sync_lambda.errors import ConfigError, SyncError
from sync_lambda.report import Outcome
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from collections.abc import Sequence

USAGE = """\
Import Stripe customers and payment methods into Salesforce Billing, and keep the Billing
package configured as code. Every command reads the environment's stack file
Pulumi.<env>.yaml (the file `pulumi up` reads); `--env local` targets the stand-ins of
`sfbilling local up`.

examples:
  sfbilling local up                          start local Salesforce, Stripe and AWS stand-ins
  sfbilling plan --env sandbox                what `apply` would change in the org, and drift
  sfbilling apply --env sandbox               deploy the org config (fields, permission set,
                                              batch size 70, release stamp)
  sfbilling sync --env sandbox --dry-run      what the import would write
  sfbilling sync --env sandbox                run the import once
  sfbilling promote --from sandbox --to prod --validate
                                              carry what the sandbox runs to production
  sfbilling releases                          promotions recorded, what each org runs

exit codes: 0 done; 1 done, with failed or quarantined rows; 2 bad config or input (nothing
was called); 3 the run stopped (Stripe or Salesforce failed or refused; a deploy failed);
4 deactivations held back for confirmation; 5 another run holds the lease, or took it.
"""

EXIT = {Outcome.OK: 0, Outcome.FAILED_ROWS: 1, Outcome.HELD_BACK: 4, Outcome.SKIPPED: 5,
        Outcome.LEASE_LOST: 5}
DEFAULT_TIME_LIMIT_S = 3600


def _print_endpoints(doc: dict[str, Any]) -> None:
    sf, st, aws = doc["salesforce"], doc["stripe"], doc["aws"]
    print(f"local environment up in {doc.get('startup_s', '?')} s (pid {doc['pid']})")
    print(f"  Salesforce  {sf['instance_url']}  (login and instance URL, HTTPS)")
    print(f"    username          {sf['username']}")
    print(f"    consumer key      {sf['consumer_key']}")
    print(f"    consumer secret   {sf['consumer_secret']}")
    print(f"    JWT private key   {sf['private_key_file']}")
    print(f"    admin API         {sf['admin_url']}")
    print(f"  Stripe      {st['api_base']}  key {st['api_key']}")
    print(f"  AWS (moto)  {aws['endpoint_url']}  region {aws['region']}  "
          f"keys {aws['access_key_id']}/{aws['secret_access_key']}")
    print(f"  trust       REQUESTS_CA_BUNDLE={doc['ca_bundle']}")
    print("Press Ctrl-C or run `sfbilling local down` to stop.", flush=True)


def _local(args: argparse.Namespace) -> int:
    if args.action == "up":
        run_until_stopped(args.state_dir, args.json, _print_endpoints)
    else:
        pid = stop_running(args.state_dir)
        print(f"stopped the local environment (pid {pid})")
    return 0


def _sync(args: argparse.Namespace) -> int:
    target = sync_target(args.env, root=args.root, state_dir=args.state_dir)
    progress = ProgressLine()
    deadline = time.monotonic() + args.time_limit
    try:
        service = build_service(target.settings, target.secrets, progress=progress,
                                remaining_s=lambda: deadline - time.monotonic())
        report = service.run(full=args.full, dry_run=args.dry_run,
                             allow_mass_deactivation=args.allow_mass_deactivation)
    finally:
        progress.close()
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
    print(report.render())
    return EXIT[report.outcome]


def _checked(release: Release) -> Release:
    problems = validate_files(release.files)
    if problems:
        raise ConfigError("rendered metadata does not match the Metadata API schema:\n  "
                          + "\n  ".join(problems))
    return release


def _render(args: argparse.Namespace) -> int:
    release = _checked(render_release(org_config(args.env, root=args.root)))
    for path, text in release.files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    zips = {"package.zip": bundle(release.metadata_files),
            "stamp.zip": bundle(release.stamp_files)}
    for name, data in zips.items():
        (args.out / name).write_bytes(data)
    print(f"rendered {len(release.files)} files to {args.out} (release "
          f"{release.content_hash[:12]}, config {release.config.config_version})")
    for name, data in zips.items():
        print(f"  {args.out / name}  sha256 {hashlib.sha256(data).hexdigest()}")
    print("package.zip holds the fields, permission set and release type in Metadata API "
          "format (`sf project deploy start --metadata-dir package.zip`, or Workbench); the "
          "package settings are data, not metadata (data/billing-config.json: `sfbilling "
          "apply` writes them); stamp.zip goes last")
    return 0


def _deployer(args: argparse.Namespace) -> tuple[OrgDeployer, Release]:
    target = org_target(args.env, root=args.root, state_dir=args.state_dir)
    release = _checked(render_release(target.config))
    deployer = deployer_for(target, progress=lambda m: print(f"… {m}", file=sys.stderr))
    return deployer, release


def _config(args: argparse.Namespace) -> int:
    raw = read_stack_file(args.env, args.root)
    overrides = None
    if args.env == LOCAL and (args.state_dir / ENDPOINTS_FILE).exists():
        overrides = local_overrides(load_endpoints(args.state_dir))
    rows, problems = describe(raw, env=args.env, source=str(stack_path(args.env, args.root)),
                              overrides=overrides)
    if args.json:
        print(json.dumps(as_json(rows, problems), indent=2))
    else:
        print(f"{stack_path(args.env, args.root)} (secrets show as set or unset):")
        print(render_table(rows))
        for problem in problems:
            print(f"  problem: {problem}", file=sys.stderr)
    return 2 if problems else 0


def _org(args: argparse.Namespace) -> int:
    deployer, release = _deployer(args)
    log = ValidationLog(args.root / VALIDATIONS_FILE)
    if args.command == "plan":
        print(f"plan for release {release.content_hash[:12]} on {args.env}:")
        print(deployer.plan(release).render())
        return 0
    if args.command == "apply":
        plan = deployer.apply(release, validated_id=args.validated, validations=log,
                              env=args.env)
        print(f"applied release {release.content_hash[:12]} to {args.env}:")
        print(plan.render())
        return 0
    if args.command == "validate":
        record = deployer.validate(release, validations=log, env=args.env)
        print(f"validated release {release.content_hash[:12]} on {args.env} (org "
              f"{record.org_id}): {record.validation_id}, recorded in {log.path}")
        print(f"quick deploy within 10 days: sfbilling apply --env {args.env} "
              f"--validated {record.validation_id}")
        return 0
    checks = deployer.doctor(release)
    print(f"doctor for {args.env}:")
    print(summarize(checks))
    return 0 if all(c.ok for c in checks) else 1


def _promote(args: argparse.Namespace) -> int:
    def progress(message: str) -> None:
        print(f"… {message}", file=sys.stderr)

    if args.force and not args.reason:
        raise PromotionRefusedError("--force needs --reason \"why\": it is recorded")
    promotion = prepare(args.source, args.target, root=args.root, state_dir=args.state_dir,
                        force_reason=args.reason if args.force else None,
                        allow_dirty=args.allow_dirty, progress=progress)
    print(promotion.render())
    record = carry_out(promotion, validate=args.validate, state_dir=args.state_dir,
                       progress=progress)
    print()
    print(f"wrote {len(promotion.changes)} key(s) to "
          f"{stack_path(args.target, args.root).name}; recorded release {record.release_id} "
          f"in {RELEASES_FILE}")
    if record.validation_id:
        print(f"validated against {args.target}: {record.validation_id} (recorded in "
              f"{VALIDATIONS_FILE}); quick deploy within 10 days: `pulumi up` on the "
              f"{args.target} stack, or `sfbilling apply --env {args.target} --validated "
              f"{record.validation_id}`")
    print("commit the stack file and the records under releases/")
    return 0


def _releases(args: argparse.Namespace) -> int:
    records = ReleaseLog(args.root / RELEASES_FILE).records()
    print(f"{len(records)} release(s) in {RELEASES_FILE}:")
    for r in records:
        forced = f"  forced: {r.forced_reason}" if r.forced_reason else ""
        print(f"  {r.when}  {r.from_env} → {r.to_env}  {r.release_id}  org release "
              f"{r.release[:12]}  validation {r.validation_id or '-'}  by {r.who}{forced}")
    print("running now:")
    for now in running(args.envs, root=args.root, state_dir=args.state_dir):
        what = now.release[:12] if now.release else "nothing applied yet"
        print(f"  {now.env}: " + (f"unknown ({now.problem})" if now.problem else what))
    return 0


def _env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True,
                   help="environment: settings from Pulumi.<env>.yaml; `local` targets the "
                        "stand-ins of `sfbilling local up`")
    _root_args(p)


def _root_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=Path(),
                   help="the repository: stack files and releases/ (default: here)")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help="the local environment's state directory (for local stacks)")


COMMANDS = {
    "plan": ("show what apply would change in the org, and drift since the last apply",
             "Reads the org (describe, queries); changes nothing."),
    "apply": ("deploy the org config: fields, permission set and its assignment, package "
              "settings, release stamp",
              "Changes only what differs from the release. Never deletes a field, record or "
              "permission; never touches Accounts or payment methods."),
    "validate": ("check-only deploy of the org config; records the validation for a quick "
                 "deploy",
                 "Changes nothing in the org. Appends a line to releases/validations.jsonl "
                 "(commit it)."),
    "doctor": ("check the org is ready for the import; say what to fix",
               "Reads the org; changes nothing."),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="sfbilling", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local = sub.add_parser(
        "local", help="run the local stand-ins (Salesforce, Stripe, AWS)",
        description="Start (up) or stop (down) the local stand-ins for Salesforce, Stripe and "
                    "AWS on 127.0.0.1. Touches nothing outside this machine; writes its "
                    "endpoints and throwaway credentials to the state directory.")
    local.add_argument("action", choices=("up", "down"))
    local.add_argument("--json", type=Path, help="also write endpoints and credentials here")
    local.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                       help="where certificates, logs and the pid file live (default .local)")
    local.set_defaults(func=_local)
    sync = sub.add_parser(
        "sync", help="run the Stripe → Salesforce Billing import once",
        description="Import Stripe customers and payment methods into Salesforce Billing "
                    "once: creates or links Accounts, inserts and updates payment methods, "
                    "deactivates the ones Stripe no longer has. Never deletes anything in "
                    "Salesforce, never writes card numbers, never writes to Stripe. "
                    "Secrets come from SFBILLING_STRIPE_API_KEY and "
                    "SFBILLING_SF_PRIVATE_KEY_FILE or SFBILLING_SF_CONSUMER_SECRET.")
    _env_args(sync)
    sync.add_argument("--dry-run", action="store_true",
                      help="plan only: write nothing (not even the checkpoint)")
    sync.add_argument("--full", action="store_true",
                      help="full reconcile instead of reading events since the checkpoint")
    sync.add_argument("--allow-mass-deactivation", action="store_true",
                      help="confirm deactivations held back because they crossed "
                           "massDeactivationShare and massDeactivationCount")
    sync.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S, metavar="S",
                      help="stop at a segment boundary after about S seconds, saving progress "
                           f"for the next run (default {DEFAULT_TIME_LIMIT_S})")
    sync.add_argument("--json", type=Path, help="also write the report as JSON here")
    sync.set_defaults(func=_sync)
    config = sub.add_parser(
        "config", help="show an environment's resolved settings, and every problem",
        description="Show every key of an environment's stack file: value, source (stack file "
                    "or default), scope and consumers, and every problem of the file. Secrets "
                    "show as set or unset, never their value. Reads only the stack file; "
                    "changes nothing.")
    _env_args(config)
    config.add_argument("--json", action="store_true", help="the table and problems as JSON")
    config.set_defaults(func=_config)
    render = sub.add_parser(
        "render", help="render the org config to files and deployable zips (no org needed)",
        description="Render the org config of an environment to files, plus package.zip and "
                    "stamp.zip ready for the Metadata API. Reads no org and needs no "
                    "credentials.")
    _env_args(render)
    render.add_argument("--out", type=Path, required=True, help="output directory")
    render.set_defaults(func=_render)
    for name, (text, touches) in COMMANDS.items():
        cmd = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. "
                                                         f"{touches}")
        _env_args(cmd)
        if name == "apply":
            cmd.add_argument("--validated", metavar="ID",
                             help="quick-deploy this validation (recorded by `validate` for "
                                  "this release and org, within 10 days) instead of deploying")
        cmd.set_defaults(func=_org)
    promote = sub.add_parser(
        "promote", help="carry the sandbox's verified config to production",
        description="Copy the promotable keys of --from's stack file into --to's, after "
                    "checking that --from's org runs the release its config renders at this "
                    "commit; show the change (keys, the plan against --to's org with its drift, "
                    "the rendered files' diff); write only those keys (every other line of the "
                    "stack file stays byte for byte); with --validate, run a check-only deploy "
                    "against --to's org and record it; append a release record. Credentials "
                    "of both orgs: SFBILLING_<ENV>_SF_PRIVATE_KEY_FILE (or _SF_CONSUMER_SECRET) "
                    "per environment.")
    promote.add_argument("--from", dest="source", required=True, help="e.g. sandbox")
    promote.add_argument("--to", dest="target", required=True, help="e.g. prod")
    promote.add_argument("--validate", action="store_true",
                         help="check-only deploy against --to's org, recorded for a quick "
                              "deploy")
    promote.add_argument("--force", action="store_true",
                         help="promote although --from's org runs another release")
    promote.add_argument("--reason", help="why --force (recorded)")
    promote.add_argument("--allow-dirty", action="store_true",
                         help="promote from a git tree with uncommitted changes")
    _root_args(promote)
    promote.set_defaults(func=_promote)
    releases = sub.add_parser(
        "releases", help="list the promotions recorded, and what each org runs now",
        description="List releases/releases.jsonl, then read each environment's release "
                    "stamp. Changes nothing.")
    releases.add_argument("--envs", nargs="+", default=["sandbox", "prod"],
                          help="environments to read (default: sandbox prod)")
    _root_args(releases)
    releases.set_defaults(func=_releases)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sfbilling` console script."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, or a usage error (already printed)
            sys.stdout.flush()
            return exc.code if isinstance(exc.code, int) else 2
        code = int(args.func(args))
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return code
    except (LocalEnvError, ConfigError, OrgConfigError, StackConfigError,
            PromotionRefusedError) as exc:
        print(f"sfbilling: {exc}", file=sys.stderr)
        return 2
    except DeployFailedError as exc:
        print(f"sfbilling: {exc}", file=sys.stderr)
        return 3
    except SyncError as exc:
        print(f"sfbilling: the run stopped: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        # The reader went away (`sfbilling plan | head`): stop quietly, with the status of a
        # process ended by SIGPIPE, as Unix tools do; stdout goes nowhere from here on, so the
        # interpreter's own flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
