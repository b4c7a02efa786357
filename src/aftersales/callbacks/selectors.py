"""Reads of return visits (回访): the scoped base query, the worklist, suggestions, figures."""

import datetime as dt
import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case as When_
from django.db.models import Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.roles import Scope
from aftersales.accounts.selectors import (
    user_led_team_ids,
    user_region_team_ids,
    user_scope,
    user_team_ids,
)
from aftersales.cases.selectors import case_queryset_for
from aftersales.catalog.models import Unit
from aftersales.core.errors import NotFound
from aftersales.customers.models import Tier

from .models import CallbackSettings, Offer, Recommendation, Repurchase, ReturnVisit, Survey

TIER_ORDER = {Tier.VIP: 0, Tier.REGULAR: 1, Tier.LOW: 2}


def callback_settings() -> CallbackSettings:
    """The callback team's settings: the one row (the defaults, unsaved, if it is missing)."""
    return CallbackSettings.objects.order_by("id").first() or CallbackSettings()


def visit_queryset_for(user: User) -> QuerySet[ReturnVisit]:
    """Return visits the user may see: those of the teams in their scope, their own, and the
    visits of every case they may see. Every visit list and look-up starts here (404 else)."""
    qs = ReturnVisit.objects.all()
    if not user.is_active or not user.has_perm("callbacks.view_returnvisit"):
        return qs.none()
    scope = user_scope(user)
    if scope == Scope.ALL:
        return qs
    if scope == Scope.NONE:
        return qs.none()
    if scope == Scope.LED_TEAMS:
        teams = user_led_team_ids(user)
    elif scope == Scope.REGION:
        teams = user_region_team_ids(user)
    elif scope == Scope.TEAM:
        teams = user_team_ids(user)
    else:
        teams = []
    visible = (
        Q(team_id__in=teams)
        | Q(assignee=user)
        | Q(case_id__in=case_queryset_for(user).values("pk"))
    )
    return qs.filter(visible)


def visit_get_for(user: User, *, pk: int) -> ReturnVisit:
    """One visit within the user's scope; 404 `visit_not_found` otherwise."""
    visit = (
        visit_queryset_for(user)
        .select_related("customer", "case", "team", "assignee", "rule")
        .filter(pk=pk)
        .first()
    )
    if visit is None:
        raise NotFound("visit_not_found", _("No such return visit."))
    return visit


def _tier_rank() -> When_:
    return When_(
        *[When(customer__tier=tier, then=Value(rank)) for tier, rank in TIER_ORDER.items()],
        default=Value(len(TIER_ORDER)),
        output_field=IntegerField(),
    )


def _end_of_day(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)


def visit_worklist_for(user: User, *, now: dt.datetime) -> QuerySet[ReturnVisit]:
    """Due visits to call today (next attempt before the end of the local day): VIP customers
    first, then regular, then low value; within a tier the earliest attempt first."""
    return (
        visit_queryset_for(user)
        .filter(status=ReturnVisit.Status.DUE, next_attempt_at__lt=_end_of_day(now))
        .select_related("customer", "case", "team", "assignee")
        .annotate(tier_rank=_tier_rank())
        .order_by("tier_rank", "next_attempt_at", "id")
    )


def visits_upcoming_for(user: User, *, now: dt.datetime) -> QuerySet[ReturnVisit]:
    """Due visits whose next attempt is after today, earliest first."""
    return (
        visit_queryset_for(user)
        .filter(status=ReturnVisit.Status.DUE, next_attempt_at__gte=_end_of_day(now))
        .select_related("customer", "case", "team", "assignee")
        .order_by("next_attempt_at", "id")
    )


# --- recommendations (个性化推荐) ----------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """Something the agent may recommend on the visit: an offer, or an extended warranty for
    one of the customer's units."""

    kind: str
    offer: Offer | None
    unit: Unit | None
    title: str | Promise
    value: Decimal


def offer_title(offer: Offer, language: str | None = None) -> str:
    """The offer's title in `language` (default: the active one)."""
    language = language or translation.get_language() or "zh-hans"
    return offer.title_zh if language.startswith("zh") else offer.title_en


def _warranty_end_within(unit: Unit, on: dt.date, days: int) -> dt.date | None:
    """The first of the unit's warranty ends that falls in [on, on + days], if any."""
    ends = sorted({unit.labour_warranty_end, unit.parts_warranty_end})
    return next((end for end in ends if on <= end <= on + dt.timedelta(days=days)), None)


def recommendations_for(*, visit: ReturnVisit, on: dt.date) -> list[Suggestion]:
    """What to recommend on this visit: an extended warranty for each of the customer's units
    whose warranty ends within `warranty_offer_days` of `on`, then the active accessories and
    maintenance tips for the customer's product lines (and those for every line). Suggestions
    already recorded on the visit are left out."""
    days = callback_settings().warranty_offer_days
    done: set[tuple[str, int | None, int | None]] = set(
        visit.recommendations.values_list("kind", "offer_id", "unit_id")
    )
    units = list(
        Unit.objects.filter(customer_id=visit.customer_id)
        .select_related("model__line")
        .order_by("purchase_date", "id")
    )
    warranty_offers = {
        o.product_line_id: o
        for o in Offer.objects.filter(kind=Offer.Kind.EXTENDED_WARRANTY, is_active=True).order_by(
            "-product_line_id", "code"
        )
    }
    suggestions: list[Suggestion] = []
    for unit in units:
        end = _warranty_end_within(unit, on, days)
        if end is None:
            continue
        offer = warranty_offers.get(unit.model.line_id) or warranty_offers.get(None)
        key = (Offer.Kind.EXTENDED_WARRANTY.value, offer.pk if offer else None, unit.pk)
        if key in done:
            continue
        title = _("Extended warranty for %(model)s #%(serial)s (warranty ends %(end)s)") % {
            "model": unit.model.code,
            "serial": unit.serial_number,
            "end": end.isoformat(),
        }
        value = offer.price if offer is not None and offer.price is not None else Decimal("0")
        suggestions.append(Suggestion(Offer.Kind.EXTENDED_WARRANTY, offer, unit, title, value))
    lines = {u.model.line_id for u in units}
    if visit.case_id is not None and visit.case is not None and visit.case.product_line_id:
        lines.add(visit.case.product_line_id)
    offers = (
        Offer.objects.filter(
            kind__in=[Offer.Kind.ACCESSORY, Offer.Kind.MAINTENANCE_TIP], is_active=True
        )
        .filter(Q(product_line_id__in=lines) | Q(product_line__isnull=True))
        .order_by("kind", "code")
    )
    for offer in offers:
        if (offer.kind, offer.pk, None) in done:
            continue
        suggestions.append(
            Suggestion(offer.kind, offer, None, offer_title(offer), offer.price or Decimal("0"))
        )
    return suggestions


# --- figures (满意度与转化) ----------------------------------------------------------------------


def _day_bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `since`, start of the day after `until`) in the local time zone."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(since, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[int]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def _nps(scores: list[int]) -> float | None:
    """Net promoter score: % promoters (9–10) minus % detractors (0–6)."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100 * (promoters - detractors) / len(scores), 1)


def _survey_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    csat = [r["csat"] for r in rows if r["csat"] is not None]
    nps = [r["nps"] for r in rows if r["nps"] is not None]
    repurchase = [r["repurchase"] for r in rows if r["repurchase"]]
    communication = [
        r["communication_effective"] for r in rows if r["communication_effective"] is not None
    ]
    attitude = [r["attitude"] for r in rows if r["attitude"] is not None]
    return {
        "surveys": len(rows),
        "csat_average": _mean(csat),
        "csat_distribution": {str(score): csat.count(score) for score in range(1, 6)},
        "nps": _nps(nps),
        "nps_answers": len(nps),
        "repurchase": {
            choice: _share(repurchase.count(choice), len(repurchase))
            for choice in Repurchase.values
        },
        "communication_effective_rate": _share(sum(communication), len(communication)),
        "attitude_average": _mean(attitude),
    }


def callback_figures(*, since: dt.date, until: dt.date) -> dict[str, Any]:
    """Satisfaction and conversion over the days `since`..`until` (both included, local time):
    survey figures overall and by customer tier, visits completed and unreachable, and the
    conversion of recommendations by kind (accepted / offered, with the accepted value)."""
    start, end = _day_bounds(since, until)
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Survey.objects.filter(
            status=Survey.Status.ANSWERED, answered_at__gte=start, answered_at__lt=end
        ).values(
            "csat",
            "nps",
            "repurchase",
            "communication_effective",
            "attitude",
            "customer__tier",
            "method",
            "follow_up",
        )
    ]
    visits = ReturnVisit.objects.filter(completed_at__gte=start, completed_at__lt=end)
    visit_counts = visits.aggregate(
        completed=Count("id", filter=Q(status=ReturnVisit.Status.COMPLETED)),
        unreachable=Count("id", filter=Q(status=ReturnVisit.Status.UNREACHABLE)),
        solved=Count("id", filter=Q(outcome=ReturnVisit.Outcome.SOLVED)),
        not_solved=Count("id", filter=Q(outcome=ReturnVisit.Outcome.NOT_SOLVED)),
        care_done=Count("id", filter=Q(outcome=ReturnVisit.Outcome.CARE_DONE)),
    )
    conversion: dict[str, dict[str, Any]] = {}
    recommendations = (
        Recommendation.objects.filter(offered_at__gte=start, offered_at__lt=end)
        .values("kind")
        .annotate(
            offered=Count("id"),
            interested=Count("id", filter=Q(outcome=Recommendation.Outcome.INTERESTED)),
            accepted=Count("id", filter=Q(outcome=Recommendation.Outcome.ACCEPTED)),
            declined=Count("id", filter=Q(outcome=Recommendation.Outcome.DECLINED)),
            accepted_value=Sum("value", filter=Q(outcome=Recommendation.Outcome.ACCEPTED)),
        )
    )
    by_kind: dict[str, dict[str, Any]] = {r["kind"]: dict(r) for r in recommendations}
    for kind in Offer.Kind.values:
        r: dict[str, Any] = by_kind.get(kind, {})
        offered, accepted = r.get("offered", 0), r.get("accepted", 0)
        conversion[kind] = {
            "offered": offered,
            "interested": r.get("interested", 0),
            "accepted": accepted,
            "declined": r.get("declined", 0),
            "conversion_rate": _share(accepted, offered),
            "accepted_value": r.get("accepted_value") or Decimal("0"),
        }
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        **_survey_figures(rows),
        "by_method": {
            method: len([r for r in rows if r["method"] == method])
            for method in Survey.Method.values
        },
        "follow_ups": {
            action: len([r for r in rows if action in (r["follow_up"] or {}).get("actions", [])])
            for action in ("reopened", "complaint")
        },
        "by_tier": {
            tier: _survey_figures([r for r in rows if r["customer__tier"] == tier])
            for tier in Tier.values
        },
        "visits": visit_counts,
        "recommendations": conversion,
    }
