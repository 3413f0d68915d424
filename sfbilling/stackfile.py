"""Reads an environment's stack file, `Pulumi.<env>.yaml`: the same file `pulumi up` reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from sync_lambda.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path


def stack_path(env: str, root: Path) -> Path:
    """Where the stack file of `env` lives."""
    return root / f"Pulumi.{env}.yaml"


def load_stack_config(env: str, root: Path, *, required: bool = True) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<env>.yaml`, without encrypted (`secure:`) values:
    the CLI never reads secrets from stack files."""
    path = stack_path(env, root)
    if not path.exists():
        if required:
            raise ConfigError(f"{path} not found: every environment has a stack file "
                              f"(copy Pulumi.local.yaml to start one)")
        return {}
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: `config` must be a mapping")
    return {str(k): v for k, v in config.items()
            if not (isinstance(v, dict) and "secure" in v)}
