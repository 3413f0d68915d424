"""`sfbilling promote --from sandbox --to prod`: carry exactly what the sandbox runs to production
— shown, validated, written, recorded.

prepare() reads both stacks and both orgs and changes nothing; it refuses (PromotionRefused,
naming the fix) when the sandbox org does not run the release its config renders at this
commit, when the tree is dirty, or when an org is not the one its stack names. carry_out() then
writes the promotable keys into the target's stack file (every other line byte for byte),
optionally validates against the target org (recorded for the quick deploy), and appends a
release record to releases/releases.jsonl.
"""

from __future__ import annotations

import difflib
import getpass
import json
import os
import subprocess
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final

from infra.lambda_package import for_program
from infra.release import git, git_commit, release_id
from metadata.config import OrgConfig
from metadata.render import Release, render_release
from metadata.validations import now_utc
from sfbilling.environments import (
    deployer_for,
    org_target,
    record_validation,
    stripe_key_from_env,
)
from stackconfig.errors import StackConfigError
from stackconfig.promotion import KeyChange, promotable_changes
from stackconfig.resolve import StackConfig, resolve
from stackconfig.stackfile import RawValue, read_stack_file, stack_path
from stackconfig.stackwrite import write_keys
from sync_lambda.errors import SyncError
from sync_lambda.settings import stripe_key_problems

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping
    from pathlib import Path

    from metadata.deployer import Plan

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


class ReleaseLog:
    """The JSON Lines file of promotions, committed with the repository."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[ReleaseRecord]:
        """Every record, oldest first (PromotionRefusedError naming the line that is not one:
        a merge conflict or a hand edit)."""
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(ReleaseRecord(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise PromotionRefusedError(
                    f"{self.path}:{n} is not a release record ({exc}): fix or remove that line "
                    "(each line is one JSON object written by `sfbilling promote`)") from None
        return out

    def append(self, record: ReleaseRecord) -> None:
        """Add one record at the end."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(asdict(record), sort_keys=True) + "\n")


@dataclass(frozen=True, slots=True)
class Promotion:
    """What a promotion would do, worked out before anything changes."""

    source: str
    target: str
    root: Path
    changes: list[KeyChange]
    release: Release  # what the target renders after the promotion (= what the source runs)
    target_stack: StackConfig  # the target's config after the promotion
    plan: Plan  # the release against the target org: settings, metadata, drift
    files_diff: str  # the target's rendered files, before → after
    forced_reason: str | None
    target_file: bytes = b""  # the target's stack file as it was read: written only if unchanged

    def render(self) -> str:
        """The change for the target, as reviewers read it."""
        lines = [f"promote {self.source} → {self.target} (release "
                 f"{self.release.content_hash[:12]})", "",
                 f"config ({stack_path(self.target, self.root).name}):"]
        lines += [f"  {c.key}: {c.old if c.old is not None else '(unset)'} → "
                  f"{c.new if c.new is not None else '(unset)'}" for c in self.changes] \
            or ["  no key changes"]
        lines += ["", f"{self.target} org (plan, drift included):", self.plan.render(), "",
                  "rendered files:", self.files_diff or "  no change"]
        if self.forced_reason:
            lines += ["", f"forced: {self.forced_reason}"]
        return "\n".join(lines)


def _check_clean(root: Path) -> None:
    try:
        dirty = git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        raise PromotionRefusedError(f"{root} is not a git checkout: a promotion records the "
                                    "commit it promotes") from None
    if dirty:
        raise PromotionRefusedError(
            "the git tree has uncommitted changes, so the release record could not name what "
            "was promoted: commit them first, or pass --allow-dirty\n" + dirty)


def _check_stripe_key(environ: Mapping[str, str], env: str, kind: str) -> None:
    """A live key for a sandbox, or a test key for production, is refused here too, when the
    environment's key is on this machine (the promotion carries keys between the two)."""
    var, key = stripe_key_from_env(environ, env)
    if key:
        problems = stripe_key_problems(key, kind)
        if problems:
            raise PromotionRefusedError(f"{var}: {problems[0]}")


def _files_diff(before: Release, after: Release) -> str:
    out: list[str] = []
    for path in sorted(set(before.files) | set(after.files)):
        old, new = before.files.get(path, ""), after.files.get(path, "")
        if old != new:
            out += difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        f"{path} (now)", f"{path} (promoted)")
    return "".join(out).rstrip("\n")


def prepare(source: str, target: str, *, root: Path, state_dir: Path,
            environ: MutableMapping[str, str] | None = None, force_reason: str | None = None,
            allow_dirty: bool = False,
            progress: Callable[[str], None] = lambda _m: None) -> Promotion:
    """Work out the promotion; change nothing (PromotionRefusedError / StackConfigError)."""
    environ = os.environ if environ is None else environ
    if source == target:
        raise PromotionRefusedError(f"--from and --to are both {source}")
    if not allow_dirty:
        _check_clean(root)
    src = org_target(source, root=root, state_dir=state_dir, environ=environ)
    dst = org_target(target, root=root, state_dir=state_dir, environ=environ)
    for env, stack in ((source, src.stack), (target, dst.stack)):
        _check_stripe_key(environ, env, stack.kind)
    if src.stack.kind == "production":
        raise PromotionRefusedError(f"{source} is a production stack: promote from the sandbox "
                                    "the change was verified in")
    verified = render_release(src.config)
    src_deployer = deployer_for(src, progress=progress)
    src_deployer.checked_org_id(source)
    running = src_deployer.running_release()
    if running != verified.content_hash and force_reason is None:
        raise PromotionRefusedError(
            f"the {source} org runs release {(running or 'none')[:12]}, but {source}'s config "
            f"at this commit renders {verified.content_hash[:12]}: only what the sandbox runs "
            f"is promoted. Apply it there and verify it (`sfbilling apply --env {source}`, or "
            f"`pulumi up` on the {source} stack), or promote anyway with --force --reason "
            "\"why\"")
    changes = promotable_changes(src.stack, dst.stack)
    target_file = stack_path(target, root).read_bytes()
    raw = read_stack_file(target, root)
    for c in changes:
        raw[c.key] = RawValue(c.new)
    after = resolve(raw, env=target, source=str(stack_path(target, root)))
    release = render_release(OrgConfig.from_stack(after))
    if release.content_hash != verified.content_hash:
        raise PromotionRefusedError(
            f"{target} would render release {release.content_hash[:12]}, not {source}'s "
            f"{verified.content_hash[:12]}: a key that changes the org config is not "
            "promotable (a schema defect; report it)")
    dst_deployer = deployer_for(dst, progress=progress)
    dst_deployer.checked_org_id(target)  # a refreshed or wrong production org: stop here
    plan = dst_deployer.plan(release)
    return Promotion(source, target, root, changes, release, after, plan,
                     _files_diff(render_release(dst.config), release), force_reason,
                     target_file)


def carry_out(promotion: Promotion, *, validate: bool, state_dir: Path,
              environ: MutableMapping[str, str] | None = None,
              progress: Callable[[str], None] = lambda _m: None) -> ReleaseRecord:
    """Write the keys, validate against the target org if asked, record the release."""
    environ = os.environ if environ is None else environ
    p = promotion
    package = for_program(environ)  # before writing: a missing package changes nothing
    commit = git_commit(p.root)  # what is promoted: the checkout before the stack file changes
    keys = {c.key: c.new for c in p.changes}
    validation_id = None
    if validate:  # first: a failed validation writes nothing
        dst = org_target(p.target, root=p.root, state_dir=state_dir, environ=environ)
        record = deployer_for(dst, progress=progress).validate(p.release, env=p.target)
        validation_id = record.validation_id
        # The promoted keys and the validation, in one guarded write.
        record_validation(p.target, p.root, record, also=keys, expected=p.target_file)
    elif keys:
        write_keys(stack_path(p.target, p.root), keys, expected=p.target_file)
    release = ReleaseRecord(
        release_id=release_id(commit, p.target_stack.config_hash, package.sha256),
        commit=commit, config_hash=p.target_stack.config_hash,
        package_sha256=package.sha256, release=p.release.content_hash,
        validation_id=validation_id, from_env=p.source, to_env=p.target, who=_who(p.root),
        when=now_utc().isoformat(), forced_reason=p.forced_reason)
    ReleaseLog(p.root / RELEASES_FILE).append(release)
    return release


def _who(root: Path) -> str:
    try:
        email = git(root, "config", "user.email")
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email or getpass.getuser()


@dataclass(frozen=True, slots=True)
class Running:
    """What one environment's org runs now."""

    env: str
    release: str | None  # None: never applied
    problem: str = ""  # why it could not be read


def running(envs: list[str], *, root: Path, state_dir: Path,
            environ: MutableMapping[str, str] | None = None) -> list[Running]:
    """The release each environment's org runs (read from its release stamp)."""
    out = []
    for env in envs:
        try:
            target = org_target(env, root=root, state_dir=state_dir, environ=environ)
            deployer = deployer_for(target)
            deployer.checked_org_id(env)
            out.append(Running(env, deployer.running_release()))
        except (SyncError, StackConfigError, OSError) as exc:
            out.append(Running(env, None, str(exc).splitlines()[0]))
    return out
