"""The dynamic-provider plugin, started the way the engine starts it, and driven over gRPC the
way the engine drives it.

Start (sdk/go/common/resource/plugin/provider_plugin.go `NewProvider`, plugin.go `newPlugin`):
the process runs in the engine's pwd (`cmd.Dir = pwd`), with the project's runtime options as
`PULUMI_RUNTIME_<OPTION>` variables, `PULUMI_PROJECT` and `PULUMI_CONFIG` (the `pulumi-python:`
namespace only: `{}`), the engine's address as its argument. The launcher script then picks the
interpreter (`launcher.shim_virtualenv`) and runs `python -u -m pulumi.dynamic`, which prints
its port on stdout.

Secrets (provider_plugin.go, `KeepSecrets: acceptSecrets`; `annotateSecrets` after
Check/Create/Read/Update; step_executor.go applies AdditionalSecretOutputs): the provider
answers Configure with acceptSecrets=false, so it gets plain values, and the engine marks an
output secret again when the input of the same name was, or when the registration lists it in
additionalSecretOutputs.
"""

from __future__ import annotations

import base64
import json
import pickletools
import subprocess
from typing import TYPE_CHECKING, Any, Final

import grpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.infra.engine.double import (
    is_secret,
    secret,
    secret_paths,
    strip_secrets,
    to_dict,
    to_struct,
)
from tests.infra.engine.launcher import Project, pwd_and_entry, shim_virtualenv, venv_environment

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

START_TIMEOUT_S: Final = 30.0


def annotate(outs: dict[str, Any], inputs: Mapping[str, Any],
             additional: list[str]) -> dict[str, Any]:
    """The outputs as the engine stores them: secret where the same-named input was, or where
    the registration asked (a name that is absent is skipped, as the engine does)."""
    return {k: secret(v) if is_secret(inputs.get(k)) or k in additional else v
            for k, v in outs.items()}


class ProviderHost:
    """One `pulumi-python` provider plugin process."""

    def __init__(self, project: Project, engine_address: str, base_env: Mapping[str, str],
                 stderr: Path) -> None:
        pwd, _ = pwd_and_entry(project)
        option = project.virtualenv or ".venv"
        python = shim_virtualenv(pwd, option)  # LauncherError: the launcher's exit 1
        env = venv_environment(python.parent.parent, dict(base_env))
        env.update({f"PULUMI_RUNTIME_{k.upper()}": str(v) for k, v in project.options.items()})
        env.update({"PULUMI_PROJECT": project.name, "PULUMI_CONFIG": "{}"})
        self.stderr_path = stderr
        self._stderr = stderr.open("wb")
        self.process = subprocess.Popen(
            [str(python), "-u", "-m", "pulumi.dynamic", engine_address], cwd=pwd, env=env,
            stdout=subprocess.PIPE, stderr=self._stderr)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()  # the port, once listening
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"the provider host did not start: {line!r}\n{self.stderr()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT_S)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def stderr(self) -> str:
        """What the provider wrote to stderr so far (its progress lines, tracebacks)."""
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        """Stop the plugin (the engine kills its process group on close)."""
        if hasattr(self, "channel"):
            self.channel.close()
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    # -- the calls, with plain dicts ---------------------------------------------------------
    def configure(self) -> bool:
        """Configure as the engine does; the provider's acceptSecrets."""
        response = self.stub.Configure(provider_pb2.ConfigureRequest(
            args=to_struct({}), acceptSecrets=True, acceptResources=True))
        return bool(response.acceptSecrets)

    def check(self, urn: str, olds: dict[str, Any],
              news: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """(checked inputs, failures as (property, reason))."""
        r = self.stub.Check(provider_pb2.CheckRequest(
            urn=urn, olds=to_struct(strip_secrets(olds)), news=to_struct(strip_secrets(news))))
        return to_dict(r.inputs), [(f.property, f.reason) for f in r.failures]

    def diff(self, id_: str, urn: str, olds: dict[str, Any], news: dict[str, Any],
             old_inputs: dict[str, Any]) -> Any:
        """The DiffResponse (changes: DIFF_NONE / DIFF_SOME, replaces)."""
        return self.stub.Diff(provider_pb2.DiffRequest(
            id=id_, urn=urn, olds=to_struct(strip_secrets(olds)),
            news=to_struct(strip_secrets(news)), old_inputs=to_struct(strip_secrets(old_inputs))))

    def create(self, urn: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(id, outputs as sent back: plain)."""
        r = self.stub.Create(provider_pb2.CreateRequest(
            urn=urn, properties=to_struct(strip_secrets(inputs)), timeout=600))
        return r.id, to_dict(r.properties)

    def read(self, id_: str, urn: str, state: dict[str, Any],
             inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(id, outputs) of a refresh."""
        r = self.stub.Read(provider_pb2.ReadRequest(
            id=id_, urn=urn, properties=to_struct(strip_secrets(state)),
            inputs=to_struct(strip_secrets(inputs))))
        return r.id, to_dict(r.properties)

    def update(self, id_: str, urn: str, olds: dict[str, Any], news: dict[str, Any],
               old_inputs: dict[str, Any]) -> dict[str, Any]:
        """The outputs of an update."""
        r = self.stub.Update(provider_pb2.UpdateRequest(
            id=id_, urn=urn, olds=to_struct(strip_secrets(olds)),
            news=to_struct(strip_secrets(news)), old_inputs=to_struct(strip_secrets(old_inputs)),
            timeout=600))
        return to_dict(r.properties)

    def delete(self, id_: str, urn: str, state: dict[str, Any]) -> None:
        """Delete (the OrgConfig provider leaves the org as it is)."""
        self.stub.Delete(provider_pb2.DeleteRequest(
            id=id_, urn=urn, properties=to_struct(strip_secrets(state))))


def pickled_path(provider: str) -> str:
    """The `module.qualname` a serialized `__provider` (base64 dill) refers to."""
    data = base64.b64decode(provider)
    strings = [arg for op, arg, _ in pickletools.genops(data) if op.name.endswith("UNICODE")]
    return f"{strings[0]}.{strings[1]}"


def dumps(value: Any) -> str:
    """`value` as text, for searching markers in it."""
    return json.dumps(value, sort_keys=True)


class Resource:
    """The engine's side of one dynamic resource: its inputs and state, as stored (the secret
    paths it must keep: `secret_state`; `secret_text` never in clear)."""

    def __init__(self, host: ProviderHost, urn: str, additional: list[str],
                 secret_text: str, secret_state: set[str]) -> None:
        self.host, self.urn, self.additional = host, urn, additional
        self.secret_text, self.secret_state = secret_text, secret_state
        self.id = ""
        self.inputs: dict[str, Any] = {}
        self.state: dict[str, Any] = {}

    def check(self, registered: dict[str, Any]) -> dict[str, Any]:
        checked, failures = self.host.check(self.urn, self.inputs, registered)
        assert failures == []
        assert secret_paths(checked) == []  # the provider sees plain values
        return annotate(checked, registered, [])

    def store(self, outs: dict[str, Any], inputs: dict[str, Any]) -> None:
        self.inputs = inputs
        self.state = annotate(outs, inputs, self.additional)
        # Secret again on the way out; nowhere else in clear.
        assert set(secret_paths(self.state)) == self.secret_state
        clear = {k: v for k, v in self.state.items() if not is_secret(v)}
        assert self.secret_text not in dumps(clear)

    def create(self, inputs: dict[str, Any]) -> None:
        self.id, outs = self.host.create(self.urn, inputs)
        self.store(outs, inputs)

    def diff(self, news: dict[str, Any]) -> Any:
        return self.host.diff(self.id, self.urn, self.state, news, self.inputs)

    def update(self, news: dict[str, Any]) -> None:
        self.store(self.host.update(self.id, self.urn, self.state, news, self.inputs), news)

    def refresh(self) -> None:
        self.id, outs = self.host.read(self.id, self.urn, self.state, self.inputs)
        self.state = annotate(outs, self.inputs, self.additional)
        assert set(secret_paths(self.state)) == self.secret_state
