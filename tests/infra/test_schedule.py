"""The longest gap a schedule leaves between runs (the stuck-import alarm's threshold)."""

from __future__ import annotations

import pytest

from infra.schedule import ScheduleError, longest_gap_s


@pytest.mark.parametrize(("expression", "gap"), [
    ("rate(1 minute)", 60), ("rate(15 minutes)", 900), ("rate(2 hours)", 7200),
    ("rate(1 day)", 86_400),
    ("cron(0/15 * * * ? *)", 900), ("cron(*/10 * * * ? *)", 600), ("cron(5 * * * ? *)", 3600),
    # 08:00-18:00 every half hour: the night is the longest gap (18:30 → 08:00).
    ("cron(0,30 8-18 * * ? *)", 13.5 * 3600), ("cron(0 6,18 * * ? *)", 12 * 3600),
    ("cron(0 9 ? * MON-FRI *)", 86_400), ("cron(15 3 1 * ? *)", 86_400),
])
def test_the_longest_gap(expression: str, gap: float) -> None:
    assert longest_gap_s(expression) == gap


@pytest.mark.parametrize("expression", ["cron(61 * * * ? *)", "cron(0 25 * * ? *)",
                                        "cron(0 * * *)", "every 5 minutes", "cron(L * * * ? *)"])
def test_what_cannot_be_worked_out_is_an_error(expression: str) -> None:
    with pytest.raises(ScheduleError):
        longest_gap_s(expression)
