"""Template filters showing the codes stored in complaint, review, compensation, return-visit
and survey events with their translated labels."""

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from aftersales.complaints.models import (
    CompensationAction,
    CompensationKind,
    ComplaintNature,
    ComplaintStatus,
    Responsibility,
    RootCause,
    Severity,
)

register = template.Library()

# Why a complaint goes to the independent review (the codes of ReviewPolicy's rules).
REVIEW_REASONS = {
    "severity": _("severity"),
    "amount": _("amount at stake"),
    "repeat": _("repeated complaint"),
    "vip": _("VIP customer"),
    "media": _("media exposure"),
}

# What a complaint, review, compensation, return-visit or survey event says happened.
CHANGES = {
    "raised": _("Complaint raised"),
    "raised_from_here": _("Complaint raised about this case"),
    "evaluated": _("Classified and evaluated"),
    "handling": _("Being handled"),
    "answered": _("Answered to the customer"),
    "root_cause": _("Root cause recorded"),
    "closed": _("Complaint closed"),
    "reopened": _("Complaint reopened"),
    "requested": _("Independent review requested"),
    "claimed": _("Review taken"),
    "completed": _("Completed"),
    "proposed": _("Compensation proposed"),
    "approved": _("Compensation approved"),
    "rejected": _("Compensation rejected"),
    "forwarded": _("Endorsed and forwarded"),
    "withdrawn": _("Proposal withdrawn"),
    "action_done": _("Follow-up action done"),
    "scheduled": _("Return visit scheduled"),
    "attempt": _("Call attempt"),
    "cancelled": _("Cancelled"),
    "link_sent": _("Survey link sent"),
}

RESULTS = {
    "reached": _("Reached the customer"),
    "no_answer": _("No answer"),
    "call_back_later": _("Call back later"),
    "wrong_number": _("Wrong number"),
}


def _label(enum: Any, code: Any) -> str:
    try:
        return str(enum(code).label)
    except ValueError:
        return str(code or "—")


@register.filter
def complaint_nature_label(code: str) -> str:
    return _label(ComplaintNature, code)


@register.filter
def severity_label(code: str) -> str:
    return _label(Severity, code)


@register.filter
def complaint_status_label(code: str) -> str:
    return _label(ComplaintStatus, code)


@register.filter
def responsibility_label(code: str) -> str:
    return _label(Responsibility, code)


@register.filter
def root_cause_label(code: str) -> str:
    return _label(RootCause, code)


@register.filter
def compensation_label(code: str) -> str:
    """A proposal line's kind or a follow-up action's kind."""
    if code in CompensationKind.values:
        return _label(CompensationKind, code)
    return _label(CompensationAction.Kind, code)


@register.filter
def review_reasons_label(codes: Any) -> str:
    if not codes:
        return "—"
    return ", ".join(str(REVIEW_REASONS.get(c, c)) for c in codes)


@register.filter
def change_label(code: str) -> str:
    return str(CHANGES.get(code, code or "—"))


@register.filter
def attempt_result_label(code: str) -> str:
    return str(RESULTS.get(code, code or "—"))


@register.filter
def visit_reason_label(code: str) -> str:
    from aftersales.callbacks.models import VISIT_REASONS

    return str(VISIT_REASONS.get(code, code or "—"))


@register.simple_tag(takes_context=True)
def complaints_raised_from(context: Any, case: Any) -> Any:
    """The complaints raised from `case` that the signed-in user may see."""
    from aftersales.complaints.selectors import complaint_queryset_for

    user = context["request"].user
    return (
        complaint_queryset_for(user)
        .filter(related_case=case)
        .select_related("case")
        .order_by("received_at", "id")
    )
