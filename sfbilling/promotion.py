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
import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
from sfbilling.promotion_guards import (
    check_clean,
    check_request,
    check_source_kind,
    check_source_runs,
    check_stripe_key,
    check_target_renders,
)
from sfbilling.release_log import (
    RELEASES_FILE,
    PromotionRefusedError,
    ReleaseLog,
    ReleaseRecord,
)
from stackconfig.errors import StackConfigError
from stackconfig.promotion import KeyChange, promotable_changes
from stackconfig.resolve import StackConfig, resolve
from stackconfig.stackfile import RawValue, read_stack_file, stack_path
from stackconfig.stackwrite import write_keys
from sync_lambda.errors import SyncError

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping
    from pathlib import Path

    from metadata.deployer import Plan

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
    check_clean(dirty)


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
    check_request(source, target, force=force_reason is not None, reason=force_reason)
    if not allow_dirty:
        _check_clean(root)
    src = org_target(source, root=root, state_dir=state_dir, environ=environ)
    dst = org_target(target, root=root, state_dir=state_dir, environ=environ)
    for env, stack in ((source, src.stack), (target, dst.stack)):
        check_stripe_key(*stripe_key_from_env(environ, env), stack.kind)
    check_source_kind(source, src.stack.kind)
    verified = render_release(src.config)
    src_deployer = deployer_for(src, progress=progress)
    src_deployer.checked_org_id(source)
    check_source_runs(source, src_deployer.running_release(), verified.content_hash,
                      forced=force_reason is not None)
    changes = promotable_changes(src.stack, dst.stack)
    target_file = stack_path(target, root).read_bytes()
    raw = read_stack_file(target, root)
    for c in changes:
        raw[c.key] = RawValue(c.new)
    after = resolve(raw, env=target, source=str(stack_path(target, root)))
    release = render_release(OrgConfig.from_stack(after))
    check_target_renders(source, target, rendered=release.content_hash,
                         verified=verified.content_hash)
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
