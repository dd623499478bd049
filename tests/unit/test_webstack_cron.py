"""
webstack_cron: cron's five fields as Debian's cron reads them, when a schedule runs, and
how old a backup may be under the schedules before it counts as missed.
"""

import datetime

import pytest

from tests.support.config import cron_util as cron

UTC = datetime.UTC
MONDAY = datetime.datetime(2026, 12, 7, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize("schedule", ["15 3 * * 0", "15 3 * * 1-6", "*/5 * * * *", "0 0 1,15 * *", "0 12 * 1-12/2 7",
                                      "30 2 * * 0,3"])
def test_a_schedule_cron_takes_is_valid(schedule):
    assert cron.is_valid(schedule)


@pytest.mark.parametrize("schedule", ["", "15 3 * *", "15 3 * * * *", "60 3 * * *", "15 24 * * *", "0 0 0 * *",
                                      "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *", "a b c d e", "5-1 * * * *", "@daily",
                                      None, 5])
def test_a_schedule_cron_refuses_is_not_valid(schedule):
    assert not cron.is_valid(schedule)


def test_the_times_a_schedule_runs_in_a_week():
    week = (MONDAY, MONDAY + datetime.timedelta(days=7))
    sundays = cron.times("15 3 * * 0", *week)
    assert sundays == [datetime.datetime(2026, 12, 13, 3, 15, tzinfo=UTC)]
    others = cron.times("15 3 * * 1-6", *week)
    assert len(others) == 6 and others[0] == datetime.datetime(2026, 12, 7, 3, 15, tzinfo=UTC)
    assert len(cron.times("*/30 9-10 * * 1", *week)) == 4
    # day of month and weekday both restricted: either matches (the 1st and the 15th, and Mondays)
    assert [t.day for t in cron.times("0 0 1,15 * 1", MONDAY, MONDAY + datetime.timedelta(days=31))] == \
        [7, 14, 15, 21, 28, 1, 4]


def test_the_allowed_age_is_the_longest_gap_plus_the_grace():
    # a backup every day: a day and two hours; weekly only: a week and two hours
    assert cron.allowed_age(["15 3 * * 0", "15 3 * * 1-6"], MONDAY) == datetime.timedelta(hours=26)
    assert cron.allowed_age(["15 3 * * 0"], MONDAY) == datetime.timedelta(days=7, hours=2)
    # Mondays and Thursdays: the long gap is Thursday to Monday
    assert cron.allowed_age(["0 1 * * 1", "0 1 * * 4"], MONDAY) == datetime.timedelta(days=4, hours=2)
