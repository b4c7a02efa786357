"""Working-time arithmetic: worked examples a reviewer can check by hand, then properties that
must hold for every calendar, instant and amount (hypothesis)."""

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aftersales.core.business_time import (
    CalendarSpec,
    add_working_days,
    add_working_time,
    is_working_day,
    is_working_time,
    next_working_time,
    working_periods,
    working_time_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


def week(
    *days: tuple[tuple[dt.time, dt.time], ...],
) -> tuple[tuple[tuple[dt.time, dt.time], ...], ...]:
    return tuple(days)


def day_range(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


def utc(value: dt.datetime) -> dt.datetime:
    """Compare instants, not wall clocks (same-zone datetimes compare by wall clock)."""
    return value.astimezone(UTC)


# The State Council's 2026 schedule: days off, and the weekend days worked instead (调休).
CN_2026_HOLIDAYS = (
    day_range(dt.date(2026, 1, 1), dt.date(2026, 1, 3))
    | day_range(dt.date(2026, 2, 15), dt.date(2026, 2, 23))
    | day_range(dt.date(2026, 4, 4), dt.date(2026, 4, 6))
    | day_range(dt.date(2026, 5, 1), dt.date(2026, 5, 5))
    | day_range(dt.date(2026, 6, 19), dt.date(2026, 6, 21))
    | day_range(dt.date(2026, 9, 25), dt.date(2026, 9, 27))
    | day_range(dt.date(2026, 10, 1), dt.date(2026, 10, 7))
)
CN_2026_WORKDAYS = {
    dt.date(2026, 1, 4): 0,
    dt.date(2026, 2, 14): 0,
    dt.date(2026, 2, 28): 0,
    dt.date(2026, 5, 9): 0,
    dt.date(2026, 9, 20): 0,
    dt.date(2026, 10, 10): 0,
}
OFFICE = ((t(9), t(18)),)
OFFICE_WITH_LUNCH = ((t(9), t(12)), (t(13), t(18)))
CLOSED: tuple[tuple[dt.time, dt.time], ...] = ()

MAINLAND = CalendarSpec(
    time_zone="Asia/Shanghai",
    weekly=week(OFFICE, OFFICE, OFFICE, OFFICE, OFFICE, CLOSED, CLOSED),
    holidays=frozenset(CN_2026_HOLIDAYS),
    workdays=CN_2026_WORKDAYS,
)
MAINLAND_LUNCH = CalendarSpec(
    time_zone="Asia/Shanghai",
    weekly=week(*[OFFICE_WITH_LUNCH] * 5, CLOSED, CLOSED),
    holidays=frozenset(CN_2026_HOLIDAYS),
    workdays=CN_2026_WORKDAYS,
)
HOTLINE_NY = CalendarSpec(
    time_zone="America/New_York", weekly=week(*[CLOSED] * 7), always_open=True
)
# Daily 08:00-20:00, Saturday mornings only.
NEW_YORK_DESK = CalendarSpec(
    time_zone="America/New_York",
    weekly=week(*[((t(8), t(20)),)] * 5, ((t(8), t(12)),), ((t(8), t(20)),)),
)
NIGHT = ((t(0), t(6)), (t(22), dt.time.max))
BERLIN_NIGHT_SHIFT = CalendarSpec(time_zone="Europe/Berlin", weekly=week(*[NIGHT] * 7))

FIXED = {
    "mainland-lunch": MAINLAND_LUNCH,
    "hotline-24x7-new-york": HOTLINE_NY,
    "new-york-desk": NEW_YORK_DESK,
    "berlin-night-shift": BERLIN_NIGHT_SHIFT,
}


# Worked examples: mainland China office hours, Mon-Fri 09:00-18:00, 2026.


def test_national_day_one_working_hour_before_closing() -> None:
    # 5 minutes on 30 September, closed 1-7 October, 55 minutes on Thursday 8 October.
    due = add_working_time(MAINLAND, dt.datetime(2026, 9, 30, 17, 55, tzinfo=SHANGHAI), H)
    assert due == dt.datetime(2026, 10, 8, 9, 55, tzinfo=SHANGHAI)
    assert due.tzinfo == SHANGHAI


def test_input_in_another_zone_gives_the_same_due_time_in_the_calendar_zone() -> None:
    created = dt.datetime(2026, 9, 30, 9, 55, tzinfo=UTC)  # 17:55 in Shanghai
    due = add_working_time(MAINLAND, created, H)
    assert (due.tzinfo, due.replace(tzinfo=None)) == (SHANGHAI, dt.datetime(2026, 10, 8, 9, 55))


def test_make_up_saturday_after_national_day_is_worked() -> None:
    due = add_working_time(MAINLAND, dt.datetime(2026, 10, 9, 17, 30, tzinfo=SHANGHAI), H)
    assert due == dt.datetime(2026, 10, 10, 9, 30, tzinfo=SHANGHAI)  # Saturday 调休上班
    assert is_working_day(MAINLAND, dt.date(2026, 10, 10))
    assert not is_working_day(MAINLAND, dt.date(2026, 10, 11))


def test_spring_festival_2026() -> None:
    # Friday 13 Feb, then the make-up Saturday 14 Feb.
    due = add_working_time(MAINLAND, dt.datetime(2026, 2, 13, 17, tzinfo=SHANGHAI), 2 * H)
    assert due == dt.datetime(2026, 2, 14, 10, tzinfo=SHANGHAI)
    # From the make-up Saturday over the whole festival (15-23 Feb off) to Tuesday 24 Feb.
    due = add_working_time(MAINLAND, dt.datetime(2026, 2, 14, 17, tzinfo=SHANGHAI), 2 * H)
    assert due == dt.datetime(2026, 2, 24, 10, tzinfo=SHANGHAI)
    # 14 Feb, 24-27 Feb and the make-up Saturday 28 Feb: six days of nine hours.
    worked = working_time_between(
        MAINLAND,
        dt.datetime(2026, 2, 14, 9, tzinfo=SHANGHAI),
        dt.datetime(2026, 2, 28, 18, tzinfo=SHANGHAI),
    )
    assert worked == 54 * H
    # "Two working days" from Friday morning: Saturday 14 Feb, then Tuesday 24 Feb.
    assert add_working_days(
        MAINLAND, dt.datetime(2026, 2, 13, 10, tzinfo=SHANGHAI), 2
    ) == dt.datetime(2026, 2, 24, 10, tzinfo=SHANGHAI)


def test_between_over_a_weekend_counts_only_office_hours() -> None:
    friday = dt.datetime(2026, 3, 6, 17, tzinfo=SHANGHAI)
    monday = dt.datetime(2026, 3, 9, 10, tzinfo=SHANGHAI)
    assert working_time_between(MAINLAND, friday, monday) == 2 * H
    assert working_time_between(MAINLAND, monday, friday) == dt.timedelta(0)


def test_amount_used_up_at_closing_time_is_due_at_closing_time() -> None:
    due = add_working_time(MAINLAND, dt.datetime(2026, 9, 30, 17, 55, tzinfo=SHANGHAI), 5 * MIN)
    assert due == dt.datetime(2026, 9, 30, 18, tzinfo=SHANGHAI)


def test_adding_zero_keeps_the_start_and_next_working_time_rolls_forward() -> None:
    saturday_noon = dt.datetime(2026, 10, 3, 12, tzinfo=SHANGHAI)
    assert add_working_time(MAINLAND, saturday_noon, dt.timedelta(0)) == saturday_noon
    assert next_working_time(MAINLAND, saturday_noon) == dt.datetime(
        2026, 10, 8, 9, tzinfo=SHANGHAI
    )
    at_work = dt.datetime(2026, 10, 8, 11, tzinfo=SHANGHAI)
    assert next_working_time(MAINLAND, at_work) == at_work
    closing = dt.datetime(2026, 10, 8, 18, tzinfo=SHANGHAI)
    assert not is_working_time(MAINLAND, closing)  # periods are half-open
    assert next_working_time(MAINLAND, closing) == dt.datetime(2026, 10, 9, 9, tzinfo=SHANGHAI)


def test_working_days_keep_the_time_of_day() -> None:
    evening = dt.datetime(2026, 9, 30, 17, 55, tzinfo=SHANGHAI)
    assert add_working_days(MAINLAND, evening, 1) == dt.datetime(
        2026, 10, 8, 17, 55, tzinfo=SHANGHAI
    )
    # A request on a holiday starts counting when the office opens.
    holiday = dt.datetime(2026, 10, 3, 12, tzinfo=SHANGHAI)
    assert add_working_days(MAINLAND, holiday, 0) == dt.datetime(2026, 10, 8, 9, tzinfo=SHANGHAI)
    assert add_working_days(MAINLAND, holiday, 1) == dt.datetime(2026, 10, 9, 9, tzinfo=SHANGHAI)


def test_working_days_clamp_to_a_shorter_day() -> None:
    friday_afternoon = dt.datetime(2026, 6, 5, 15, tzinfo=NEW_YORK)
    # Saturday works 08:00-12:00 only: the answer is Saturday's closing time.
    assert add_working_days(NEW_YORK_DESK, friday_afternoon, 1) == dt.datetime(
        2026, 6, 6, 12, tzinfo=NEW_YORK
    )
    assert add_working_days(NEW_YORK_DESK, friday_afternoon, 2) == dt.datetime(
        2026, 6, 7, 15, tzinfo=NEW_YORK
    )
    lunch_break = dt.datetime(2026, 6, 8, 12, 30, tzinfo=SHANGHAI)  # Monday, 12:30 is a break
    assert add_working_days(MAINLAND_LUNCH, lunch_break, 1) == dt.datetime(
        2026, 6, 9, 13, tzinfo=SHANGHAI
    )


def test_day_length_is_the_longest_regular_day() -> None:
    assert MAINLAND.day_length == 9 * H
    assert MAINLAND_LUNCH.day_length == 8 * H
    assert NEW_YORK_DESK.day_length == 12 * H
    assert BERLIN_NIGHT_SHIFT.day_length == 8 * H
    assert HOTLINE_NY.day_length == 24 * H


# Worked examples: periods ending at midnight, and daylight-saving changes.


def test_night_shift_runs_through_midnight() -> None:
    start = dt.datetime(2026, 6, 10, 23, 30, tzinfo=BERLIN)
    assert add_working_time(BERLIN_NIGHT_SHIFT, start, H) == dt.datetime(
        2026, 6, 11, 0, 30, tzinfo=BERLIN
    )
    assert is_working_time(BERLIN_NIGHT_SHIFT, dt.datetime(2026, 6, 10, 23, 59, 59, tzinfo=BERLIN))
    assert not is_working_time(BERLIN_NIGHT_SHIFT, dt.datetime(2026, 6, 11, 6, tzinfo=BERLIN))
    assert add_working_time(
        BERLIN_NIGHT_SHIFT, dt.datetime(2026, 6, 11, 5, 30, tzinfo=BERLIN), H
    ) == dt.datetime(2026, 6, 11, 22, 30, tzinfo=BERLIN)
    assert working_periods(BERLIN_NIGHT_SHIFT, dt.date(2026, 6, 10))[-1] == (
        dt.datetime(2026, 6, 10, 22, tzinfo=BERLIN),
        dt.datetime(2026, 6, 11, 0, tzinfo=BERLIN),
    )


def test_spring_forward_night_is_an_hour_shorter() -> None:
    # 29 March 2026 in Berlin: clocks jump from 02:00 to 03:00 during the 00:00-06:00 shift.
    night_start = dt.datetime(2026, 3, 29, 0, tzinfo=BERLIN)
    night_end = dt.datetime(2026, 3, 29, 6, tzinfo=BERLIN)
    assert working_time_between(BERLIN_NIGHT_SHIFT, night_start, night_end) == 5 * H
    due = add_working_time(BERLIN_NIGHT_SHIFT, dt.datetime(2026, 3, 28, 23, tzinfo=BERLIN), 3 * H)
    assert (due.replace(tzinfo=None), due.utcoffset()) == (dt.datetime(2026, 3, 29, 3), 2 * H)


def test_fall_back_night_is_an_hour_longer() -> None:
    # 25 October 2026: clocks go back from 03:00 to 02:00, so 02:00-03:00 happens twice.
    night_start = dt.datetime(2026, 10, 25, 0, tzinfo=BERLIN)
    night_end = dt.datetime(2026, 10, 25, 6, tzinfo=BERLIN)
    assert working_time_between(BERLIN_NIGHT_SHIFT, night_start, night_end) == 7 * H
    due = add_working_time(BERLIN_NIGHT_SHIFT, dt.datetime(2026, 10, 24, 23, tzinfo=BERLIN), 4 * H)
    # 01:00 UTC is the second 02:00, in winter time.
    assert utc(due) == dt.datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert (due.replace(tzinfo=None), due.utcoffset(), due.fold) == (
        dt.datetime(2026, 10, 25, 2),
        H,
        1,
    )


def test_new_york_desk_across_the_spring_change() -> None:
    saturday_evening = dt.datetime(2026, 3, 7, 19, tzinfo=NEW_YORK)  # EST
    sunday_morning = dt.datetime(2026, 3, 8, 9, tzinfo=NEW_YORK)  # EDT
    assert utc(sunday_morning) - utc(saturday_evening) == 13 * H
    # Saturday is 08:00-12:00 for this desk, so only Sunday 08:00-09:00 counts.
    assert working_time_between(NEW_YORK_DESK, saturday_evening, sunday_morning) == H


def test_always_open_is_real_elapsed_time_even_across_daylight_saving() -> None:
    noon_est = dt.datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)
    due = add_working_time(HOTLINE_NY, noon_est, 24 * H)
    assert due == dt.datetime(2026, 3, 8, 13, tzinfo=NEW_YORK)  # 24 real hours: 13:00 EDT
    assert working_time_between(HOTLINE_NY, noon_est, due) == 24 * H
    # A working day keeps the wall clock: 23 real hours on the short day.
    assert add_working_days(HOTLINE_NY, noon_est, 1) == dt.datetime(2026, 3, 8, 12, tzinfo=NEW_YORK)


def test_boundaries_inside_skipped_or_repeated_hours() -> None:
    spec = CalendarSpec(
        time_zone="America/New_York", weekly=week(*[((t(1, 30), t(2, 30)), (t(2, 30), t(4)))] * 7)
    )
    # 8 March 2026: 02:00-03:00 does not exist; a boundary at 02:30 is the jump itself (03:00).
    assert working_periods(spec, dt.date(2026, 3, 8)) == [
        (
            dt.datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK),
            dt.datetime(2026, 3, 8, 3, tzinfo=NEW_YORK),
        ),
        (dt.datetime(2026, 3, 8, 3, tzinfo=NEW_YORK), dt.datetime(2026, 3, 8, 4, tzinfo=NEW_YORK)),
    ]
    # 1 November 2026: 01:00-02:00 happens twice; a boundary at 01:30 is its first occurrence.
    first, second = working_periods(spec, dt.date(2026, 11, 1))
    assert utc(first[0]) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert utc(first[1]) - utc(first[0]) == 2 * H  # 01:30 EDT to 02:30 EST
    assert utc(second[1]) - utc(second[0]) == 90 * MIN


def test_clocks_changed_at_midnight() -> None:
    santiago = ZoneInfo("America/Santiago")
    night_shift = CalendarSpec(time_zone="America/Santiago", weekly=week(*[NIGHT] * 7))
    # 4 April 2026: at 24:00 the clocks go back to 23:00, so 22:00-24:00 lasts three hours.
    evening = dt.datetime(2026, 4, 4, 22, tzinfo=santiago)
    repeated = dt.datetime(2026, 4, 4, 23, 30, tzinfo=santiago, fold=1)
    assert is_working_time(night_shift, repeated)
    assert working_time_between(night_shift, evening, repeated) == 150 * MIN
    _, second = working_periods(night_shift, dt.date(2026, 4, 4))
    assert utc(second[1]) - utc(second[0]) == 3 * H
    # 6 September 2026: midnight does not exist, the day begins at 01:00.
    assert working_periods(night_shift, dt.date(2026, 9, 6))[0] == (
        dt.datetime(2026, 9, 6, 1, tzinfo=santiago),
        dt.datetime(2026, 9, 6, 6, tzinfo=santiago),
    )


def test_clocks_turned_back_into_the_previous_date() -> None:
    # Casey station, 5 March 2010: at 02:00 (UTC+11) the clocks went back to 23:00 (UTC+8) of
    # 4 March. The 00:00-06:00 shift of 5 March had begun at the first midnight, so instants the
    # clock shows as "4 March 23:xx" the second time belong to the 5 March shift (9 real hours).
    casey = ZoneInfo("Antarctica/Casey")
    spec = CalendarSpec(time_zone="Antarctica/Casey", weekly=week(*[((t(0), t(6)),)] * 7))
    back_in_yesterday = dt.datetime(2010, 3, 4, 15, 30, tzinfo=UTC).astimezone(casey)
    assert back_in_yesterday.date() == dt.date(2010, 3, 4)
    assert is_working_time(spec, back_in_yesterday)
    assert working_time_between(
        spec, dt.datetime(2010, 3, 4, 12, tzinfo=UTC), back_in_yesterday
    ) == dt.timedelta(hours=2, minutes=30)
    assert (
        working_time_between(
            spec, dt.datetime(2010, 3, 4, 12, tzinfo=UTC), dt.datetime(2010, 3, 5, 12, tzinfo=casey)
        )
        == 9 * H
    )
    due = add_working_time(spec, dt.datetime(2010, 3, 4, 13, tzinfo=UTC), 3 * H)
    # An ambiguous time is never == to a time in another zone (PEP 495): compare instants.
    assert utc(due) == dt.datetime(2010, 3, 4, 16, tzinfo=UTC)


# Refusals


def test_a_calendar_without_working_time_raises_instead_of_looping() -> None:
    empty = CalendarSpec(time_zone="Asia/Shanghai", weekly=week(*[CLOSED] * 7))
    monday = dt.datetime(2026, 6, 8, 10, tzinfo=SHANGHAI)
    for call in (
        lambda: add_working_time(empty, monday, H),
        lambda: next_working_time(empty, monday),
        lambda: add_working_days(empty, monday, 1),
    ):
        with pytest.raises(ValueError):
            call()
    assert working_time_between(empty, monday, monday + 24 * H) == dt.timedelta(0)
    # One make-up day long ago: the search gives up after three years instead of running on.
    stale = CalendarSpec(
        time_zone="Asia/Shanghai", weekly=week(*[CLOSED] * 7), workdays={dt.date(2020, 1, 4): 0}
    )
    with pytest.raises(ValueError, match="no working time"):
        next_working_time(stale, monday)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_time(MAINLAND, dt.datetime(2026, 6, 8, 10), H)  # naive
    with pytest.raises(ValueError):
        add_working_time(MAINLAND, dt.datetime(2026, 6, 8, 10, tzinfo=SHANGHAI), -H)
    with pytest.raises(ValueError):
        add_working_days(MAINLAND, dt.datetime(2026, 6, 8, 10, tzinfo=SHANGHAI), -1)
    with pytest.raises(ValueError, match="7 days"):
        CalendarSpec(time_zone="Asia/Shanghai", weekly=week(OFFICE))
    with pytest.raises(ValueError, match="overlap"):
        CalendarSpec(
            time_zone="Asia/Shanghai",
            weekly=week(((t(9), t(12)), (t(11), t(18))), *[CLOSED] * 6),
        )
    with pytest.raises(ValueError, match="unknown time zone"):
        CalendarSpec(time_zone="Asia/Peking", weekly=week(*[OFFICE] * 7))
    with pytest.raises(ValueError, match="ends before"):
        CalendarSpec(time_zone="Asia/Shanghai", weekly=week(((t(18), t(9)),), *[CLOSED] * 6))


def test_specs_are_hashable_values() -> None:
    same = CalendarSpec(
        time_zone="Asia/Shanghai",
        weekly=MAINLAND.weekly,
        holidays=frozenset(CN_2026_HOLIDAYS),
        workdays=dict(CN_2026_WORKDAYS),
    )
    assert same == MAINLAND and hash(same) == hash(MAINLAND)
    assert {MAINLAND: "office"}[same] == "office"


# Properties


ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Asia/Shanghai",
        "America/New_York",
        "Europe/Berlin",
        "America/Sao_Paulo",  # changed clocks at midnight until 2019
        "America/Santiago",  # changes clocks at midnight
        "Australia/Lord_Howe",  # half-hour daylight saving
        "Antarctica/Casey",  # turned back from 02:00 to 23:00 of the day before, in 2010
    )
]
# Windows with daylight-saving changes in all those zones (and China's 2026 holidays).
WINDOWS = [
    (dt.date(2010, 2, 1), dt.date(2010, 4, 30)),
    (dt.date(2018, 10, 1), dt.date(2019, 3, 31)),
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
]
window_dates = st.sampled_from(WINDOWS).flatmap(lambda w: st.dates(w[0], w[1]))


@functools.cache
def clock_changes(key: str) -> tuple[dt.datetime, ...]:
    """The hours (UTC) in the test windows during which the zone's UTC offset changes."""
    zone = ZoneInfo(key)
    changes = []
    for first, last in WINDOWS:
        hour = dt.datetime.combine(first, dt.time.min, tzinfo=UTC)
        end = dt.datetime.combine(last, dt.time.max, tzinfo=UTC)
        while hour < end:
            following = hour + H
            if hour.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
                changes.append(hour)
            hour = following
    return tuple(changes)


@st.composite
def instants(draw: st.DrawFn, spec: CalendarSpec) -> dt.datetime:
    """Aware datetimes in any zone, often on a quarter hour so period boundaries are hit, and
    often within a few hours of one of the calendar's daylight-saving changes."""
    zone = draw(st.sampled_from(ZONES))
    changes = clock_changes(spec.time_zone)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        quarters = draw(st.integers(-16, 16))
        return (change + quarters * 15 * MIN).astimezone(draw(st.sampled_from([zone, spec.zone])))
    day = draw(window_dates)
    if draw(st.booleans()):
        quarter = draw(st.integers(0, 95))
        wall = dt.datetime.combine(day, dt.time(quarter // 4, 15 * (quarter % 4)))
    else:
        wall = dt.datetime.combine(day, dt.time.min) + draw(
            st.timedeltas(dt.timedelta(0), dt.timedelta(days=1) - dt.timedelta(microseconds=1))
        )
    return wall.replace(tzinfo=zone, fold=draw(st.integers(0, 1)))


def quarter_time(quarter: int) -> dt.time:
    return dt.time.max if quarter == 96 else dt.time(quarter // 4, 15 * (quarter % 4))


@st.composite
def random_calendars(draw: st.DrawFn) -> CalendarSpec:
    """Up to three periods a day on quarter hours (some ending at midnight), any zone,
    random holidays and make-up days."""
    weekly = []
    for _ in range(7):
        cuts = sorted(draw(st.lists(st.integers(0, 96), unique=True, max_size=6)))
        weekly.append(
            tuple(
                (quarter_time(start), quarter_time(end))
                for start, end in zip(cuts[::2], cuts[1::2], strict=False)
            )
        )
    assume(any(weekly))
    return CalendarSpec(
        time_zone=draw(st.sampled_from(ZONES)).key,
        weekly=tuple(weekly),
        holidays=frozenset(draw(st.sets(window_dates, max_size=40))),
        workdays=draw(st.dictionaries(window_dates, st.integers(0, 6), max_size=10)),
    )


CALENDAR_NAMES = [*FIXED, "random"]


def draw_calendar(data: st.DataObject, name: str) -> CalendarSpec:
    return FIXED[name] if name in FIXED else data.draw(random_calendars(), label="calendar")


def amounts(spec: CalendarSpec) -> st.SearchStrategy[dt.timedelta]:
    """Up to about 15 working days, often whole minutes so periods are used up exactly."""
    most = 15 * spec.day_length
    return st.one_of(
        st.integers(0, int(most / MIN)).map(lambda n: n * MIN),
        st.timedeltas(dt.timedelta(0), most),
    )


def period_ends_near(spec: CalendarSpec, at: dt.datetime) -> set[dt.datetime]:
    day = at.date()
    return {
        utc(end)
        for offset in (-1, 0, 1)
        for _, end in working_periods(spec, day + dt.timedelta(days=offset))
    }


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@pytest.mark.parametrize("name", CALENDAR_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_between_measures_exactly_what_add_added(name: str, data: st.DataObject) -> None:
    spec = draw_calendar(data, name)
    start = data.draw(instants(spec), label="start")
    amount = data.draw(amounts(spec), label="amount")
    due = add_working_time(spec, start, amount)
    assert due.tzinfo == spec.zone
    assert utc(due) >= utc(start)
    assert working_time_between(spec, start, due) == amount
    if amount > dt.timedelta(0):
        # The due time is working time or a period's end, and it is the earliest such instant.
        assert is_working_time(spec, due) or utc(due) in period_ends_near(spec, due)
        just_before = utc(due) - dt.timedelta(microseconds=1)
        assert working_time_between(spec, start, just_before) < amount


@pytest.mark.parametrize("name", CALENDAR_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_adding_in_two_steps_equals_adding_at_once(name: str, data: st.DataObject) -> None:
    spec = draw_calendar(data, name)
    start = data.draw(instants(spec), label="start")
    first = data.draw(amounts(spec), label="first")
    second = data.draw(amounts(spec), label="second")
    at_once = add_working_time(spec, start, first + second)
    in_steps = add_working_time(spec, add_working_time(spec, start, first), second)
    assert utc(at_once) == utc(in_steps)


@pytest.mark.parametrize("name", CALENDAR_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_between_is_additive_and_never_exceeds_real_time(name: str, data: st.DataObject) -> None:
    spec = draw_calendar(data, name)
    first = data.draw(instants(spec), label="t1")
    second = utc(first) + data.draw(
        st.timedeltas(dt.timedelta(0), dt.timedelta(days=20)), label="gap1"
    )
    third = second + data.draw(st.timedeltas(dt.timedelta(0), dt.timedelta(days=20)), label="gap2")
    left = working_time_between(spec, first, second)
    right = working_time_between(spec, second, third)
    assert working_time_between(spec, first, third) == left + right
    assert dt.timedelta(0) <= left <= second - utc(first)
    assert working_time_between(spec, third, first) == dt.timedelta(0)


@pytest.mark.parametrize("name", CALENDAR_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_next_working_time_is_the_first_working_moment(name: str, data: st.DataObject) -> None:
    spec = draw_calendar(data, name)
    at = data.draw(instants(spec), label="at")
    moment = next_working_time(spec, at)
    assert is_working_time(spec, moment)
    assert utc(moment) >= utc(at)
    assert working_time_between(spec, at, moment) == dt.timedelta(0)
    assert (utc(moment) == utc(at)) == is_working_time(spec, at)


def working_day_of(spec: CalendarSpec, moment: dt.datetime) -> dt.date:
    """The date whose working period contains `moment` (start inclusive)."""
    for offset in (-1, 0, 1):
        day = moment.date() + dt.timedelta(days=offset)
        if any(utc(s) <= utc(moment) < utc(e) for s, e in working_periods(spec, day)):
            return day
    raise AssertionError(f"{moment} is not working time")


@pytest.mark.parametrize("name", CALENDAR_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_working_days_land_on_the_nth_working_day(name: str, data: st.DataObject) -> None:
    spec = draw_calendar(data, name)
    start = data.draw(instants(spec), label="start")
    days = data.draw(st.integers(1, 12), label="days")
    result = add_working_days(spec, start, days)
    origin_day = working_day_of(spec, next_working_time(spec, start))
    # The result lies within the working span of a working day D after the origin's day, with
    # exactly days - 1 working days strictly between them.
    candidates = []
    for offset in (-1, 0):
        day = result.date() + dt.timedelta(days=offset)
        periods = working_periods(spec, day)
        if periods and utc(periods[0][0]) <= utc(result) <= utc(periods[-1][1]):
            candidates.append(day)
    assert candidates
    assert any(
        day > origin_day
        and sum(
            is_working_day(spec, origin_day + dt.timedelta(days=n))
            for n in range(1, (day - origin_day).days)
        )
        == days - 1
        for day in candidates
    )
