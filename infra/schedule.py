"""How long the import's schedule can leave between two runs: the stuck-import alarm fires when
the checkpoint is older than twice that. Pure.

rate(N unit) is exact. For cron(minutes hours day-of-month month day-of-week year), the minute
and hour fields are expanded over one day and the longest gap between two firings is taken
(wrapping past midnight); a cron that also restricts the day fields runs at most daily in
the sense CloudWatch can watch (an alarm looks back at most one day), so it is treated as daily.
"""

from __future__ import annotations

import itertools
import re
from typing import Final

DAY_S: Final = 86_400
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_UNIT_S: Final = {"minute": 60, "hour": 3600, "day": DAY_S}


class ScheduleError(ValueError):
    """An expression whose firing times cannot be worked out."""


def _expand(field: str, lo: int, hi: int) -> set[int]:
    """The values a cron field takes (`*`, `n`, `a-b`, `a/s`, `*/s`, `a-b/s`, lists)."""
    out: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(base)
            end = hi if step_text else start
        if not (lo <= start <= hi and lo <= end <= hi and step > 0):
            raise ScheduleError(f"cron field {field!r} is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return out


def longest_gap_s(expression: str) -> int:
    """The longest time between two runs of `expression`, in seconds."""
    rate = _RATE.match(expression)
    if rate:
        return int(rate.group(1)) * _UNIT_S[rate.group(2)]
    if not (expression.startswith("cron(") and expression.endswith(")")):
        raise ScheduleError(f"not a rate() or cron() expression: {expression!r}")
    fields = expression[5:-1].split()
    if len(fields) != 6:
        raise ScheduleError(f"a cron expression has 6 fields: {expression!r}")
    minute, hour, day_of_month, month, day_of_week, _year = fields
    if any(f not in ("*", "?") for f in (day_of_month, month, day_of_week)):
        return DAY_S
    try:
        times = sorted(h * 3600 + m * 60 for h in _expand(hour, 0, 23)
                       for m in _expand(minute, 0, 59))
    except ValueError as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from None
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps.append(times[0] + DAY_S - times[-1])
    return max(gaps)
