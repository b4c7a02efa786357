"""Who may be given a case now: working hours, absences, "away", and staff planning rights."""

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from aftersales.accounts.models import Absence, Seniority, Team, User
from aftersales.accounts.roles import Role
from aftersales.accounts.selectors import (
    available_members,
    team_member_availability,
    user_is_available,
    user_unavailable_reason,
)
from aftersales.accounts.services import (
    absence_cancel,
    absence_record,
    availability_set,
    staff_schedule_set,
)
from aftersales.core import clock
from aftersales.core.calendars import default_calendars_ensure
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent, BusinessCalendar
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=SH)
MONDAY_20 = dt.datetime(2026, 12, 7, 20, 0, tzinfo=SH)
SATURDAY_10 = dt.datetime(2026, 12, 12, 10, 0, tzinfo=SH)
NATIONAL_DAY_10 = dt.datetime(2026, 10, 5, 10, 0, tzinfo=SH)  # a Monday, public holiday
MAKE_UP_SATURDAY_10 = dt.datetime(2026, 10, 10, 10, 0, tzinfo=SH)  # 调休: a working Saturday


@pytest.fixture(autouse=True)
def calendars(db: Any) -> None:
    default_calendars_ensure()


@pytest.fixture
def always_open() -> BusinessCalendar:
    return BusinessCalendar.objects.get(code="always-open")


def test_office_hours_by_the_default_calendar(agent: User) -> None:
    assert user_is_available(agent, MONDAY_10)
    assert user_unavailable_reason(agent, MONDAY_20) == "off_shift"
    assert user_unavailable_reason(agent, SATURDAY_10) == "off_shift"
    assert user_unavailable_reason(agent, NATIONAL_DAY_10) == "off_shift"
    assert user_is_available(agent, MAKE_UP_SATURDAY_10)


def test_own_calendar_replaces_the_default(agent: User, always_open: BusinessCalendar) -> None:
    agent.work_calendar = always_open
    agent.save()
    assert user_is_available(agent, SATURDAY_10)
    assert user_is_available(agent, MONDAY_20)


@override_settings(DEFAULT_WORK_CALENDAR="always-open")
def test_default_calendar_comes_from_the_setting(agent: User) -> None:
    assert user_is_available(agent, SATURDAY_10)


def test_absence_covers_from_its_start_until_its_end(agent: User, supervisor: User) -> None:
    absence_record(
        actor=supervisor,
        user=agent,
        starts_at=MONDAY_10,
        ends_at=MONDAY_10 + dt.timedelta(hours=2),
        reason=Absence.Reason.TRAINING,
        note="新品培训",
    )
    assert user_is_available(agent, MONDAY_10 - dt.timedelta(minutes=1))
    assert user_unavailable_reason(agent, MONDAY_10) == "absent"
    assert user_unavailable_reason(agent, MONDAY_10 + dt.timedelta(minutes=119)) == "absent"
    assert user_is_available(agent, MONDAY_10 + dt.timedelta(hours=2))


def test_cancelled_absence_no_longer_counts(agent: User, supervisor: User) -> None:
    absence = absence_record(
        actor=supervisor,
        user=agent,
        starts_at=MONDAY_10 - dt.timedelta(hours=1),
        ends_at=MONDAY_10 + dt.timedelta(days=2),
        reason=Absence.Reason.SICK,
    )
    assert not user_is_available(agent, MONDAY_10)
    with clock.frozen_at(MONDAY_10):
        absence_cancel(actor=supervisor, absence=absence)
    absence.refresh_from_db()
    assert absence.cancelled_at == MONDAY_10 and absence.cancelled_by == supervisor
    assert user_is_available(agent, MONDAY_10)
    with pytest.raises(ApplicationError) as error:
        absence_cancel(actor=supervisor, absence=absence)
    assert error.value.code == "absence_cancelled" and error.value.status_code == 409
    actions = list(
        AuditEvent.objects.filter(entity="user", entity_id=agent.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["staff.absence_recorded", "staff.absence_cancelled"]


def test_agent_sets_themselves_away_and_back(agent: User) -> None:
    availability_set(actor=agent, accepting=False)
    agent.refresh_from_db()
    assert user_unavailable_reason(agent, MONDAY_10) == "away"
    availability_set(actor=agent, accepting=True)
    agent.refresh_from_db()
    assert user_is_available(agent, MONDAY_10)
    audit = AuditEvent.objects.filter(action="staff.availability_set", entity_id=agent.pk)
    assert [e.data["accepting_cases"] for e in audit.order_by("id")] == [False, True]


def test_disabled_account_is_never_available(agent: User) -> None:
    agent.is_active = False
    agent.save()
    assert user_unavailable_reason(agent, MONDAY_10) == "inactive"


def test_absence_needs_a_real_period_and_no_overlap(agent: User, supervisor: User) -> None:
    with pytest.raises(ApplicationError) as error:
        absence_record(
            actor=supervisor,
            user=agent,
            starts_at=MONDAY_10,
            ends_at=MONDAY_10,
            reason=Absence.Reason.LEAVE,
        )
    assert error.value.code == "invalid_absence" and "ends_at" in error.value.details
    with pytest.raises(ApplicationError) as error:
        absence_record(
            actor=supervisor,
            user=agent,
            starts_at=MONDAY_10,
            ends_at=MONDAY_20,
            reason="holiday",
        )
    assert error.value.details == {"reason": "Unknown reason 'holiday'."}
    first = absence_record(
        actor=supervisor,
        user=agent,
        starts_at=MONDAY_10,
        ends_at=MONDAY_20,
        reason=Absence.Reason.LEAVE,
    )
    with pytest.raises(ApplicationError) as error:
        absence_record(
            actor=supervisor,
            user=agent,
            starts_at=MONDAY_20 - dt.timedelta(hours=1),
            ends_at=MONDAY_20 + dt.timedelta(days=1),
            reason=Absence.Reason.SICK,
        )
    assert error.value.code == "absence_overlaps" and error.value.details == {"absence": first.pk}
    # Back to back is not an overlap.
    absence_record(
        actor=supervisor,
        user=agent,
        starts_at=MONDAY_20,
        ends_at=MONDAY_20 + dt.timedelta(days=1),
        reason=Absence.Reason.SICK,
    )
    assert Absence.objects.filter(user=agent).count() == 2


def test_who_may_record_absences(
    agent: User,
    other_agent: User,
    supervisor: User,
    manager: User,
    make_staff: Callable[..., User],
) -> None:
    period: dict[str, Any] = {
        "starts_at": MONDAY_10,
        "ends_at": MONDAY_20,
        "reason": Absence.Reason.LEAVE,
    }
    with pytest.raises(PermissionDenied):
        absence_record(actor=agent, user=agent, **period)
    with pytest.raises(PermissionDenied):  # not a member of a team the supervisor leads
        absence_record(actor=supervisor, user=other_agent, **period)
    absence_record(actor=supervisor, user=agent, **period)
    absence_record(actor=manager, user=other_agent, **period)
    assert Absence.objects.filter(cancelled_at__isnull=True).count() == 2
    assert Absence.objects.get(user=other_agent).created_by == manager


def test_schedule_and_seniority_set_by_the_lead(
    agent: User, other_agent: User, supervisor: User, always_open: BusinessCalendar
) -> None:
    assert not user_is_available(agent, SATURDAY_10)
    staff_schedule_set(
        actor=supervisor, user=agent, work_calendar=always_open, seniority=Seniority.SENIOR
    )
    agent.refresh_from_db()
    assert user_is_available(agent, SATURDAY_10) and agent.seniority == Seniority.SENIOR
    with pytest.raises(PermissionDenied):
        staff_schedule_set(actor=supervisor, user=other_agent, work_calendar=always_open)
    event = AuditEvent.objects.get(action="staff.schedule_set")
    assert event.data["before"] == {"work_calendar": None, "seniority": "junior"}
    assert event.data["after"] == {"work_calendar": always_open.pk, "seniority": "senior"}


def test_senior_agents_are_created_senior(senior_agent: User, agent: User) -> None:
    assert senior_agent.seniority == Seniority.SENIOR
    assert agent.seniority == Seniority.JUNIOR


def test_available_members_filters_and_explains_in_few_queries(
    desk_team: Team,
    make_staff: Callable[..., User],
    supervisor: User,
    always_open: BusinessCalendar,
) -> None:
    junior = make_staff(Role.FRONTLINE_AGENT, teams=[desk_team])
    senior = make_staff(Role.SENIOR_AGENT, teams=[desk_team])
    expert = make_staff(Role.SENIOR_AGENT, teams=[desk_team])
    expert.seniority = Seniority.EXPERT
    expert.save()
    absent = make_staff(Role.SENIOR_AGENT, teams=[desk_team])
    away = make_staff(Role.SENIOR_AGENT, teams=[desk_team])
    night = make_staff(Role.SENIOR_AGENT, teams=[desk_team])
    night.work_calendar = always_open
    night.save()
    absence_record(
        actor=supervisor,
        user=absent,
        starts_at=MONDAY_10 - dt.timedelta(days=1),
        ends_at=MONDAY_10 + dt.timedelta(days=1),
        reason=Absence.Reason.LEAVE,
    )
    availability_set(actor=away, accepting=False)

    with CaptureQueriesContext(connection) as queries:
        members = team_member_availability(desk_team, MONDAY_10, min_seniority=Seniority.SENIOR)
    # Members, absences, and periods + special days of each of the two calendars.
    assert len(queries) <= 6
    by_user = {m.user: m.unavailable for m in members}
    assert by_user == {senior: "", expert: "", absent: "absent", away: "away", night: ""}

    assert available_members(desk_team, MONDAY_10) == [junior, senior, expert, night]
    assert available_members(desk_team, MONDAY_20) == [night]
    assert available_members(desk_team, MONDAY_10, min_seniority=Seniority.EXPERT) == [expert]
    assert available_members(desk_team, MONDAY_10, role=Role.FRONTLINE_AGENT) == [junior]


# Over the API (/api/v1/auth/...)


def test_agent_sets_themselves_away_over_the_api(
    api: Callable[[User], ApiClient], agent: User
) -> None:
    client = api(agent)
    with clock.frozen_at(MONDAY_10):
        assert client.get("/auth/me/availability").json() == {
            "accepting_cases": True,
            "available_now": True,
            "unavailable": "",
        }
        response = client.client.put(
            "/api/v1/auth/me/availability",
            {"accepting_cases": False},
            content_type="application/json",
        )
    assert response.status_code == 200
    assert response.json() == {
        "accepting_cases": False,
        "available_now": False,
        "unavailable": "away",
    }
    agent.refresh_from_db()
    assert not agent.accepting_cases


def test_supervisor_records_lists_and_cancels_absences_over_the_api(
    api: Callable[[User], ApiClient], agent: User, other_agent: User, supervisor: User
) -> None:
    client = api(supervisor)
    body = {
        "user": agent.pk,
        "starts_at": "2026-12-07T09:00:00+08:00",
        "ends_at": "2026-12-09T18:00:00+08:00",
        "reason": "training",
        "note": "售后认证培训",
    }
    created = client.post("/auth/absences", body)
    assert created.status_code == 201
    absence = created.json()
    assert absence["user"] == agent.pk and absence["reason"] == "training"
    assert not user_is_available(agent, MONDAY_10)

    clash = client.post("/auth/absences", {**body, "reason": "sick"})
    assert clash.status_code == 409 and clash.json()["code"] == "absence_overlaps"
    naive = client.post("/auth/absences", {**body, "starts_at": "2026-12-10T09:00:00"})
    assert naive.status_code == 400 and naive.json()["code"] == "invalid_absence"
    outside = client.post("/auth/absences", {**body, "user": other_agent.pk})
    assert outside.status_code == 403

    listed = client.get("/auth/absences", current="true").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == absence["id"]
    # Agents neither list nor record absences.
    assert api(other_agent).get("/auth/absences").status_code == 403
    assert api(agent).post("/auth/absences", body).status_code == 403

    cancelled = client.post(f"/auth/absences/{absence['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"]
    assert user_is_available(agent, MONDAY_10)
    again = client.post(f"/auth/absences/{absence['id']}/cancel")
    assert again.status_code == 409
    assert client.get("/auth/absences", current="true").json()["count"] == 0
