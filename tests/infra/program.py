"""Runs the Pulumi program (the root's __main__.py → infra/program.py) under Pulumi's own
mocks and records what it registers: every resource's inputs as the engine would receive them
(camelCase, secrets wrapped, ints as floats), the state the mocks answer, and the stack's
exports.

The mocks answer like AWS would: ARNs in each service's format (or the ones a test gives, e.g.
moto's), a Role's id is its name, a Secret's id is its ARN.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import pulumi
from google.protobuf import json_format
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

from stackconfig.stackfile import read_stack_file

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT: Final = Path(__file__).resolve().parents[2]
MAIN: Final = ROOT / "__main__.py"  # Pulumi's entry point: it runs infra/program.py
ACCOUNT: Final = "123456789012"
REGION: Final = "eu-west-1"

_ARN: Final = {
    "aws:dynamodb/table:Table": "arn:aws:dynamodb:{r}:{a}:table/{n}",
    "aws:secretsmanager/secret:Secret": "arn:aws:secretsmanager:{r}:{a}:secret:{n}-Ab12Cd",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{r}:{a}:{n}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{r}:{a}:log-group:{n}",
    "aws:iam/role:Role": "arn:aws:iam::{a}:role/{n}",
    "aws:lambda/function:Function": "arn:aws:lambda:{r}:{a}:function:{n}",
    "aws:scheduler/schedule:Schedule": "arn:aws:scheduler:{r}:{a}:schedule/default/{n}",
    "aws:sns/topic:Topic": "arn:aws:sns:{r}:{a}:{n}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{r}:{a}:alarm:{n}",
    "aws:cloudwatch/eventBus:EventBus": "arn:aws:events:{r}:{a}:event-bus/{n}",
}
DESTINATION: Final = "pulumi-python:dynamic/stripe:EventDestination"
MOCK_DESTINATION_ID: Final = "ed_test_61MOCKdestination"


@dataclass
class Registered:
    """One resource registration."""

    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    parent: str = ""  # the parent's URN
    depends_on: list[str] = field(default_factory=list)  # URNs
    secret_outputs: list[str] = field(default_factory=list)  # additional_secret_outputs
    # The inputs as the SDK sent them over gRPC (before the mocks deserialize them: nulls kept,
    # secrets as their wire markers).
    wire: dict[str, Any] = field(default_factory=dict)

    @property
    def type_name(self) -> str:
        """`typ` without the module: Function, Table, …"""
        return self.typ.rsplit(":", 1)[-1]


def destination_outputs() -> dict[str, Any]:
    """The event destination's outputs as its provider's Create returns them, once Stripe's
    partner source exists (the provider itself runs against the stand-ins elsewhere)."""
    return {"destination_id": MOCK_DESTINATION_ID, "status": "enabled",
            "event_source_name": f"aws.partner/stripe.com/{MOCK_DESTINATION_ID}",
            "event_source_arn": f"arn:aws:events:{REGION}::event-source/"
                                f"aws.partner/stripe.com/{MOCK_DESTINATION_ID}",
            "aws_event_source_status": "pending", "disabled_reason": None, "livemode": False}


class Cloud(Mocks):
    """AWS as the program sees it through the mocks."""

    def __init__(self, arns: dict[str, str] | None = None) -> None:
        self.arns = arns or {}  # physical name → ARN to answer (e.g. moto's)
        self.registered: list[Registered] = []
        self.calls: list[str] = []
        self.requests: dict[str, Any] = {}  # logical name → its RegisterResource request
        self.outputs_registered: set[str] = set()  # URNs of components that did

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        physical = args.inputs.get("name") or f"{args.name}-1a2b3c"
        resource_id = str(physical)
        if args.typ in _ARN:
            arn = self.arns.get(str(physical)) or _ARN[args.typ].format(
                r=REGION, a=ACCOUNT, n=physical)
            state.update(arn=arn, name=physical)
            if args.typ == "aws:secretsmanager/secret:Secret":
                resource_id = arn
        if args.typ == "aws:cloudwatch/eventRule:EventRule":  # a rule on a custom bus
            state["arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/" \
                           f"{args.inputs['eventBusName']}/{physical}"
        if args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
        if args.typ == DESTINATION:
            resource_id = MOCK_DESTINATION_ID
            state.update(destination_outputs())
        request = self.requests[args.name]
        self.registered.append(Registered(
            args.typ, args.name, dict(args.inputs), state, bool(args.custom), request.parent,
            list(request.dependencies), list(request.additionalSecretOutputs),
            dict(json_format.MessageToDict(request.object))))
        return resource_id, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args.token)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                    "userId": "AIDEXAMPLE", "id": ACCOUNT}, []  # no check failures
        raise AssertionError(f"the program made an unexpected call: {args.token}")


class Monitor(MockMonitor):
    """The mock monitor, also keeping what the plain mocks do not see: parents, dependencies,
    additional secret outputs, and which components registered their outputs."""

    def __init__(self, cloud: Cloud) -> None:
        super().__init__(cloud)
        self.cloud = cloud

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        self.cloud.requests[request.name] = request
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        self.cloud.outputs_registered.add(request.urn)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    resources: list[Registered]
    exports: dict[str, Any]
    calls: list[str] = field(default_factory=list)
    outputs_registered: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Registered]:
        """Every registration of a type (e.g. "aws:lambda/function:Function")."""
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str | None = None) -> Registered:
        """The single registration of a type (and logical name)."""
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"{typ} {name}: {[r.name for r in self.of_type(typ)]}"
        return found[0]

    @property
    def function(self) -> Registered:
        """The sync Lambda."""
        return self.one("aws:lambda/function:Function")

    def policy(self, name: str) -> dict[str, Any]:
        """A role policy's document, parsed."""
        return dict(json.loads(self.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"]))


def plain(value: Any) -> Any:
    """`value` with every secret marker unwrapped (what the resource would really hold)."""
    if is_rpc_secret(value):
        return plain(unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def run_program(env: str, config: dict[str, str], secret_keys: list[str],
                cloud: Cloud | None = None) -> ProgramRun:
    """Run the program once as stack `env` with `config` (full key → text)."""
    cloud = cloud or Cloud()
    runtime_settings.ROOT.set(None)  # a fresh root Stack for this run's exports
    pulumi.runtime.set_mocks(cloud, project="sfbilling", stack=env, preview=False,
                             monitor=Monitor(cloud))
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    exports: dict[str, Any] = {}

    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(MAIN), run_name="__pulumi_program__")
        root = pulumi.runtime.get_root_resource()
        assert root is not None
        outputs: dict[str, Any] = dict(getattr(root, "outputs", {}))
        return pulumi.Output.all(**outputs).apply(exports.update)

    # The SDK's test runner: runs the program, waits for every registration, re-raises.
    as_test = cast("Callable[[Callable[[], Any]], Callable[[], None]]", pulumi.runtime.test)
    as_test(program)()
    return ProgramRun(list(cloud.registered), exports, list(cloud.calls),
                      set(cloud.outputs_registered))


# -- stack configurations ------------------------------------------------------------------------
MARKERS: Final = {
    "sfbilling:stripeApiKey": "rk_test_MARKER0stripe0key0f1e2d3c",
    "sfbilling:salesforcePrivateKey": "-----BEGIN PRIVATE KEY-----\nMARKER0sf0private0key0a9b8\n"
                                      "-----END PRIVATE KEY-----\n",
    "sfbilling:salesforceDeployPrivateKey": "-----BEGIN PRIVATE KEY-----\n"
                                            "MARKER0deploy0private0key0c7d6\n"
                                            "-----END PRIVATE KEY-----\n",
}
LIVE_STRIPE_MARKER: Final = "rk_live_MARKER0live0stripe0key0b7c6"
# The event destination's deploy key: in every stack (events on or off), never in the Lambda.
ADMIN_MARKERS: Final = {"sandbox": "sk_test_MARKER0admin0key0e5f4",
                        "prod": "sk_live_MARKER0admin0key0live0d3c2"}
_FILL: Final = {
    "sandbox": {"aws:region": REGION, "sfbilling:alarmEmail": "billing-ops@example.com",
                "sfbilling:salesforceLoginUrl": "https://acme--uat.sandbox.my.salesforce.com",
                "sfbilling:salesforceUsername": "stripe-sync@acme.com.uat",
                "sfbilling:salesforceConsumerKey": "3MVG9sandboxconsumerkey",
                "sfbilling:salesforceDeployUsername": "sf-deploy@acme.com.uat",
                "sfbilling:salesforceDeployConsumerKey": "3MVG9sandboxdeploykey",
                "sfbilling:salesforceOrgId": "00D000000000SBXEAA"},
    "prod": {"aws:region": REGION, "sfbilling:alarmEmail": "billing-ops@example.com",
             "sfbilling:salesforceLoginUrl": "https://acme.my.salesforce.com",
             "sfbilling:salesforceUsername": "stripe-sync@acme.com",
             "sfbilling:salesforceConsumerKey": "3MVG9productionconsumerkey",
             "sfbilling:salesforceDeployUsername": "sf-deploy@acme.com",
             "sfbilling:salesforceDeployConsumerKey": "3MVG9productiondeploykey",
             "sfbilling:salesforceOrgId": "00D000000000PRDEAA"},
}


def stack_config(env: str, **changes: str | None) -> tuple[dict[str, str], list[str]]:
    """The committed stack file of `env`, placeholders filled in, the secrets set as
    `pulumi config set --secret` would (a key set to None is removed)."""
    raw = read_stack_file(env, ROOT)
    config = {k: str(v.value) for k, v in raw.items() if v.value is not None}
    config.update(_FILL[env])
    config.update(MARKERS)
    if env == "prod":  # production takes live keys only
        config["sfbilling:stripeApiKey"] = LIVE_STRIPE_MARKER
    config["sfbilling:stripeAdminApiKey"] = ADMIN_MARKERS[env]
    for k, v in changes.items():
        full = k if ":" in k else f"sfbilling:{k}"
        if v is None:
            config.pop(full, None)
        else:
            config[full] = v
    return config, [k for k in (*MARKERS, "sfbilling:stripeAdminApiKey") if k in config]
