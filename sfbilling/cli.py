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
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from devenv.local import (
    DEFAULT_STATE_DIR,
    ENDPOINTS_FILE,
    load_endpoints,
    run_until_stopped,
    stop_running,
)
from metadata.deployer import OrgDeployer, Plan, summarize
from metadata.render import Release, bundle, render_release
from metadata.schema import validate_files
from metadata.source_format import to_source
from metadata.validations import VALIDATION_KEY, ValidationRefusedError
from sfbilling import day2, event_ops
from sfbilling.environments import (
    LOCAL,
    PREVIEW,
    OrgTarget,
    StateTableMissingError,
    deployer_for,
    local_overrides,
    org_config,
    org_target,
    record_validation,
    recorded_validation,
    refused_later,
    require_state_table,
    sync_target,
)
from sfbilling.exits import Exit, table
from sfbilling.outcome import Result, report_error
from sfbilling.progress import ProgressLine
from sfbilling.promotion import carry_out, prepare, running
from sfbilling.promotion_guards import check_request
from sfbilling.release_log import RELEASES_FILE, ReleaseLog
from stackconfig.describe import as_json, describe, render_table
from stackconfig.errors import StackConfigError
from stackconfig.stackfile import find_root, read_stack_file, stack_path
from sync_lambda.adapters.no_state import NoStateStore
from sync_lambda.errors import ConfigError
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

Every command but `local` takes --json: one JSON document on stdout at exit (human output
then goes to stderr).

exit codes (every command):
""" + table() + "\n"

EXIT = {Outcome.OK: Exit.OK, Outcome.FAILED_ROWS: Exit.FAILED_ROWS,
        Outcome.HELD_BACK: Exit.HELD_BACK, Outcome.SKIPPED: Exit.LEASE,
        Outcome.LEASE_LOST: Exit.LEASE, Outcome.API_BUDGET: Exit.API_BUDGET,
        Outcome.DISAGREEMENT: Exit.DIFFERENCES, Outcome.INCOMPLETE: Exit.STOPPED}
DEFAULT_TIME_LIMIT_S = 3600
DEFAULT_SAMPLE = 500  # customers a dry run before the first deploy plans
# Deploying render's package.zip with the Salesforce CLI: a zip of one package needs
# --single-package (make sf-cli-tour runs this very line).
SF_DEPLOY_HINT: Final = ("sf project deploy start --metadata-dir {out}/package.zip "
                         "--single-package --target-org <alias> --wait 30")


class Out:
    """Where human output goes: stdout, or stderr when --json owns stdout."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode

    def say(self, text: str = "") -> None:
        """A line for the person at the terminal."""
        print(text, file=sys.stderr if self.json else sys.stdout)

    @staticmethod
    def progress(message: str) -> None:
        """A progress line (stderr, always)."""
        print(f"… {message}", file=sys.stderr)


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


def _local(args: argparse.Namespace, out: Out) -> Result:
    if args.action == "up":
        # A server, not a document: --json PATH writes its endpoints to a file.
        run_until_stopped(args.state_dir, args.endpoints, _print_endpoints)
        return Result(Exit.OK, {"action": "up"})
    pid = stop_running(args.state_dir)
    out.say(f"stopped the local environment (pid {pid})")
    return Result(Exit.OK, {"action": "down", "pid": pid})


def _sync(args: argparse.Namespace, out: Out) -> Result:
    if args.json_path is not None:
        print("sfbilling: `sync --json PATH` is deprecated and goes away in the next release: "
              "use --json-file PATH (or --json for the document on stdout)", file=sys.stderr)
    json_file = args.json_file or args.json_path
    if args.sample is not None and not args.dry_run:
        raise ConfigError("--sample plans part of the customers, so it goes with --dry-run")
    if args.sample is not None and args.sample < 1:
        raise ConfigError(f"--sample must be at least 1, got {args.sample}")
    target = sync_target(args.env, root=args.root, state_dir=args.state_dir)
    state, sample = None, args.sample
    if args.env != LOCAL:
        try:
            require_state_table(target.settings, args.env)
        except StateTableMissingError as exc:
            if not args.dry_run:
                raise
            # Before the first deploy: plan a sample against an empty state, touching no AWS.
            state, sample = NoStateStore(), sample or DEFAULT_SAMPLE
            out.say(f"{exc}\n  so this dry run plans a sample of {sample} customers from an "
                    "empty state, and reads and writes nothing in AWS")
    progress = ProgressLine()
    deadline = time.monotonic() + args.time_limit
    try:
        service = build_service(target.settings, target.secrets, progress=progress,
                                remaining_s=lambda: deadline - time.monotonic(),
                                fail_fast=True, dry_run=args.dry_run, state=state,
                                sample=sample)
        report = service.run(full=args.full, dry_run=args.dry_run,
                             allow_mass_deactivation=args.allow_mass_deactivation,
                             recheck_unknown=args.recheck_unknown)
    finally:
        progress.close()
    doc = report.to_dict(whole=True)  # the terminal gets a sample, the document everything
    if json_file:
        json_file.write_text(json.dumps(doc, indent=2))
    out.say(report.render())
    return Result(EXIT[report.outcome], {"env": args.env, "report": doc})


def _reconcile(args: argparse.Namespace, out: Out) -> Result:
    target = sync_target(args.env, root=args.root, state_dir=args.state_dir)
    if args.env != LOCAL:
        require_state_table(target.settings, args.env)
    progress = ProgressLine()
    deadline = time.monotonic() + args.time_limit
    try:
        service = build_service(target.settings, target.secrets, progress=progress,
                                remaining_s=lambda: deadline - time.monotonic(),
                                fail_fast=True)
        report = service.reconcile(restart=args.restart)
    finally:
        progress.close()
    out.say(report.render())
    doc = report.to_dict(whole=True)
    return Result(EXIT[report.outcome], {"env": args.env, "report": doc})


def _checked(release: Release) -> Release:
    problems = validate_files(release.files)
    if problems:
        raise ConfigError("rendered metadata does not match the Metadata API schema:\n  "
                          + "\n  ".join(problems))
    return release


def _render(args: argparse.Namespace, out: Out) -> Result:
    release = _checked(render_release(org_config(args.env, root=args.root)))
    if args.format == "source":
        return _render_source(args, out, release)
    for path, text in release.files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    zips = {"package.zip": bundle(release.metadata_files),
            "stamp.zip": bundle(release.stamp_files)}
    for name, data in zips.items():
        (args.out / name).write_bytes(data)
    out.say(f"rendered {len(release.files)} files to {args.out} (release "
            f"{release.content_hash[:12]}, config {release.config.config_version})")
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in zips.items()}
    for name, digest in hashes.items():
        out.say(f"  {args.out / name}  sha256 {digest}")
    out.say("package.zip holds the fields, permission set and release type in Metadata API "
            "format; the package settings are data, not metadata (data/billing-config.json: "
            "`sfbilling apply` writes them); stamp.zip goes last. To deploy it yourself:")
    out.say(f"  {SF_DEPLOY_HINT.format(out=args.out)}")
    return Result(Exit.OK, {"env": args.env, "out": str(args.out), "format": "metadata",
                            "release": release.content_hash,
                            "config_version": release.config.config_version,
                            "files": sorted(release.files), "zips": hashes})


def _render_source(args: argparse.Namespace, out: Out, release: Release) -> Result:
    """The release's metadata in Salesforce DX source format, with its sfdx-project.json."""
    files = to_source(release.metadata_files, release.config.salesforce_api_version)
    for path, text in files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    out.say(f"rendered {len(files)} files in source format to {args.out} (release "
            f"{release.content_hash[:12]}): the fields, the custom metadata type and the "
            "permission set. Merge force-app/ into your SFDX project, then (docs/org-config.md):")
    out.say("  sf project deploy validate --source-dir force-app --target-org <alias> "
            "--test-level RunLocalTests")
    out.say("  sf project deploy quick --job-id <validation-id> --target-org <alias>")
    out.say(f"  sfbilling apply --env {args.env}   # the package settings and the release stamp")
    return Result(Exit.OK, {"env": args.env, "out": str(args.out), "format": "source",
                            "release": release.content_hash,
                            "config_version": release.config.config_version,
                            "files": sorted(files), "zips": {}})


def _deployer(args: argparse.Namespace, out: Out) -> tuple[OrgDeployer, Release, OrgTarget]:
    target = org_target(args.env, root=args.root, state_dir=args.state_dir,
                        read_only=getattr(args, "read_only", False))
    release = _checked(render_release(target.config))
    deployer = deployer_for(target, progress=out.progress)
    return deployer, release, target


def _config(args: argparse.Namespace, out: Out) -> Result:
    raw = read_stack_file(args.env, args.root)
    overrides = None
    if args.env == LOCAL and (args.state_dir / ENDPOINTS_FILE).exists():
        overrides = local_overrides(load_endpoints(args.state_dir))
    path = stack_path(args.env, args.root)
    rows, problems = describe(raw, env=args.env, source=str(path), overrides=overrides)
    refusals = {} if problems else refused_later(raw, env=args.env, source=str(path),
                                                   overrides=overrides)
    out.say(f"{path} (secrets show as set or unset):")
    out.say(render_table(rows))
    for problem in problems:
        print(f"  problem: {problem}", file=sys.stderr)
    for who, reasons in refusals.items():
        for reason in reasons:
            print(f"  {who} will refuse: {reason}", file=sys.stderr)
    doc = {"env": args.env, "stack_file": str(path), **as_json(rows, problems),
           "refused_by": refusals}
    # The stack file's own problems, and what `pulumi preview` refuses in it, fail; missing CLI
    # credentials are said, but this machine may simply not be where they live.
    failed = bool(problems or refusals.get(PREVIEW))
    return Result(Exit.CONFIG if failed else Exit.OK, doc)


def _plan_doc(plan: Plan) -> dict[str, Any]:
    return {"changes": [{"kind": i.kind, "name": i.name, "action": i.action,
                         "detail": i.detail or None} for i in plan.changes],
            "drift": list(plan.drift), "metadata_changed": plan.metadata_changed}


def _plan(args: argparse.Namespace, out: Out) -> Result:
    deployer, release, _ = _deployer(args, out)
    org_id = deployer.checked_org_id(args.env)  # another org's "no changes" would mislead
    plan = deployer.plan(release)
    out.say(f"plan for release {release.content_hash[:12]} on {args.env} (org {org_id}):")
    out.say(plan.render())
    differs = bool(plan.changes or plan.drift)
    return Result(Exit.DIFFERENCES if differs else Exit.OK,
                  {"env": args.env, "org_id": org_id, "release": release.content_hash,
                   **_plan_doc(plan)})


def _confirm(args: argparse.Namespace, question: str) -> None:
    """Ask before a production write; without a terminal, --yes is the answer."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{question}: no terminal to confirm on; pass --yes to go ahead "
                          "(nothing was changed)")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise ConfigError("not confirmed: nothing was changed")


def _apply(args: argparse.Namespace, out: Out) -> Result:
    deployer, release, target = _deployer(args, out)
    if target.stack.kind == "production":
        _confirm(args, f"apply release {release.content_hash[:12]} to production "
                       f"({args.env})")
    validated = None
    if args.validated:
        validated = recorded_validation(target.stack)
        if validated is None or validated.validation_id != args.validated:
            held = f"holds {validated.validation_id}" if validated else "is unset"
            stack_file = stack_path(args.env, args.root).name
            raise ValidationRefusedError(
                f"validation {args.validated} is not the one {stack_file} records "
                f"(sfbilling:{VALIDATION_KEY} {held}): run `sfbilling validate --env "
                f"{args.env}` and quick-deploy the id it prints")
    plan = deployer.apply(release, validated=validated, env=args.env)
    out.say(f"applied release {release.content_hash[:12]} to {args.env}:")
    out.say(plan.render())
    return Result(Exit.OK, {"env": args.env, "release": release.content_hash,
                            "validation_id": args.validated, **_plan_doc(plan)})


def _validate(args: argparse.Namespace, out: Out) -> Result:
    deployer, release, _ = _deployer(args, out)
    record = deployer.validate(release, env=args.env)
    record_validation(args.env, args.root, record)
    stack_file = stack_path(args.env, args.root).name
    out.say(f"validated release {release.content_hash[:12]} on {args.env} (org "
            f"{record.org_id}): {record.validation_id}, recorded in {stack_file} "
            f"(sfbilling:{VALIDATION_KEY}: commit it)")
    out.say(f"quick deploy within 10 days: `pulumi up` on the {args.env} stack, or "
            f"sfbilling apply --env {args.env} --validated {record.validation_id}")
    return Result(Exit.OK, {"env": args.env, "release": release.content_hash,
                            "org_id": record.org_id, "validation_id": record.validation_id,
                            "validated_at": record.validated_at,
                            "test_level": release.config.test_level})


def _doctor(args: argparse.Namespace, out: Out) -> Result:
    deployer, release, _ = _deployer(args, out)
    org_id = deployer.checked_org_id(args.env)  # "ok" about another org would mislead
    checks = deployer.doctor(release)
    out.say(f"doctor for {args.env} (org {org_id}):")
    out.say(summarize(checks))
    found = [{"ok": c.ok, "warning": c.warning, "what": c.what, "fix": c.fix or None}
             for c in checks]
    events = _event_checks(args, out)
    ok = all(c["ok"] or c["warning"] for c in found + (events or []))
    return Result(Exit.OK if ok else Exit.FAILED_ROWS,
                  {"env": args.env, "org_id": org_id, "ok": ok, "checks": found,
                   "events": events})


def _event_checks(args: argparse.Namespace, out: Out) -> list[dict[str, Any]] | None:
    """Doctor on the near-real-time path (None: eventDestination is off)."""
    target = _target(args)
    if target.stack["eventDestination"] == "off":
        return None
    found = event_ops.find(target)
    try:
        dest = event_ops.destination(event_ops.admin_api(target, os.environ),
                                     found.destination_id)
    except StackConfigError as exc:  # no deploy key here: the AWS half alone, said so
        out.progress(exc.problems[0])
        dest = None
    checks = event_ops.checks(found, dest,
                              import_enabled=bool(target.stack["importEnabled"]))
    out.say("Stripe's events:")
    for c in checks:
        out.say(f"  {'ok ' if c['ok'] else 'WARN' if c['warning'] else 'FIX'} {c['what']}"
                + ("" if c["ok"] else f" — {c['fix']}"))
    return checks


def _events_ping(args: argparse.Namespace, out: Out) -> Result:
    target = _target(args)
    event_ops.require_events(target)
    api = event_ops.admin_api(target, os.environ)  # before any call: a missing key is exit 2
    found = event_ops.find(target)
    doc = event_ops.ping(target, found, api, timeout_s=args.timeout, progress=out.progress)
    out.say(f"the ping reached {target.function} {doc['seconds']:g} s after Stripe sent it: "
            "Stripe → EventBridge → rule → SQS → function works")
    return Result(Exit.OK, doc)


def _promote(args: argparse.Namespace, out: Out) -> Result:
    check_request(args.source, args.target, force=args.force, reason=args.reason)
    promotion = prepare(args.source, args.target, root=args.root, state_dir=args.state_dir,
                        force_reason=args.reason if args.force else None,
                        allow_dirty=args.allow_dirty, progress=out.progress)
    out.say(promotion.render())
    doc: dict[str, Any] = {
        "from": args.source, "to": args.target, "dry_run": args.dry_run,
        "release": promotion.release.content_hash,
        "keys": [{"key": c.key, "old": c.old, "new": c.new} for c in promotion.changes],
        **_plan_doc(promotion.plan), "forced_reason": promotion.forced_reason,
        "release_id": None, "validation_id": None}
    if args.dry_run:
        out.say("\ndry run: nothing was written")
        return Result(Exit.OK, doc)
    _confirm(args, f"write {len(promotion.changes)} key(s) to "
                   f"{stack_path(args.target, args.root).name}"
                   + (f" and validate against {args.target}" if args.validate else ""))
    record = carry_out(promotion, validate=args.validate, state_dir=args.state_dir,
                       progress=out.progress)
    out.say()
    out.say(f"wrote {len(promotion.changes)} key(s) to "
            f"{stack_path(args.target, args.root).name}; recorded release {record.release_id} "
            f"in {RELEASES_FILE}")
    if record.validation_id:
        out.say(f"validated against {args.target}: {record.validation_id} (recorded in "
                f"sfbilling:{VALIDATION_KEY}); quick deploy within 10 days: `pulumi up` on the "
                f"{args.target} stack, or `sfbilling apply --env {args.target} --validated "
                f"{record.validation_id}`")
    out.say(f"commit {stack_path(args.target, args.root).name} and {RELEASES_FILE} together")
    doc.update(release_id=record.release_id, validation_id=record.validation_id)
    return Result(Exit.OK, doc)


def _releases(args: argparse.Namespace, out: Out) -> Result:
    records = ReleaseLog(args.root / RELEASES_FILE).records()
    out.say(f"{len(records)} release(s) in {RELEASES_FILE}:")
    for rec in records:
        forced = f"  forced: {rec.forced_reason}" if rec.forced_reason else ""
        out.say(f"  {rec.when}  {rec.from_env} → {rec.to_env}  {rec.release_id}  org release "
                f"{rec.release[:12]}  validation {rec.validation_id or '-'}  by "
                f"{rec.who}{forced}")
    out.say("running now:")
    now = running(args.envs, root=args.root, state_dir=args.state_dir)
    for r in now:
        what = r.release[:12] if r.release else "nothing applied yet"
        out.say(f"  {r.env}: " + (f"unknown ({r.problem})" if r.problem else what))
    return Result(Exit.OK, {
        "releases": [asdict(r) for r in records],
        "running": [{"env": r.env, "release": r.release, "problem": r.problem or None}
                    for r in now]})


def _ago(epoch: int | None, now: float) -> str:
    if epoch is None:
        return "never"
    seconds = max(0, int(now - epoch))
    return f"{_iso(epoch)} ({seconds // 3600} h {seconds % 3600 // 60} min ago)" \
        if seconds >= 3600 else f"{_iso(epoch)} ({seconds // 60} min {seconds % 60} s ago)"


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _target(args: argparse.Namespace) -> day2.Deployed:
    return day2.deployed(args.env, root=args.root, state_dir=args.state_dir,
                         environ=os.environ)


def _status(args: argparse.Namespace, out: Out) -> Result:
    doc = day2.status(_target(args))
    now = time.time()
    out.say(f"{args.env}: table {doc['table']} in {doc['region']} (org "
            f"{doc['org_id'] or 'not recorded yet'})")
    run = doc["last_run"]
    if run is None:
        out.say("  last run       none finished yet")
    else:
        counts = ", ".join(f"{k} {v}" for k, v in run["outcomes"].items()) or "nothing written"
        out.say(f"  last run       {run['kind']} {run['run_id']}: {run['outcome']}"
                f"{' (continued)' if run['continued'] else ''}, finished "
                f"{_ago(run['finished'], now)}; {counts}")
        usage = run.get("salesforce_api_usage")
        if usage:
            out.say(f"  Salesforce API {usage['used']} of the org's {usage['limit']} daily "
                    f"requests used ({usage['share']:.1%}) when the last run ended")
    age = doc["checkpoint_age_s"]
    out.say(f"  checkpoint     {_ago(doc['checkpoint'], now)}" if age is not None
            else "  checkpoint     none (the first run imports everything)")
    if doc["full_run_in_progress"]:
        out.say("  full run       in progress (continued across invocations)")
    if doc["event_backlog"]:
        out.say("  events         a backlog, applied in windows")
    lease = doc["lease"]
    out.say("  lease          free" if lease is None else
            f"  lease          held by run {lease['run_id']} on {lease['host'] or '?'} since "
            f"{_ago(lease['started'], now)}, until {_iso(lease['expires'])}")
    rows = doc["failed_rows"]
    out.say(f"  failed rows    {rows['pending']} retried each run, {rows['rejected']} rejected "
            f"(`sfbilling failures --env {args.env}`)")
    out.say(f"  held back      {doc['held_back_deactivations']} deactivation(s) waiting for "
            "confirmation" + (f" (`sfbilling invoke --env {args.env} "
                              "--allow-mass-deactivation`)"
                              if doc["held_back_deactivations"] else ""))
    return Result(Exit.OK, doc)


def _failures(args: argparse.Namespace, out: Out) -> Result:
    target = _target(args)
    rows = day2.failures(target)
    out.say(f"{len(rows)} failed row(s) in {target.table}:")
    for r in rows:
        out.say(f"  {r['status']:<8} {r['kind']:<15} {r['stripe_id']} (customer "
                f"{r['customer_id']}), {r['attempts']} attempt(s): {r['reason']}")
    return Result(Exit.OK, {"env": args.env, "table": target.table, "failures": rows})


def _invoke(args: argparse.Namespace, out: Out) -> Result:
    if args.reconcile and (args.full or args.allow_mass_deactivation or args.recheck_unknown):
        raise ConfigError("--reconcile reads and compares only: it goes with none of --full, "
                          "--allow-mass-deactivation, --recheck-unknown")
    doc = day2.invoke(_target(args), full=args.full,
                      allow_mass_deactivation=args.allow_mass_deactivation,
                      recheck_unknown=args.recheck_unknown, reconcile=args.reconcile)
    out.say(f"started {doc['function']} in {doc['region']} with {json.dumps(doc['payload'])}: "
            f"request {doc['request_id']}. It runs on its own (up to its timeout, then its "
            f"continuations); follow it with `sfbilling status --env {args.env}`")
    return Result(Exit.OK, {"env": args.env, **doc})


def _env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True,
                   help="environment: settings from Pulumi.<env>.yaml; `local` targets the "
                        "stand-ins of `sfbilling local up`")
    _root_args(p)


def _root_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=None,
                   help="the repository: stack files and releases/ (default: the nearest "
                        "directory holding Pulumi.yaml, from here up)")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help="the local environment's state directory (for local stacks)")


def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="one JSON document on stdout at exit (human output goes to stderr)")


def _yes_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true",
                   help="go ahead without asking (needed when there is no terminal)")


ORG_COMMANDS: dict[str, tuple[str, str, Any]] = {
    "plan": ("show what apply would change in the org, and drift since the last apply",
             "Checks the org is the stack's first. Reads the org (describe, queries); changes "
             "nothing. Exit 8 when there are changes or drift.", _plan),
    "apply": ("deploy the org config: fields, permission set and its assignment, package "
              "settings, release stamp",
              "Changes only what differs from the release. Never deletes a field, record or "
              "permission; never touches Accounts or payment methods. Production asks first "
              "(--yes without a terminal).", _apply),
    "validate": ("check-only deploy of the org config; records the validation for a quick "
                 "deploy",
                 "Changes nothing in the org. Records the validation in the stack file "
                 "(sfbilling:prodValidation; commit it), where `pulumi up` finds it.",
                 _validate),
    "doctor": ("check the org is ready for the import; say what to fix",
               "Checks the org is the stack's first. Reads the org; changes nothing.", _doctor),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="sfbilling", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sfbilling {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local = sub.add_parser(
        "local", help="run the local stand-ins (Salesforce, Stripe, AWS)",
        description="Start (up) or stop (down) the local stand-ins for Salesforce, Stripe and "
                    "AWS on 127.0.0.1. Touches nothing outside this machine; writes its "
                    "endpoints and throwaway credentials to the state directory.")
    local.add_argument("action", choices=("up", "down"))
    local.add_argument("--json", dest="endpoints", type=Path, metavar="PATH",
                       help="up: also write endpoints and credentials to PATH (a server, not "
                            "a document)")
    local.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                       help="where certificates, logs and the pid file live (default .local)")
    local.set_defaults(func=_local, json=False)
    sync = sub.add_parser(
        "sync", help="run the Stripe → Salesforce Billing import once",
        description="Import Stripe customers and payment methods into Salesforce Billing "
                    "once: creates or links Accounts, inserts and updates payment methods, "
                    "deactivates the ones Stripe no longer has. Never deletes anything in "
                    "Salesforce, never writes card numbers, never writes to Stripe. "
                    "Secrets come from SFBILLING_<ENV>_STRIPE_API_KEY and "
                    "SFBILLING_<ENV>_SF_PRIVATE_KEY_FILE or SFBILLING_<ENV>_SF_CONSUMER_SECRET "
                    "(or the same names without <ENV>_).")
    _env_args(sync)
    sync.add_argument("--dry-run", action="store_true",
                      help="plan only: write nothing (not even the checkpoint) and take no "
                           "lease, so it never stands in the scheduled import's way")
    sync.add_argument("--sample", type=int, metavar="N", default=None,
                      help="with --dry-run: plan the first N customers only, and project the "
                           "full import's time from Stripe's limits (the default, with N = "
                           f"{DEFAULT_SAMPLE}, when the state table does not exist yet)")
    sync.add_argument("--recheck-unknown", action="store_true",
                      help="read again the linked customers classed as live-mode only (a "
                           "sandbox refreshed from production): docs/sync.md")
    sync.add_argument("--full", action="store_true",
                      help="full reconcile instead of reading events since the checkpoint")
    sync.add_argument("--allow-mass-deactivation", action="store_true",
                      help="confirm deactivations held back because they crossed "
                           "massDeactivationShare and massDeactivationCount")
    sync.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S, metavar="S",
                      help="stop at a segment boundary after about S seconds, saving progress "
                           f"for the next run (default {DEFAULT_TIME_LIMIT_S})")
    sync.add_argument("--json", nargs="?", const=True, default=False, metavar="PATH",
                      help="the report as one JSON document on stdout (`--json PATH`, writing "
                           "it to a file, is deprecated: use --json-file)")
    sync.add_argument("--json-file", type=Path, metavar="PATH",
                      help="also write the report as JSON to PATH")
    sync.set_defaults(func=_sync)
    reconcile = sub.add_parser(
        "reconcile", help="compare Stripe with Salesforce; say where they disagree",
        description="Compare every Stripe customer and payment method with Salesforce by id, "
                    "as the import would plan them, and report by category: customers no "
                    "Account carries, Accounts linked to customers Stripe does not know, rows "
                    "active in Salesforce but detached in Stripe, payment methods missing, "
                    "field mismatches, duplicates. Writes nothing to Salesforce or Stripe; "
                    "holds the import's lease while it reads and costs about what a full "
                    "import reads (docs/reconcile.md). Exit 8 when anything disagrees.")
    _env_args(reconcile)
    _json_arg(reconcile)
    reconcile.add_argument("--restart", action="store_true",
                           help="begin again instead of continuing a saved reconciliation")
    reconcile.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S,
                           metavar="S", help="stop at a segment boundary after about S "
                           "seconds, saving progress for the next reconcile (default "
                           f"{DEFAULT_TIME_LIMIT_S})")
    reconcile.set_defaults(func=_reconcile)
    config = sub.add_parser(
        "config", help="show an environment's resolved settings, and every problem",
        description="Show every key of an environment's stack file: value, source (stack file "
                    "or default), scope and consumers, every problem of the file, and what "
                    "`pulumi preview` or the CLI will refuse. Secrets show as set or unset, "
                    "never their value. Reads only the stack file and the environment; changes "
                    "nothing.")
    _env_args(config)
    _json_arg(config)
    config.set_defaults(func=_config)
    render = sub.add_parser(
        "render", help="render the org config to files and deployable zips (no org needed)",
        description="Render the org config of an environment to files, plus package.zip and "
                    "stamp.zip ready for the Metadata API. Reads no org and needs no "
                    "credentials.")
    _env_args(render)
    render.add_argument("--out", type=Path, required=True, help="output directory")
    render.add_argument("--format", choices=("metadata", "source"), default="metadata",
                        help="metadata (default: Metadata API format, package.zip and "
                             "stamp.zip, what apply deploys) or source (a force-app/ tree in "
                             "Salesforce DX source format and an sfdx-project.json, to merge "
                             "into an SFDX project)")
    _json_arg(render)
    render.set_defaults(func=_render)
    for name, (text, touches, func) in ORG_COMMANDS.items():
        cmd = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. "
                                                         f"{touches}")
        _env_args(cmd)
        _json_arg(cmd)
        if name == "apply":
            cmd.add_argument("--validated", metavar="ID",
                             help="quick-deploy this validation (the one the stack file records, "
                                  "for this release and org, within 10 days) instead of "
                                  "deploying")
            _yes_arg(cmd)
        if name in ("plan", "doctor"):
            cmd.add_argument("--read-only", action="store_true",
                             help="log in as the read-only user (SFBILLING_SF_READONLY_USERNAME, "
                                  "_CONSUMER_KEY, _PRIVATE_KEY_FILE: JWT, its own connected "
                                  "app), never the deploy user: where no deploy credential "
                                  "may be, e.g. a pull request's CI job (docs/ci.md)")
        cmd.set_defaults(func=func)
    promote = sub.add_parser(
        "promote", help="carry the sandbox's verified config to production",
        description="Copy the promotable keys of --from's stack file into --to's, after "
                    "checking that --from's org runs the release its config renders at this "
                    "commit; show the change (keys, the plan against --to's org with its drift, "
                    "the rendered files' diff); write only those keys (every other line of the "
                    "stack file stays byte for byte); with --validate, run a check-only deploy "
                    "against --to's org and record it; append a release record. Asks before "
                    "writing (--yes without a terminal); --dry-run writes nothing. Credentials "
                    "of both orgs: SFBILLING_<ENV>_SF_PRIVATE_KEY_FILE (or _SF_CONSUMER_SECRET) "
                    "per environment.")
    promote.add_argument("--from", dest="source", required=True, help="e.g. sandbox")
    promote.add_argument("--to", dest="target", required=True, help="e.g. prod")
    promote.add_argument("--validate", action="store_true",
                         help="check-only deploy against --to's org, recorded for a quick "
                              "deploy")
    promote.add_argument("--dry-run", action="store_true",
                         help="show the promotion, write nothing")
    promote.add_argument("--force", action="store_true",
                         help="promote although --from's org runs another release")
    promote.add_argument("--reason", help="why --force (recorded)")
    promote.add_argument("--allow-dirty", action="store_true",
                         help="promote from a git tree with uncommitted changes")
    _yes_arg(promote)
    _json_arg(promote)
    _root_args(promote)
    promote.set_defaults(func=_promote)
    releases = sub.add_parser(
        "releases", help="list the promotions recorded, and what each org runs now",
        description="List releases/releases.jsonl, then read each environment's release "
                    "stamp. Changes nothing.")
    releases.add_argument("--envs", nargs="+", default=["sandbox", "prod"],
                          help="environments to read (default: sandbox prod)")
    _json_arg(releases)
    _root_args(releases)
    releases.set_defaults(func=_releases)
    for name, text, func in (
            ("status", "the deployed import: last run, checkpoint age, lease holder, failed "
                       "rows, held-back deactivations", _status),
            ("failures", "the deployed import's failed rows, with their reasons", _failures)):
        cmd = sub.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}. "
                             "Reads the environment's state table (named as `pulumi up` names "
                             "it; AWS credentials from the default chain, region from the stack "
                             "file); changes nothing.")
        _env_args(cmd)
        _json_arg(cmd)
        cmd.set_defaults(func=func)
    events = sub.add_parser("events", help="the near-real-time path of Stripe's events",
                            description="Stripe's event destination → EventBridge → SQS → the "
                                        "function (docs/deploy.md, \"Stripe's events\").")
    events_sub = events.add_subparsers(dest="events_command", required=True, metavar="COMMAND")
    ping = events_sub.add_parser(
        "ping", help="check the whole path end to end with the destination's ping",
        description="Ask Stripe to send the destination's ping event, and wait until the "
                    "deployed function has received it (it records the time in the state "
                    "table; a ping starts no run). Needs the deploy key in "
                    f"{event_ops.ADMIN_KEY_VAR}. Exit 7 when it does not arrive in time.")
    _env_args(ping)
    ping.add_argument("--timeout", type=float, default=event_ops.PING_TIMEOUT_S,
                      help="seconds to wait for the function to receive it (default "
                           f"{event_ops.PING_TIMEOUT_S:g})")
    _json_arg(ping)
    ping.set_defaults(func=_events_ping)
    invoke = sub.add_parser(
        "invoke", help="start one run of the deployed import, asynchronously",
        description="Invoke the environment's deployed sync function once, asynchronously "
                    "(a run may take its whole timeout; follow it with `sfbilling status`), "
                    "with the handler's own payload keys. Changes what that run changes.")
    _env_args(invoke)
    invoke.add_argument("--full", action="store_true", help="a full reconcile")
    invoke.add_argument("--allow-mass-deactivation", action="store_true",
                        help="confirm the deactivations the limit held back")
    invoke.add_argument("--recheck-unknown", action="store_true",
                        help="read again the customers classed as live-mode only")
    invoke.add_argument("--reconcile", action="store_true",
                        help="a reconciliation instead of an import (docs/reconcile.md)")
    _json_arg(invoke)
    invoke.set_defaults(func=_invoke)
    return parser


def version() -> str:
    """The installed distribution's version."""
    try:
        return metadata_version("sfbilling-stripe")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sfbilling` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            return _quiet_pipe()
        return exc.code if isinstance(exc.code, int) else int(Exit.CONFIG)
    if getattr(args, "json_file", None) is None and isinstance(getattr(args, "json", None), str):
        args.json_path, args.json = Path(args.json), False  # the deprecated `--json PATH`
    elif hasattr(args, "json_file"):
        args.json_path = None
    if hasattr(args, "root"):
        args.root = find_root(Path.cwd()) if args.root is None else args.root
    out = Out(args.json is True)
    doc: dict[str, Any] = {"command": args.command}
    try:
        result = args.func(args, out)
        code = result.code
        doc.update(result.doc)
    except BrokenPipeError:
        return _quiet_pipe()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every error: one line
        code, message = report_error(exc)
        doc["error"] = message
    doc["exit_code"] = int(code)
    try:
        if out.json:
            print(json.dumps(doc, indent=2, sort_keys=True, default=str))
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
    except BrokenPipeError:
        return _quiet_pipe()
    return int(code)


def _quiet_pipe() -> int:
    # The reader went away (`sfbilling plan | head`): stop quietly, with the status of a process
    # ended by SIGPIPE, as Unix tools do; stdout goes nowhere from here on, so the
    # interpreter's own flush at exit cannot fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
