"""Reads about staff: roles, scopes, teams."""

from django.db.models import Count, Q, QuerySet

from .models import Team, User
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
