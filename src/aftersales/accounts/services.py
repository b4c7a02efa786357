"""Writes about staff: role groups, accounts, teams, absences and availability, API tokens."""

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.models import BusinessCalendar
from aftersales.core.services import audit_record

from .models import Absence, ApiToken, Seniority, Team, TeamMembership, User
from .permissions import require_perm
from .roles import ROLE_PERMISSIONS, Role, Scope
from .selectors import user_scope


def roles_sync() -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    with transaction.atomic():
        for role, codenames in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role.value)
            perms = []
            for dotted in codenames:
                app_label, codename = dotted.split(".")
                perms.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            group.permissions.set(perms)


def staff_create(
    *,
    username: str,
    password: str,
    display_name: str,
    roles: list[Role],
    teams: list[Team] | None = None,
    leads: list[Team] | None = None,
    email: str = "",
    password_hash: str = "",
    seniority: str = "",
    work_calendar: BusinessCalendar | None = None,
) -> User:
    """Create a staff account with its roles and team memberships.

    `password_hash` (from `make_password`) lets bulk creation hash a shared password once.
    Seniority defaults to senior for senior agents and junior otherwise; `work_calendar` blank
    means the default working hours.
    """
    if not seniority:
        seniority = Seniority.SENIOR if Role.SENIOR_AGENT in roles else Seniority.JUNIOR
    with transaction.atomic():
        user = User(
            username=username,
            display_name=display_name,
            email=email,
            is_staff=False,
            seniority=seniority,
            work_calendar=work_calendar,
        )
        if password_hash:
            user.password = password_hash
        else:
            user.set_password(password)
        if Role.ADMINISTRATOR in roles:
            user.is_staff = True
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.set(Group.objects.filter(name__in=[r.value for r in roles]))
        for team in teams or []:
            TeamMembership.objects.get_or_create(team=team, user=user)
        for team in leads or []:
            TeamMembership.objects.update_or_create(
                team=team, user=user, defaults={"is_lead": True}
            )
        return user


def team_create(*, code: str, name: str, kind: str, region: str = "") -> Team:
    """Create a team."""
    team = Team(code=code, name=name, kind=kind, region=region)
    team.full_clean()
    team.save()
    return team


LAST_USED_PRECISION = dt.timedelta(minutes=1)


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Issue a bearer token; the clear key is returned once and never stored."""
    if not user.is_active:
        raise ApplicationError("user_inactive", "Tokens cannot be issued to a disabled account.")
    key = "ast_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100] or "token",
        key_hash=ApiToken.hash_key(key),
        prefix=key[4:12],
        created_at=clock.now(),
    )
    return token, key


def api_token_authenticate(*, key: str) -> User | None:
    """The active user behind a bearer token, or None; records when it was last used."""
    if not key.startswith("ast_"):
        return None
    token: Any = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    # Record use at minute precision: a write per request would serialise busy integrations.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user: User = token.user
    return user


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token at once."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())


MAX_ABSENCE = dt.timedelta(days=366)
# Anything outside is a typing mistake (and the far ends overflow in time-zone arithmetic).
ABSENCE_YEARS = (2000, 2100)


def _require_planning(actor: User, user: User) -> None:
    """Supervisors plan the members of the teams they lead; managers and admins plan anyone."""
    require_perm(actor, "accounts.plan_staff")
    if user_scope(actor) == Scope.ALL:
        return
    led = TeamMembership.objects.filter(user=actor, is_lead=True, team__is_active=True).values(
        "team_id"
    )
    if not TeamMembership.objects.filter(user=user, team_id__in=led).exists():
        raise PermissionDenied(_("You plan only the members of the teams you lead."))


def absence_record(
    *,
    actor: User,
    user: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str,
    note: str = "",
) -> Absence:
    """Record that `user` is away (leave, sick, training) from `starts_at` until `ends_at`.

    Routing gives them no case while it lasts. An absence may not overlap another one of the
    same person; the person's row is locked so two supervisors cannot both record one.
    """
    _require_planning(actor, user)
    errors: dict[str, str] = {}
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        errors["starts_at"] = _("Times need a time zone.")
    elif not (ABSENCE_YEARS[0] <= starts_at.year and ends_at.year <= ABSENCE_YEARS[1]):
        errors["starts_at"] = _("Use dates between %(first)d and %(last)d.") % {
            "first": ABSENCE_YEARS[0],
            "last": ABSENCE_YEARS[1],
        }
    elif ends_at <= starts_at:
        errors["ends_at"] = _("The end must be after the start.")
    elif ends_at - starts_at > MAX_ABSENCE:
        errors["ends_at"] = _("An absence lasts at most a year; record a longer one in parts.")
    if reason not in Absence.Reason.values:
        errors["reason"] = _("Unknown reason %(value)r.") % {"value": reason}
    note = note.strip()
    if len(note) > 500:
        errors["note"] = _("At most %(n)d characters.") % {"n": 500}
    if not user.is_active:
        errors["user"] = _("This account is disabled.")
    if errors:
        raise ApplicationError(
            "invalid_absence", _("The absence cannot be recorded."), details=errors
        )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        overlapping = (
            Absence.objects.filter(
                user=user, cancelled_at__isnull=True, starts_at__lt=ends_at, ends_at__gt=starts_at
            )
            .order_by("starts_at")
            .first()
        )
        if overlapping is not None:
            raise Conflict(
                "absence_overlaps",
                _("%(user)s is already away from %(start)s to %(end)s.")
                % {
                    "user": user.label,
                    "start": timezone.localtime(overlapping.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "end": timezone.localtime(overlapping.ends_at).strftime("%Y-%m-%d %H:%M"),
                },
                details={"absence": overlapping.pk},
            )
        absence = Absence.objects.create(
            user=user,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            note=note,
            created_by=actor,
            created_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="staff.absence_recorded",
            entity="user",
            entity_id=user.pk,
            data={
                "absence": absence.pk,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "reason": reason,
            },
        )
        return absence


def absence_cancel(*, actor: User, absence: Absence) -> Absence:
    """Cancel an absence (the person is back, or it was entered by mistake); the row stays."""
    _require_planning(actor, absence.user)
    with transaction.atomic():
        absence = Absence.objects.select_for_update().select_related("user").get(pk=absence.pk)
        if absence.cancelled_at is not None:
            raise Conflict("absence_cancelled", _("This absence was already cancelled."))
        absence.cancelled_at = clock.now()
        absence.cancelled_by = actor
        absence.save(update_fields=["cancelled_at", "cancelled_by"])
        audit_record(
            actor=actor,
            action="staff.absence_cancelled",
            entity="user",
            entity_id=absence.user_id,
            data={"absence": absence.pk},
        )
        return absence


def availability_set(*, actor: User, accepting: bool) -> User:
    """Set oneself as accepting new cases or away (示忙/示闲); routing respects it at once."""
    require_perm(actor, "cases.work_case")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        if user.accepting_cases == accepting:
            return user
        user.accepting_cases = accepting
        user.save(update_fields=["accepting_cases"])
        audit_record(
            actor=actor,
            action="staff.availability_set",
            entity="user",
            entity_id=user.pk,
            data={"accepting_cases": accepting},
        )
        return user


def staff_schedule_set(
    *,
    actor: User,
    user: User,
    work_calendar: BusinessCalendar | None,
    seniority: str | None = None,
) -> User:
    """Set the calendar whose hours `user` works (None: the default) and, optionally, seniority."""
    _require_planning(actor, user)
    if seniority is not None and seniority not in Seniority.values:
        raise ApplicationError(
            "invalid_schedule",
            _("Unknown seniority %(value)r.") % {"value": seniority},
            details={"seniority": seniority},
        )
    if work_calendar is not None and not work_calendar.is_active:
        raise ApplicationError(
            "invalid_schedule",
            _("That calendar is not active."),
            details={"work_calendar": work_calendar.pk},
        )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = {"work_calendar": locked.work_calendar_id, "seniority": locked.seniority}
        locked.work_calendar = work_calendar
        if seniority is not None:
            locked.seniority = seniority
        after = {"work_calendar": locked.work_calendar_id, "seniority": locked.seniority}
        if before == after:
            return locked
        locked.save(update_fields=["work_calendar", "seniority"])
        audit_record(
            actor=actor,
            action="staff.schedule_set",
            entity="user",
            entity_id=locked.pk,
            data={"before": before, "after": after},
        )
        return locked
