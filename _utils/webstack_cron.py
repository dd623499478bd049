"""
cron's schedules (the five fields of a crontab line, as Debian's cron reads them): whether
one is valid, when it runs, and how long the longest gap between two runs of some
schedules is (how old the newest backup may be before it counts as a missed one).

Fields take digits, ``*``, lists (``,``), ranges (``-``) and steps (``/``); names
(``mon``, ``jan``) and the ``@daily`` forms are not taken. Day of month and weekday
combine as cron combines them: either matches when both are restricted.
"""

import datetime

# a scheduled run may take this long before its absence counts as a missed one
GRACE = datetime.timedelta(hours=2)
# how far the gaps between runs are looked for (a week and a day: every weekly schedule)
HORIZON = datetime.timedelta(days=8)
# each field's range: minute, hour, day of month, month, weekday (0 and 7: Sunday)
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def field_values(field, low, high):
    """The values of one field within ``low``-``high``; ValueError naming the part that is not."""
    values = set()
    for part in field.split(","):
        rng, slash, step = part.partition("/")
        try:
            if rng == "*":
                start, end = low, high
            elif "-" in rng:
                start, end = (int(x) for x in rng.split("-", 1))
            else:
                start = end = int(rng)
                if slash:
                    end = high
            stride = int(step) if slash else 1
        except ValueError:
            raise ValueError(f"{part!r} is not a number, '*', a range or a step") from None
        if not low <= start <= end <= high or stride < 1:
            raise ValueError(f"{part!r} is not within {low}-{high}")
        values.update(range(start, end + 1, stride))
    return values


def parse(schedule):
    """The five fields' values (minutes, hours, days, months, weekdays with Sunday as 0),
    and whether day and weekday are both restricted; ValueError when it is not cron's."""
    if not isinstance(schedule, str) or len(schedule.split()) != 5:
        raise ValueError("expected five fields")
    fields = schedule.split()
    values = [field_values(f, lo, hi) for f, (lo, hi) in zip(fields, RANGES, strict=True)]
    values[4] = {d % 7 for d in values[4]}
    return values, fields[2] != "*" and fields[4] != "*"


def is_valid(schedule):
    """Whether ``schedule`` is five fields that cron takes, each within its range."""
    try:
        parse(schedule)
    except ValueError:
        return False
    return True


def times(schedule, start, end):
    """The times in [``start``, ``end``) at which cron runs ``schedule`` (aware datetimes
    give aware ones, in ``start``'s zone)."""
    (minutes, hours, days, months, weekdays), both = parse(schedule)
    day = datetime.datetime(start.year, start.month, start.day, tzinfo=start.tzinfo)
    found = []
    while day < end:
        weekday = (day.weekday() + 1) % 7  # cron: 0 is Sunday
        day_ok = (day.day in days or weekday in weekdays) if both else (day.day in days and weekday in weekdays)
        if day.month in months and day_ok:
            found += [t for t in (day.replace(hour=h, minute=m) for h in sorted(hours) for m in sorted(minutes))
                      if start <= t < end]
        day += datetime.timedelta(days=1)
    return found


def allowed_age(schedules, now):
    """How old the newest run's result may be under ``schedules``: the longest gap between
    two runs of any of them around ``now``, plus :py:data:`GRACE` for a run to finish."""
    runs = sorted(t for s in schedules for t in times(s, now - HORIZON, now + HORIZON))
    if len(runs) < 2:
        return HORIZON + GRACE
    return max(b - a for a, b in zip(runs, runs[1:], strict=False)) + GRACE
