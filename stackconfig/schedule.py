"""EventBridge Scheduler expressions the import accepts, and how long each can leave between two
runs (the stuck-import alarm fires when the checkpoint is older than twice that). Pure.

Accepted, as EventBridge Scheduler's grammar has them:
- `rate(1 minute|hour|day)`, `rate(N minutes|hours|days)` with N ≥ 2 (singular for 1, plural
  otherwise: Scheduler refuses `rate(1 minutes)`);
- `cron(minutes hours day-of-month month day-of-week year)`: six fields, `*`, `?`, values,
  ranges `a-b`, steps `/s`, lists, month names JAN-DEC and day names SUN-SAT (1 = Sunday); one of
  day-of-month and day-of-week is `?`.

Refused: `at(...)` (a one-time schedule is not a schedule for an import), `L`, `W` and `#` (the
gap they leave is not worked out here), a year field that ends the schedule, and any schedule
whose longest gap exceeds MAX_GAP_S: the stuck alarm looks back twice the gap, and CloudWatch
evaluates at most seven days.

The longest gap of a cron is found by listing its firing times over two years (leap day and
every weekday-date combination included), exactly.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from typing import Final

DAY_S: Final = 86_400
MAX_GAP_S: Final = 7 * DAY_S // 2  # twice that is CloudWatch's longest look-back
_RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)$")
_UNIT_S: Final = {"minute": 60, "hour": 3600, "day": DAY_S}
_MONTHS: Final = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_DAYS: Final = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
_HORIZON_DAYS: Final = 2 * 366
_START: Final = date(2028, 1, 1)  # a leap year, so 29 February is among the days listed


class ScheduleError(ValueError):
    """An expression the import does not accept; the message says why."""


def _value(text: str, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"{text!r} is not a number{' or a name' if names else ''}")
    return int(text)


def _expand(field: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a cron field takes (`*`, `n`, `a-b`, `a/s`, `*/s`, `a-b/s`, lists)."""
    names = names or {}
    bare = re.sub("|".join(names), "", field.upper()) if names else field.upper()
    if any(c in bare for c in ("L", "W", "#")):
        raise ScheduleError(f"cron field {field!r}: L, W and # are not accepted")
    out: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        if step_text and not step_text.isdigit():
            raise ScheduleError(f"cron field {field!r}: a step is a number")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(base, names)
            end = hi if step_text else start
        if not (lo <= start <= hi and lo <= end <= hi and step > 0 and start <= end):
            raise ScheduleError(f"cron field {field!r} is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return out


def _cron_times(fields: list[str]) -> list[int]:
    """Firing times (seconds from _START) over the horizon."""
    minute, hour, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError("one of day-of-month and day-of-week must be `?`, the other not")
    if year not in ("*", "?"):
        raise ScheduleError(f"year {year!r}: a schedule that ends some year is not accepted; "
                            "use `*`")
    minutes = _expand(minute, 0, 59)
    hours = _expand(hour, 0, 23)
    months = _expand(month, 1, 12, _MONTHS)
    doms = None if day_of_month == "?" else _expand(day_of_month, 1, 31)
    dows = None if day_of_week == "?" else _expand(day_of_week, 1, 7, _DAYS)
    in_day = sorted(h * 3600 + m * 60 for h in hours for m in minutes)
    times: list[int] = []
    for offset in range(_HORIZON_DAYS):
        day = _START + timedelta(days=offset)
        weekday = day.isoweekday() % 7 + 1  # Sunday = 1, as AWS numbers them
        if day.month in months and (doms is None or day.day in doms) and \
                (dows is None or weekday in dows):
            times += [offset * DAY_S + t for t in in_day]
    if not times:
        raise ScheduleError("it never fires")
    return times


def longest_gap_s(expression: str) -> int:
    """The longest time between two runs of `expression`, in seconds (ScheduleError for an
    expression the import does not accept)."""
    rate = _RATE.match(expression)
    if rate:
        count = 1 if rate.group(2) else int(rate.group(3))
        unit = rate.group(2) or rate.group(4)[:-1]
        return count * _UNIT_S[unit]
    if expression.startswith("rate("):
        raise ScheduleError(f"{expression!r}: rate(1 minute|hour|day) or rate(N minutes|hours|"
                            "days) with N at least 2")
    if not (expression.startswith("cron(") and expression.endswith(")")):
        raise ScheduleError(f"{expression!r}: a rate() or cron() expression (at() is one run, "
                            "not a schedule)")
    fields = expression[5:-1].split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: a cron expression has 6 fields")
    try:
        times = _cron_times(fields)
    except ScheduleError as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from None
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps.append(times[0] + _HORIZON_DAYS * DAY_S - times[-1])  # wrap: the horizon repeats
    return max(gaps)


def schedule_problem(expression: str) -> str | None:
    """Why the import does not accept `expression` (None: it does)."""
    try:
        gap = longest_gap_s(expression)
    except ScheduleError as exc:
        return str(exc)
    if gap > MAX_GAP_S:
        return (f"{expression!r} can leave {gap / 3600:.0f} hours between runs: at most "
                f"{MAX_GAP_S // 3600} hours, so the stuck alarm (twice the longest gap) fits in "
                "CloudWatch's seven-day look-back")
    return None
