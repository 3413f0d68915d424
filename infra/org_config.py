"""OrgConfig: the Salesforce org configuration as a Pulumi resource (a dynamic provider around
`metadata.deployer`), so one preview shows an infra change and `Payment creation batch size:
50 → 70` side by side, and one `pulumi up` applies both.

- create / update run the deployer's apply. When `environmentKind` is production the metadata
  goes in validated first: a recorded validation of this release on this org (the validation
  record, releases/validations.jsonl) is quick-deployed; without one, the provider validates
  (a check-only deploy at the configured test level, recorded) and then quick-deploys it.
- diff compares the content hash (and the target org): nothing changed, no diff.
- read (`pulumi refresh`) plans against the org; drift or a change made by hand shows in the
  `drift` output and makes the next `pulumi up` apply the release again.
- delete leaves the org as it is: removing fields that hold data, or a permission set users
  hold, is not a rollback. Remove them by hand if you mean it (docs/deploy.md).

The engine pickles the provider (dill, by reference: this module must import without side
effects). It holds nothing: no client, session or secret. Credentials arrive as inputs, which
the program marks secret; outputs of the same name are secret again in the state.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

import metadata.config as org_settings
from infra.paths import ROOT
from metadata.deployer import OrgConfigError, OrgDeployer
from metadata.render import Release, content_hash, render_release
from metadata.validations import VALIDATIONS_FILE, ValidationLog, now_utc
from sync_lambda.adapters.salesforce_connection import SalesforceConnection, SalesforceCredentials

if TYPE_CHECKING:
    from collections.abc import Mapping

VALIDATIONS_VAR: Final = "SFBILLING_VALIDATIONS_FILE"
PRODUCTION: Final = "production"
SECRET_INPUTS: Final = ("private_key", "consumer_secret")
# A change of any of these is a change to apply (credentials: a rotated key is stored again).
TRACKED: Final = ("content_hash", "config", "org_id", "login_url", "auth_flow", "consumer_key",
                  "username", "api_version", "environment_kind", *SECRET_INPUTS)
# Another org is another resource.
REPLACING: Final = ("org_id", "login_url")
DRIFTED: Final = "drifted:"
OUTPUTS: Final = ("deployed_org_id", "applied", "drift", "deploy_mode")


def validation_log(environ: Mapping[str, str] = os.environ) -> ValidationLog:
    """The validation record of this checkout (`VALIDATIONS_VAR` names another file, by an
    absolute path: tests, or a release job that keeps it elsewhere). Commit it after `pulumi
    up`: it is how the next production deploy finds the validation to quick-deploy.

    A relative value is refused (OrgConfigError): the plugin once read it against infra/ and
    wrote production's record there, silently, where neither the CLI nor the next deploy
    looked."""
    given = environ.get(VALIDATIONS_VAR, "").strip()
    if given and not Path(given).expanduser().is_absolute():
        raise OrgConfigError(
            f"{VALIDATIONS_VAR}={given!r} is a relative path: give an absolute one, or unset it "
            f"to use {ROOT / VALIDATIONS_FILE} (the file `sfbilling validate` and `promote` "
            "write)")
    return ValidationLog(Path(given).expanduser() if given else ROOT / VALIDATIONS_FILE)


def _progress(message: str) -> None:
    # stderr: the provider's stdout belongs to the engine's handshake.
    print(f"OrgConfig: {message}", file=sys.stderr)  # noqa: T201


def release_of(props: Mapping[str, Any]) -> Release:
    """The release the inputs describe, rendered again from its config."""
    config = org_settings.OrgConfig(**json.loads(props["config"]))
    release = render_release(config)
    if release.content_hash != props["content_hash"].removeprefix(DRIFTED):
        raise OrgConfigError(
            f"the config renders release {release.content_hash[:12]}, but the program asked "
            f"for {props['content_hash'][:12]}: the provider's templates differ from the "
            "program's; run `pulumi up` from one checkout")
    return release


def _deployer(props: Mapping[str, Any]) -> OrgDeployer:
    credentials = SalesforceCredentials(
        flow=props["auth_flow"], login_url=props["login_url"],
        consumer_key=props["consumer_key"], username=props.get("username"),
        api_version=props["api_version"], timeout_s=float(props["timeout_s"]),
        private_key=props.get("private_key"), consumer_secret=props.get("consumer_secret"))
    return OrgDeployer(SalesforceConnection(credentials), assignee=props.get("username"),
                       sandbox=props["environment_kind"] != PRODUCTION, progress=_progress,
                       expected_org_id=props.get("org_id"))


def _apply(props: Mapping[str, Any]) -> dict[str, Any]:
    """Bring the org to the release; the outputs to store."""
    release = release_of(props)
    production = props["environment_kind"] == PRODUCTION
    log = validation_log() if production else None  # a bad path stops before any call
    deployer = _deployer(props)
    org_id = deployer.checked_org_id(props["env"])
    validated_id, mode = None, "deploy"
    if log is not None:
        record = log.latest(release=release.content_hash, org_id=org_id, now=now_utc())
        if record is None and deployer.plan(release).metadata_changed:
            _progress(f"validating release {release.content_hash[:12]} first (production)")
            record = deployer.validate(release, validations=log, env=props["env"])
            mode = f"validated {record.validation_id}, then quick deploy"
        elif record is not None:
            mode = f"quick deploy of recorded validation {record.validation_id}"
        validated_id = record.validation_id if record is not None else None
        plan = deployer.apply(release, validated_id=validated_id, validations=log,
                              env=props["env"])
    else:
        plan = deployer.apply(release)
    if not plan.metadata_changed:
        mode = "no metadata deploy needed"
    return {**props, "content_hash": release.content_hash, "deployed_org_id": org_id,
            "applied": [line.strip() for line in plan.render().splitlines()],
            "drift": [], "deploy_mode": mode}


class OrgConfigProvider(ResourceProvider):
    """The dynamic provider. Stateless: every method builds what it needs from its props."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Render the release at preview time: a template or config error shows then."""
        try:
            release_of(news)
        except (OrgConfigError, TypeError, ValueError) as exc:
            return CheckResult(news, [CheckFailure("config", str(exc))])
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """`olds` are the stored outputs: the inputs of the last apply, plus its outputs."""
        changed = [k for k in TRACKED if olds.get(k) != news.get(k)]
        replaces: list[str] = [k for k in REPLACING if k in changed]
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _apply(props)
        return CreateResult(id_=outs["deployed_org_id"], outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Full outputs every time: an UpdateResult without them empties the state.
        return UpdateResult(outs=_apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: what differs between the org and the stored release."""
        release = release_of(props)
        plan = _deployer(props).plan(release)
        drift = [*plan.drift, *(i.detail or f"{i.name}: {i.action}" for i in plan.changes)]
        outs = {**props, "drift": drift,
                "content_hash": f"{DRIFTED}{release.content_hash}" if drift
                else release.content_hash}
        return ReadResult(id_=id_, outs=outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Leave the org as it is (the module docstring says why)."""
        _progress("removed from the stack; the org keeps its fields, permission set and "
                  "settings (docs/deploy.md)")


@dataclass(frozen=True, slots=True)
class OrgConfigArgs:
    """The release and the org it goes to."""

    config: org_settings.OrgConfig
    env: str
    environment_kind: str
    org_id: str | None
    credentials: SalesforceCredentials  # without its secrets: they come below
    private_key: pulumi.Input[str] | None
    consumer_secret: pulumi.Input[str] | None


def inputs_of(args: OrgConfigArgs) -> dict[str, Any]:
    """The resource's inputs (secrets as given: secret Outputs)."""
    release = render_release(args.config)
    creds = args.credentials
    config = {name: getattr(args.config, name) for name in org_settings.KEYS}
    return {
        "content_hash": release.content_hash,
        "metadata_digest": content_hash(release.metadata_files),
        "settings": {s.label: s.value for s in release.settings},
        "config": json.dumps(config, sort_keys=True),
        "env": args.env, "environment_kind": args.environment_kind, "org_id": args.org_id,
        "login_url": creds.login_url, "auth_flow": creds.flow,
        "consumer_key": creds.consumer_key, "username": creds.username,
        "api_version": creds.api_version, "timeout_s": creds.timeout_s,
        "private_key": args.private_key, "consumer_secret": args.consumer_secret,
        **dict.fromkeys(OUTPUTS),
    }


class OrgConfig(pulumi.dynamic.Resource, module="salesforce", name="OrgConfig"):
    """The org configuration of one environment."""

    content_hash: pulumi.Output[str]
    deployed_org_id: pulumi.Output[str]
    drift: pulumi.Output[list[str]]
    deploy_mode: pulumi.Output[str]

    def __init__(self, name: str, args: OrgConfigArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_INPUTS))
        super().__init__(OrgConfigProvider(), name, inputs_of(args),
                         pulumi.ResourceOptions.merge(opts, secret))
