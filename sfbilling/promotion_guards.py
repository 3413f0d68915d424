"""Promotion's refusals, pure so they can be pinned down (`make mutation`): each takes what
`sfbilling.promotion` read from git, the stacks and the orgs, and raises PromotionRefusedError
naming the fix, or returns. Nothing here reads or writes anything."""

from __future__ import annotations

from sfbilling.release_log import PromotionRefusedError
from sync_lambda.settings import stripe_key_problems

# A release is named by the first characters of its content hash, as `git` names commits.
SHORT = 12


def check_request(source: str, target: str, *, force: bool, reason: str | None) -> None:
    """The command line asks for something a promotion can do."""
    if source == target:
        raise PromotionRefusedError(f"--from and --to are both {source}")
    if force and not reason:
        raise PromotionRefusedError('--force needs --reason "why": it is recorded')


def check_clean(porcelain: str) -> None:
    """The tree is committed (`porcelain`: `git status --porcelain --untracked-files=no`), so
    the release record can name what was promoted."""
    if porcelain:
        raise PromotionRefusedError(
            "the git tree has uncommitted changes, so the release record could not name what "
            "was promoted: commit them first, or pass --allow-dirty\n" + porcelain)


def check_stripe_key(var: str, key: str | None, kind: str) -> None:
    """A live key for a sandbox, or a test key for production, is refused (the promotion
    carries keys between the two); no key on this machine is not checked here."""
    problems = stripe_key_problems(key, kind) if key else []
    if problems:
        raise PromotionRefusedError(f"{var}: {problems[0]}")


def check_source_kind(source: str, kind: str) -> None:
    """Promotion goes from a sandbox: a production stack is never the source."""
    if kind == "production":
        raise PromotionRefusedError(f"{source} is a production stack: promote from the sandbox "
                                    "the change was verified in")


def check_source_runs(source: str, running: str | None, verified: str, *,
                      forced: bool) -> None:
    """The source org runs the release its config renders at this commit (`verified`): only
    what the sandbox runs is promoted, unless forced (with a recorded reason)."""
    if running != verified and not forced:
        raise PromotionRefusedError(
            f"the {source} org runs release {(running or 'none')[:SHORT]}, but {source}'s "
            f"config at this commit renders {verified[:SHORT]}: only what the sandbox runs "
            f"is promoted. Apply it there and verify it (`sfbilling apply --env {source}`, or "
            f"`pulumi up` on the {source} stack), or promote anyway with --force --reason "
            '"why"')


def check_target_renders(source: str, target: str, *, rendered: str, verified: str) -> None:
    """After the promoted keys are written, the target renders exactly the source's release:
    a key that changes the org config and is not promotable is a schema defect."""
    if rendered != verified:
        raise PromotionRefusedError(
            f"{target} would render release {rendered[:SHORT]}, not {source}'s "
            f"{verified[:SHORT]}: a key that changes the org config is not promotable (a "
            "schema defect; report it)")
