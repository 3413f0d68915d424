"""The pickled-provider table (infra/pickled.py): every path a stack's state may hold still
leads to a provider class, every provider class is listed under its current path, and the SDK
pickles each one by a listed reference."""

from __future__ import annotations

import importlib
import inspect
import pickletools
import pkgutil
from typing import Any

import dill
import pytest
from pulumi.dynamic import ResourceProvider

import infra
from infra.pickled import PICKLED_PROVIDERS


def _resolve(path: str) -> Any:
    module_name, _, qualname = path.rpartition(".")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _provider_classes() -> dict[str, type[ResourceProvider]]:
    """Every ResourceProvider subclass defined in a module of infra/, by module.qualname."""
    found: dict[str, type[ResourceProvider]] = {}
    for info in pkgutil.walk_packages(infra.__path__, "infra."):
        if info.name == "infra.program":  # the program registers resources when it runs
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, ResourceProvider) and cls is not ResourceProvider
                    and cls.__module__ == module.__name__):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def _pickled_reference(provider: ResourceProvider) -> str:
    """The module.qualname a dill pickle of `provider` names, as the SDK pickles it."""
    data = dill.dumps(provider, protocol=4, recurse=True)
    strings = [arg for op, arg, _ in pickletools.genops(data)
               if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE")]
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert "STACK_GLOBAL" in ops, "pickled by value: the class is not importable by name"
    assert len(data) < 200, f"{len(data)} bytes: more than a reference"
    return f"{strings[0]}.{strings[1]}"


@pytest.mark.parametrize("path", sorted(PICKLED_PROVIDERS))
def test_every_recorded_path_still_leads_to_a_provider(path: str) -> None:
    # A stack's state may hold this path: refresh and destroy unpickle it with this checkout.
    cls = _resolve(path)
    assert inspect.isclass(cls)
    assert issubclass(cls, ResourceProvider), f"{path} is no longer a provider class"


def test_every_provider_class_is_listed_under_its_current_path() -> None:
    classes = _provider_classes()
    assert classes, "no provider class found: the scan is broken"
    missing = sorted(set(classes) - set(PICKLED_PROVIDERS))
    assert not missing, (f"{missing}: add each to infra/pickled.py (and keep the old path "
                         "importable if a class moved: docs/deploy.md)")


@pytest.mark.parametrize("path", sorted(_provider_classes()))
def test_the_sdk_pickles_each_provider_by_a_listed_reference(path: str) -> None:
    provider = _resolve(path)()
    assert _pickled_reference(provider) in PICKLED_PROVIDERS
