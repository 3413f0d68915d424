"""What `sfbilling config` shows: every key of a stack with its value, where the value comes
from, its scope and consumers, and what is wrong with it. Secrets show as set or unset, never
their value."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from stackconfig.errors import StackConfigError
from stackconfig.resolve import DEFAULT, OVERRIDE, STACK_FILE, resolve
from stackconfig.schema import KEYS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackconfig.stackfile import RawValue


@dataclass(frozen=True, slots=True)
class Row:
    """One key of one stack."""

    key: str
    value: str | None  # None: unset (shown as a dash, null in JSON)
    source: str
    scope: str
    consumers: str
    secret: bool
    problem: str = ""


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return repr(value)
    return str(value)


def describe(raw: Mapping[str, RawValue], *, env: str, source: str,
             overrides: Mapping[str, str] | None = None) -> tuple[list[Row], list[str]]:
    """The rows of a stack, and its problems (empty when it resolves cleanly)."""
    overrides = overrides or {}
    try:
        stack = resolve(raw, env=env, source=source, overrides=overrides)
        problems: list[str] = []
        values: dict[str, Any] = dict(stack.values)
    except StackConfigError as exc:
        problems = exc.problems
        values = {}
    rows = []
    for k in KEYS:
        entry = raw.get(k.full)
        shown: object
        if k.full in overrides:
            shown, origin = overrides[k.full], OVERRIDE
        elif entry is not None and (entry.value is not None or entry.secure):
            shown, origin = entry.value, STACK_FILE
        else:
            shown, origin = k.default, DEFAULT
        text: str | None
        if k.secret:
            text = "set" if entry is not None and entry.secure else "unset"
        else:
            text = _text(values.get(k.name, shown) if k.name in values else shown)
        problem = next((p[len(k.full):].lstrip(" :") for p in problems
                        if p.startswith(k.full + ":") or p.startswith(k.full + " ")), "")
        rows.append(Row(k.full, text, origin, k.scope.value,
                        ", ".join(sorted(c.value for c in k.consumers)), k.secret, problem))
    return rows, problems


def render_table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    head = ("key", "value", "source", "scope", "consumers")
    def shown(value: str | None) -> str:
        text = "—" if value is None else value
        return text if len(text) <= 48 else text[:45] + "…"

    cells = [head] + [(r.key, shown(r.value), r.source, r.scope, r.consumers) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip()
             for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def as_json(rows: list[Row], problems: list[str]) -> dict[str, Any]:
    """The rows and problems for scripts."""
    return {"keys": [asdict(r) for r in rows], "problems": problems}
