"""Business calendars in the database: the default calendars, the holiday sync, reading specs,
and editing in the admin."""

import datetime as dt
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create
from aftersales.core import clock
from aftersales.core.business_time import CalendarSpec, add_working_time, is_working_day
from aftersales.core.calendars import (
    calendar_get,
    calendar_spec,
    calendar_specs,
    default_calendars_ensure,
    holidays_sync,
)
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent, BusinessCalendar, CalendarDay, WorkingPeriod
from aftersales.core.tasks import calendars_sync_holidays
from tests.auth import sign_in

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NATIONAL_DAY_2026 = [dt.date(2026, 10, day) for day in (1, 2, 3, 5, 6, 7)]  # 4th is a Sunday
MAKE_UP_2026 = [
    dt.date(2026, 1, 4),
    dt.date(2026, 2, 14),
    dt.date(2026, 2, 28),
    dt.date(2026, 5, 9),
    dt.date(2026, 9, 20),
    dt.date(2026, 10, 10),
]


def office_calendar(code: str = "cn-test", **fields: Any) -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(
        code=code, name=f"Office {code}", holiday_country="CN", **fields
    )
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(calendar=calendar, weekday=weekday, start=dt.time(9), end=dt.time(18))
        for weekday in range(5)
    )
    return calendar


def days_of(calendar: BusinessCalendar, year: int) -> dict[dt.date, tuple[str, str, int]]:
    return {
        day.date: (day.kind, day.source, day.works_as_weekday)
        for day in calendar.days.filter(date__year=year)
    }


@pytest.fixture
def superuser(db: Any) -> User:
    user = staff_create(
        username="root",
        password="Admin-pass-2026",
        display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client()
    sign_in(client, superuser)
    return client


# The calendars installed by the data migration


def test_migration_installs_mainland_calendar_with_2026_holidays_and_make_up_days() -> None:
    calendar = calendar_get("cn-mainland")
    assert (calendar.time_zone, calendar.holiday_country, calendar.always_open) == (
        "Asia/Shanghai",
        "CN",
        False,
    )
    assert [(p.weekday, p.start, p.end) for p in calendar.periods.all()] == [
        (weekday, dt.time(9), dt.time(18)) for weekday in range(5)
    ]
    days = days_of(calendar, 2026)
    assert all(days[day][:2] == ("holiday", "library") for day in NATIONAL_DAY_2026)
    assert all(days[day] == ("workday", "library", 0) for day in MAKE_UP_2026)
    assert {day.year for day in calendar.days.values_list("date", flat=True)} == {
        2024,
        2025,
        2026,
        2027,
    }
    spec = calendar_spec(calendar)
    assert not is_working_day(spec, dt.date(2026, 10, 1))
    assert is_working_day(spec, dt.date(2026, 10, 10))  # a Saturday
    due = add_working_time(
        spec, dt.datetime(2026, 9, 30, 17, 55, tzinfo=SHANGHAI), dt.timedelta(hours=1)
    )
    assert due == dt.datetime(2026, 10, 8, 9, 55, tzinfo=SHANGHAI)


def test_migration_installs_the_always_open_hotline() -> None:
    hotline = calendar_get("always-open")
    assert hotline.always_open and hotline.name == "7×24 VIP 热线"
    spec = calendar_spec(hotline)
    national_day = dt.datetime(2026, 10, 1, 3, tzinfo=SHANGHAI)
    assert add_working_time(
        spec, national_day, dt.timedelta(minutes=30)
    ) == national_day + dt.timedelta(minutes=30)


def test_installing_the_defaults_again_changes_nothing() -> None:
    before = CalendarDay.objects.count(), WorkingPeriod.objects.count()
    default_calendars_ensure()
    assert BusinessCalendar.objects.filter(code__in=["cn-mainland", "always-open"]).count() == 2
    assert (CalendarDay.objects.count(), WorkingPeriod.objects.count()) == before


# Holiday sync


def test_sync_creates_library_rows_for_the_requested_years_only() -> None:
    calendar = office_calendar()
    counts = holidays_sync(calendar=calendar, years=[2026])
    days = days_of(calendar, 2026)
    assert counts["created"] == len(days) and counts["deleted"] == counts["updated"] == 0
    assert all(days[day][:2] == ("holiday", "library") for day in NATIONAL_DAY_2026)
    assert all(days[day] == ("workday", "library", 0) for day in MAKE_UP_2026)
    # The library also remembers make-up days of earlier years: they are not copied.
    assert not calendar.days.exclude(date__year=2026).exists()
    assert calendar.days.get(date=dt.date(2026, 10, 1)).name == "国庆节"


def test_sync_is_idempotent_and_audited_once() -> None:
    calendar = office_calendar()
    first = holidays_sync(calendar=calendar, years=[2026, 2027])
    rows = list(calendar.days.values_list("id", "date", "kind", "name", "works_as_weekday"))
    second = holidays_sync(calendar=calendar, years=[2027, 2026])
    assert second == {
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": first["created"],
        "kept_manual": 0,
    }
    assert list(calendar.days.values_list("id", "date", "kind", "name", "works_as_weekday")) == rows
    audits = AuditEvent.objects.filter(action="calendar.holidays_synced", entity_id=calendar.pk)
    assert audits.count() == 1
    assert audits.get().data["created"] == first["created"]


def test_sync_keeps_manual_rows_and_corrects_library_rows() -> None:
    calendar = office_calendar()
    # The company closes on 8 October too, and works 10 October with Saturday's (no) hours.
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 10, 8), kind="holiday", name="公司假日"
    )
    CalendarDay.objects.create(
        calendar=calendar,
        date=dt.date(2026, 10, 10),
        kind="workday",
        name="调休（按周五）",
        works_as_weekday=4,
        source="manual",
    )
    # A library row the library no longer lists, one it lists under another name, and a library
    # row of a year that is not synced.
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 3, 3), kind="holiday", source="library"
    )
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 10, 1), kind="holiday", name="old", source="library"
    )
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2025, 3, 3), kind="holiday", source="library"
    )
    counts = holidays_sync(calendar=calendar, years=[2026])
    assert (counts["kept_manual"], counts["updated"], counts["deleted"]) == (1, 1, 1)
    days = days_of(calendar, 2026)
    assert days[dt.date(2026, 10, 8)] == ("holiday", "manual", 0)
    assert days[dt.date(2026, 10, 10)] == ("workday", "manual", 4)
    assert dt.date(2026, 3, 3) not in days
    assert calendar.days.get(date=dt.date(2026, 10, 1)).name == "国庆节"
    assert calendar.days.filter(date=dt.date(2025, 3, 3)).exists()


def test_sync_refusals() -> None:
    plain = BusinessCalendar.objects.create(code="plain", name="No country")
    with pytest.raises(ApplicationError) as refused:
        holidays_sync(calendar=plain, years=[2026])
    assert refused.value.code == "calendar_without_country"
    calendar = office_calendar()
    with pytest.raises(ApplicationError) as refused:
        holidays_sync(calendar=calendar, years=[26])
    assert refused.value.code == "sync_years_invalid"
    unknown = BusinessCalendar.objects.create(code="xx", name="Nowhere", holiday_country="XX")
    with pytest.raises(ApplicationError) as refused:
        holidays_sync(calendar=unknown, years=[2026])
    assert refused.value.code == "holiday_country_unknown"
    assert not CalendarDay.objects.filter(calendar__in=[plain, calendar, unknown]).exists()


def test_sync_needs_permission_to_change_calendars(agent: User) -> None:
    with pytest.raises(PermissionDenied):
        holidays_sync(calendar=office_calendar(), years=[2026], actor=agent)


def test_command_syncs_one_calendar_and_prints_counts() -> None:
    calendar = office_calendar()
    out = StringIO()
    call_command("calendar_sync", "--years", "2026", "--calendar", "cn-test", stdout=out)
    assert out.getvalue().startswith("cn-test 2026: created ")
    assert calendar.days.filter(date__in=NATIONAL_DAY_2026).count() == 6
    with pytest.raises(CommandError, match="nope"):
        call_command("calendar_sync", "--calendar", "nope", stdout=StringIO())


def test_task_syncs_this_year_and_next_for_every_calendar_with_a_country() -> None:
    calendar = office_calendar()
    BusinessCalendar.objects.create(
        code="retired", name="Retired", holiday_country="CN", is_active=False
    )
    with clock.frozen_at(dt.datetime(2026, 12, 1, tzinfo=SHANGHAI)):
        results = calendars_sync_holidays.delay().get()
    assert set(results) == {"cn-mainland", "cn-test"}
    assert results["cn-mainland"]["created"] == 0  # installed by the migration already
    assert {day.year for day in calendar.days.values_list("date", flat=True)} == {2026, 2027}


# Reading calendars


def test_calendar_spec_round_trip(django_assert_num_queries: Any) -> None:
    calendar = BusinessCalendar.objects.create(
        code="night", name="Night desk", time_zone="Europe/Berlin"
    )
    WorkingPeriod.objects.create(calendar=calendar, weekday=0, start=dt.time(22), end=dt.time.max)
    WorkingPeriod.objects.create(calendar=calendar, weekday=0, start=dt.time(0), end=dt.time(6))
    WorkingPeriod.objects.create(calendar=calendar, weekday=2, start=dt.time(13), end=dt.time(17))
    CalendarDay.objects.create(calendar=calendar, date=dt.date(2026, 12, 28), kind="holiday")
    CalendarDay.objects.create(
        calendar=calendar, date=dt.date(2026, 12, 27), kind="workday", works_as_weekday=2
    )
    with django_assert_num_queries(2):
        spec = calendar_spec(calendar)
    assert spec == CalendarSpec(
        time_zone="Europe/Berlin",
        weekly=(
            ((dt.time(0), dt.time(6)), (dt.time(22), dt.time.max)),
            (),
            ((dt.time(13), dt.time(17)),),
            (),
            (),
            (),
            (),
        ),
        holidays=frozenset({dt.date(2026, 12, 28)}),
        workdays={dt.date(2026, 12, 27): 2},
    )
    hotline, mainland = calendar_get("always-open"), calendar_get("cn-mainland")
    with django_assert_num_queries(0):
        assert calendar_spec(hotline).always_open
    with django_assert_num_queries(3):
        specs = calendar_specs([calendar.pk, hotline.pk, mainland.pk])
    assert specs[calendar.pk] == spec and len(specs) == 3


def test_unknown_calendar_is_a_404() -> None:
    with pytest.raises(ApplicationError) as missing:
        calendar_get("nope")
    assert (missing.value.code, missing.value.status_code) == ("calendar_not_found", 404)


def test_a_stored_calendar_with_overlapping_periods_is_refused_clearly() -> None:
    calendar = office_calendar()
    WorkingPeriod.objects.create(calendar=calendar, weekday=0, start=dt.time(17), end=dt.time(20))
    with pytest.raises(ApplicationError) as refused:
        calendar_spec(calendar)
    assert refused.value.code == "calendar_invalid"


# Admin


def calendar_form(**overrides: Any) -> dict[str, Any]:
    """The admin add/change form of a calendar, with its two inline formsets."""
    data: dict[str, Any] = {
        "code": "desk-hours",
        "name": "Desk hours",
        "time_zone": "Asia/Shanghai",
        "holiday_country": "cn",
        "is_active": "on",
        "periods-TOTAL_FORMS": "0",
        "periods-INITIAL_FORMS": "0",
        "days-TOTAL_FORMS": "0",
        "days-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def periods_form(*periods: tuple[int, str, str]) -> dict[str, str]:
    data = {"periods-TOTAL_FORMS": str(len(periods))}
    for index, (weekday, start, end) in enumerate(periods):
        data |= {
            f"periods-{index}-weekday": str(weekday),
            f"periods-{index}-start": start,
            f"periods-{index}-end": end,
        }
    return data


def test_admin_rejects_overlapping_periods_with_a_clear_message(admin_client: Client) -> None:
    data = calendar_form(**periods_form((0, "09:00", "12:00"), (0, "11:30", "18:00")))
    response = admin_client.post("/admin/core/businesscalendar/add/", data)
    assert response.status_code == 200
    assert "Monday: the period 09:00–12:00 overlaps 11:30–18:00." in response.content.decode()
    assert not BusinessCalendar.objects.filter(code="desk-hours").exists()


def test_admin_saves_a_valid_calendar(admin_client: Client) -> None:
    data = calendar_form(
        **periods_form((0, "09:00", "12:00"), (0, "12:00", "18:00"), (5, "22:00", "23:59:59"))
    )
    response = admin_client.post("/admin/core/businesscalendar/add/", data)
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(code="desk-hours")
    assert calendar.holiday_country == "CN"
    assert calendar_spec(calendar).weekly[5] == ((dt.time(22), dt.time(23, 59, 59)),)
    assert calendar_spec(calendar).day_length == dt.timedelta(hours=9)


def test_admin_rejects_an_unknown_time_zone(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/core/businesscalendar/add/", calendar_form(time_zone="Asia/Peking")
    )
    assert response.status_code == 200
    assert "is not a known time zone" in response.content.decode()


def test_admin_edit_of_a_synced_day_makes_it_manual(admin_client: Client) -> None:
    calendar = office_calendar()
    holidays_sync(calendar=calendar, years=[2026])
    day = calendar.days.get(date=dt.date(2026, 10, 10))
    response = admin_client.post(
        f"/admin/core/calendarday/{day.pk}/change/",
        {
            "calendar": calendar.pk,
            "date": "2026-10-10",
            "kind": "workday",
            "name": day.name,
            "works_as_weekday": "4",
        },
    )
    assert response.status_code == 302
    day.refresh_from_db()
    assert (day.source, day.works_as_weekday) == ("manual", 4)
    holidays_sync(calendar=calendar, years=[2026])
    day.refresh_from_db()
    assert (day.source, day.works_as_weekday) == ("manual", 4)


def test_admin_action_syncs_this_year_and_next(admin_client: Client) -> None:
    calendar = office_calendar()
    assert admin_client.get("/admin/core/businesscalendar/").status_code == 200
    with clock.frozen_at(dt.datetime(2026, 6, 1, tzinfo=SHANGHAI)):
        response = admin_client.post(
            "/admin/core/businesscalendar/",
            {"action": "sync_public_holidays", "_selected_action": [calendar.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "2026–2027" in response.content.decode()
    assert {day.year for day in calendar.days.values_list("date", flat=True)} == {2026, 2027}
    assert AuditEvent.objects.get(action="calendar.holidays_synced").actor_id is not None
    page = admin_client.get(f"/admin/core/businesscalendar/{calendar.pk}/change/")
    assert "国庆节" in page.content.decode()
