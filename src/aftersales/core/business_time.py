"""Working-time arithmetic on a business calendar (工作日历), in plain Python.

SLA due times, "N working days" promises and routing shifts are all computed here, on a
`CalendarSpec` (built from the database by `core.calendars.calendar_spec`). Nothing here
touches the ORM, so the rules can be proved with property tests and reused anywhere.

The rules, decided once:

- **Wall-clock periods.** Working periods are local wall-clock times in the calendar's zone
  (`09:00-18:00` means what the office clock shows). On a day a daylight-saving change falls
  inside a period, the period is longer or shorter in real time: the night shift 00:00-06:00 in
  Berlin is 5 real hours on the spring-forward night and 7 on the fall-back night.
- **Which instant a wall-clock boundary is.** A boundary `w` on a date is the *first instant at
  which the local clock shows `w` or later*. For ordinary times that is the only instant; for an
  ambiguous time (the repeated hour when clocks go back) it is the first occurrence
  (`fold=0`); for a non-existent time (the skipped hour when clocks go forward) it is the
  transition instant itself, so a period starting at 02:30 on a night that jumps from 02:00 to
  03:00 starts at 03:00, and a period lying wholly inside the skipped hour is empty. This rule
  is monotone, so periods never run backwards and consecutive periods never overlap. Where
  clocks were turned back across midnight (Antarctica/Casey, March 2010), instants the clock
  shows as the previous date belong to the next date's periods once its midnight has passed.
- **Midnight.** A period ends at 24:00 when its end is 23:59:59 or later (`dt.time.max` is what
  "until midnight" is stored as; 23:59:59 is what people type). A period may start at 00:00.
  So a night shift is two periods: 22:00-24:00 and 00:00-06:00 of the next weekday.
- **Special days.** A make-up working day (调休上班) works the hours of the weekday it is mapped
  to in `workdays`, and wins over a holiday on the same date; a holiday is closed all day; any
  other date works its weekday's hours. An always-open calendar ignores all of this: every
  instant is working time, and durations are real elapsed time (UTC arithmetic), so one working
  hour is one real hour even on a daylight-saving day.
- **Half-open periods.** An instant is working time when `start <= t < end`; `next_working_time`
  of a period end is the start of the next period (unless the next period starts right there).
- **Adding.** `add_working_time(t, d)` is the earliest instant `x >= t` with
  `working_time_between(t, x) == d`. Hence adding zero returns `t` itself (even outside working
  hours: use `next_working_time` to roll forward), a positive amount that is used up exactly at
  the end of a period returns that period end (a case due "by 18:00" is due at 18:00, not at
  09:00 the next working day), and `add(add(t, a), b) == add(t, a + b)` always holds.
- **Results** are aware datetimes in the calendar's zone. Inputs may be aware datetimes in any
  zone; naive datetimes are refused. Compare and subtract results as instants
  (`.astimezone(dt.UTC)`): Python compares two datetimes of one zone by wall clock, and never
  finds an ambiguous local time equal to a time in another zone (PEP 495).
- **Termination.** A calendar with no working time at all, or one where no working time can be
  found within `SEARCH_LIMIT_DAYS` days of the point where it is needed, raises `ValueError`
  instead of searching forever.

Everything walks day by day (never minute by minute), so adding a few weeks costs a few dozen
steps; each spec also remembers the periods of the days it has computed.
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Period: TypeAlias = tuple[dt.time, dt.time]
DayPattern: TypeAlias = tuple[Period, ...]
Instants: TypeAlias = tuple[tuple[dt.datetime, dt.datetime], ...]

UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)
ZERO = dt.timedelta(0)
# An end at or after this wall-clock time means 24:00 (see the module docstring).
END_OF_DAY_FROM = dt.time(23, 59, 59)
# How far ahead working time is searched for before the calendar is declared unusable.
SEARCH_LIMIT_DAYS = 3 * 366
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_CACHE_SIZE = 4096


def period_bounds(start: dt.time, end: dt.time) -> tuple[dt.timedelta, dt.timedelta]:
    """Offsets from local midnight of a period's wall-clock start and end.

    An end of 23:59:59 or later is 24:00 (one full day), so "until midnight" can be stored in a
    time column. Raises `ValueError` when the period is empty or runs backwards.
    """
    start_offset = _offset(start)
    end_offset = ONE_DAY if end >= END_OF_DAY_FROM else _offset(end)
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("working periods are wall-clock times without a time zone")
    if end_offset <= start_offset:
        raise ValueError(f"working period {start:%H:%M}-{end:%H:%M} ends before it starts")
    return start_offset, end_offset


def overlapping_periods(periods: Iterable[Period]) -> list[tuple[Period, Period]]:
    """Pairs of periods of one day that overlap (touching at one instant is allowed).

    Each pair is (earlier, later) by start time; an empty list means the day is valid.
    """
    ordered = sorted(periods, key=lambda period: period[0])
    clashes: list[tuple[Period, Period]] = []
    for index, current in enumerate(ordered):
        current_end = period_bounds(*current)[1]
        for later in ordered[index + 1 :]:
            if period_bounds(*later)[0] < current_end:
                clashes.append((current, later))
    return clashes


class WorkdayMap(Mapping[dt.date, int]):
    """An immutable, hashable date -> weekday mapping (make-up working days and the weekday
    whose hours they work), so a `CalendarSpec` can be hashed and shared."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[dt.date, int] | Iterable[tuple[dt.date, int]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[dt.date, int] = {}
        for day, weekday in pairs:
            if not 0 <= weekday <= 6:
                raise ValueError(f"make-up day {day} must work as a weekday 0-6, not {weekday}")
            self._items[day] = weekday

    def __getitem__(self, day: dt.date) -> int:
        return self._items[day]

    def __iter__(self) -> Iterator[dt.date]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"WorkdayMap({self._items!r})"


@dataclass(frozen=True)
class CalendarSpec:
    """Everything the arithmetic needs to know about one business calendar.

    `weekly` has exactly seven entries, Monday first, each a sorted tuple of non-overlapping
    wall-clock `(start, end)` periods. `holidays` are closed dates; `workdays` maps make-up
    working days (调休) to the weekday whose hours they work. Plain collections are accepted and
    frozen, so specs are hashable and safe to share between threads.
    """

    time_zone: str
    weekly: tuple[DayPattern, ...]
    holidays: frozenset[dt.date] = frozenset()
    workdays: Mapping[dt.date, int] = field(default_factory=WorkdayMap)
    always_open: bool = False
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _offsets: tuple[tuple[tuple[dt.timedelta, dt.timedelta], ...], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _days: dict[dt.date, Instants] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        weekly = tuple(tuple((start, end) for start, end in day) for day in self.weekly)
        if len(weekly) != 7:
            raise ValueError(f"a week has 7 days, not {len(weekly)}")
        offsets = []
        for weekday, day in enumerate(weekly):
            bounds = tuple(period_bounds(start, end) for start, end in day)
            for (_, earlier_end), (later_start, _) in pairwise(bounds):
                if later_start < earlier_end:
                    raise ValueError(
                        f"{WEEKDAY_NAMES[weekday]}: periods must be sorted and must not overlap"
                    )
            offsets.append(bounds)
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from error
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", WorkdayMap(self.workdays))
        object.__setattr__(self, "_offsets", tuple(offsets))
        object.__setattr__(self, "_days", {})

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._zone

    @property
    def day_length(self) -> dt.timedelta:
        """The nominal working day: the longest regular weekday's total hours (24 h when always
        open). "N working days" expressed as a budget of working time is N times this."""
        if self.always_open:
            return ONE_DAY
        return max(
            (sum((end - start for start, end in day), ZERO) for day in self._offsets),
            default=ZERO,
        )

    @property
    def has_working_time(self) -> bool:
        """False when no weekday and no make-up day has any hours: nothing can ever be due."""
        return self.always_open or any(self._offsets) or bool(self.workdays)


def is_working_day(spec: CalendarSpec, day: dt.date) -> bool:
    """Whether the local date has any working time (always true when always open)."""
    return bool(_day_instants(spec, day))


def working_periods(spec: CalendarSpec, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The working periods of a local date as aware datetimes in the calendar's zone.

    A period ending at 24:00 ends at 00:00 of the next date. Periods emptied by a
    daylight-saving jump are left out.
    """
    zone = spec.zone
    return [
        (start.astimezone(zone), end.astimezone(zone)) for start, end in _day_instants(spec, day)
    ]


def is_working_time(spec: CalendarSpec, at: dt.datetime) -> bool:
    """Whether `at` falls inside a working period (start inclusive, end exclusive)."""
    instant = _utc(at)
    if spec.always_open:
        return True
    day = _local_date(spec, instant)
    # A clock turned back across midnight can put the instant in the next date's periods.
    return any(
        start <= instant < end
        for candidate in (day, day + ONE_DAY)
        for start, end in _day_instants(spec, candidate)
    )


def next_working_time(spec: CalendarSpec, at: dt.datetime) -> dt.datetime:
    """`at` itself when it is working time, else the start of the next working period."""
    instant = _utc(at)
    if spec.always_open:
        return instant.astimezone(spec.zone)
    for _, start, _ in _periods_from(spec, instant):
        return max(start, instant).astimezone(spec.zone)
    raise AssertionError("unreachable: _periods_from never ends without raising")


def add_working_time(spec: CalendarSpec, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The instant when `amount` of working time has elapsed after `start`.

    It is the earliest instant `x >= start` with `working_time_between(start, x) == amount`:
    zero returns `start` (in the calendar's zone) even outside working hours, and an amount used
    up exactly at a period's end returns that end. Negative amounts are refused.
    """
    instant = _utc(start)
    if amount < ZERO:
        raise ValueError("cannot add a negative amount of working time")
    if spec.always_open or amount == ZERO:
        return (instant + amount).astimezone(spec.zone)
    remaining = amount
    for _, period_start, period_end in _periods_from(spec, instant):
        begin = max(period_start, instant)
        available = period_end - begin
        if remaining <= available:
            return (begin + remaining).astimezone(spec.zone)
        remaining -= available
    raise AssertionError("unreachable: _periods_from never ends without raising")


def working_time_between(spec: CalendarSpec, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Working time in `[start, end)`; zero when `end <= start`.

    Real elapsed time inside the periods, so on a daylight-saving day it can differ from the
    wall-clock length of the periods.
    """
    begin, finish = _utc(start), _utc(end)
    if finish <= begin:
        return ZERO
    if spec.always_open:
        return finish - begin
    total = ZERO
    day = _local_date(spec, begin)
    last_day = _local_date(spec, finish) + ONE_DAY
    while day <= last_day:
        for period_start, period_end in _day_instants(spec, day):
            overlap = min(period_end, finish) - max(period_start, begin)
            if overlap > ZERO:
                total += overlap
        day += ONE_DAY
    return total


def add_working_days(spec: CalendarSpec, start: dt.datetime, days: int) -> dt.datetime:
    """The same local time of day, `days` working days later (e.g. "reply within 3 working days").

    `start` is first rolled to the next working moment T0, on working day D0. The result is T0's
    local time of day on the `days`-th working day after D0, kept inside that day's working time:
    in a gap between periods (or before the first) it moves to the next period's start, after the
    last period it is that day's end. Zero days returns T0. The property the tests prove: the
    result lies within the working span of a working day D (from its first period's start to its
    last period's end), D is after D0, and exactly `days - 1` working days lie strictly between.
    """
    if days < 0:
        raise ValueError("cannot add a negative number of working days")
    instant = _utc(start)
    origin_day, period_start, _ = next(iter(_periods_from(spec, instant)))
    origin = max(period_start, instant)
    if days == 0:
        return origin.astimezone(spec.zone)
    time_of_day = origin.astimezone(spec.zone).time()
    day = origin_day
    counted = 0
    idle = 0
    while counted < days:
        day += ONE_DAY
        if _day_instants(spec, day):
            counted += 1
            idle = 0
        else:
            idle += 1
            if idle > SEARCH_LIMIT_DAYS:
                raise ValueError(f"no working day within {SEARCH_LIMIT_DAYS} days after {day}")
    target = _wall_to_utc(spec.zone, dt.datetime.combine(day, time_of_day))
    periods = _day_instants(spec, day)
    for period_start, period_end in periods:
        if target < period_end:
            return max(period_start, target).astimezone(spec.zone)
    return periods[-1][1].astimezone(spec.zone)


def _offset(value: dt.time) -> dt.timedelta:
    return dt.timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _utc(value: dt.datetime) -> dt.datetime:
    """The instant of an aware datetime, in UTC, so comparisons and subtraction are real time.

    (Python compares and subtracts two datetimes sharing one tzinfo by wall clock, which is
    wrong across a daylight-saving change.)
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("business time needs timezone-aware datetimes")
    return value.astimezone(UTC)


def _local_date(spec: CalendarSpec, instant: dt.datetime) -> dt.date:
    return instant.astimezone(spec.zone).date()


def _wall_to_utc(zone: ZoneInfo, wall: dt.datetime) -> dt.datetime:
    """The first instant at which the local clock shows `wall` or later (see module docstring)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists; if ambiguous, fold=0 is its first occurrence
    # `wall` was skipped by a jump forward: the answer is the transition instant, which lies
    # between the readings with the offsets before and after it. Bisect to the microsecond.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    while high - low > dt.timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _day_instants(spec: CalendarSpec, day: dt.date) -> Instants:
    """The date's non-empty working periods as UTC instants, remembered per spec."""
    cached = spec._days.get(day)
    if cached is not None:
        return cached
    if spec.always_open:
        bounds: tuple[tuple[dt.timedelta, dt.timedelta], ...] = ((ZERO, ONE_DAY),)
    elif day in spec.workdays:
        bounds = spec._offsets[spec.workdays[day]]
    elif day in spec.holidays:
        bounds = ()
    else:
        bounds = spec._offsets[day.weekday()]
    midnight = dt.datetime.combine(day, dt.time.min)
    instants = []
    for start, end in bounds:
        begin = _wall_to_utc(spec.zone, midnight + start)
        finish = _wall_to_utc(spec.zone, midnight + end)
        if begin < finish:
            instants.append((begin, finish))
    result = tuple(instants)
    if len(spec._days) >= _DAY_CACHE_SIZE:
        spec._days.clear()
    spec._days[day] = result
    return result


def _periods_from(
    spec: CalendarSpec, instant: dt.datetime
) -> Iterator[tuple[dt.date, dt.datetime, dt.datetime]]:
    """Working periods (date, start, end) that end after `instant`, in order, without end.

    Raises `ValueError` for a calendar without working time, or when `SEARCH_LIMIT_DAYS`
    consecutive dates have none.
    """
    if not spec.has_working_time:
        raise ValueError("the calendar has no working hours on any day")
    day = _local_date(spec, instant)
    idle = 0
    while True:
        periods = _day_instants(spec, day)
        if periods:
            idle = 0
            for start, end in periods:
                if end > instant:
                    yield day, start, end
        else:
            idle += 1
            if idle > SEARCH_LIMIT_DAYS:
                raise ValueError(f"no working time within {SEARCH_LIMIT_DAYS} days before {day}")
        day += ONE_DAY
