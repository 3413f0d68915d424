"""CloudWatch's evaluation of a metric-math alarm, for the few functions our alarms use (IF,
FILL, AND, OR, comparisons): moto stores alarms but evaluates none (docs/stand-ins.md). Each
metric is one period's datum, or None when CloudWatch has none (a metric published only when
non-zero, like AWS/Events `Events`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

_ALLOWED = re.compile(r"(?:IF|FILL|AND|OR|[a-z_][a-z0-9_]*|\d+(?:\.\d+)?|==|!=|>=|<=|>|<|[(),\s])+")


def _if(condition: Any, then: float, otherwise: float) -> float:
    return then if condition else otherwise


def _fill(value: float | None, default: float) -> float:
    return default if value is None else value


def evaluate(expression: str, data: Mapping[str, float | None]) -> float | None:
    """The expression's value for one period (None: no datum, as CloudWatch leaves it)."""
    if not _ALLOWED.fullmatch(expression):
        raise ValueError(f"not a metric-math expression this evaluator knows: {expression}")
    python = re.sub(r"\bAND\b", " and ", re.sub(r"\bOR\b", " or ", expression))
    scope = {"IF": _if, "FILL": _fill, **data}
    try:
        return float(eval(python, {"__builtins__": {}}, scope))  # noqa: S307 - checked above
    except TypeError:  # a comparison with a missing datum: no value in this period
        return None


def alarm_state(alarm: Mapping[str, Any], data: Mapping[str, float | None]) -> str:
    """ALARM or OK for one evaluation period of a registered metric-math alarm (the program's
    `metricQueries`, `threshold`, `comparisonOperator`, `treatMissingData`)."""
    [returned] = [q for q in alarm["metricQueries"] if q.get("returnData")]
    value = evaluate(returned["expression"], data)
    if value is None:
        return "ALARM" if alarm.get("treatMissingData") == "breaching" else "OK"
    threshold = float(alarm["threshold"])
    breached = {"GreaterThanOrEqualToThreshold": value >= threshold,
                "GreaterThanThreshold": value > threshold,
                "LessThanThreshold": value < threshold,
                "LessThanOrEqualToThreshold": value <= threshold}[alarm["comparisonOperator"]]
    return "ALARM" if breached else "OK"
