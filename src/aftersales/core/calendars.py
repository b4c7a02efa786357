"""Business calendars (工作日历) in the database: reading them as `CalendarSpec`s, checking edits,
and syncing public holidays and make-up working days (调休) from the `holidays` library.

Synced rows carry `source=library`; rows entered by hand (`source=manual`, which is also what
an edit in the admin turns a row into) are never changed or removed by a sync, so a company's
own closing days and corrections survive every update of the library.

The sync works on whichever model classes it is given, so the data migration that installs the
default calendars runs the same code with its historical models.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypedDict
from zoneinfo import available_timezones

import holidays as holiday_library
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm

from .business_time import CalendarSpec, overlapping_periods, period_bounds
from .errors import ApplicationError, NotFound
from .models import BusinessCalendar, CalendarDay, WorkingPeriod
from .services import audit_record

HOLIDAY = "holiday"
WORKDAY = "workday"
LIBRARY = "library"
MANUAL = "manual"
DAY_NAME_LENGTH = 100
# Years the library can be asked about: anything else is a typing mistake.
SYNC_YEARS = range(2000, 2101)
# Data, not interface text: stored once in the language of the synced names.
WORKDAY_NAMES = {"zh_CN": "调休上班", None: "Weekend working day"}

DEFAULT_CALENDAR_YEARS = range(2024, 2028)
DEFAULT_CALENDARS: tuple[dict[str, Any], ...] = (
    {
        "code": "cn-mainland",
        "name": "中国大陆工作日历 (周一至周五 9:00–18:00)",
        "time_zone": "Asia/Shanghai",
        "holiday_country": "CN",
        "weekly": {weekday: [(dt.time(9), dt.time(18))] for weekday in range(5)},
    },
    {
        "code": "always-open",
        "name": "7×24 VIP 热线",
        "time_zone": "Asia/Shanghai",
        "always_open": True,
        "weekly": {},
    },
)


class SyncCounts(TypedDict):
    """What one holiday sync did, per kind of change."""

    created: int
    updated: int
    deleted: int
    unchanged: int
    kept_manual: int


# Reads


def calendar_get(code: str) -> BusinessCalendar:
    """The calendar with this code; a 404-style error when there is none."""
    calendar = BusinessCalendar.objects.filter(code=code).first()
    if calendar is None:
        raise NotFound(
            "calendar_not_found",
            _("There is no business calendar with the code “%(code)s”.") % {"code": code},
            details={"code": code},
        )
    return calendar


def calendar_spec(calendar: BusinessCalendar) -> CalendarSpec:
    """The calendar as the arithmetic of `core.business_time` needs it.

    Two queries (periods and special days), none for an always-open calendar or when they were
    prefetched. Callers that handle many cases keep the specs of one run in a dict by calendar
    id (or use `calendar_specs`); nothing is cached across runs, so an edit applies at once.
    """
    try:
        return _spec(calendar)
    except ValueError as error:
        raise ApplicationError(
            "calendar_invalid",
            _("The business calendar “%(name)s” cannot be used: %(problem)s")
            % {"name": calendar.name, "problem": error},
            details={"code": calendar.code},
            status=409,
        ) from error


def _spec(calendar: BusinessCalendar) -> CalendarSpec:
    if calendar.always_open:
        return CalendarSpec(time_zone=calendar.time_zone, weekly=((),) * 7, always_open=True)
    weekly: list[list[tuple[dt.time, dt.time]]] = [[] for _ in range(7)]
    for period in calendar.periods.all():
        weekly[period.weekday].append((period.start, period.end))
    holidays: set[dt.date] = set()
    workdays: dict[dt.date, int] = {}
    for day in calendar.days.all():
        if day.kind == HOLIDAY:
            holidays.add(day.date)
        else:
            workdays[day.date] = day.works_as_weekday
    return CalendarSpec(
        time_zone=calendar.time_zone,
        weekly=tuple(tuple(sorted(day)) for day in weekly),
        holidays=frozenset(holidays),
        workdays=workdays,
    )


def calendar_specs(calendar_ids: Iterable[int]) -> dict[int, CalendarSpec]:
    """Specs of several calendars by id, in three queries whatever their number."""
    calendars = BusinessCalendar.objects.filter(pk__in=set(calendar_ids)).prefetch_related(
        "periods", "days"
    )
    return {calendar.pk: calendar_spec(calendar) for calendar in calendars}


def calendars_for_holiday_sync() -> QuerySet[BusinessCalendar]:
    """Active calendars that follow a country's public holidays."""
    return BusinessCalendar.objects.filter(is_active=True).exclude(holiday_country="")


# Validation used by the admin and the services


def time_zone_validate(value: str) -> None:
    """Refuse a time zone that is not an IANA name (e.g. "Asia/Shanghai")."""
    if value not in available_timezones():
        raise ValidationError(
            _("“%(value)s” is not a known time zone; use a name such as Asia/Shanghai."),
            code="invalid_time_zone",
            params={"value": value},
        )


def holiday_country_validate(value: str) -> None:
    """Refuse a country code whose holidays the library does not know."""
    if value and value not in holiday_library.list_supported_countries():
        raise ValidationError(
            _("No public holidays are known for the country code “%(value)s”."),
            code="invalid_holiday_country",
            params={"value": value},
        )


def working_periods_validate(periods: Iterable[tuple[int, dt.time, dt.time]]) -> None:
    """Refuse periods (weekday, start, end) that run backwards or overlap on one weekday.

    Every problem is reported at once, each naming the weekday and the clashing hours, so the
    person editing sees what to fix. An end of 23:59:59 or later means midnight.
    """
    by_weekday: dict[int, list[tuple[dt.time, dt.time]]] = {}
    problems: list[ValidationError] = []
    for weekday, start, end in periods:
        if weekday not in WEEKDAYS:
            problems.append(
                ValidationError(
                    _("%(weekday)s is not a weekday (0 = Monday to 6 = Sunday)."),
                    code="period_weekday",
                    params={"weekday": weekday},
                )
            )
            continue
        try:
            period_bounds(start, end)
        except ValueError:
            problems.append(
                ValidationError(
                    _("%(weekday)s: the period %(start)s–%(end)s ends before it starts."),
                    code="period_order",
                    params={"weekday": WEEKDAYS[weekday], "start": _hm(start), "end": _hm(end)},
                )
            )
            continue
        by_weekday.setdefault(weekday, []).append((start, end))
    for weekday, day in sorted(by_weekday.items()):
        for (first_start, first_end), (second_start, second_end) in overlapping_periods(day):
            problems.append(
                ValidationError(
                    _("%(weekday)s: the period %(first)s overlaps %(second)s."),
                    code="period_overlap",
                    params={
                        "weekday": WEEKDAYS[weekday],
                        "first": f"{_hm(first_start)}–{_hm(first_end)}",
                        "second": f"{_hm(second_start)}–{_hm(second_end)}",
                    },
                )
            )
    if problems:
        raise ValidationError(problems)


def _hm(value: dt.time) -> str:
    return "24:00" if value >= dt.time(23, 59, 59) else f"{value:%H:%M}"


# Holiday sync


def library_days(country: str, years: Iterable[int]) -> dict[dt.date, tuple[str, str]]:
    """Public holidays and make-up working days of a country, by date: (kind, name).

    Names are in Simplified Chinese where the library has them. The library's
    `weekend_workdays` holds make-up days of every year it has ever computed, so only the
    requested years are kept. A make-up day wins over a holiday on the same date.
    """
    wanted_years = sorted(set(years))
    country = country.strip().upper()
    language = (
        "zh_CN" if "zh_CN" in holiday_library.list_localized_countries().get(country, []) else None
    )
    try:
        table = holiday_library.country_holidays(country, years=wanted_years, language=language)
    except NotImplementedError as error:
        raise ApplicationError(
            "holiday_country_unknown",
            _("No public holidays are known for the country code “%(country)s”.")
            % {"country": country},
            details={"country": country},
        ) from error
    days: dict[dt.date, tuple[str, str]] = {
        day: (HOLIDAY, str(name)[:DAY_NAME_LENGTH])
        for day, name in table.items()
        if day.year in wanted_years
    }
    workday_name = WORKDAY_NAMES.get(language, WORKDAY_NAMES[None])
    for day in getattr(table, "weekend_workdays", ()):
        if day.year in wanted_years:
            days[day] = (WORKDAY, workday_name)
    return days


def calendar_days_apply(
    *,
    day_model: Any,
    calendar_id: int,
    years: Iterable[int],
    days: dict[dt.date, tuple[str, str]],
) -> SyncCounts:
    """Make the library rows of a calendar for `years` equal `days`; leave manual rows alone.

    `day_model` is the CalendarDay class (the live one, or a migration's historical one). Rows
    for dates the library no longer lists are deleted, changed ones updated, new ones created
    as library rows; a make-up day works Monday's hours (a manual row can say otherwise).
    Running it twice changes nothing the second time.
    """
    wanted_years = sorted(set(years))
    counts = SyncCounts(created=0, updated=0, deleted=0, unchanged=0, kept_manual=0)
    existing = {
        row.date: row
        for row in day_model.objects.filter(calendar_id=calendar_id, date__year__in=wanted_years)
    }
    to_create = []
    to_update = []
    for date, (kind, name) in sorted(days.items()):
        row = existing.get(date)
        if row is None:
            to_create.append(
                day_model(
                    calendar_id=calendar_id,
                    date=date,
                    kind=kind,
                    name=name,
                    works_as_weekday=0,
                    source=LIBRARY,
                )
            )
        elif row.source == MANUAL:
            counts["kept_manual"] += 1
        elif (row.kind, row.name, row.works_as_weekday) == (kind, name, 0):
            counts["unchanged"] += 1
        else:
            row.kind, row.name, row.works_as_weekday = kind, name, 0
            to_update.append(row)
    stale = [row.pk for date, row in existing.items() if row.source == LIBRARY and date not in days]
    day_model.objects.bulk_create(to_create)
    day_model.objects.bulk_update(to_update, ["kind", "name", "works_as_weekday"])
    day_model.objects.filter(pk__in=stale).delete()
    counts["created"], counts["updated"], counts["deleted"] = (
        len(to_create),
        len(to_update),
        len(stale),
    )
    return counts


def holidays_sync(
    *, calendar: BusinessCalendar, years: Iterable[int], actor: User | None = None
) -> SyncCounts:
    """Sync a calendar's public holidays and make-up days (调休) for `years` from the library.

    Needs `core.change_businesscalendar` (or no actor: the scheduled sync). The calendar row is
    locked so two syncs of one calendar run one after the other. A sync that changed something
    leaves an audit row with the counts, since it moves SLA due times.
    """
    require_perm(actor, "core.change_businesscalendar", system_allowed=True)
    wanted_years = sorted(set(years))
    if not calendar.holiday_country.strip():
        raise ApplicationError(
            "calendar_without_country",
            _("The calendar “%(name)s” does not follow any country's public holidays.")
            % {"name": calendar.name},
            details={"code": calendar.code},
        )
    if not wanted_years or any(year not in SYNC_YEARS for year in wanted_years):
        raise ApplicationError(
            "sync_years_invalid",
            _("Holidays can be synced for the years %(first)d to %(last)d.")
            % {"first": SYNC_YEARS[0], "last": SYNC_YEARS[-1]},
            details={"years": wanted_years},
        )
    with transaction.atomic():
        BusinessCalendar.objects.select_for_update().filter(pk=calendar.pk).first()
        days = library_days(calendar.holiday_country, wanted_years)
        counts = calendar_days_apply(
            day_model=CalendarDay, calendar_id=calendar.pk, years=wanted_years, days=days
        )
        if counts["created"] or counts["updated"] or counts["deleted"]:
            audit_record(
                actor=actor,
                action="calendar.holidays_synced",
                entity="business_calendar",
                entity_id=calendar.pk,
                data={"years": wanted_years, "country": calendar.holiday_country, **counts},
            )
    return counts


def default_calendars_install(
    *, calendar_model: Any, period_model: Any, day_model: Any, years: Iterable[int]
) -> None:
    """Create the calendars every installation starts with, if missing: mainland China office
    hours with its holidays synced for `years`, and the always-open VIP hotline.

    Takes the model classes so the data migration can run it with its historical models.
    """
    for definition in DEFAULT_CALENDARS:
        calendar, created = calendar_model.objects.get_or_create(
            code=definition["code"],
            defaults={
                "name": definition["name"],
                "time_zone": definition["time_zone"],
                "always_open": definition.get("always_open", False),
                "holiday_country": definition.get("holiday_country", ""),
            },
        )
        if not created:
            continue
        period_model.objects.bulk_create(
            period_model(calendar_id=calendar.pk, weekday=weekday, start=start, end=end)
            for weekday, day in definition["weekly"].items()
            for start, end in day
        )
        if calendar.holiday_country:
            calendar_days_apply(
                day_model=day_model,
                calendar_id=calendar.pk,
                years=years,
                days=library_days(calendar.holiday_country, years),
            )


def default_calendars_ensure() -> None:
    """Install the default calendars with the live models (e.g. after a database flush)."""
    with transaction.atomic():
        default_calendars_install(
            calendar_model=BusinessCalendar,
            period_model=WorkingPeriod,
            day_model=CalendarDay,
            years=DEFAULT_CALENDAR_YEARS,
        )
