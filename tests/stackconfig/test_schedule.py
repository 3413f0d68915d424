"""The schedules the import accepts (EventBridge Scheduler's grammar), and the longest gap each
leaves between runs (the stuck-import alarm's threshold)."""

from __future__ import annotations

import pytest

from stackconfig.schedule import MAX_GAP_S, ScheduleError, longest_gap_s, schedule_problem


@pytest.mark.parametrize(("expression", "gap"), [
    ("rate(1 minute)", 60), ("rate(15 minutes)", 900), ("rate(2 hours)", 7200),
    ("rate(1 day)", 86_400), ("rate(36 hours)", 36 * 3600), ("rate(2 days)", 2 * 86_400),
    ("cron(0/15 * * * ? *)", 900), ("cron(*/10 * * * ? *)", 600), ("cron(5 * * * ? *)", 3600),
    # 08:00-18:00 every half hour: the night is the longest gap (18:30 → 08:00).
    ("cron(0,30 8-18 * * ? *)", 13.5 * 3600), ("cron(0 6,18 * * ? *)", 12 * 3600),
    # Weekdays at 09:00: Friday → Monday is the longest gap (three days).
    ("cron(0 9 ? * MON-FRI *)", 3 * 86_400), ("cron(0 9 ? * 2-6 *)", 3 * 86_400),
    # Every other day by date: the 31st → the 1st is one day, 29th → 1st of March two.
    ("cron(0 3 1/2 * ? *)", 2 * 86_400),
    ("cron(15 3 1 * ? *)", 31 * 86_400), ("cron(0 9 ? * MON *)", 7 * 86_400),
])
def test_the_longest_gap(expression: str, gap: float) -> None:
    assert longest_gap_s(expression) == gap


@pytest.mark.parametrize("expression", [
    "cron(61 * * * ? *)", "cron(0 25 * * ? *)", "cron(0 * * *)", "every 5 minutes",
    "cron(L * * * ? *)", "cron(0 9 L * ? *)", "cron(0 9 ? * MON#2 *)", "cron(0 9 * * * *)",
    "cron(0 9 ? * ? *)", "cron(0 9 * * ? 2027)", "rate(1 minutes)", "rate(0 minutes)",
    "rate(2 minute)", "at(2027-01-01T00:00:00)", "cron(0 9 30 2 ? *)",
])
def test_what_scheduler_or_the_alarm_cannot_take_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        longest_gap_s(expression)
    assert schedule_problem(expression)


@pytest.mark.parametrize("expression", ["rate(4 days)", "cron(0 9 ? * MON *)",
                                        "cron(15 3 1 * ? *)"])
def test_a_schedule_whose_alarm_cannot_look_back_far_enough_is_refused(expression: str) -> None:
    problem = schedule_problem(expression)
    assert problem is not None and "seven-day" in problem
    assert longest_gap_s(expression) > MAX_GAP_S


@pytest.mark.parametrize("expression", ["rate(36 hours)", "rate(2 days)", "rate(3 days)",
                                        "cron(0 9 ? * MON-FRI *)", "cron(0 3 1/2 * ? *)"])
def test_long_but_watchable_schedules_are_accepted(expression: str) -> None:
    assert schedule_problem(expression) is None
