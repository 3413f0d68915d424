"""What a promotion carries from one stack to another: the promotable keys, as declared by the
schema, where the two differ. Pure.

Invariant (tests/stackconfig/test_schema.py checks it against `metadata.render`): every key that
changes what the org config renders is promotable, so after a promotion production renders the
very release the sandbox runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackconfig.schema import KEYS, Scope

if TYPE_CHECKING:
    from stackconfig.resolve import StackConfig


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One promoted key: its text before and after (None: unset)."""

    key: str  # as written in a stack file
    old: str | None
    new: str | None


def promotable_changes(source: StackConfig, target: StackConfig) -> list[KeyChange]:
    """The promotable keys whose value in `source` differs from `target`'s, in schema order.
    Per-environment keys and secrets are never carried."""
    out = []
    for k in KEYS:
        if k.scope is not Scope.PROMOTABLE or k.secret:
            continue
        new, old = source.values.get(k.name), target.values.get(k.name)
        if new != old:
            out.append(KeyChange(k.full, None if old is None else k.kind.render(old),
                                 None if new is None else k.kind.render(new)))
    return out
