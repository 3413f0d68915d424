"""Specifications of the rules between keys (`stackconfig.resolve._cross_checks`), of where
each value came from, and of the secrets a stack must hold: fast, no stand-in. Each states a
decision, and asserts the parts of the message a user acts on (the keys named, the bound, the
command to run)."""

from __future__ import annotations

from typing import Any

import pytest

from stackconfig.errors import StackConfigError
from stackconfig.resolve import (
    DEFAULT,
    OVERRIDE,
    STACK_FILE,
    lambda_environment,
    require_deploy_login,
    require_login,
    resolve,
)
from stackconfig.stackfile import RawValue

NS = "sfbilling:"


def _raw(kind: str, keys: dict[str, Any]) -> dict[str, RawValue]:
    entries: dict[str, Any] = {f"{NS}environmentKind": kind}
    if kind != "local":
        entries["aws:region"] = "eu-west-1"
    for name, value in keys.items():
        full = name if ":" in name else NS + name
        entries[full] = value
    return {k: v if isinstance(v, RawValue) else RawValue(v) for k, v in entries.items()}


def _problems(kind: str = "local", *, require_secrets: bool = False, **keys: Any) -> list[str]:
    """The problems of a stack of `kind` holding `keys` (none: it resolves)."""
    try:
        resolve(_raw(kind, keys), env="prod", source="Pulumi.prod.yaml",
                require_secrets=require_secrets)
    except StackConfigError as exc:
        return [f"{exc.source}: {p}" if exc.source != "Pulumi.prod.yaml" else p
                for p in exc.problems]
    return []


def _one(kind: str = "local", **keys: Any) -> str:
    problems = _problems(kind, **keys)
    assert len(problems) == 1, problems
    return problems[0]


# -- the lease against the slowest request, and against the Lambda's timeout -------------------
def test_the_lease_outlives_three_of_the_slowest_requests() -> None:
    # GIVEN requests that may take 100 s WHEN the lease is 299 s THEN it is refused, naming
    # both keys and the bound; 300 s (exactly three times) is accepted
    problem = _one(salesforceTimeoutSeconds="100", leaseTtlSeconds="299")
    assert problem.startswith(f"{NS}leaseTtlSeconds: ")
    assert f"{NS}salesforceTimeoutSeconds (300 s)" in problem and problem.endswith("got 299")
    assert _problems(salesforceTimeoutSeconds="100", leaseTtlSeconds="300") == []


def test_the_lease_is_at_most_half_the_lambda_timeout() -> None:
    problem = _one(lambdaTimeoutSeconds="600", leaseTtlSeconds="301",
                   salesforceTimeoutSeconds="60")
    assert problem.startswith(f"{NS}leaseTtlSeconds: at most half of {NS}lambdaTimeoutSeconds")
    assert "(300 s)" in problem and problem.endswith("got 301")
    assert _problems(lambdaTimeoutSeconds="600", leaseTtlSeconds="300",
                     salesforceTimeoutSeconds="60") == []


def test_the_deadline_reserve_is_at_most_half_the_lambda_timeout() -> None:
    problem = _one(lambdaTimeoutSeconds="600", deadlineReserveSeconds="301",
                   leaseTtlSeconds="300", salesforceTimeoutSeconds="60")
    assert problem.startswith(f"{NS}deadlineReserveSeconds: at most half of "
                              f"{NS}lambdaTimeoutSeconds (300 s)")
    assert problem.endswith("got 301")
    assert _problems(lambdaTimeoutSeconds="600", deadlineReserveSeconds="300",
                     leaseTtlSeconds="300", salesforceTimeoutSeconds="60") == []


def test_a_key_that_failed_its_own_check_is_not_checked_again() -> None:
    # A lease that is no number says so once, not again against the timeout.
    problems = _problems(leaseTtlSeconds="soon", salesforceTimeoutSeconds="100")
    assert len(problems) == 1 and problems[0].startswith(f"{NS}leaseTtlSeconds: ")


# -- logins ----------------------------------------------------------------------------------
def test_the_jwt_audience_must_fit_the_login_url_for_the_jwt_flow_only() -> None:
    # GIVEN a login URL that is no My Domain WHEN the audience asks for one THEN refused with
    # the audience key named; the client-credentials flow sends no JWT, so no audience rule
    problem = _one(salesforceLoginUrl="https://login.salesforce.com",
                   salesforceJwtAudience="mydomain")
    assert "salesforceJwtAudience" in problem
    assert _problems(salesforceLoginUrl="https://login.salesforce.com",
                     salesforceJwtAudience="mydomain", salesforceAuth="client_credentials") == []
    assert _problems(salesforceLoginUrl="https://acme.my.salesforce.com",
                     salesforceJwtAudience="mydomain") == []


@pytest.mark.parametrize(("ours", "theirs", "why"), [
    ("salesforceDeployUsername", "salesforceUsername", "the integration user must not be an "
                                                       "admin"),
    ("salesforceDeployConsumerKey", "salesforceConsumerKey", "the import's key could then log "
                                                             "in as the deploy user")])
def test_the_deploy_identity_is_not_the_imports(ours: str, theirs: str, why: str) -> None:
    problem = _one(**{ours: "same", theirs: "same"})
    assert problem == (f"{NS}{ours}: the same as {NS}{theirs}: {why}; use the deploy user and "
                       "its own connected app (docs/deploy.md)")
    distinct: dict[str, Any] = {ours: "deploy", theirs: "import"}
    assert _problems(**distinct) == []
    alone: dict[str, Any] = {theirs: "import"}
    assert _problems(**alone) == []  # no deploy identity set: nothing to compare


# -- the release stamp and the schedule ------------------------------------------------------
def test_the_config_version_fits_the_release_stamp() -> None:
    from stackconfig.schema import CONFIG_VERSION_LENGTH

    long = "v" * (CONFIG_VERSION_LENGTH + 1)
    problem = _one(configVersion=long)
    assert problem == (f"{NS}configVersion: at most {CONFIG_VERSION_LENGTH} characters (the "
                       f"release stamp's field), got {CONFIG_VERSION_LENGTH + 1}")
    assert _problems(configVersion="v" * CONFIG_VERSION_LENGTH) == []


def test_a_schedule_with_too_long_a_gap_is_refused_naming_the_key() -> None:
    problem = _one(schedule="rate(4 days)")
    assert problem.startswith(f"{NS}schedule: 'rate(4 days)' can leave 96 hours")
    assert _problems(schedule="rate(3 days)") == []


# -- production ------------------------------------------------------------------------------
def test_production_talks_to_stripe_and_aws_only() -> None:
    problem = _one("production", stripeApiBase="https://stripe.example")
    assert problem.startswith(f"{NS}stripeApiBase: production talks to https://api.stripe.com")
    assert "https://stripe.example" in problem and "remove the override" in problem
    assert _problems("production", stripeApiBase="https://api.stripe.com/") == []
    assert _problems("production", stripeApiBase="https://api.stripe.com") == []
    for bad in ("https://aws.example", "https://127.0.0.1:5000", "http://127.0.0.1:5000"):
        problem = _one("production", awsEndpointUrl=bad)
        assert problem.startswith(f"{NS}awsEndpointUrl: production accepts only an https AWS "
                                  "endpoint") and problem.endswith(f"got {bad}")
    for good in ("https://dynamodb.eu-west-1.amazonaws.com",
                 "https://vpce-1.dynamodb.eu-west-1.vpce.amazonaws.com",
                 "https://dynamodb.eu-west-1.api.aws",
                 "https://dynamodb.cn-north-1.amazonaws.com.cn"):
        assert _problems("production", awsEndpointUrl=good) == [], good
    # Other environments may point anywhere (the stand-ins).
    assert _problems("sandbox", stripeApiBase="https://stripe.example",
                     awsEndpointUrl="http://127.0.0.1:5000") == []


def test_production_runs_tests_on_deploy() -> None:
    problem = _one("production", deployTestLevel="NoTestRun")
    assert problem == (f"{NS}deployTestLevel: NoTestRun is refused in production, as Salesforce "
                       "refuses production deploys that run no tests; use RunLocalTests or "
                       "RunSpecifiedTests")
    assert _problems("sandbox", deployTestLevel="NoTestRun") == []
    both = _problems("production", deployTestLevel="NoTestRun",
                     stripeApiBase="https://stripe.example")
    assert len(both) == 2  # the endpoint rule and the test-level rule, each said
    # ... and the production rules add to the others, never replace them
    three = _problems("production", stripeApiBase="https://stripe.example",
                      salesforceTimeoutSeconds="100", leaseTtlSeconds="299")
    assert [p.split(":")[1] for p in three] == ["leaseTtlSeconds", "stripeApiBase"]


@pytest.mark.parametrize("kind", ["production", "sandbox"])
def test_a_deployed_environment_names_its_region(kind: str) -> None:
    raw = _raw(kind, {})
    del raw["aws:region"]
    with pytest.raises(StackConfigError) as exc:
        resolve(raw, env="prod", source="Pulumi.prod.yaml")
    assert exc.value.problems == [
        "aws:region is not set: `pulumi config set --stack prod aws:region VALUE`"]
    local = _raw("local", {})
    assert "aws:region" not in local
    resolve(local, env="local", source="Pulumi.local.yaml")


def test_a_region_that_failed_its_own_check_is_said_once() -> None:
    raw = _raw("production", {})
    raw["aws:region"] = RawValue("<the region>")
    with pytest.raises(StackConfigError) as exc:
        resolve(raw, env="prod", source="Pulumi.prod.yaml")
    assert len(exc.value.problems) == 1
    assert "placeholder" in exc.value.problems[0]


# -- secrets ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("auth", "needed"), [
    ("jwt", ["stripeApiKey", "salesforcePrivateKey", "salesforceDeployPrivateKey"]),
    ("client_credentials", ["stripeApiKey", "salesforceConsumerSecret",
                            "salesforceDeployConsumerSecret"])])
def test_the_program_needs_the_secrets_of_the_flow(auth: str, needed: list[str]) -> None:
    problems = _problems(require_secrets=True, salesforceAuth=auth)
    assert problems == [f"{NS}{n} is not set: `pulumi config set --secret --stack prod {NS}{n}`"
                        + (f" (or {NS}salesforceDeploySecretArn)" if "Deploy" in n else "")
                        for n in needed]
    with_others = _problems(require_secrets=True, salesforceAuth=auth,
                            salesforceTimeoutSeconds="100", leaseTtlSeconds="299")
    assert len(with_others) == 4 and with_others[1:] == problems  # added, not replacing
    encrypted: dict[str, Any] = {n: RawValue(None, secure=True) for n in needed}
    assert _problems(require_secrets=True, salesforceAuth=auth, **encrypted) == []
    assert _problems(salesforceAuth=auth) == []  # the CLI needs none of them in the file


def test_a_secret_in_clear_text_is_refused_and_not_counted_as_set() -> None:
    problems = _problems(require_secrets=True, stripeApiKey="sk_test_123",
                         salesforcePrivateKey=RawValue(None, secure=True),
                         salesforceDeployPrivateKey=RawValue(None, secure=True))
    assert problems == [
        f"{NS}stripeApiKey is in clear text: remove it from the stack file and set it encrypted "
        f"with `pulumi config set --secret --stack prod {NS}stripeApiKey`",
        f"{NS}stripeApiKey is not set: `pulumi config set --secret --stack prod "
        f"{NS}stripeApiKey`"]


def test_secrets_set_known_and_unreadable() -> None:
    raw = _raw("local", {"stripeApiKey": RawValue("sk_test_abc", secure=True),
                         "salesforcePrivateKey": RawValue(None, secure=True),
                         "salesforceConsumerSecret": RawValue(None)})
    stack = resolve(raw, env="local", source="Pulumi.local.yaml")
    assert stack.secrets_set == {"stripeApiKey", "salesforcePrivateKey"}
    assert stack.secret("stripeApiKey") == "sk_test_abc"
    assert stack.secret("salesforcePrivateKey") is None  # encrypted in the file: not known
    assert (stack.origins["stripeApiKey"], stack.origins["salesforcePrivateKey"],
            stack.origins["salesforceConsumerSecret"]) == (STACK_FILE, STACK_FILE, DEFAULT)
    bad = _raw("local", {"stripeApiKey": RawValue("  ", secure=True)})
    with pytest.raises(StackConfigError) as exc:
        resolve(bad, env="local", source="Pulumi.local.yaml")
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0] == f"{NS}stripeApiKey: must not be empty"


# -- where values come from ------------------------------------------------------------------
def test_origins_and_overrides() -> None:
    raw = _raw("local", {"segmentSize": "500", "bulkThreshold": RawValue(None)})
    stack = resolve(raw, env="local", source="Pulumi.local.yaml",
                    overrides={f"{NS}stripeApiBase": "https://127.0.0.1:9",
                               f"{NS}segmentSize": "700"})
    assert stack.source == "Pulumi.local.yaml" and stack.env == "local"
    assert stack["stripeApiBase"] == "https://127.0.0.1:9"
    assert stack["segmentSize"] == 700  # the override wins over the file
    assert stack.origins["stripeApiBase"] == OVERRIDE
    assert stack.origins["segmentSize"] == OVERRIDE
    assert stack.origins["bulkThreshold"] == DEFAULT  # null: the default
    assert stack["bulkThreshold"] == 200
    assert stack.origins["environmentKind"] == STACK_FILE
    assert stack.origins["syncMode"] == DEFAULT


def test_the_lambda_gets_its_variables_only() -> None:
    stack = resolve(_raw("local", {"segmentSize": "500", "alarmEmail": "ops@example.com"}),
                    env="local", source="Pulumi.local.yaml")
    env = lambda_environment(stack)
    assert env["SFB_SEGMENT_SIZE"] == "500"
    assert None not in env  # keys without a variable (aws:region, resourcePrefix) stay out
    sandbox = resolve(_raw("sandbox", {"resourcePrefix": "acme-billing"}), env="sandbox",
                      source="Pulumi.sandbox.yaml")
    assert None not in lambda_environment(sandbox)
    assert "ops@example.com" not in env.values()  # an infra key, not the Lambda's
    assert all(name.startswith("SFB_") for name in env)


def test_logins_name_what_is_missing_with_the_stack_file() -> None:
    stack = resolve(_raw("local", {}), env="prod", source="Pulumi.prod.yaml")
    with pytest.raises(StackConfigError) as exc:
        require_login(stack)
    assert exc.value.source == "Pulumi.prod.yaml"
    assert [p.split(" is not set")[0] for p in exc.value.problems] == [
        f"{NS}salesforceConsumerKey", f"{NS}salesforceUsername"]
    with pytest.raises(StackConfigError) as exc:
        require_deploy_login(stack)
    assert exc.value.source == "Pulumi.prod.yaml"
    assert exc.value.problems[0] == (
        f"{NS}salesforceDeployConsumerKey is not set, and the org config deploys as that user "
        "(an admin, apart from the integration user): `pulumi config set --stack prod "
        f"{NS}salesforceDeployConsumerKey VALUE`")


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "distance"), [
    ("", "", 0), ("", "abc", 3), ("abc", "", 3), ("abc", "abc", 0), ("abc", "abd", 1),
    ("abc", "ab", 1), ("ab", "abc", 1), ("ab", "ba", 2), ("kitten", "sitting", 3),
    ("sfbilling", "sfbiling", 1), ("flaw", "lawn", 2)])
def test_the_edit_distance(a: str, b: str, distance: int) -> None:
    from stackconfig.resolve import _distance

    assert _distance(a, b) == distance


@pytest.mark.parametrize(("namespace", "close"), [
    ("s.f.b.i.l.l.i.n.g", True),  # punctuation does not count
    ("sfbxxling", True), ("sfbxxxing", False),  # two edits away, three
    ("stripe", False)])
def test_a_namespace_close_to_ours(namespace: str, close: bool) -> None:
    keys: dict[str, Any] = {f"{namespace}:segmentSize": "500"}
    problems = _problems(**keys)
    assert problems == ([f"{namespace}:segmentSize: namespace `{namespace}:` is not `{NS}`; "
                         f"did you mean `{NS}segmentSize`?"] if close else [])


def test_a_typo_only_a_close_match_can_place() -> None:
    from stackconfig.resolve import nearest

    # Neither the start of a key nor part of one: the closest match
    assert nearest("sncMode") == f"{NS}syncMode"
    # Pulumi's own keys are never offered for a typo in our namespace.
    assert nearest("regio") is None
    assert nearest("qqqqqqqqqq") is None


def test_every_key_is_checked_past_a_foreign_one() -> None:
    # aws:region (Pulumi's AWS provider) comes first in a sandbox stack; the typo after it is
    # still found.
    typo: dict[str, Any] = {"sfbiling:syncMode": "x"}
    assert _problems("sandbox", **typo) == [
        f"sfbiling:syncMode: namespace `sfbiling:` is not `{NS}`; did you mean `{NS}syncMode`?"]


def test_a_key_with_a_second_colon_is_an_unknown_key_of_ours() -> None:
    keys: dict[str, Any] = {f"{NS}segment:Size": "500"}
    problems = _problems(**keys)
    assert len(problems) == 1
    assert problems[0].startswith(f"{NS}segment:Size: unknown key; ")


# -- Stripe's event destination ------------------------------------------------------------------
def _resolved(kind: str = "sandbox", **keys: Any) -> Any:
    return resolve(_raw(kind, keys), env="prod", source="Pulumi.prod.yaml")


def test_events_on_make_the_schedule_a_safety_net_unless_it_is_set() -> None:
    # GIVEN no schedule set WHEN events are off THEN every 15 minutes; WHEN on THEN hourly
    assert _resolved()["schedule"] == "rate(15 minutes)"
    for mode in ("create", "adopt"):
        extra = {"eventDestinationId": "ed_test_61Rk2abc"} if mode == "adopt" else {}
        stack = _resolved(eventDestination=mode, **extra)
        assert stack["schedule"] == "rate(1 hour)"
        assert stack.origins["schedule"] == DEFAULT
    # AND a schedule the stack sets is kept as it is
    assert _resolved(eventDestination="create", schedule="rate(30 minutes)")["schedule"] == \
        "rate(30 minutes)"


def test_adopt_needs_an_ed_id_and_only_adopt_reads_one() -> None:
    problem = _one("sandbox", eventDestination="adopt")
    assert problem.startswith(f"{NS}eventDestinationId is not set, and {NS}eventDestination ")
    assert "`pulumi config set --stack prod sfbilling:eventDestinationId VALUE`" in problem
    problem = _one("sandbox", eventDestination="create", eventDestinationId="ed_test_61Rk2abc")
    assert problem.startswith(f"{NS}eventDestinationId: set, but ") and "adopt" in problem
    problem = _one("sandbox", eventDestination="adopt", eventDestinationId="we_123")
    assert problem.startswith(f"{NS}eventDestinationId: not an event destination id (ed_…)")
    assert problem.endswith("got 'we_123'")
    assert _problems("sandbox", eventDestination="adopt",
                     eventDestinationId="ed_61Rk2abcDEF") == []


def test_the_deploy_key_is_required_by_the_program_and_is_a_secret_key_for_create() -> None:
    # GIVEN events on and no deploy key WHEN the Pulumi program reads the stack THEN it says so
    found = _problems("sandbox", require_secrets=True, eventDestination="create")
    assert any(p.startswith(f"{NS}stripeAdminApiKey is not set, and ") and
               "`pulumi config set --secret --stack prod sfbilling:stripeAdminApiKey`" in p
               for p in found)
    # AND off needs none
    assert not any("stripeAdminApiKey" in p
                   for p in _problems("sandbox", require_secrets=True))
    # GIVEN a restricted key for create THEN refused, its prefix shown and no more of it
    restricted = RawValue("rk_test_secretpart", secure=True)
    problem = _one("sandbox", eventDestination="create", stripeAdminApiKey=restricted)
    assert problem.startswith(f"{NS}stripeAdminApiKey: create needs a standard secret key")
    assert "rk_test_…" in problem and "secretpart" not in problem
    # AND adopt only reads: a restricted key will do
    assert _problems("sandbox", eventDestination="adopt", eventDestinationId="ed_test_61Rk2abc",
                     stripeAdminApiKey=restricted) == []


def test_the_deploy_key_is_not_the_lambda_s_key() -> None:
    same = RawValue("sk_test_same", secure=True)
    problem = _one("sandbox", eventDestination="create", stripeAdminApiKey=same,
                   stripeApiKey=same)
    assert problem.startswith(f"{NS}stripeAdminApiKey: the same as {NS}stripeApiKey")


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sfbilling-prod/deploy-AbCdEf"


def test_the_deploy_credentials_may_be_secrets_manager_references_instead() -> None:
    # GIVEN the deploy user's credential and the Stripe deploy key by ARN THEN neither secret
    # is needed in the stack file
    encrypted: dict[str, Any] = {n: RawValue(None, secure=True)
                                 for n in ("stripeApiKey", "salesforcePrivateKey")}
    assert _problems(require_secrets=True, salesforceAuth="jwt", salesforceDeploySecretArn=ARN,
                     **encrypted) == []
    assert _problems("sandbox", require_secrets=True, eventDestination="create",
                     stripeAdminSecretArn=ARN.replace("deploy", "stripe-admin"),
                     salesforceDeploySecretArn=ARN, **encrypted) == []
    # AND both at once is refused (one place for one credential)
    problem = _one(salesforceDeploySecretArn=ARN,
                   salesforceDeployPrivateKey=RawValue(None, secure=True))
    assert problem.startswith(f"{NS}salesforceDeployPrivateKey and "
                              f"{NS}salesforceDeploySecretArn are both set")
    problem = _one("sandbox", stripeAdminSecretArn=ARN,
                   stripeAdminApiKey=RawValue(None, secure=True))
    assert problem.startswith(f"{NS}stripeAdminApiKey and {NS}stripeAdminSecretArn are both")
    # AND an ARN of another service is refused by its kind
    problem = _one(salesforceDeploySecretArn="arn:aws:s3:::bucket/key")
    assert problem.startswith(f"{NS}salesforceDeploySecretArn: must be a Secrets Manager")


def test_the_event_messages_end_with_what_to_do() -> None:
    # (each message's last words are the fix an operator follows)
    assert _one("sandbox", eventDestination="create",
                eventDestinationId="ed_test_61Rk2abc").endswith("remove it or set adopt")
    restricted = RawValue("rk_test_secretpart", secure=True)
    assert _one("sandbox", eventDestination="create", stripeAdminApiKey=restricted).endswith(
        "event destination is not documented (docs/deploy.md)")
    same = RawValue("sk_test_same", secure=True)
    assert _one("sandbox", eventDestination="create", stripeAdminApiKey=same,
                stripeApiKey=same).endswith("the deploy key is another one")
    assert _one(salesforceDeploySecretArn=ARN, salesforceDeployPrivateKey=RawValue(
        None, secure=True)).endswith("(the ARN keeps the key out of the stack's secrets)")


def test_adopt_also_needs_the_deploy_key_and_a_set_key_satisfies_both_modes() -> None:
    secrets: dict[str, Any] = {n: RawValue(None, secure=True) for n in (
        "stripeApiKey", "salesforcePrivateKey", "salesforceDeployPrivateKey")}
    adopt = {"eventDestination": "adopt", "eventDestinationId": "ed_test_61Rk2abc"}
    assert any(p.startswith(f"{NS}stripeAdminApiKey is not set, and {NS}eventDestination is "
                            "adopt") for p in _problems("sandbox", require_secrets=True,
                                                        **adopt, **secrets))
    admin = RawValue(None, secure=True)
    for mode in ({"eventDestination": "create"}, adopt):
        assert _problems("sandbox", require_secrets=True, stripeAdminApiKey=admin, **mode,
                         **secrets) == []
