"""OrgConfig: the Salesforce org configuration as a Pulumi resource (a dynamic provider around
`metadata.deployer`), so one preview shows an infra change and `Payment creation batch size:
50 → 70` side by side, and one `pulumi up` applies both.

- create / update run the deployer's apply. When `environmentKind` is production the metadata
  goes in validated first: the validation the stack file records (`sfbilling:prodValidation`,
  written by `sfbilling validate` or `promote --validate`) is quick-deployed if it ran for this
  release on this org within Salesforce's window and is not the one this resource already
  quick-deployed (`quick_deployed_id`, in its own outputs: Salesforce allows a quick deploy
  once). Otherwise, or when Salesforce refuses it, the provider validates again (a check-only
  deploy at the configured test level) and quick-deploys that. Nothing is written back to the
  checkout.
- diff compares the content hash (and the target org): nothing changed, no diff.
- read (`pulumi refresh`) reads the org against the release the state holds (its hash, config
  and settings), never re-rendering it: templates may have changed since. Drift or a change
  made by hand shows in the `drift` output and makes the next `pulumi up` apply again.
- delete leaves the org as it is: removing fields that hold data, or a permission set users
  hold, is not a rollback. Remove them by hand if you mean it (docs/deploy.md).

The engine pickles the provider (dill, by reference: this module must import without side
effects, and the class stays where infra/pickled.py says). It holds nothing: no client, session
or secret. Credentials arrive as inputs, which the program marks secret; outputs of the same
name are secret again in the state.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
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
from infra.apply_secrets import ApplySecretError, secret_value
from metadata.deployer import OrgConfigError, OrgDeployer, QuickDeployRefusedError
from metadata.render import Release, applied_release, content_hash, render_release
from metadata.validations import (
    ValidationRecord,
    ValidationRefusedError,
    now_utc,
    refusal,
)
from sync_lambda.adapters.salesforce_connection import SalesforceConnection, SalesforceCredentials

if TYPE_CHECKING:
    from collections.abc import Mapping

PRODUCTION: Final = "production"
SECRET_INPUTS: Final = ("private_key", "consumer_secret")
# A change of any of these is a change to apply (credentials: a rotated key is stored again).
TRACKED: Final = ("content_hash", "config", "org_id", "login_url", "auth_flow", "consumer_key",
                  "username", "assignee", "audience", "api_version", "environment_kind",
                  "credential_arn", *SECRET_INPUTS)
# Another org is another resource.
REPLACING: Final = ("org_id", "login_url")
DRIFTED: Final = "drifted:"
OUTPUTS: Final = ("deployed_org_id", "applied", "drift", "deploy_mode", "quick_deployed_id")


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


def _credential(props: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(private key, consumer secret): the secret inputs, or the one `credential_arn` names,
    read now (apply time) for the configured flow."""
    arn = props.get("credential_arn")
    if not arn:
        return props.get("private_key"), props.get("consumer_secret")
    try:
        value = secret_value(str(arn), endpoint_url=props.get("aws_endpoint_url"))
    except ApplySecretError as exc:
        raise OrgConfigError(f"the deploy user's credential: {exc}") from None
    return (value, None) if props["auth_flow"] == "jwt" else (None, value)


def _deployer(props: Mapping[str, Any]) -> OrgDeployer:
    private_key, consumer_secret = _credential(props)
    credentials = SalesforceCredentials(
        flow=props["auth_flow"], login_url=props["login_url"],
        consumer_key=props["consumer_key"], username=props.get("username"),
        api_version=props["api_version"], timeout_s=float(props["timeout_s"]),
        # A state written before the audience was an input logged in as login.salesforce.com.
        audience=props.get("audience") or "login",
        private_key=private_key, consumer_secret=consumer_secret)
    # Before the deploy user existed, the one user both deployed and was assigned.
    assignee = props.get("assignee") or props.get("username")
    return OrgDeployer(SalesforceConnection(credentials), assignee=assignee,
                       sandbox=props["environment_kind"] != PRODUCTION, progress=_progress,
                       expected_org_id=props.get("org_id"))


def _recorded(props: Mapping[str, Any]) -> ValidationRecord | None:
    text = props.get("validation")
    if not text:
        return None
    try:
        return ValidationRecord.from_json(str(text))
    except ValidationRefusedError as exc:
        raise OrgConfigError(str(exc)) from None


def _production_apply(deployer: OrgDeployer, release: Release, props: Mapping[str, Any],
                      org_id: str, used: str | None) -> tuple[Any, str, str | None]:
    """Validate-first: (plan carried out, how, the validation quick-deployed)."""
    env = props["env"]
    if not deployer.plan(release).metadata_changed:
        return deployer.apply(release, env=env), "no metadata deploy needed", used
    record = _recorded(props)
    why = "no validation recorded" if record is None else refusal(
        record, release=release.content_hash, org_id=org_id, now=now_utc(),
        quick_deployed_id=used)
    if record is not None and why is None:
        try:
            plan = deployer.apply(release, validated=record, env=env)
        except QuickDeployRefusedError as exc:
            if deployer.changed:
                raise
            _progress(f"{exc}; validating again")
        else:
            return plan, f"quick deploy of recorded validation {record.validation_id}", \
                record.validation_id
    else:
        _progress(f"{why}: validating release {release.content_hash[:12]} first (production)")
    fresh = deployer.validate(release, env=env)
    plan = deployer.apply(release, validated=fresh, env=env)
    return plan, f"validated {fresh.validation_id}, then quick deploy", fresh.validation_id


def _apply(props: Mapping[str, Any], olds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Bring the org to the release; the outputs to store (`olds`: the stored outputs, on an
    update)."""
    release = release_of(props)
    deployer = _deployer(props)
    org_id = deployer.checked_org_id(props["env"])
    used = (olds or {}).get("quick_deployed_id")
    if props["environment_kind"] == PRODUCTION:
        plan, mode, used = _production_apply(deployer, release, props, org_id, used)
    else:
        plan = deployer.apply(release, env=props["env"])
        mode = "deploy" if plan.metadata_changed else "no metadata deploy needed"
    return {**props, "content_hash": release.content_hash, "deployed_org_id": org_id,
            "applied": [line.strip() for line in plan.render().splitlines()],
            "drift": [], "deploy_mode": mode, "quick_deployed_id": used}


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

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Full outputs every time: an UpdateResult without them empties the state.
        return UpdateResult(outs=_apply(news, olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: what differs between the org and the stored release (never re-rendered:
        the templates of this checkout may render another release by now)."""
        stored = str(props["content_hash"]).removeprefix(DRIFTED)
        config = org_settings.OrgConfig(**json.loads(props["config"]))
        release = applied_release(stored, config)
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
    credentials: SalesforceCredentials  # the deploy user's, without its secrets (below)
    assignee: str | None  # the integration user, who gets the permission set
    private_key: pulumi.Input[str] | None
    consumer_secret: pulumi.Input[str] | None
    validation: str | None = None  # sfbilling:prodValidation, the record to quick-deploy
    # Instead of the two above: the Secrets Manager secret holding the credential, read at
    # apply time (sfbilling:salesforceDeploySecretArn), and where AWS answers (the stand-in).
    credential_arn: str | None = None
    aws_endpoint_url: str | None = None


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
        "assignee": args.assignee, "audience": creds.audience,
        "api_version": creds.api_version, "timeout_s": creds.timeout_s,
        "private_key": args.private_key, "consumer_secret": args.consumer_secret,
        "validation": args.validation, "credential_arn": args.credential_arn,
        "aws_endpoint_url": args.aws_endpoint_url,
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
