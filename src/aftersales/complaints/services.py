"""Every write to a complaint (投诉): intake, evaluation, independent review, compensation with
its approval chain and follow-up actions, the answer letter, root cause, close and reopen.

Each function is one transaction that locks the row it changes, checks the rule it owns and
writes the matching event on the complaint's case timeline (with its actor), through
`cases.services.case_event_record`, which mirrors it into the audit log. The case itself (its
status, assignee and SLA clocks) only ever changes through the case services.

Lock order, so that concurrent requests cannot deadlock: proposal or action, then complaint,
then case; the audit chain last (every event writes to it).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from aftersales.accounts.models import Team, TeamMembership, User
from aftersales.accounts.permissions import require_perm
from aftersales.accounts.selectors import user_primary_team
from aftersales.cases.models import Case, CaseEvent, CaseKind, SolutionType, Status, Urgency
from aftersales.cases.services import (
    MAX_BODY,
    case_assign,
    case_classify,
    case_event_record,
    case_open,
    case_open_for_customer,
    case_reopen_for_customer,
    case_transition,
)
from aftersales.catalog.models import Unit
from aftersales.catalog.services import unit_warranty_extend
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict, Forbidden
from aftersales.core.services import audit_record
from aftersales.customers.models import Channel, ContactPoint, Customer, Tier
from aftersales.sla.clocks import clocks_sync

from .letters import Letter, letter_render
from .models import (
    SEVERITY_RANK,
    ApprovalDecision,
    ApprovalLevel,
    CompensationAction,
    CompensationKind,
    CompensationLine,
    CompensationProposal,
    Complaint,
    ComplaintNature,
    ComplaintReview,
    ComplaintStatus,
    Responsibility,
    ReviewPolicy,
    RootCause,
    Severity,
)
from .selectors import approval_limit_for

__all__ = [
    "LineIn",
    "approval_limit_for",
    "compensation_action_complete",
    "compensation_decide",
    "compensation_propose",
    "compensation_withdraw",
    "complaint_answer",
    "complaint_close",
    "complaint_evaluate",
    "complaint_handle",
    "complaint_letter",
    "complaint_raise",
    "complaint_reopen",
    "complaint_review_claim",
    "complaint_review_complete",
    "complaint_root_cause_set",
]

# Case event kinds of complaints (stable codes, as `cases.CaseEvent` stores them).
EVENT_COMPLAINT = "complaint"
EVENT_REVIEW = "review"
EVENT_COMPENSATION = "compensation"

# The case's nature for each complaint nature, so case reports count complaints too.
CASE_NATURE = {
    ComplaintNature.PRODUCT_USAGE: "usage",
    ComplaintNature.PRODUCT_QUALITY: "hardware",
    ComplaintNature.SERVICE_ATTITUDE: "attitude",
    ComplaintNature.SLOW_RESPONSE: "response",
    ComplaintNature.REPAIR_QUALITY: "hardware",
    ComplaintNature.PRICE_BILLING: "billing",
    ComplaintNature.OTHER: "other",
}
# Severity sets the case's urgency (and so its priority in the queues).
CASE_URGENCY = {
    Severity.MINOR: Urgency.NORMAL,
    Severity.MODERATE: Urgency.NORMAL,
    Severity.MAJOR: Urgency.HIGH,
    Severity.CRITICAL: Urgency.CRITICAL,
}
# The follow-up action each approved compensation line creates.
ACTION_KIND = {
    CompensationKind.REFUND_FULL: CompensationAction.Kind.REFUND,
    CompensationKind.REFUND_PARTIAL: CompensationAction.Kind.REFUND,
    CompensationKind.REPLACEMENT: CompensationAction.Kind.REPLACEMENT,
    CompensationKind.FREE_REPAIR: CompensationAction.Kind.REPAIR,
    CompensationKind.VOUCHER: CompensationAction.Kind.VOUCHER,
    CompensationKind.EXTENDED_WARRANTY: CompensationAction.Kind.EXTENDED_WARRANTY,
}
# Actions that are only done with a reference: payment reference, order/tracking no., code.
REFERENCE_REQUIRED = frozenset(
    {
        CompensationAction.Kind.REFUND,
        CompensationAction.Kind.REPLACEMENT,
        CompensationAction.Kind.VOUCHER,
    }
)
# Kinds whose amount is the money itself, so it cannot be zero.
MONEY_KINDS = frozenset(
    {CompensationKind.REFUND_FULL, CompensationKind.REFUND_PARTIAL, CompensationKind.VOUCHER}
)
ACTION_DUE = dt.timedelta(days=7)
MAX_AMOUNT = Decimal("9999999999.99")
MAX_WARRANTY_EXTENSION = 60
OPEN_REVIEW = (ComplaintReview.Status.PENDING, ComplaintReview.Status.IN_REVIEW)
S = ComplaintStatus


@dataclass
class LineIn:
    """One line of a compensation proposal as it is asked for."""

    kind: str
    amount: Decimal
    unit: Unit | None = None
    months: int | None = None
    note: str = ""


# --- helpers ------------------------------------------------------------------------------------


def _money_error(value: Any, *, positive: bool = False) -> str:
    """Why `value` is not an amount of money ("" when it is one)."""
    if not isinstance(value, Decimal):
        try:
            value = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return _("Not an amount.")
    if not value.is_finite():
        return _("Not an amount.")
    if value < 0:
        return _("An amount cannot be negative.")
    if positive and value == 0:
        return _("The amount must be more than zero.")
    if value > MAX_AMOUNT:
        return _("The amount is too large.")
    if value != value.quantize(Decimal("0.01")):
        return _("At most two decimal places.")
    return ""


def _money(value: Decimal | int | str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _lock(complaint: Complaint) -> Complaint:
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("case__customer")
        .get(pk=complaint.pk)
    )


def _transition_refused(complaint: Complaint, action: str) -> ApplicationError:
    return ApplicationError(
        "invalid_complaint_transition",
        _("This is not possible while the complaint is %(status)s.")
        % {"status": str(ComplaintStatus(complaint.status).label)},
        details={"status": complaint.status, "action": action},
        status=409,
    )


def _require_status(complaint: Complaint, action: str, *allowed: str) -> None:
    if complaint.status not in allowed:
        raise _transition_refused(complaint, action)


def _review_open(complaint: Complaint) -> bool:
    return complaint.reviews.filter(status__in=OPEN_REVIEW).exists()


def _require_no_open_review(complaint: Complaint) -> None:
    if _review_open(complaint):
        raise Conflict(
            "review_pending",
            _("The independent review of this complaint is not completed yet."),
            details={"complaint": complaint.case.number},
        )


def _require_no_pending_proposal(complaint: Complaint) -> None:
    pending = complaint.proposals.filter(status=CompensationProposal.Status.PENDING).first()
    if pending is not None:
        raise Conflict(
            "proposal_pending",
            _("A compensation proposal is waiting for approval."),
            details={"proposal": pending.pk},
        )


def _touch(complaint: Complaint, now: dt.datetime) -> None:
    Complaint.objects.filter(pk=complaint.pk).update(updated_at=now)


def _event(
    complaint: Complaint, kind: str, *, actor: User | None, at: dt.datetime, **fields: Any
) -> CaseEvent:
    return case_event_record(complaint.case, kind=kind, actor=actor, at=at, **fields)


def _complaint_fields_check(
    *, nature: str, severity: str, amount_at_stake: Decimal | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if nature not in ComplaintNature.values:
        errors["nature"] = _("Unknown nature %(value)r.") % {"value": nature}
    if severity not in Severity.values:
        errors["severity"] = _("Unknown severity %(value)r.") % {"value": severity}
    if amount_at_stake is not None:
        problem = _money_error(amount_at_stake)
        if problem:
            errors["amount_at_stake"] = problem
    return errors


def _invalid_complaint(errors: dict[str, str]) -> ApplicationError:
    return ApplicationError(
        "invalid_complaint", _("The complaint is not valid."), details=errors, status=400
    )


def _case_take_on(*, actor: User, case: Case, handler: User) -> Case:
    """Assign the complaint's case to `handler` (in the case's team if they are in it, else in
    their own) and start it, through the case services."""
    case = Case.objects.select_related("customer").get(pk=case.pk)
    if not case.is_open:
        raise ApplicationError(
            "case_not_open",
            _("The complaint's case is %(status)s.") % {"status": str(Status(case.status).label)},
            status=409,
        )
    in_team = (
        case.team_id is not None
        and TeamMembership.objects.filter(team_id=case.team_id, user=handler).exists()
    )
    team: Team | None = case.team if in_team else user_primary_team(handler)
    if team is None:
        raise ApplicationError(
            "invalid_handler",
            _("%(user)s belongs to no team and cannot be given the complaint.") % {"user": handler},
            details={"handler": handler.pk},
        )
    if case.assignee_id != handler.pk or case.team_id != team.pk:
        case = case_assign(actor=actor, case=case, team=team, assignee=handler)
    if case.status == Status.ASSIGNED:
        case = case_transition(actor=actor, case=case, action="start")
    elif case.status == Status.WAITING_PARTS:
        case = case_transition(actor=actor, case=case, action="resume")
    return case


# --- intake and evaluation ------------------------------------------------------------------------


def complaint_raise(
    *,
    actor: User | None,
    customer: Customer,
    channel: str,
    subject: str,
    nature: str,
    description: str = "",
    related_case: Case | None = None,
    severity: str = Severity.MODERATE,
    concerns_user: User | None = None,
    concerns_team: Team | None = None,
    amount_at_stake: Decimal | None = None,
    media_exposure: bool = False,
    unit: Unit | None = None,
    idempotency_key: str | None = None,
) -> Complaint:
    """Receive a complaint (受理投诉) from any channel, or raised from an existing case.

    The complaint gets its own case of kind "complaint" (number, clocks of 1 h reply and 24 h
    preliminary solution, routing); `actor=None` is the system raising it for the customer
    (e.g. an unsatisfied survey answer). Retries with the same `idempotency_key` get the same
    complaint. `invalid_complaint` (400) with details per field.
    """
    if actor is not None:
        require_perm(actor, "cases.add_case")
    errors = _complaint_fields_check(
        nature=nature, severity=severity, amount_at_stake=amount_at_stake
    )
    if related_case is not None and related_case.customer_id != customer.pk:
        errors["related_case"] = _("The case belongs to another customer.")
    if related_case is not None and related_case.kind == CaseKind.COMPLAINT:
        errors["related_case"] = _("A complaint is raised from a service case, not a complaint.")
    if errors:
        raise _invalid_complaint(errors)
    case_nature = CASE_NATURE[ComplaintNature(nature)]
    urgency = CASE_URGENCY[Severity(severity)]
    with transaction.atomic():
        if actor is None:
            # Keys of the system's own requests live beside the staff's "<user id>:<key>" ones.
            scoped_key = f"customer:{idempotency_key}" if idempotency_key else None
            if scoped_key:
                earlier = Complaint.objects.filter(case__idempotency_key=scoped_key).first()
                if earlier is not None:
                    return earlier
            case = case_open_for_customer(
                customer=customer,
                channel=channel,
                subject=subject,
                description=description,
                kind=CaseKind.COMPLAINT,
                nature=case_nature,
                urgency=urgency,
            )
            if scoped_key:
                Case.objects.filter(pk=case.pk).update(idempotency_key=scoped_key)
        else:
            case, created = case_open(
                actor=actor,
                customer=customer,
                channel=channel,
                subject=subject,
                description=description,
                unit=unit,
                nature=case_nature,
                urgency=urgency,
                kind=CaseKind.COMPLAINT,
                idempotency_key=idempotency_key,
            )
            if not created:
                existing = Complaint.objects.filter(case=case).first()
                if existing is None:
                    raise Conflict(
                        "idempotency_key_reused",
                        _("This idempotency key was already used for a different request."),
                        details={"case": case.number},
                    )
                return existing
        now = clock.now()
        complaint = Complaint.objects.create(
            case=case,
            related_case=related_case,
            status=S.RECEIVED,
            nature=nature,
            severity=severity,
            concerns_user=concerns_user,
            concerns_team=concerns_team,
            amount_at_stake=None if amount_at_stake is None else _money(amount_at_stake),
            media_exposure=media_exposure,
            received_at=now,
            updated_at=now,
        )
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            data={
                "change": "raised",
                "nature": nature,
                "severity": severity,
                "related_case": related_case.number if related_case else None,
            },
        )
        if related_case is not None:
            related = Case.objects.select_for_update(of=("self",)).get(pk=related_case.pk)
            case_event_record(
                related,
                kind=EVENT_COMPLAINT,
                actor=actor,
                at=now,
                data={"change": "raised_from_here", "complaint_case": case.number},
            )
        return complaint


def review_policy() -> ReviewPolicy:
    """The one review policy row (the defaults when none was configured)."""
    policy = ReviewPolicy.objects.order_by("pk").first()
    return policy if policy is not None else ReviewPolicy.objects.create()


def _earlier_complaints(complaint: Complaint, policy: ReviewPolicy) -> int:
    since = complaint.received_at - dt.timedelta(days=policy.repeat_window_days)
    return (
        Complaint.objects.filter(
            case__customer_id=complaint.case.customer_id,
            received_at__gte=since,
            received_at__lte=complaint.received_at,
        )
        .exclude(pk=complaint.pk)
        .count()
    )


def _review_reasons(
    complaint: Complaint, policy: ReviewPolicy, *, earlier: int, customer: Customer
) -> list[str]:
    reasons = []
    if SEVERITY_RANK[Severity(complaint.severity)] >= SEVERITY_RANK[Severity(policy.min_severity)]:
        reasons.append("severity")
    if complaint.amount_at_stake is not None and complaint.amount_at_stake >= (
        policy.amount_threshold
    ):
        reasons.append("amount")
    if earlier >= policy.repeat_threshold:
        reasons.append("repeat")
    if policy.vip and customer.tier == Tier.VIP:
        reasons.append("vip")
    if policy.media and complaint.media_exposure:
        reasons.append("media")
    return reasons


def complaint_evaluate(
    *,
    actor: User,
    complaint: Complaint,
    nature: str,
    severity: str,
    concerns_user: User | None = None,
    concerns_team: Team | None = None,
    amount_at_stake: Decimal | None = None,
    media_exposure: bool = False,
) -> Complaint:
    """Classify and evaluate a complaint (分类评估) and decide whether it needs the independent
    review group: any rule of the `ReviewPolicy` (severity, amount at stake, repeated
    complaint, VIP customer, media exposure) requests a review.

    Re-evaluating keeps an existing review. The case's nature and urgency follow.
    """
    require_perm(actor, "complaints.handle_complaint")
    errors = _complaint_fields_check(
        nature=nature, severity=severity, amount_at_stake=amount_at_stake
    )
    if errors:
        raise _invalid_complaint(errors)
    with transaction.atomic():
        complaint = _lock(complaint)
        _require_status(complaint, "evaluate", S.RECEIVED, S.EVALUATED, S.HANDLING)
        now = clock.now()
        policy = review_policy()
        complaint.nature, complaint.severity = nature, severity
        complaint.concerns_user, complaint.concerns_team = concerns_user, concerns_team
        complaint.amount_at_stake = None if amount_at_stake is None else _money(amount_at_stake)
        complaint.media_exposure = media_exposure
        complaint.earlier_complaints = _earlier_complaints(complaint, policy)
        customer = complaint.case.customer
        reasons = _review_reasons(
            complaint, policy, earlier=complaint.earlier_complaints, customer=customer
        )
        has_review = complaint.reviews.exists()
        complaint.review_reasons = reasons
        complaint.review_required = bool(reasons) or has_review
        if complaint.status == S.RECEIVED:
            complaint.status = S.EVALUATED
        complaint.evaluated_at, complaint.evaluated_by, complaint.updated_at = now, actor, now
        complaint.save()
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            data={
                "change": "evaluated",
                "status": complaint.status,
                "nature": nature,
                "severity": severity,
                "review_reasons": reasons,
            },
        )
        if reasons and not has_review:
            review = ComplaintReview.objects.create(
                complaint=complaint, reasons=reasons, requested_at=now
            )
            _event(
                complaint,
                EVENT_REVIEW,
                actor=actor,
                at=now,
                data={"change": "requested", "review": review.pk, "reasons": reasons},
            )
        case = complaint.case
        case_nature, urgency = (
            CASE_NATURE[ComplaintNature(nature)],
            CASE_URGENCY[Severity(severity)],
        )
        if case.is_open and (case.nature, case.urgency) != (case_nature, urgency):
            subcategory = case.subcategory if case.nature == case_nature else ""
            case_classify(
                actor=actor, case=case, nature=case_nature, subcategory=subcategory, urgency=urgency
            )
        return complaint


def complaint_handle(
    *, actor: User, complaint: Complaint, handler: User | None = None
) -> Complaint:
    """Start handling an evaluated complaint (处理中): its case goes to `handler` (the actor by
    default) and is started. Handing it to someone else takes `cases.reassign_case`."""
    require_perm(actor, "complaints.handle_complaint")
    handler = handler or actor
    if handler.pk != actor.pk:
        if not actor.has_perm("cases.reassign_case"):
            raise PermissionDenied(_("Only supervisors hand a complaint to someone else."))
        if not handler.is_active or not handler.has_perm("complaints.handle_complaint"):
            raise ApplicationError(
                "invalid_handler",
                _("%(user)s cannot handle complaints.") % {"user": handler},
                details={"handler": handler.pk},
            )
    with transaction.atomic():
        complaint = _lock(complaint)
        _require_status(complaint, "handle", S.EVALUATED, S.HANDLING)
        _case_take_on(actor=actor, case=complaint.case, handler=handler)
        now = clock.now()
        complaint.status, complaint.updated_at = S.HANDLING, now
        complaint.save(update_fields=["status", "updated_at"])
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            data={"change": "handling", "handler": handler.pk},
        )
        return complaint


# --- independent review ---------------------------------------------------------------------------


def _lock_review(review: ComplaintReview) -> ComplaintReview:
    return (
        ComplaintReview.objects.select_for_update(of=("self",))
        .select_related("complaint__case__customer")
        .get(pk=review.pk)
    )


def _not_independent(actor: User, complaint: Complaint) -> str:
    """Why `actor` may not review `complaint` ("" when they may)."""
    if complaint.concerns_user_id == actor.pk:
        return "concerns_user"
    if (
        complaint.concerns_team_id is not None
        and TeamMembership.objects.filter(team_id=complaint.concerns_team_id, user=actor).exists()
    ):
        return "concerns_team"
    if complaint.case.assignee_id == actor.pk:
        return "assignee"
    return ""


def complaint_review_claim(*, actor: User, review: ComplaintReview) -> ComplaintReview:
    """Take a review (领取审查). Reviewers are independent: nobody reviews a complaint about
    themselves, about a team they belong to, or one they handle (403
    `reviewer_not_independent`). `review_taken` / `review_completed` (409)."""
    require_perm(actor, "complaints.review_complaint")
    with transaction.atomic():
        review = _lock_review(review)
        complaint = review.complaint
        if review.status == ComplaintReview.Status.COMPLETED:
            raise Conflict("review_completed", _("This review is already completed."))
        reason = _not_independent(actor, complaint)
        if reason:
            raise Forbidden(
                "reviewer_not_independent",
                _("You cannot review a complaint about yourself, your team or your own work."),
                details={"reason": reason},
            )
        if review.status == ComplaintReview.Status.IN_REVIEW:
            if review.reviewer_id == actor.pk:
                return review
            raise Conflict(
                "review_taken",
                _("Another reviewer is already reviewing this complaint."),
                details={"reviewer": review.reviewer_id},
            )
        now = clock.now()
        review.status, review.reviewer, review.claimed_at = (
            ComplaintReview.Status.IN_REVIEW,
            actor,
            now,
        )
        review.save(update_fields=["status", "reviewer", "claimed_at"])
        _touch(complaint, now)
        _event(
            complaint,
            EVENT_REVIEW,
            actor=actor,
            at=now,
            data={"change": "claimed", "review": review.pk},
        )
        return review


def complaint_review_complete(
    *,
    actor: User,
    review: ComplaintReview,
    findings: str,
    responsibility: str,
    recommendation: str,
) -> ComplaintReview:
    """Complete a review with findings, responsibility (product / service / customer / third
    party) and a recommendation. Only the reviewer who claimed it (403 `not_your_review`);
    `invalid_review` (400) with details per field."""
    require_perm(actor, "complaints.review_complaint")
    findings, recommendation = findings.strip(), recommendation.strip()
    with transaction.atomic():
        review = _lock_review(review)
        if review.status == ComplaintReview.Status.COMPLETED:
            raise Conflict("review_completed", _("This review is already completed."))
        if review.status != ComplaintReview.Status.IN_REVIEW or review.reviewer_id != actor.pk:
            raise Forbidden(
                "not_your_review", _("Claim the review before completing it; it is not yours.")
            )
        errors: dict[str, str] = {}
        if not findings:
            errors["findings"] = _("Write down the findings.")
        elif len(findings) > MAX_BODY:
            errors["findings"] = _("At most %(n)d characters.") % {"n": MAX_BODY}
        if responsibility not in Responsibility.values:
            errors["responsibility"] = _("Choose who was responsible.")
        if len(recommendation) > MAX_BODY:
            errors["recommendation"] = _("At most %(n)d characters.") % {"n": MAX_BODY}
        if errors:
            raise ApplicationError(
                "invalid_review", _("The review cannot be completed."), details=errors
            )
        now = clock.now()
        review.status, review.completed_at = ComplaintReview.Status.COMPLETED, now
        review.findings, review.responsibility = findings, responsibility
        review.recommendation = recommendation
        review.save()
        _touch(review.complaint, now)
        _event(
            review.complaint,
            EVENT_REVIEW,
            actor=actor,
            at=now,
            data={"change": "completed", "review": review.pk, "responsibility": responsibility},
        )
        return review


# --- compensation ---------------------------------------------------------------------------------


def _line_errors(line: LineIn, customer: Customer) -> dict[str, str]:
    errors: dict[str, str] = {}
    if line.kind not in CompensationKind.values:
        errors["kind"] = _("Unknown kind of compensation %(value)r.") % {"value": line.kind}
        return errors
    problem = _money_error(line.amount, positive=line.kind in MONEY_KINDS)
    if problem:
        errors["amount"] = problem
    if line.kind == CompensationKind.EXTENDED_WARRANTY:
        if line.unit is None:
            errors["unit"] = _("Choose the unit whose warranty is extended.")
        elif line.unit.customer_id != customer.pk:
            errors["unit"] = _("The unit is not the customer's.")
        if not isinstance(line.months, int) or not 1 <= line.months <= MAX_WARRANTY_EXTENSION:
            errors["months"] = _("Between 1 and %(n)d months.") % {"n": MAX_WARRANTY_EXTENSION}
    if len(line.note) > 200:
        errors["note"] = _("At most %(n)d characters.") % {"n": 200}
    return errors


def _required_level(total: Decimal) -> ApprovalLevel:
    for level in ApprovalLevel.objects.order_by("rank"):
        if level.limit is None or level.limit >= total:
            return level
    raise Conflict(
        "no_approval_level",
        _("No approval level covers %(total)s; ask an administrator to set the chain up.")
        % {"total": _text(total)},
        details={"total": _text(total)},
    )


def compensation_propose(
    *, actor: User, complaint: Complaint, lines: Sequence[LineIn], reason: str = ""
) -> CompensationProposal:
    """Propose compensation (补偿方案): one or more lines (refund, replacement, free repair,
    voucher, extended warranty), waiting at the lowest approval level whose limit covers the
    total.

    `invalid_compensation` (400; details {"lines": message} or {"lines": {index: {field:
    message}}}); `review_pending`, `proposal_pending`, `invalid_complaint_transition` (409).
    """
    require_perm(actor, "complaints.propose_compensation")
    reason = reason.strip()
    with transaction.atomic():
        complaint = _lock(complaint)
        customer = complaint.case.customer
        if not lines:
            raise ApplicationError(
                "invalid_compensation",
                _("The proposal is not valid."),
                details={"lines": _("Add at least one line.")},
            )
        line_errors = {
            str(i): errs for i, line in enumerate(lines) if (errs := _line_errors(line, customer))
        }
        errors: dict[str, Any] = {"lines": line_errors} if line_errors else {}
        if len(reason) > MAX_BODY:
            errors["reason"] = _("At most %(n)d characters.") % {"n": MAX_BODY}
        if errors:
            raise ApplicationError(
                "invalid_compensation", _("The proposal is not valid."), details=errors
            )
        _require_status(complaint, "propose", S.EVALUATED, S.HANDLING)
        _require_no_open_review(complaint)
        _require_no_pending_proposal(complaint)
        now = clock.now()
        total = sum((_money(line.amount) for line in lines), Decimal("0.00"))
        level = _required_level(total)
        proposal = CompensationProposal.objects.create(
            complaint=complaint,
            total=total,
            reason=reason,
            proposed_by=actor,
            proposed_at=now,
            required_level=level,
        )
        CompensationLine.objects.bulk_create(
            [
                CompensationLine(
                    proposal=proposal,
                    kind=line.kind,
                    amount=_money(line.amount),
                    unit=line.unit,
                    months=line.months if line.kind == CompensationKind.EXTENDED_WARRANTY else None,
                    note=line.note.strip(),
                )
                for line in lines
            ]
        )
        _touch(complaint, now)
        _event(
            complaint,
            EVENT_COMPENSATION,
            actor=actor,
            at=now,
            data={
                "change": "proposed",
                "proposal": proposal.pk,
                "total": _text(total),
                "level": level.name,
                "lines": [
                    {"kind": line.kind, "amount": _text(_money(line.amount))} for line in lines
                ],
            },
        )
        return proposal


def _lock_proposal(proposal: CompensationProposal) -> CompensationProposal:
    return (
        CompensationProposal.objects.select_for_update(of=("self",))
        .select_related("required_level", "complaint__case__customer")
        .get(pk=proposal.pk)
    )


def _approvers_of(level: ApprovalLevel, *, exclude: Sequence[int]) -> list[User]:
    return list(
        User.objects.filter(is_active=True, groups__name__in=level.roles)
        .exclude(pk__in=exclude)
        .distinct()
        .order_by("pk")
    )


DECISIONS = {
    ApprovalDecision.Decision.APPROVE: ("approved", CompensationProposal.Status.APPROVED),
    ApprovalDecision.Decision.REJECT: ("rejected", CompensationProposal.Status.REJECTED),
    ApprovalDecision.Decision.FORWARD: ("forwarded", None),
}


def compensation_decide(
    *, actor: User, proposal: CompensationProposal, decision: str, note: str = ""
) -> CompensationProposal:
    """Decide on a proposal in the approval chain: approve, reject, or endorse and forward it to
    the level that can approve it.

    Approving or rejecting takes a limit that covers the total (403 `over_approval_limit`);
    nobody decides on their own proposal (403 `own_proposal`) or on a complaint about
    themselves (403 `not_independent`); a decided proposal stays decided (409
    `already_decided`, also for the loser of two concurrent approvals: the row is locked).
    Approval creates one follow-up action per line, due in 7 days.
    """
    require_perm(actor, "complaints.approve_compensation")
    if decision not in DECISIONS:
        raise ApplicationError(
            "invalid_decision",
            _("Approve, reject or forward."),
            details={"decision": decision, "allowed": list(DECISIONS)},
        )
    note = note.strip()
    if len(note) > 500:
        raise ApplicationError(
            "invalid_decision", _("At most 500 characters."), details={"note": "length"}
        )
    with transaction.atomic():
        proposal = _lock_proposal(proposal)
        complaint = proposal.complaint
        if proposal.status != CompensationProposal.Status.PENDING:
            raise Conflict(
                "already_decided",
                _("This proposal was already decided (%(status)s).")
                % {"status": str(CompensationProposal.Status(proposal.status).label)},
                details={"status": proposal.status},
            )
        if proposal.proposed_by_id == actor.pk:
            raise Forbidden("own_proposal", _("Nobody decides on their own proposal."))
        if complaint.concerns_user_id == actor.pk:
            raise Forbidden(
                "not_independent", _("You cannot decide on compensation for a complaint about you.")
            )
        level, limit, unlimited = approval_limit_for(actor)
        total = proposal.total
        covered = unlimited or (limit is not None and limit >= total)
        if decision != ApprovalDecision.Decision.FORWARD and not covered:
            raise Forbidden(
                "over_approval_limit",
                _("%(total)s is above your approval limit; forward it to %(level)s.")
                % {"total": _text(total), "level": proposal.required_level.name},
                details={
                    "limit": _text(limit),
                    "total": _text(total),
                    "required_level": proposal.required_level.name,
                },
            )
        if decision == ApprovalDecision.Decision.FORWARD and level is None:
            raise Forbidden(
                "over_approval_limit",
                _("You are on no approval level."),
                details={
                    "limit": None,
                    "total": _text(total),
                    "required_level": proposal.required_level.name,
                },
            )
        now = clock.now()
        change, status = DECISIONS[ApprovalDecision.Decision(decision)]
        ApprovalDecision.objects.create(
            proposal=proposal,
            decision=decision,
            approver=actor,
            level=level,
            note=note,
            decided_at=now,
        )
        action_ids: list[int] = []
        if status is not None:
            proposal.status, proposal.decided_at, proposal.decided_by = status, now, actor
            proposal.save(update_fields=["status", "decided_at", "decided_by"])
        if status == CompensationProposal.Status.APPROVED:
            actions = [
                CompensationAction(
                    complaint=complaint,
                    line=line,
                    kind=ACTION_KIND[CompensationKind(line.kind)],
                    amount=line.amount,
                    created_at=now,
                    due_at=now + ACTION_DUE,
                )
                for line in proposal.lines.order_by("id")
            ]
            for action in actions:
                action.save()
            action_ids = [a.pk for a in actions]
        _touch(complaint, now)
        data = {
            "change": change,
            "proposal": proposal.pk,
            "total": _text(total),
            "level": level.name if level else None,
            "required_level": proposal.required_level.name,
            "actions": action_ids,
        }
        _event(complaint, EVENT_COMPENSATION, actor=actor, at=now, body=note, data=data)
        if decision == ApprovalDecision.Decision.FORWARD:
            from aftersales.notifications.services import notify

            notify(
                recipients=_approvers_of(
                    proposal.required_level, exclude=[actor.pk, proposal.proposed_by_id]
                ),
                code="compensation_approval_needed",
                params={
                    "case": complaint.case.number,
                    "proposal": proposal.pk,
                    "total": _text(total),
                    "level": proposal.required_level.name,
                },
                case=complaint.case,
            )
        audit_record(
            actor=actor,
            action=f"compensation.{decision}",
            entity="compensation_proposal",
            entity_id=proposal.pk,
            customer_id=complaint.case.customer_id,
            data={k: v for k, v in data.items() if k != "change"},
        )
        return proposal


def compensation_withdraw(*, actor: User, proposal: CompensationProposal) -> CompensationProposal:
    """Withdraw a pending proposal (the proposer, or anyone who handles complaints)."""
    require_perm(actor, "complaints.propose_compensation")
    with transaction.atomic():
        proposal = _lock_proposal(proposal)
        if proposal.proposed_by_id != actor.pk and not actor.has_perm(
            "complaints.handle_complaint"
        ):
            raise PermissionDenied(_("Only the proposer withdraws a proposal."))
        if proposal.status != CompensationProposal.Status.PENDING:
            raise Conflict(
                "already_decided",
                _("This proposal was already decided."),
                details={"status": proposal.status},
            )
        now = clock.now()
        proposal.status = CompensationProposal.Status.WITHDRAWN
        proposal.decided_at, proposal.decided_by = now, actor
        proposal.save(update_fields=["status", "decided_at", "decided_by"])
        _touch(proposal.complaint, now)
        _event(
            proposal.complaint,
            EVENT_COMPENSATION,
            actor=actor,
            at=now,
            data={"change": "withdrawn", "proposal": proposal.pk, "total": _text(proposal.total)},
        )
        return proposal


def compensation_action_complete(
    *, actor: User, action: CompensationAction, reference: str
) -> CompensationAction:
    """Record a follow-up action as done: a refund with its payment reference, a replacement
    order with its order or tracking number, a voucher with its code (400
    `reference_required`), a free repair, or a warranty extension (applied to the unit).
    `action_not_open` (409)."""
    require_perm(actor, "complaints.handle_complaint")
    reference = reference.strip()
    if len(reference) > 100:
        raise ApplicationError(
            "invalid_reference", _("At most 100 characters."), details={"reference": "length"}
        )
    with transaction.atomic():
        action = (
            CompensationAction.objects.select_for_update(of=("self",))
            .select_related("line__unit", "complaint__case__customer")
            .get(pk=action.pk)
        )
        if action.status != CompensationAction.Status.OPEN:
            raise Conflict(
                "action_not_open",
                _("This action is already %(status)s.")
                % {"status": str(CompensationAction.Status(action.status).label)},
                details={"status": action.status},
            )
        if action.kind in REFERENCE_REQUIRED and not reference:
            raise ApplicationError(
                "reference_required",
                _("Give the payment reference, order or tracking number, or voucher code."),
                details={"reference": "required", "kind": action.kind},
            )
        complaint = action.complaint
        if action.kind == CompensationAction.Kind.EXTENDED_WARRANTY:
            line = action.line
            assert line.unit is not None and line.months is not None  # checked when proposed
            unit_warranty_extend(
                actor=actor,
                unit=line.unit,
                months=line.months,
                reason=f"complaint {complaint.case.number}",
            )
        now = clock.now()
        action.status, action.reference = CompensationAction.Status.DONE, reference
        action.completed_at, action.completed_by = now, actor
        action.save(update_fields=["status", "reference", "completed_at", "completed_by"])
        _touch(complaint, now)
        _event(
            complaint,
            EVENT_COMPENSATION,
            actor=actor,
            at=now,
            data={
                "change": "action_done",
                "action": action.pk,
                "kind": action.kind,
                "reference": reference,
            },
        )
        return action


# --- answer, root cause, close, reopen ----------------------------------------------------------


def _compensation_text(complaint: Complaint, language: str) -> str:
    proposal = (
        complaint.proposals.filter(status=CompensationProposal.Status.APPROVED)
        .order_by("-decided_at", "-id")
        .first()
    )
    if proposal is None:
        return ""
    with translation.override(language):
        parts = []
        for line in proposal.lines.order_by("id"):
            label = str(CompensationKind(line.kind).label)
            if line.kind == CompensationKind.EXTENDED_WARRANTY:
                parts.append(
                    _("%(kind)s: %(months)d months") % {"kind": label, "months": line.months}
                )
            else:
                parts.append(f"{label}: ¥{line.amount:,.2f}")
        return "\n".join(f"- {part}" for part in parts)


def complaint_letter(*, complaint: Complaint, template: str, message: str) -> Letter:
    """The answer letter as it would go out now: the template in the customer's language,
    filled with their name, the complaint number, the handler's message and the approved
    compensation (used by `complaint_answer` and by the page's preview, which changes nothing)."""
    customer = complaint.case.customer
    return letter_render(
        code=template,
        language=customer.preferred_language,
        values={
            "customer_name": str(customer.name),
            "complaint_number": complaint.case.number,
            "message": message.strip(),
            "compensation": _compensation_text(complaint, customer.preferred_language),
        },
    )


def _email_of(customer: Customer) -> str:
    contact = (
        ContactPoint.objects.filter(customer=customer, kind=ContactPoint.Kind.EMAIL)
        .order_by("-is_primary", "id")
        .first()
    )
    return contact.value if contact is not None else ""


def complaint_answer(
    *,
    actor: User,
    complaint: Complaint,
    template: str = "complaint_answer",
    message: str = "",
    solution_type: str = SolutionType.EXPLANATION,
) -> CaseEvent:
    """Answer the customer (答复客户) with the templated letter in their language (Chinese when
    there is none in theirs), recorded as an outbound contact on their preferred channel and
    e-mailed after the commit when that is e-mail; the case is resolved and the complaint is
    answered. `review_pending`, `proposal_pending` (409); compensation as the solution needs an
    approved proposal (409 `compensation_not_approved`)."""
    require_perm(actor, "complaints.handle_complaint")
    message = message.strip()
    if solution_type not in (SolutionType.EXPLANATION, SolutionType.COMPENSATION):
        raise ApplicationError(
            "invalid_answer",
            _("Answer with an explanation or with compensation."),
            details={"solution_type": solution_type},
        )
    if len(message) > MAX_BODY:
        raise ApplicationError(
            "invalid_answer", _("The message is too long."), details={"message": "length"}
        )
    with transaction.atomic():
        complaint = _lock(complaint)
        _require_status(complaint, "answer", S.EVALUATED, S.HANDLING)
        _require_no_open_review(complaint)
        _require_no_pending_proposal(complaint)
        approved = complaint.proposals.filter(status=CompensationProposal.Status.APPROVED)
        if solution_type == SolutionType.COMPENSATION and not approved.exists():
            raise Conflict(
                "compensation_not_approved",
                _("No compensation was approved for this complaint."),
            )
        case = complaint.case
        customer = case.customer
        letter = complaint_letter(complaint=complaint, template=template, message=message)
        if case.status in (Status.NEW, Status.TRIAGED, Status.ASSIGNED):
            # Answered straight after evaluation: whoever answers takes the case on.
            case = _case_take_on(actor=actor, case=case, handler=actor)
        elif case.status == Status.WAITING_PARTS:
            case = case_transition(actor=actor, case=case, action="resume")
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        now = clock.now()
        channel = customer.preferred_channel
        contact = case_event_record(
            case,
            kind=CaseEvent.Kind.CONTACT,
            actor=actor,
            at=now,
            channel=channel,
            direction=CaseEvent.Direction.OUTBOUND,
            body=letter.text,
            data={"letter": letter.code, "language": letter.language},
        )
        if case.first_response_at is None:
            case.first_response_at = now
        case.updated_at = now
        case.save(update_fields=["first_response_at", "updated_at"])
        clocks_sync(case=case, actor=actor, now=now, reason="contact")
        if channel == Channel.EMAIL and _email_of(customer):
            from .tasks import complaint_letter_email  # the task module imports models only

            event_id = contact.pk
            transaction.on_commit(lambda: complaint_letter_email.delay(event_id), robust=True)
        case_transition(
            actor=actor,
            case=case,
            action="resolve",
            solution_type=solution_type,
            solution_notes=message,
        )
        complaint.status, complaint.answered_at, complaint.updated_at = S.ANSWERED, now, now
        complaint.save(update_fields=["status", "answered_at", "updated_at"])
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            data={
                "change": "answered",
                "contact": contact.pk,
                "letter": letter.code,
                "language": letter.language,
                "solution_type": solution_type,
            },
        )
        return contact


def _root_cause_check(root_cause: str) -> None:
    if root_cause not in RootCause.values:
        raise ApplicationError(
            "invalid_complaint",
            _("The complaint is not valid."),
            details={"root_cause": _("Unknown root cause %(value)r.") % {"value": root_cause}},
        )


def complaint_root_cause_set(
    *, actor: User, complaint: Complaint, root_cause: str, communication_error: bool
) -> Complaint:
    """Record the root cause (根本原因) and whether internal communication failed, for KPIs."""
    require_perm(actor, "complaints.handle_complaint")
    _root_cause_check(root_cause)
    with transaction.atomic():
        complaint = _lock(complaint)
        _require_status(complaint, "root_cause", S.EVALUATED, S.HANDLING, S.ANSWERED)
        now = clock.now()
        before = {
            "root_cause": complaint.root_cause,
            "communication_error": complaint.communication_error,
        }
        complaint.root_cause, complaint.communication_error = root_cause, bool(communication_error)
        complaint.updated_at = now
        complaint.save(update_fields=["root_cause", "communication_error", "updated_at"])
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            data={
                "change": "root_cause",
                "root_cause": root_cause,
                "communication_error": complaint.communication_error,
                "before": before,
            },
        )
        return complaint


def complaint_close(
    *,
    actor: User,
    complaint: Complaint,
    root_cause: str = "",
    communication_error: bool | None = None,
) -> Complaint:
    """Close an answered complaint (结案) and its case. The root cause must be known (400
    `root_cause_required`) and every follow-up action done (409 `actions_open`). A missing
    communication-error flag counts as no communication error."""
    require_perm(actor, "complaints.handle_complaint")
    if root_cause:
        _root_cause_check(root_cause)
    with transaction.atomic():
        complaint = _lock(complaint)
        _require_status(complaint, "close", S.ANSWERED)
        cause = root_cause or complaint.root_cause
        if not cause:
            raise ApplicationError(
                "root_cause_required",
                _("Record the root cause before closing the complaint."),
                details={"root_cause": "required"},
            )
        open_actions = list(
            complaint.actions.filter(status=CompensationAction.Status.OPEN)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        if open_actions:
            raise Conflict(
                "actions_open",
                _("Complete the compensation actions before closing the complaint."),
                details={"actions": open_actions},
            )
        if communication_error is None:
            communication_error = bool(complaint.communication_error)
        case = complaint.case
        if case.status == Status.RESOLVED:
            case_transition(actor=actor, case=case, action="close")
        now = clock.now()
        complaint.root_cause, complaint.communication_error = cause, communication_error
        complaint.status, complaint.closed_at, complaint.updated_at = S.CLOSED, now, now
        complaint.save(
            update_fields=["root_cause", "communication_error", "status", "closed_at", "updated_at"]
        )
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            data={
                "change": "closed",
                "root_cause": cause,
                "communication_error": communication_error,
            },
        )
        return complaint


def complaint_reopen(*, actor: User | None, complaint: Complaint, reason: str) -> Complaint:
    """Reopen an answered or closed complaint because the customer disagrees (重开): back to
    handling, its case reopened. `actor=None` is the customer (e.g. through a survey)."""
    if actor is not None:
        require_perm(actor, "complaints.handle_complaint")
    reason = reason.strip()
    if not reason or len(reason) > MAX_BODY:
        raise ApplicationError(
            "reason_required",
            _("Say why the complaint is reopened."),
            details={"reason": "required"},
        )
    with transaction.atomic():
        complaint = _lock(complaint)
        _require_status(complaint, "reopen", S.ANSWERED, S.CLOSED)
        case = complaint.case
        if case.status in (Status.RESOLVED, Status.CLOSED):
            if actor is None:
                case_reopen_for_customer(case=case, reason=reason, source="complaint")
            else:
                case_transition(actor=actor, case=case, action="reopen", reason=reason)
        now = clock.now()
        complaint.status, complaint.reopen_count = S.HANDLING, complaint.reopen_count + 1
        complaint.closed_at, complaint.updated_at = None, now
        complaint.save(update_fields=["status", "reopen_count", "closed_at", "updated_at"])
        _event(
            complaint,
            EVENT_COMPLAINT,
            actor=actor,
            at=now,
            body=reason,
            data={"change": "reopened", "reopen_count": complaint.reopen_count},
        )
        return complaint
