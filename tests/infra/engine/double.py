"""An engine double: the two gRPC services a Pulumi program talks to (ResourceMonitor and
Engine), served in-process on the SDK's own stubs (`pulumi.runtime.proto`), recording every
request as the real engine would receive it.

It answers like the real engine and AWS would, and no further: a registration gets a URN and,
outside a preview, an id and its inputs back as state (ARNs in each service's format); the only
function the program may call is `aws:getCallerIdentity`; the monitor reports the features the
real engine has (output values included, which the SDK's mocks turn off). It does not plan,
diff or run providers: the OrgConfig provider is driven by `provider_host`, with the
registration recorded here.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Final

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from tests.infra.program import (
    _ARN,
    ACCOUNT,
    DESTINATION,
    MOCK_DESTINATION_ID,
    REGION,
    destination_outputs,
)

SIG: Final = rpc._special_sig_key
SECRET: Final = rpc._special_secret_sig
OUTPUT_VALUE: Final = rpc._special_output_value_sig
CALLER_IDENTITY: Final = "aws:index/getCallerIdentity:getCallerIdentity"
FEATURES: Final = (
    resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
    resource_pb2.RESOURCE_MONITOR_FEATURE_OUTPUT_VALUES,
    resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
    resource_pb2.RESOURCE_MONITOR_FEATURE_TRANSFORMS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_TRANSFORMS,
    resource_pb2.RESOURCE_MONITOR_FEATURE_PARAMETERIZATION,
)
FEATURE_IDS: Final = frozenset({"secrets", "resourceReferences", "outputValues", "aliasSpecs",
                                "deletedWith", "transforms", "invokeTransforms",
                                "parameterization"})


def to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain JSON values (numbers are floats, as on the wire)."""
    return dict(json_format.MessageToDict(struct))


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    """Plain JSON values as a Struct."""
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def is_secret(value: Any) -> bool:
    """A secret on the wire: {SIG: SECRET, "value": …}."""
    return isinstance(value, dict) and value.get(SIG) == SECRET


def strip_secrets(value: Any) -> Any:
    """`value` as a provider that does not accept secrets receives it (the engine marshals with
    KeepSecrets = the provider's acceptSecrets, false for dynamic providers)."""
    if is_secret(value):
        return strip_secrets(value["value"])
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def secret(value: Any) -> dict[str, Any]:
    """`value` marked secret on the wire."""
    return value if is_secret(value) else {SIG: SECRET, "value": value}


def secret_paths(value: Any, path: str = "") -> list[str]:
    """Where `value` holds secrets (top-level names, or dotted paths below)."""
    if is_secret(value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items()
                for p in secret_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secret_paths(v, f"{path}[{i}]")]
    return []


@dataclass
class Registration:
    """One RegisterResource request."""

    type: str
    name: str
    custom: bool
    urn: str
    parent: str
    inputs: dict[str, Any]  # as sent: secrets wrapped, numbers floats, nulls kept
    additional_secret_outputs: list[str]
    dependencies: list[str]


@dataclass
class Recorded:
    """What one program run sent the engine."""

    registrations: list[Registration] = field(default_factory=list)
    invokes: list[str] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)  # (severity, message)
    stack_outputs: dict[str, Any] | None = None
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def one(self, typ: str) -> Registration:
        """The single registration of `typ`."""
        found = [r for r in self.registrations if r.type == typ]
        assert len(found) == 1, [r.type for r in self.registrations]
        return found[0]

    def messages(self, severity: int) -> list[str]:
        """Logged messages of one severity (engine_pb2.INFO, ERROR, …)."""
        return [m for s, m in self.logs if s == severity]


class _Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self, engine: EngineDouble) -> None:
        self.engine = engine

    def SupportsFeature(self, request: Any, _context: Any) -> Any:  # noqa: N802
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in FEATURE_IDS)

    def GetDeploymentInfo(self, _request: Any, _context: Any) -> Any:  # noqa: N802
        return resource_pb2.DeploymentInfo(supportedFeatures=list(FEATURES))

    def RegisterResource(self, request: Any, _context: Any) -> Any:  # noqa: N802
        return self.engine.register(request)

    def RegisterResourceOutputs(self, request: Any, _context: Any) -> Any:  # noqa: N802
        self.engine.register_outputs(request)
        return empty_pb2.Empty()

    def Invoke(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.engine.recorded.invokes.append(request.tok)
        if request.tok != CALLER_IDENTITY:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"unexpected invoke {request.tok}")
        answer = {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                  "userId": "AIDEXAMPLE", "id": ACCOUNT}
        return resource_pb2.ResourceInvokeResponse(**{"return": to_struct(answer)})

    def SignalAndWaitForShutdown(self, _request: Any, _context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self, engine: EngineDouble) -> None:
        self.engine = engine
        self.root = ""

    def Log(self, request: Any, _context: Any) -> Any:  # noqa: N802
        self.engine.recorded.logs.append((request.severity, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, _request: Any, _context: Any) -> Any:  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn=self.root)

    def SetRootResource(self, request: Any, _context: Any) -> Any:  # noqa: N802
        self.root = request.urn
        return engine_pb2.SetRootResourceResponse()


class EngineDouble:
    """The monitor and engine services on one local port; `address` goes to the program as
    both `--monitor` and `--engine`."""

    def __init__(self, *, project: str, stack: str, dry_run: bool) -> None:
        self.project, self.stack, self.dry_run = project, stack, dry_run
        self.recorded = Recorded()
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_Monitor(self), self._server)
        engine_pb2_grpc.add_EngineServicer_to_server(_Engine(self), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def __enter__(self) -> EngineDouble:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop(grace=None)

    def _urn(self, parent: str, typ: str, name: str) -> str:
        if parent:
            typ = f"{parent.split('::')[2].rsplit('$', maxsplit=1)[-1]}${typ}"
        return f"urn:pulumi:{self.stack}::{self.project}::{typ}::{name}"

    def register(self, request: Any) -> Any:
        """Record a registration; answer a URN, and outside a preview an id and state."""
        urn = self._urn(request.parent, request.type, request.name)
        inputs = to_dict(request.object)
        with self._lock:
            self.recorded.registrations.append(Registration(
                request.type, request.name, request.custom, urn, request.parent, inputs,
                list(request.additionalSecretOutputs), list(request.dependencies)))
        if not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if self.dry_run:  # a resource to create has no id and unknown outputs in a preview
            return resource_pb2.RegisterResourceResponse(urn=urn, object=to_struct(inputs))
        physical = inputs.get("name") or f"{request.name}-1a2b3c"
        state = dict(inputs)
        if request.type in _ARN:
            state["arn"] = _ARN[request.type].format(r=REGION, a=ACCOUNT, n=physical)
        resource_id = state.get("arn") if "secretsmanager/secret:" in request.type else physical
        if request.type == DESTINATION:
            # The engine answers with what the provider's Create returned; the tests drive that
            # Create through the provider host (test_event_engine), so this is its shape.
            state.update(destination_outputs())
            resource_id = MOCK_DESTINATION_ID
        return resource_pb2.RegisterResourceResponse(urn=urn, id=str(resource_id),
                                                     object=to_struct(state))

    def register_outputs(self, request: Any) -> None:
        """Record a component's (or the stack's) outputs."""
        outputs = to_dict(request.outputs)
        with self._lock:
            if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
                self.recorded.stack_outputs = outputs
            else:
                self.recorded.component_outputs[request.urn] = outputs
