"""Reads of complaints: the scoped base query, worklists of reviewers and approvers, figures."""

import datetime as dt
import statistics
from collections import Counter
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.selectors import user_roles
from aftersales.cases.selectors import case_queryset_for
from aftersales.core.business_time import CalendarSpec, working_time_between
from aftersales.core.calendars import calendar_spec
from aftersales.core.errors import NotFound
from aftersales.core.models import BusinessCalendar

from .models import (
    ApprovalLevel,
    CompensationLine,
    CompensationProposal,
    Complaint,
    ComplaintReview,
)

_RELATED = ("case__customer", "case__team", "case__assignee", "concerns_user", "concerns_team")


def complaint_queryset_for(user: User) -> QuerySet[Complaint]:
    """Complaints the user may see: those whose case is in the user's case scope, plus, for the
    independent review group, every complaint that needs a review. Nothing without the
    `complaints.view_complaint` permission."""
    if not user.is_active or not user.has_perm("complaints.view_complaint"):
        return Complaint.objects.none()
    visible = Q(case__in=case_queryset_for(user).values("pk"))
    if user.has_perm("complaints.review_complaint"):
        visible |= Q(review_required=True)
    return Complaint.objects.filter(visible)


def complaint_get_for(user: User, *, number: str) -> Complaint:
    """One complaint by its case's number within the user's scope; `not_found` (404)."""
    complaint = (
        complaint_queryset_for(user)
        .select_related(*_RELATED, "related_case", "evaluated_by")
        .filter(case__number=number)
        .first()
    )
    if complaint is None:
        raise NotFound("not_found", _("No such complaint."), details={"number": number})
    return complaint


def complaint_list_for(
    user: User,
    *,
    status: str | None = None,
    nature: str | None = None,
    review: bool | str | None = None,
) -> QuerySet[Complaint]:
    """The complaint list, newest first. `review`: True/False for whether a review is required,
    or a review status ("pending", "in_review", "completed")."""
    qs = complaint_queryset_for(user).select_related(*_RELATED)
    if status:
        qs = qs.filter(status=status)
    if nature:
        qs = qs.filter(nature=nature)
    if isinstance(review, bool):
        qs = qs.filter(review_required=review)
    elif review in ComplaintReview.Status.values:
        qs = qs.filter(reviews__status=review).distinct()
    return qs.order_by("-received_at", "-id")


def review_worklist_for(user: User) -> QuerySet[ComplaintReview]:
    """Reviews waiting for a reviewer, and those the user is working on, oldest first."""
    if not user.is_active or not user.has_perm("complaints.review_complaint"):
        return ComplaintReview.objects.none()
    return (
        ComplaintReview.objects.filter(
            Q(status=ComplaintReview.Status.PENDING)
            | Q(status=ComplaintReview.Status.IN_REVIEW, reviewer=user)
        )
        .select_related("complaint__case__customer", "reviewer", "complaint__concerns_team")
        .order_by("requested_at", "id")
    )


def approval_limit_for(user: User) -> tuple[ApprovalLevel | None, Decimal | None, bool]:
    """The user's approval level, limit and whether it is unlimited: the highest of the levels
    their roles are on. (None, None, False) for someone on no level."""
    roles = set(user_roles(user))
    levels = [level for level in ApprovalLevel.objects.order_by("rank") if roles & set(level.roles)]
    if not levels:
        return None, None, False
    unlimited = [level for level in levels if level.limit is None]
    if unlimited:
        return unlimited[-1], None, True
    best = max(levels, key=lambda level: (level.limit, level.rank))
    return best, best.limit, False


def approvals_waiting_for(user: User) -> QuerySet[CompensationProposal]:
    """Pending proposals the user may decide: within their limit, in their scope, not their own."""
    if not user.is_active or not user.has_perm("complaints.approve_compensation"):
        return CompensationProposal.objects.none()
    level, limit, unlimited = approval_limit_for(user)
    if level is None:
        return CompensationProposal.objects.none()
    qs = CompensationProposal.objects.filter(
        status=CompensationProposal.Status.PENDING,
        complaint__in=complaint_queryset_for(user).values("pk"),
    ).exclude(proposed_by=user)
    if not unlimited:
        qs = qs.filter(total__lte=limit)
    return qs.select_related("complaint__case__customer", "proposed_by", "required_level").order_by(
        "proposed_at", "id"
    )


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _working_days(start: dt.datetime, end: dt.datetime, spec: CalendarSpec | None) -> float:
    if spec is None or not spec.day_length:
        return (end - start).total_seconds() / 86400
    return working_time_between(spec, start, end) / spec.day_length


def complaint_figures(
    *, since: dt.datetime, until: dt.datetime, user: User | None = None
) -> dict[str, Any]:
    """Figures of the complaints received in [since, until) for the report page: counts by
    nature and root cause, the communication-error, review and reopen shares, the cycle time
    (received → closed) in working days of the office calendar, compensation by kind. With a
    `user`, only the complaints in their scope count (a supervisor's report is their teams')."""
    from aftersales.sla.defaults import OFFICE

    complaints = complaint_queryset_for(user) if user is not None else Complaint.objects.all()
    complaints = complaints.filter(received_at__gte=since, received_at__lt=until)
    rows = list(
        complaints.values(
            "nature",
            "root_cause",
            "communication_error",
            "review_required",
            "reopen_count",
            "received_at",
            "closed_at",
        )
    )
    total = len(rows)
    with_cause = [r for r in rows if r["root_cause"]]
    calendar = BusinessCalendar.objects.filter(code=OFFICE).first()
    spec = calendar_spec(calendar) if calendar is not None else None
    cycles = [_working_days(r["received_at"], r["closed_at"], spec) for r in rows if r["closed_at"]]
    money = (
        CompensationLine.objects.filter(
            proposal__status=CompensationProposal.Status.APPROVED,
            proposal__complaint__in=complaints.values("pk"),
        )
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by("kind")
    )
    return {
        "total": total,
        "by_nature": dict(Counter(r["nature"] for r in rows).most_common()),
        "by_root_cause": dict(Counter(r["root_cause"] for r in with_cause).most_common()),
        "communication_error_share": _share(
            sum(1 for r in with_cause if r["communication_error"]), len(with_cause)
        ),
        "review_share": _share(sum(1 for r in rows if r["review_required"]), total),
        "reopen_rate": _share(sum(1 for r in rows if r["reopen_count"]), total),
        "closed": len(cycles),
        "cycle_days_median": round(statistics.median(cycles), 2) if cycles else None,
        "cycle_days_avg": round(statistics.fmean(cycles), 2) if cycles else None,
        "compensation_by_kind": {m["kind"]: m["total"] or Decimal("0") for m in money},
    }
