"""Reads about staff: roles, scopes, teams, and who is on shift to take a case."""

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from aftersales.core.business_time import CalendarSpec, is_working_time
from aftersales.core.calendars import calendar_spec
from aftersales.core.models import BusinessCalendar

from .models import Absence, Team, User, seniorities_at_least
from .roles import Role, Scope, widest_scope


def user_roles(user: User) -> list[str]:
    """Names of the user's role groups (read fresh: a removed role takes effect at once)."""
    if not user.is_authenticated or not user.is_active:
        return []
    return list(user.groups.values_list("name", flat=True))


def user_scope(user: User) -> Scope:
    """The widest record scope of the user's roles; superusers see everything."""
    if not user.is_authenticated or not user.is_active:
        return Scope.NONE
    if user.is_superuser:
        return Scope.ALL
    return widest_scope(user_roles(user))


def user_team_ids(user: User) -> list[int]:
    """Teams the user belongs to."""
    return list(user.memberships.filter(team__is_active=True).values_list("team_id", flat=True))


def user_led_team_ids(user: User) -> list[int]:
    """Teams a supervisor sees: those they lead and those they belong to."""
    return list(
        user.memberships.filter(team__is_active=True).values_list("team_id", flat=True).distinct()
    )


def user_region_team_ids(user: User) -> list[int]:
    """Teams a regional manager sees: every active team in the regions of the user's teams.

    A team without a region stands for itself only, so a blank region never widens the scope.
    """
    own = user.memberships.filter(team__is_active=True)
    regions = own.exclude(team__region="").values("team__region")
    return list(
        Team.objects.filter(is_active=True)
        .filter(Q(region__in=regions) | Q(pk__in=own.values("team_id")))
        .values_list("pk", flat=True)
    )


def user_primary_team(user: User) -> Team | None:
    """The team new cases opened by this user belong to: the first led, else the first joined."""
    membership = (
        user.memberships.select_related("team")
        .filter(team__is_active=True)
        .order_by("-is_lead", "id")
        .first()
    )
    return membership.team if membership else None


def team_members_with_load(*, team: Team, open_statuses: list[str]) -> QuerySet[User]:
    """Active members of a team annotated with their open-case count (`open_cases`)."""
    return (
        User.objects.filter(memberships__team=team, is_active=True)
        .annotate(
            open_cases=Count("assigned_cases", filter=Q(assigned_cases__status__in=open_statuses))
        )
        .order_by("open_cases", "id")
    )


def assignable_users(*, team: Team | None) -> QuerySet[User]:
    """Staff who may be given cases of `team` (members of it, or anyone active if no team)."""
    qs = User.objects.filter(is_active=True).exclude(groups__name=Role.WAREHOUSE.value)
    if team is not None:
        qs = qs.filter(memberships__team=team)
    return qs.distinct().order_by("display_name", "username")


# Calendar specs by calendar id (None: the default work calendar), shared across one routing
# pass so each calendar is read once. A value of None means no such calendar exists.
SpecsCache = dict[int | None, CalendarSpec | None]


class Unavailable(StrEnum):
    """Why a member of staff cannot take a case right now (stable codes, stored in events)."""

    INACTIVE = "inactive"  # account disabled
    AWAY = "away"  # set themselves as not accepting cases
    ABSENT = "absent"  # an absence (leave, sick, training) covers the moment
    OFF_SHIFT = "off_shift"  # outside the working hours of their calendar


@dataclass(frozen=True)
class MemberAvailability:
    user: User
    unavailable: str  # "" when available, else an `Unavailable` code

    @property
    def available(self) -> bool:
        return not self.unavailable


def default_work_calendar_code() -> str:
    """Code of the calendar staff work to unless they have their own."""
    return str(getattr(settings, "DEFAULT_WORK_CALENDAR", "cn-mainland"))


def work_calendar_spec(user: User, *, specs_cache: SpecsCache | None = None) -> CalendarSpec | None:
    """The spec of the user's working hours; None when the default calendar does not exist.

    Without a calendar nobody's hours are restricted: a missing configuration must not stop
    every case from reaching a person.
    """
    cache: SpecsCache = specs_cache if specs_cache is not None else {}
    key = user.work_calendar_id
    if key not in cache:
        calendar: BusinessCalendar | None
        if key is None:
            calendar = BusinessCalendar.objects.filter(code=default_work_calendar_code()).first()
        else:
            calendar = user.work_calendar
        cache[key] = calendar_spec(calendar) if calendar is not None else None
    return cache[key]


def _absent_user_ids(user_ids: list[int], at: dt.datetime) -> set[int]:
    return set(
        Absence.objects.filter(
            user_id__in=user_ids, cancelled_at__isnull=True, starts_at__lte=at, ends_at__gt=at
        ).values_list("user_id", flat=True)
    )


def _unavailable(user: User, at: dt.datetime, *, absent: set[int], specs_cache: SpecsCache) -> str:
    if not user.is_active:
        return Unavailable.INACTIVE
    if not user.accepting_cases:
        return Unavailable.AWAY
    if user.pk in absent:
        return Unavailable.ABSENT
    spec = work_calendar_spec(user, specs_cache=specs_cache)
    if spec is not None and not is_working_time(spec, at):
        return Unavailable.OFF_SHIFT
    return ""


def user_unavailable_reason(
    user: User, at: dt.datetime, *, specs_cache: SpecsCache | None = None
) -> str:
    """ "" when the user may be given a case at `at`, else the `Unavailable` code saying why."""
    cache: SpecsCache = specs_cache if specs_cache is not None else {}
    return _unavailable(user, at, absent=_absent_user_ids([user.pk], at), specs_cache=cache)


def user_is_available(
    user: User, at: dt.datetime, *, specs_cache: SpecsCache | None = None
) -> bool:
    """Active, accepting cases, on shift by their calendar, and not absent at `at`."""
    return not user_unavailable_reason(user, at, specs_cache=specs_cache)


def team_member_availability(
    team: Team,
    at: dt.datetime,
    *,
    min_seniority: str | None = None,
    role: str | None = None,
    specs_cache: SpecsCache | None = None,
) -> list[MemberAvailability]:
    """Every active member of `team` who qualifies (seniority, role), with their availability.

    Team leads are left out: they supervise the queue rather than take cases from it. A few
    queries whatever the team size: members, absences, and two per distinct calendar.
    """
    members = User.objects.filter(
        memberships__team=team, memberships__is_lead=False, is_active=True
    ).select_related("work_calendar")
    if min_seniority:
        members = members.filter(seniority__in=seniorities_at_least(min_seniority))
    if role:
        members = members.filter(groups__name=role)
    users = list(members.distinct().order_by("id"))
    absent = _absent_user_ids([u.pk for u in users], at)
    cache: SpecsCache = specs_cache if specs_cache is not None else {}
    return [
        MemberAvailability(u, _unavailable(u, at, absent=absent, specs_cache=cache)) for u in users
    ]


def available_members(
    team: Team,
    at: dt.datetime,
    *,
    min_seniority: str | None = None,
    role: str | None = None,
    specs_cache: SpecsCache | None = None,
) -> list[User]:
    """Members of `team` who qualify and may be given a case at `at`, by id."""
    return [
        m.user
        for m in team_member_availability(
            team, at, min_seniority=min_seniority, role=role, specs_cache=specs_cache
        )
        if m.available
    ]


def absences_visible_to(actor: User) -> QuerySet[Absence]:
    """Absences `actor` may see: everyone's for managers, their led teams' for supervisors,
    else their own; cancelled ones included, latest first."""
    qs = Absence.objects.select_related("user", "created_by", "cancelled_by")
    if user_scope(actor) == Scope.ALL:
        return qs
    if actor.has_perm("accounts.plan_staff"):
        led = actor.memberships.filter(is_lead=True, team__is_active=True).values("team_id")
        members = User.objects.filter(memberships__team_id__in=led).values("pk")
        return qs.filter(Q(user_id__in=members) | Q(user=actor))
    return qs.filter(user=actor)
