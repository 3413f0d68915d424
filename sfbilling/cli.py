"""`sfbilling`: parse arguments, call into the packages, print results. No logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.local import DEFAULT_STATE_DIR, LocalEnvError, run_until_stopped, stop_running
from metadata.deployer import DeployFailedError, OrgConfigError, OrgDeployer, summarize
from metadata.render import render_release
from metadata.schema import validate_files
from sfbilling.environments import org_config, org_target, sync_target
from sfbilling.progress import ProgressLine
from sync_lambda.adapters.salesforce_api import SalesforceApi
from sync_lambda.errors import ConfigError, SyncError
from sync_lambda.wiring import build_service

if TYPE_CHECKING:
    from collections.abc import Sequence


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
    try:
        service = build_service(target.settings, target.secrets, progress=progress)
        report = service.run(full=args.full, dry_run=args.dry_run)
    finally:
        progress.close()
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
    print(report.render())
    return 1 if report.failures else 0


def _render(args: argparse.Namespace) -> int:
    release = render_release(org_config(args.env, root=args.root))
    problems = validate_files(release.files)
    if problems:
        raise ConfigError("rendered metadata does not match the Metadata API schema:\n  "
                          + "\n  ".join(problems))
    for path, text in release.files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    print(f"rendered {len(release.files)} files to {args.out} (release "
          f"{release.content_hash[:12]}, config {release.config.config_version})")
    return 0


def _deployer(args: argparse.Namespace) -> tuple[OrgDeployer, Any]:
    target = org_target(args.env, root=args.root, state_dir=args.state_dir)
    release = render_release(target.config)
    problems = validate_files(release.files)
    if problems:
        raise ConfigError("rendered metadata does not match the Metadata API schema:\n  "
                          + "\n  ".join(problems))
    api = SalesforceApi(target.settings, target.secrets)
    deployer = OrgDeployer(api, assignee=target.settings.salesforce_username,
                           progress=lambda m: print(f"… {m}", file=sys.stderr))
    return deployer, release


def _org(args: argparse.Namespace) -> int:
    deployer, release = _deployer(args)
    if args.command == "plan":
        print(f"plan for release {release.content_hash[:12]} on {args.env}:")
        print(deployer.plan(release).render())
        return 0
    if args.command == "apply":
        plan = deployer.apply(release, validated_id=args.validated)
        print(f"applied release {release.content_hash[:12]} to {args.env}:")
        print(plan.render())
        return 0
    if args.command == "validate":
        validation = deployer.validate(release)
        print(f"validated release {release.content_hash[:12]} on {args.env}: {validation}")
        print(f"quick deploy within 10 days: sfbilling apply --env {args.env} "
              f"--validated {validation}")
        return 0
    checks = deployer.doctor(release)
    print(f"doctor for {args.env}:")
    print(summarize(checks))
    return 0 if all(c.ok for c in checks) else 1


def _env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True,
                   help="environment: settings from Pulumi.<env>.yaml; `local` targets the "
                        "stand-ins of `sfbilling local up`")
    p.add_argument("--root", type=Path, default=Path(), help="where the stack files are")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help="the local environment's state directory (for --env local)")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="sfbilling", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="run the local stand-ins (Salesforce, Stripe, AWS)")
    local.add_argument("action", choices=("up", "down"))
    local.add_argument("--json", type=Path, help="also write endpoints and credentials here")
    local.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                       help="where certificates, logs and the pid file live (default .local)")
    local.set_defaults(func=_local)
    sync = sub.add_parser("sync", help="run the Stripe → Salesforce Billing import once")
    _env_args(sync)
    sync.add_argument("--dry-run", action="store_true", help="plan only, write nothing")
    sync.add_argument("--full", action="store_true",
                      help="full reconcile instead of reading events since the checkpoint")
    sync.add_argument("--json", type=Path, help="also write the report as JSON here")
    sync.set_defaults(func=_sync)
    render = sub.add_parser("render", help="render the org config to files (no org needed)")
    _env_args(render)
    render.add_argument("--out", type=Path, required=True, help="output directory")
    render.set_defaults(func=_render)
    for name, text in (("plan", "show what apply would change, and drift since the last apply"),
                       ("apply", "deploy the org config (metadata, package settings, stamp)"),
                       ("validate", "check-only deploy; prints the id for a quick deploy"),
                       ("doctor", "check the org is ready for the import; say what to fix")):
        cmd = sub.add_parser(name, help=text)
        _env_args(cmd)
        if name == "apply":
            cmd.add_argument("--validated", metavar="ID",
                             help="quick-deploy this validation instead of deploying again")
        cmd.set_defaults(func=_org)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sfbilling` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LocalEnvError, ConfigError, OrgConfigError) as exc:
        print(f"sfbilling: {exc}", file=sys.stderr)
        return 2
    except DeployFailedError as exc:
        print(f"sfbilling: {exc}", file=sys.stderr)
        return 3
    except SyncError as exc:
        print(f"sfbilling: the run stopped: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
