"""Reading `Pulumi.<env>.yaml` as Pulumi does: every scalar is text (`yes` is not a boolean,
`7_0` is not 70), encrypted values are `{secure: …}` and never decrypted here."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from stackconfig.errors import StackConfigError

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True, slots=True)
class RawValue:
    """One entry of a stack's config: its text (or a mapping or list, or None for YAML null),
    and whether it is encrypted. An encrypted value read from a file is not known (None)."""

    value: object
    secure: bool = False


def stack_path(env: str, root: Path) -> Path:
    """Where the stack file of `env` lives."""
    return root / f"Pulumi.{env}.yaml"


_NULLS = ("", "~", "null", "Null", "NULL")


class _DuplicateKeyError(ValueError):
    """A mapping names a key twice."""


class _StackLoader(yaml.BaseLoader):
    """YAML as Pulumi reads a stack file: every scalar is text, except a *plain* null or empty
    value (a quoted "null" or "~" is that text); a key given twice is an error, with both
    lines, where a plain YAML reader would keep the last silently."""

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_scalar(node)
        return None if node.style is None and value in _NULLS else value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKeyError(f"{key} is given twice (lines {seen[key]} and {line}): "
                                         "Pulumi would read one of them; keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _plain(node: object) -> object:
    """YAML text as Pulumi reads it (the loader already made plain nulls None)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def stack_names(root: Path) -> list[str]:
    """The environments with a stack file under `root`."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def find_root(start: Path) -> Path:
    """The project root: `start` or the nearest directory above it holding Pulumi.yaml (`start`
    itself when there is none, so the error names the directory the user is in)."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    return start


def load_text(text: str, *, source: str) -> Any:
    """A stack file's YAML as Pulumi reads it (StackConfigError, naming `source`, when it is
    not YAML or gives a key twice)."""
    try:
        # Every scalar is a string, as in Pulumi's own reading of the file.
        return yaml.load(text, Loader=_StackLoader)  # noqa: S506 - builds no objects
    except yaml.YAMLError as exc:
        raise StackConfigError(source, [f"not valid YAML: {exc}"]) from None
    except _DuplicateKeyError as exc:
        raise StackConfigError(source, [str(exc)]) from None


def read_stack_file(env: str, root: Path) -> dict[str, RawValue]:
    """The `config:` entries of `Pulumi.<env>.yaml` (StackConfigError naming the exact path
    when it is missing or not a stack file)."""
    path = stack_path(env, root)
    if not path.is_file():
        known = stack_names(root)
        close = difflib.get_close_matches(env, known, n=1, cutoff=0.4) or \
            [k for k in known if env.startswith(k) or k.startswith(env)][:1]
        hint = f"; did you mean `--env {close[0]}`?" if close else ""
        listed = ", ".join(known) or "none"
        raise StackConfigError(str(path), [
            f"{path.resolve()} not found: no stack {env!r} (stacks here: {listed}){hint} "
            "Every environment has a stack file; start a new one from Pulumi.sandbox.yaml"])
    doc = load_text(path.read_text(), source=str(path))
    if doc in (None, ""):
        return {}
    if not isinstance(doc, dict):
        raise StackConfigError(str(path), ["must be a mapping with a `config:` section"])
    config = doc.get("config")
    if config in (None, ""):
        return {}
    if not isinstance(config, dict):
        raise StackConfigError(str(path), ["`config` must be a mapping of keys to values"])
    out = {}
    for name, raw in config.items():
        value = _plain(raw)
        if isinstance(value, dict) and set(value) == {"secure"}:
            out[str(name)] = RawValue(None, secure=True)
        else:
            out[str(name)] = RawValue(value)
    return out
