"""A stack's raw configuration → a typed, frozen `StackConfig`, strictly, every problem at once
and before any network call; and what each consumer takes from it (the Lambda's environment
variables, resource names).

Strict means: a key in a namespace close to ours (`sfbiling:`) or an unknown key of ours names
the nearest valid key; values are the text forms `pulumi config set` stores; `null` means the
default of an optional key; a secret in clear text, a placeholder left in a stack file, or a
mapping where text belongs are errors that say what to run.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from stackconfig.errors import StackConfigError
from stackconfig.schedule import schedule_problem
from stackconfig.schema import (
    BY_FULL,
    CONFIG_VERSION_LENGTH,
    EVENTS_SCHEDULE_DEFAULT,
    FOREIGN_NAMESPACES,
    KEYS,
    LAMBDA,
    NAMESPACE,
    Key,
    key,
)
from stackconfig.stackfile import RawValue
from sync_lambda.login_hosts import audience_problem

if TYPE_CHECKING:
    from collections.abc import Mapping

PLACEHOLDER: Final = re.compile(r"^<.*>$", re.DOTALL)
DEFAULT, STACK_FILE, OVERRIDE = "default", "stack file", "local environment"


@dataclass(frozen=True, slots=True)
class StackConfig:
    """One environment's configuration: every key's value (defaults filled in), where each came
    from, and which secrets are set. Secret values are known only inside the Pulumi program."""

    env: str
    source: str
    values: Mapping[str, Any]  # by key name; secrets are not here
    origins: Mapping[str, str]  # by key name: "stack file", "default" or "local environment"
    secrets_set: frozenset[str] = frozenset()
    secret_values: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> Any:
        return self.values[key(name).name]

    @property
    def kind(self) -> str:
        """production, sandbox or local."""
        return str(self.values["environmentKind"])

    @property
    def resource_prefix(self) -> str:
        """The prefix of this stack's AWS resource names."""
        return str(self.values["resourcePrefix"] or f"sfbilling-{self.env}")

    @property
    def table_name(self) -> str:
        """The state table's name."""
        return f"{self.resource_prefix}-state"

    @property
    def function_name(self) -> str:
        """The sync Lambda's name (also its metrics' `service` dimension)."""
        return f"{self.resource_prefix}-sync"

    @property
    def events_rule_name(self) -> str:
        """The rule on the partner bus that sends Stripe's events to the queue (how `sfbilling`
        finds the bus, and so the destination, without the Pulumi state)."""
        return f"{self.resource_prefix}-stripe-events"

    @property
    def events_queue_name(self) -> str:
        """The queue of Stripe's events (its DLQ: this name + "-dlq")."""
        return f"{self.resource_prefix}-events"

    def secret(self, name: str) -> str | None:
        """A secret's value, where it is known (the Pulumi program); never printed."""
        return self.secret_values.get(key(name).name)

    @property
    def config_hash(self) -> str:
        """SHA-256 of every non-secret value: the configuration part of a release id."""
        text = json.dumps(dict(self.values), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _close_to_ours(namespace: str) -> bool:
    plain = re.sub(r"[^a-z0-9]", "", namespace.lower())
    return plain == NAMESPACE or _distance(plain, NAMESPACE) <= 2


def nearest(name: str) -> str | None:
    """The declared key closest to `name` (any case), as written in a stack file."""
    ours = {k.name.lower(): k for k in KEYS if ":" not in k.name}
    low = name.lower()
    # A key the typo starts (or is part of) is meant before one that merely looks alike.
    for pool in ([n for n in ours if n.startswith(low)], [n for n in ours if low in n]):
        if pool:
            best = max(pool, key=lambda n: difflib.SequenceMatcher(None, low, n).ratio())
            return ours[best].full
    found = difflib.get_close_matches(low, list(ours), n=1, cutoff=0.6)
    return ours[found[0]].full if found else None


def _hint(name: str) -> str:
    close = nearest(name)
    return f"did you mean `{close}`?" if close else \
        "the keys are listed in docs/configuration.md and by `sfbilling config --env ENV`"


def _check_names(raw: Mapping[str, RawValue]) -> list[str]:
    problems = []
    for full in raw:
        namespace, sep, name = full.partition(":")
        if not sep:
            problems.append(f"{full}: a key without a namespace; {_hint(full)}")
        elif namespace == NAMESPACE:
            if full not in BY_FULL:
                problems.append(f"{full}: unknown key; {_hint(name)}")
        elif namespace in FOREIGN_NAMESPACES:
            continue
        elif _close_to_ours(namespace):
            problems.append(f"{full}: namespace `{namespace}:` is not `{NAMESPACE}:`; "
                            f"{_hint(name)}")
    return problems


def _value(k: Key, raw: RawValue | None, env: str, problems: list[str]) -> Any:
    """The typed value of one non-secret key (None when unset and optional)."""
    if raw is not None and raw.secure:
        problems.append(f"{k.full}: encrypted, but it is not a secret: set it in clear with "
                        f"`{k.set_command(env)}`")
        return None
    value = None if raw is None else raw.value
    if isinstance(value, str) and PLACEHOLDER.match(value.strip()):
        problems.append(f"{k.full}: the placeholder {value!r} is still in the stack file: "
                        f"`{k.set_command(env)}`")
        return None
    if value is None:
        if k.required:
            said = "has no value" if raw is not None else "is not set"
            problems.append(f"{k.full} {said}, and it is required: `{k.set_command(env)}`")
            return None
        return None if k.default is None else k.kind.parse(k.default)
    try:
        return k.kind.parse(value)
    except ValueError as exc:
        problems.append(f"{k.full}: {exc}")
        return None


def _secret(k: Key, raw: RawValue | None, env: str, problems: list[str],
            known: dict[str, Any]) -> bool:
    """Whether a secret key is set (encrypted), and its value where it is known."""
    if raw is None or (raw.value is None and not raw.secure):
        return False
    if not raw.secure:
        problems.append(f"{k.full} is in clear text: remove it from the stack file and set it "
                        f"encrypted with `{k.set_command(env)}`")
        return False
    if raw.value is not None:
        try:
            known[k.name] = k.kind.parse(raw.value)
        except ValueError as exc:
            problems.append(f"{k.full}: {exc}")
    return True


def resolve(raw: Mapping[str, RawValue], *, env: str, source: str,
            overrides: Mapping[str, str] | None = None,
            require_secrets: bool = False) -> StackConfig:
    """Check every key of a stack and type its values (StackConfigError listing every problem).

    `overrides`: values that replace the stack file's (the local stand-ins' endpoints).
    `require_secrets`: every secret the configured flows need must be set (the Pulumi program).
    """
    problems = _check_names(raw)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    known: dict[str, Any] = {}
    secrets: set[str] = set()
    failed: set[str] = set()
    overrides = overrides or {}
    for k in KEYS:
        entry = raw.get(k.full)
        if k.full in overrides:
            entry = RawValue(overrides[k.full])
            origins[k.name] = OVERRIDE
        elif entry is not None and (entry.value is not None or entry.secure):
            origins[k.name] = STACK_FILE
        else:
            origins[k.name] = DEFAULT
        before = len(problems)
        if k.secret:
            if _secret(k, entry, env, problems, known):
                secrets.add(k.name)
        else:
            values[k.name] = _value(k, entry, env, problems)
        if len(problems) > before:
            failed.add(k.name)
    if values.get("eventDestination") not in (None, "off") and origins["schedule"] == DEFAULT:
        # Events start the runs; the schedule only catches up on what they missed.
        values["schedule"] = EVENTS_SCHEDULE_DEFAULT
    problems += _cross_checks(values, secrets, env, failed, require_secrets=require_secrets)
    problems += _event_checks(values, secrets, known, env, require_secrets=require_secrets)
    if problems:
        raise StackConfigError(source, problems)
    return StackConfig(env, source, values, origins, frozenset(secrets), known)


def _cross_checks(values: Mapping[str, Any], secrets: set[str], env: str, failed: set[str],
                  *, require_secrets: bool) -> list[str]:
    """Rules between keys, for keys that passed their own checks."""
    problems = []
    kind = values.get("environmentKind")
    ttl, timeout = values.get("leaseTtlSeconds"), values.get("salesforceTimeoutSeconds")
    if isinstance(ttl, int) and isinstance(timeout, int) and ttl < 3 * timeout:
        problems.append(f"{key('leaseTtlSeconds').full}: must be at least three times "
                        f"{key('salesforceTimeoutSeconds').full} ({3 * timeout} s), so one slow "
                        f"request can never outlive the lease; got {ttl}")
    audience, login_url = values.get("salesforceJwtAudience"), values.get("salesforceLoginUrl")
    if isinstance(audience, str) and isinstance(login_url, str) \
            and values.get("salesforceAuth") == "jwt":
        problem = audience_problem(audience, login_url)
        if problem:
            problems.append(problem)
    for ours, theirs, why in (
            ("salesforceDeployUsername", "salesforceUsername", "the integration user must not "
             "be an admin"),
            ("salesforceDeployConsumerKey", "salesforceConsumerKey", "the import's key could "
             "then log in as the deploy user")):
        if values.get(ours) is not None and values.get(ours) == values.get(theirs):
            problems.append(f"{key(ours).full}: the same as {key(theirs).full}: {why}; use the "
                            "deploy user and its own connected app (docs/deploy.md)")
    limit = values.get("lambdaTimeoutSeconds")
    if isinstance(ttl, int) and isinstance(limit, int) and 2 * ttl > limit:
        problems.append(f"{key('leaseTtlSeconds').full}: at most half of "
                        f"{key('lambdaTimeoutSeconds').full} ({limit // 2} s): after a crash the "
                        "next run watches the dead run's lease for one TTL before taking it, "
                        f"and must still have time to work; got {ttl}")
    reserve = values.get("deadlineReserveSeconds")
    if isinstance(reserve, int) and isinstance(limit, int) and 2 * reserve > limit:
        problems.append(f"{key('deadlineReserveSeconds').full}: at most half of "
                        f"{key('lambdaTimeoutSeconds').full} ({limit // 2} s), so each "
                        f"invocation has time to work before it stops for its deadline; got "
                        f"{reserve}")
    version = values.get("configVersion")
    if isinstance(version, str) and len(version) > CONFIG_VERSION_LENGTH:
        problems.append(f"{key('configVersion').full}: at most {CONFIG_VERSION_LENGTH} "
                        f"characters (the release stamp's field), got {len(version)}")
    schedule = values.get("schedule")
    if isinstance(schedule, str):
        problem = schedule_problem(schedule)
        if problem:
            problems.append(f"{key('schedule').full}: {problem}")
    if kind == "production":
        problems += _production_endpoints(values)
    if kind == "production" and values.get("deployTestLevel") == "NoTestRun":
        problems.append(f"{key('deployTestLevel').full}: NoTestRun is refused in production, "
                        "as Salesforce refuses production deploys that run no tests; use "
                        "RunLocalTests or RunSpecifiedTests")
    if kind in ("production", "sandbox") and values.get("aws:region") is None \
            and "aws:region" not in failed:
        problems.append(f"aws:region is not set: `{key('aws:region').set_command(env)}`")
    jwt = values.get("salesforceAuth") == "jwt"
    deploy = "salesforceDeployPrivateKey" if jwt else "salesforceDeployConsumerSecret"
    by_arn = values.get("salesforceDeploySecretArn") is not None
    if by_arn and deploy in secrets:
        problems.append(f"{key(deploy).full} and {key('salesforceDeploySecretArn').full} are "
                        "both set: keep one (the ARN keeps the key out of the stack's secrets)")
    if values.get("stripeAdminSecretArn") is not None and "stripeAdminApiKey" in secrets:
        problems.append(f"{key('stripeAdminApiKey').full} and "
                        f"{key('stripeAdminSecretArn').full} are both set: keep one")
    if require_secrets:
        needed = ["stripeApiKey", "salesforcePrivateKey" if jwt else "salesforceConsumerSecret",
                  *([] if by_arn else [deploy])]
        problems += [f"{key(n).full} is not set: `{key(n).set_command(env)}`"
                     + (f" (or {key('salesforceDeploySecretArn').full})" if n == deploy else "")
                     for n in needed if n not in secrets]
    return problems


ED_ID: Final = re.compile(r"ed_[A-Za-z0-9_]{4,}")


def _event_checks(values: Mapping[str, Any], secrets: set[str], known: Mapping[str, Any],
                  env: str, *, require_secrets: bool) -> list[str]:
    """What Stripe's event destination needs, by eventDestination's mode."""
    mode, ed = values.get("eventDestination"), values.get("eventDestinationId")
    dest, ed_key, admin = (key(n) for n in ("eventDestination", "eventDestinationId",
                                            "stripeAdminApiKey"))
    problems = []
    if mode == "adopt" and ed is None:
        problems.append(f"{ed_key.full} is not set, and {dest.full} is adopt: "
                        f"`{ed_key.set_command(env)}` with the destination's id (ed_…)")
    if ed is not None and mode != "adopt":
        problems.append(f"{ed_key.full}: set, but {dest.full} is {mode}: the id is only read "
                        "with adopt (create makes its own); remove it or set adopt")
    if isinstance(ed, str) and not ED_ID.fullmatch(ed):
        problems.append(f"{ed_key.full}: not an event destination id (ed_…), got {ed!r}")
    if mode in ("create", "adopt") and require_secrets and "stripeAdminApiKey" not in secrets \
            and values.get("stripeAdminSecretArn") is None:
        problems.append(f"{admin.full} is not set, and {dest.full} is {mode}: "
                        f"`{admin.set_command(env)}` (or {key('stripeAdminSecretArn').full})")
    value = known.get("stripeAdminApiKey")
    if isinstance(value, str) and mode == "create" and not value.startswith("sk_"):
        problems.append(f"{admin.full}: create needs a standard secret key (sk_…), got "
                        f"{value[:8]}…: the permission a restricted key needs to create an "
                        "event destination is not documented (docs/deploy.md)")
    if isinstance(value, str) and value == known.get("stripeApiKey"):
        problems.append(f"{admin.full}: the same as {key('stripeApiKey').full}: the Lambda's "
                        "key stays a read-only restricted key; the deploy key is another one")
    return problems


STRIPE_API: Final = "https://api.stripe.com"
AWS_HOST_SUFFIXES: Final = (".amazonaws.com", ".api.aws", ".amazonaws.com.cn")


def _production_endpoints(values: Mapping[str, Any]) -> list[str]:
    """Production's live keys go to Stripe and AWS only: an override elsewhere would send the
    live Stripe key, or the state, to another host."""
    problems = []
    stripe_base = values.get("stripeApiBase")  # the Url kind has taken any trailing "/" off
    if stripe_base is not None and str(stripe_base) != STRIPE_API:
        problems.append(f"{key('stripeApiBase').full}: production talks to {STRIPE_API} only "
                        f"(the live key would go to {stripe_base}); remove the override")
    endpoint = values.get("awsEndpointUrl")
    if endpoint is not None:
        host = (urlsplit(str(endpoint)).hostname or "").lower()
        if urlsplit(str(endpoint)).scheme != "https" or not host.endswith(AWS_HOST_SUFFIXES):
            problems.append(f"{key('awsEndpointUrl').full}: production accepts only an https "
                            "AWS endpoint (*.amazonaws.com, *.api.aws: FIPS and VPC endpoints "
                            f"are fine), got {endpoint}")
    return problems


def require_login(stack: StackConfig) -> None:
    """What logging in to the org needs (every command that does, and the Pulumi program):
    the connected app's consumer key, and the integration user for the JWT bearer flow."""
    _require(stack, "salesforceConsumerKey", "salesforceUsername",
             "logging in to the org needs it")


def require_deploy_login(stack: StackConfig) -> None:
    """What the org config's deploy user needs to log in (the org-config commands, the Pulumi
    program): its connected app's consumer key, and its username for the JWT bearer flow."""
    _require(stack, "salesforceDeployConsumerKey", "salesforceDeployUsername",
             "the org config deploys as that user (an admin, apart from the integration user)")


def _require(stack: StackConfig, consumer_key: str, username: str, why: str) -> None:
    needed = [consumer_key, *([username] if stack["salesforceAuth"] == "jwt" else [])]
    missing = [key(n) for n in needed if stack[n] is None]
    if missing:
        raise StackConfigError(stack.source, [
            f"{k.full} is not set, and {why}: `{k.set_command(stack.env)}`" for k in missing])


def lambda_environment(stack: StackConfig) -> dict[str, str]:
    """The Lambda's configured environment variables (names and values, never secrets)."""
    out = {}
    for k in KEYS:
        if k.env is None or LAMBDA not in k.consumers:
            continue
        value = stack.values.get(k.name)
        if value is not None:
            out[k.env] = k.kind.render(value)
    return out
