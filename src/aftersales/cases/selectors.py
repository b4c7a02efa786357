"""Reads of cases: the scoped base query every list and object goes through, queue, timeline."""

from django.db.models import Q, QuerySet

from aftersales.accounts.models import User
from aftersales.accounts.roles import Scope
from aftersales.accounts.selectors import user_led_team_ids, user_scope, user_team_ids

from .models import Case, CaseEvent


def case_queryset_for(user: User) -> QuerySet[Case]:
    """Cases the user may see: own (assigned), team, led teams, or all, by their widest role.

    Every case list and every case look-up starts here, so a case outside the scope is simply
    not found (404), never leaked.
    """
    scope = user_scope(user)
    qs = Case.objects.all()
    if scope == Scope.ALL:
        return qs
    if scope == Scope.LED_TEAMS:
        return qs.filter(Q(team_id__in=user_led_team_ids(user)) | Q(assignee=user))
    if scope == Scope.TEAM:
        return qs.filter(Q(team_id__in=user_team_ids(user)) | Q(assignee=user))
    if scope == Scope.OWN:
        return qs.filter(assignee=user)
    return qs.none()


def case_get_for(user: User, *, number: str) -> Case:
    """One case by number within the user's scope; raises Case.DoesNotExist otherwise."""
    return (
        case_queryset_for(user)
        .select_related("customer", "unit__model__line", "team", "assignee", "product_line")
        .get(number=number)
    )


def case_timeline(case: Case) -> QuerySet[CaseEvent]:
    """Every event and contact of a case, oldest first, with actors."""
    return case.events.select_related("actor").order_by("occurred_at", "id")
