"""Complaints API (投诉): raise, evaluate, handle, review, compensation with approvals, answer,
root cause, close and reopen. Parse, authorise, call one service, serialise."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status as Reply

from aftersales.accounts.models import Team, User
from aftersales.accounts.permissions import request_user, require_perm
from aftersales.cases.models import Case
from aftersales.cases.selectors import CASE_NUMBER, case_queryset_for
from aftersales.catalog.models import Unit
from aftersales.catalog.selectors import unit_queryset_for
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError, NotFound
from aftersales.core.schemas import Offset, RecordId, StrictIn, idempotency_key
from aftersales.customers.selectors import customer_queryset_for
from aftersales.sla.selectors import case_clocks

from . import selectors, services
from .models import (
    CompensationAction,
    CompensationProposal,
    Complaint,
    ComplaintNature,
    ComplaintReview,
    ComplaintStatus,
    Responsibility,
    RootCause,
    Severity,
)

router = Router(tags=["complaints"])

ChannelT = Literal["phone", "email", "web", "portal", "app", "walk_in", "onsite"]
NatureT = Literal[
    "product_usage",
    "product_quality",
    "service_attitude",
    "slow_response",
    "repair_quality",
    "price_billing",
    "other",
]
SeverityT = Literal["minor", "moderate", "major", "critical"]
StatusT = Literal["received", "evaluated", "handling", "answered", "closed"]
ResponsibilityT = Literal["product", "service", "customer", "third_party"]
RootCauseT = Literal[
    "product_defect",
    "design_docs",
    "service_process",
    "staff_conduct",
    "communication",
    "logistics",
    "pricing_policy",
    "expectation",
    "third_party",
    "other",
]
# The Literal types above must list exactly the model choices; checked at import.
for _lit, _choices in (
    (NatureT, ComplaintNature.values),
    (SeverityT, Severity.values),
    (StatusT, ComplaintStatus.values),
    (ResponsibilityT, Responsibility.values),
    (RootCauseT, RootCause.values),
):
    assert set(_lit.__args__) == set(_choices), _lit  # type: ignore[attr-defined]

# Amounts: Decimal with two places; the sign is the service's to judge (400 with its code).
Amount = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]


class RaiseIn(StrictIn):
    customer_id: RecordId | None = Field(
        None, description="Required unless `related_case` is given"
    )
    related_case: str | None = Field(None, max_length=20, description="The case it is about")
    channel: ChannelT
    subject: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=20_000)
    nature: NatureT
    severity: SeverityT = "moderate"
    concerns_user_id: RecordId | None = None
    concerns_team_id: RecordId | None = None
    amount_at_stake: Amount | None = None
    media_exposure: bool = False
    unit_id: RecordId | None = None


class EvaluateIn(StrictIn):
    nature: NatureT
    severity: SeverityT
    concerns_user_id: RecordId | None = None
    concerns_team_id: RecordId | None = None
    amount_at_stake: Amount | None = None
    media_exposure: bool = False


class HandleIn(StrictIn):
    handler_id: RecordId | None = Field(None, description="Default: the caller")


class CompensationLineIn(StrictIn):
    kind: str = Field(..., max_length=20, description="refund_full, refund_partial, ...")
    amount: Amount = Decimal("0")
    unit_id: RecordId | None = None
    months: int | None = Field(None, ge=0, le=32767)
    note: str = Field("", max_length=200)


class ProposalIn(StrictIn):
    lines: list[CompensationLineIn] = Field(..., max_length=10)
    reason: str = Field("", max_length=2000)


class DecideIn(StrictIn):
    decision: Literal["approve", "reject", "forward"]
    note: str = Field("", max_length=500)


class ActionCompleteIn(StrictIn):
    reference: str = Field("", max_length=100)


class ReviewCompleteIn(StrictIn):
    findings: str = Field(..., max_length=20_000)
    responsibility: ResponsibilityT
    recommendation: str = Field("", max_length=20_000)


class AnswerIn(StrictIn):
    template: str = Field("complaint_answer", min_length=1, max_length=40)
    message: str = Field("", max_length=20_000)
    solution_type: Literal["explanation", "compensation"] = "explanation"


class RootCauseIn(StrictIn):
    root_cause: RootCauseT
    communication_error: bool


class CloseIn(StrictIn):
    root_cause: RootCauseT | Literal[""] = ""
    communication_error: bool | None = None


class ReopenIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=2000)


class ListQuery(StrictIn):
    status: StatusT | None = None
    nature: NatureT | None = None
    review: Literal["required", "none", "pending", "in_review", "completed"] | None = Field(
        None,
        description="required / none: whether a review is required; or the review's status",
    )
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class Ref(Schema):
    id: int
    name: str


class CustomerRef(Schema):
    id: int
    number: str
    name: str
    tier: str


class ComplaintClockOut(Schema):
    metric: str
    state: str
    due_at: dt.datetime | None
    stopped_at: dt.datetime | None
    breached_at: dt.datetime | None


class ReviewOut(Schema):
    id: int
    complaint: str
    status: str
    reasons: list[str]
    reviewer: Ref | None
    requested_at: dt.datetime
    claimed_at: dt.datetime | None
    completed_at: dt.datetime | None
    findings: str
    responsibility: str
    recommendation: str


class LineOut(Schema):
    id: int
    kind: str
    amount: Decimal
    unit_id: int | None
    months: int | None
    note: str


class DecisionOut(Schema):
    decision: str
    approver: Ref
    level: str | None
    note: str
    decided_at: dt.datetime


class ProposalOut(Schema):
    id: int
    complaint: str
    status: str
    total: Decimal
    currency: str
    reason: str
    proposed_by: Ref
    proposed_at: dt.datetime
    required_level: str
    decided_at: dt.datetime | None
    decided_by: Ref | None
    lines: list[LineOut]
    decisions: list[DecisionOut]


class ActionOut(Schema):
    id: int
    kind: str
    status: str
    amount: Decimal
    reference: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    completed_at: dt.datetime | None
    completed_by: Ref | None


class ComplaintOut(Schema):
    number: str
    status: str
    case_status: str
    subject: str
    channel: str
    customer: CustomerRef
    related_case: str | None
    nature: str
    severity: str
    concerns_user: Ref | None
    concerns_team: Ref | None
    amount_at_stake: Decimal | None
    media_exposure: bool
    earlier_complaints: int
    review_required: bool
    review_reasons: list[str]
    root_cause: str
    communication_error: bool | None
    assignee: Ref | None
    received_at: dt.datetime
    evaluated_at: dt.datetime | None
    answered_at: dt.datetime | None
    closed_at: dt.datetime | None
    reopen_count: int
    clocks: list[ComplaintClockOut]
    reviews: list[ReviewOut]
    proposals: list[ProposalOut]
    actions: list[ActionOut]


class ComplaintListOut(Schema):
    count: int
    items: list[ComplaintOut]


class ApprovalsOut(Schema):
    level: str | None
    limit: Decimal | None
    unlimited: bool
    items: list[ProposalOut]


def _ref(user: User | None) -> dict[str, object] | None:
    return {"id": user.pk, "name": user.label} if user else None


def _review_out(review: ComplaintReview) -> dict[str, object]:
    return {
        "id": review.pk,
        "complaint": review.complaint.case.number,
        "status": review.status,
        "reasons": list(review.reasons),
        "reviewer": _ref(review.reviewer),
        "requested_at": review.requested_at,
        "claimed_at": review.claimed_at,
        "completed_at": review.completed_at,
        "findings": review.findings,
        "responsibility": review.responsibility,
        "recommendation": review.recommendation,
    }


def _proposal_out(proposal: CompensationProposal) -> dict[str, object]:
    return {
        "id": proposal.pk,
        "complaint": proposal.complaint.case.number,
        "status": proposal.status,
        "total": proposal.total,
        "currency": proposal.currency,
        "reason": proposal.reason,
        "proposed_by": _ref(proposal.proposed_by),
        "proposed_at": proposal.proposed_at,
        "required_level": proposal.required_level.name,
        "decided_at": proposal.decided_at,
        "decided_by": _ref(proposal.decided_by),
        "lines": [
            {
                "id": line.pk,
                "kind": line.kind,
                "amount": line.amount,
                "unit_id": line.unit_id,
                "months": line.months,
                "note": line.note,
            }
            for line in proposal.lines.all()
        ],
        "decisions": [
            {
                "decision": d.decision,
                "approver": _ref(d.approver),
                "level": d.level.name if d.level else None,
                "note": d.note,
                "decided_at": d.decided_at,
            }
            for d in proposal.decisions.select_related("approver", "level").order_by("id")
        ],
    }


def _action_out(action: CompensationAction) -> dict[str, object]:
    return {
        "id": action.pk,
        "kind": action.kind,
        "status": action.status,
        "amount": action.amount,
        "reference": action.reference,
        "created_at": action.created_at,
        "due_at": action.due_at,
        "completed_at": action.completed_at,
        "completed_by": _ref(action.completed_by),
    }


def _complaint_out(complaint: Complaint) -> dict[str, object]:
    case = complaint.case
    return {
        "number": case.number,
        "status": complaint.status,
        "case_status": case.status,
        "subject": case.subject,
        "channel": case.channel,
        "customer": {
            "id": case.customer.pk,
            "number": case.customer.number,
            "name": case.customer.name,
            "tier": case.customer.tier,
        },
        "related_case": complaint.related_case.number if complaint.related_case else None,
        "nature": complaint.nature,
        "severity": complaint.severity,
        "concerns_user": _ref(complaint.concerns_user),
        "concerns_team": (
            {"id": complaint.concerns_team.pk, "name": complaint.concerns_team.name}
            if complaint.concerns_team
            else None
        ),
        "amount_at_stake": complaint.amount_at_stake,
        "media_exposure": complaint.media_exposure,
        "earlier_complaints": complaint.earlier_complaints,
        "review_required": complaint.review_required,
        "review_reasons": list(complaint.review_reasons),
        "root_cause": complaint.root_cause,
        "communication_error": complaint.communication_error,
        "assignee": _ref(case.assignee),
        "received_at": complaint.received_at,
        "evaluated_at": complaint.evaluated_at,
        "answered_at": complaint.answered_at,
        "closed_at": complaint.closed_at,
        "reopen_count": complaint.reopen_count,
        "clocks": [
            {
                "metric": c.metric,
                "state": c.state,
                "due_at": c.due_at,
                "stopped_at": c.stopped_at,
                "breached_at": c.breached_at,
            }
            for c in case_clocks(case)
        ],
        "reviews": [_review_out(r) for r in complaint.reviews.select_related("reviewer")],
        "proposals": [
            _proposal_out(p)
            for p in complaint.proposals.select_related(
                "proposed_by", "decided_by", "required_level"
            ).prefetch_related("lines")
        ],
        "actions": [_action_out(a) for a in complaint.actions.select_related("completed_by")],
    }


_RELATED = (
    "case__customer",
    "case__assignee",
    "related_case",
    "concerns_user",
    "concerns_team",
)


def _get(request: HttpRequest, number: str, perm: str = "complaints.view_complaint") -> Complaint:
    """The complaint by its case number, within the caller's complaint scope (else 404), for
    a caller whose role grants `perm` (else 403; the service checks it again)."""
    user = request_user(request)
    require_perm(user, perm)
    if not CASE_NUMBER.match(number):
        raise Http404  # not a case number: never sent to the database
    try:
        return selectors.complaint_get_for(user, number=number.upper())
    except (Complaint.DoesNotExist, NotFound) as exc:
        raise Http404 from exc


def _after_write(request: HttpRequest, complaint: Complaint) -> dict[str, object]:
    """The complaint as the caller's write left it, read again (it may have left their scope:
    they still get the state their own write produced)."""
    fresh = (
        selectors.complaint_queryset_for(request_user(request))
        .select_related(*_RELATED)
        .filter(pk=complaint.pk)
        .first()
    )
    if fresh is None:
        fresh = Complaint.objects.select_related(*_RELATED).get(pk=complaint.pk)
    return _complaint_out(fresh)


def _user_arg(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    found = User.objects.filter(pk=user_id, is_active=True).first()
    if found is None:
        raise ApplicationError(
            "unknown_user", "No such active user.", details={field: user_id}, status=422
        )
    return found


def _team_arg(team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id, is_active=True).first()
    if team is None:
        raise ApplicationError(
            "unknown_team", "No such team.", details={"concerns_team_id": team_id}, status=422
        )
    return team


def _unit_arg(user: User, unit_id: int | None, field: str) -> Unit | None:
    if unit_id is None:
        return None
    unit = unit_queryset_for(user).filter(pk=unit_id).first()
    if unit is None:
        raise ApplicationError(
            "unknown_unit", "No such unit.", details={field: unit_id}, status=422
        )
    return unit


@router.get("", response=ComplaintListOut, summary="Complaints in the caller's scope")
def complaint_list(request: HttpRequest, filters: Query[ListQuery]) -> dict[str, object]:
    user = request_user(request)
    require_perm(user, "complaints.view_complaint")
    review: bool | str | None = filters.review
    if filters.review in ("required", "none"):
        review = filters.review == "required"
    qs = selectors.complaint_list_for(
        user, status=filters.status, nature=filters.nature, review=review
    ).select_related(*_RELATED)
    page = qs[filters.offset : filters.offset + filters.limit]
    return {"count": qs.count(), "items": [_complaint_out(c) for c in page]}


@router.get("/reviews", response=list[ReviewOut], summary="The caller's review worklist")
def review_list(request: HttpRequest) -> list[dict[str, object]]:
    user = request_user(request)
    require_perm(user, "complaints.review_complaint")
    reviews = selectors.review_worklist_for(user).select_related("complaint__case", "reviewer")
    return [_review_out(r) for r in reviews]


@router.get(
    "/approvals",
    response=ApprovalsOut,
    summary="Proposals waiting for the caller's decision (within their approval limit)",
)
def approval_list(request: HttpRequest) -> dict[str, object]:
    user = request_user(request)
    require_perm(user, "complaints.approve_compensation")
    level, limit, unlimited = selectors.approval_limit_for(user)
    proposals = selectors.approvals_waiting_for(user).select_related(
        "complaint__case", "proposed_by", "decided_by", "required_level"
    )
    return {
        "level": level.name if level else None,
        "limit": limit,
        "unlimited": unlimited,
        "items": [_proposal_out(p) for p in proposals.prefetch_related("lines")],
    }


@router.post(
    "",
    response={200: ComplaintOut, 201: ComplaintOut},
    summary="Raise a complaint (send Idempotency-Key to make retries safe)",
)
def complaint_raise(request: HttpRequest, payload: RaiseIn) -> Any:
    user = request_user(request)
    if not user.has_perm("cases.add_case"):
        raise PermissionDenied("Your role does not raise complaints.")
    key = idempotency_key(request)
    related: Case | None = None
    if payload.related_case is not None:
        number = payload.related_case.upper()
        related = (
            case_queryset_for(user).select_related("customer").filter(number=number).first()
            if CASE_NUMBER.match(number)
            else None
        )
        if related is None:
            raise ApplicationError(
                "unknown_case",
                "No such case.",
                details={"related_case": payload.related_case},
                status=422,
            )
    customer = None
    if payload.customer_id is not None:
        customer = customer_queryset_for(user).filter(pk=payload.customer_id).first()
        if customer is None or (related is not None and related.customer_id != customer.pk):
            raise ApplicationError(
                "unknown_customer",
                "No such customer (or not the related case's customer).",
                details={"customer_id": payload.customer_id},
                status=422,
            )
    elif related is not None:
        customer = related.customer
    if customer is None:
        raise ApplicationError(
            "invalid_input",
            "Give the customer or the related case.",
            details={"customer_id": "required"},
            status=422,
        )
    # A retry with the same key (scoped to the caller, as cases.services.case_open keeps it)
    # gets the complaint the first request raised, with 200.
    replay = (
        key is not None
        and Complaint.objects.filter(case__idempotency_key=f"{user.pk}:{key}").exists()
    )
    complaint = services.complaint_raise(
        actor=user,
        customer=customer,
        channel=payload.channel,
        subject=payload.subject,
        nature=payload.nature,
        description=payload.description,
        related_case=related,
        severity=payload.severity,
        concerns_user=_user_arg(payload.concerns_user_id, "concerns_user_id"),
        concerns_team=_team_arg(payload.concerns_team_id),
        amount_at_stake=payload.amount_at_stake,
        media_exposure=payload.media_exposure,
        unit=_unit_arg(user, payload.unit_id, "unit_id"),
        idempotency_key=key,
    )
    return Reply(200 if replay else 201, _after_write(request, complaint))


@router.get("/{number}", response=ComplaintOut, summary="One complaint")
def complaint_detail(request: HttpRequest, number: str) -> dict[str, object]:
    complaint = _get(request, number)
    personal_data_viewed(
        actor=request_user(request),
        customer_id=complaint.case.customer_id,
        entity="complaint",
        entity_id=complaint.pk,
        via="complaint.api",
    )
    return _complaint_out(complaint)


@router.post("/{number}/evaluate", response=ComplaintOut, summary="Classify and evaluate")
def complaint_evaluate(request: HttpRequest, number: str, payload: EvaluateIn) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    services.complaint_evaluate(
        actor=request_user(request),
        complaint=complaint,
        nature=payload.nature,
        severity=payload.severity,
        concerns_user=_user_arg(payload.concerns_user_id, "concerns_user_id"),
        concerns_team=_team_arg(payload.concerns_team_id),
        amount_at_stake=payload.amount_at_stake,
        media_exposure=payload.media_exposure,
    )
    return _after_write(request, complaint)


@router.post("/{number}/handle", response=ComplaintOut, summary="Start handling")
def complaint_handle(request: HttpRequest, number: str, payload: HandleIn) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    services.complaint_handle(
        actor=request_user(request),
        complaint=complaint,
        handler=_user_arg(payload.handler_id, "handler_id"),
    )
    return _after_write(request, complaint)


@router.post(
    "/{number}/answer",
    response=ComplaintOut,
    summary="Answer the customer with the templated letter (resolves the case)",
)
def complaint_answer(request: HttpRequest, number: str, payload: AnswerIn) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    services.complaint_answer(
        actor=request_user(request),
        complaint=complaint,
        template=payload.template,
        message=payload.message,
        solution_type=payload.solution_type,
    )
    return _after_write(request, complaint)


@router.post("/{number}/root-cause", response=ComplaintOut, summary="Record the root cause")
def complaint_root_cause(
    request: HttpRequest, number: str, payload: RootCauseIn
) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    services.complaint_root_cause_set(
        actor=request_user(request),
        complaint=complaint,
        root_cause=payload.root_cause,
        communication_error=payload.communication_error,
    )
    return _after_write(request, complaint)


@router.post("/{number}/close", response=ComplaintOut, summary="Close an answered complaint")
def complaint_close(request: HttpRequest, number: str, payload: CloseIn) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    services.complaint_close(
        actor=request_user(request),
        complaint=complaint,
        root_cause=payload.root_cause,
        communication_error=payload.communication_error,
    )
    return _after_write(request, complaint)


@router.post("/{number}/reopen", response=ComplaintOut, summary="Reopen (the customer disagrees)")
def complaint_reopen(request: HttpRequest, number: str, payload: ReopenIn) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    services.complaint_reopen(
        actor=request_user(request), complaint=complaint, reason=payload.reason
    )
    return _after_write(request, complaint)


@router.post("/{number}/proposals", response={201: ProposalOut}, summary="Propose compensation")
def proposal_create(request: HttpRequest, number: str, payload: ProposalIn) -> Any:
    user = request_user(request)
    complaint = _get(request, number, "complaints.propose_compensation")
    lines = [
        services.LineIn(
            kind=line.kind,
            amount=line.amount,
            unit=_unit_arg(user, line.unit_id, f"lines.{i}.unit_id"),
            months=line.months,
            note=line.note,
        )
        for i, line in enumerate(payload.lines)
    ]
    proposal = services.compensation_propose(
        actor=user, complaint=complaint, lines=lines, reason=payload.reason
    )
    return Reply(201, _proposal_out(_proposal(complaint, proposal.pk)))


def _proposal(complaint: Complaint, proposal_id: int) -> CompensationProposal:
    proposal = (
        complaint.proposals.select_related("complaint__case", "proposed_by", "required_level")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        raise Http404
    return proposal


@router.post(
    "/{number}/proposals/{proposal_id}/decide",
    response=ProposalOut,
    summary="Approve, reject, or endorse and forward up the chain",
)
def proposal_decide(
    request: HttpRequest, number: str, proposal_id: RecordId, payload: DecideIn
) -> dict[str, object]:
    complaint = _get(request, number, "complaints.approve_compensation")
    proposal = services.compensation_decide(
        actor=request_user(request),
        proposal=_proposal(complaint, proposal_id),
        decision=payload.decision,
        note=payload.note,
    )
    return _proposal_out(_proposal(complaint, proposal.pk))


@router.post(
    "/{number}/proposals/{proposal_id}/withdraw",
    response=ProposalOut,
    summary="Withdraw a pending proposal",
)
def proposal_withdraw(request: HttpRequest, number: str, proposal_id: RecordId) -> Any:
    complaint = _get(request, number, "complaints.propose_compensation")
    proposal = services.compensation_withdraw(
        actor=request_user(request), proposal=_proposal(complaint, proposal_id)
    )
    return _proposal_out(_proposal(complaint, proposal.pk))


@router.post(
    "/{number}/actions/{action_id}/complete",
    response=ActionOut,
    summary="Complete a follow-up action (refund, replacement, ...) with its reference",
)
def action_complete(
    request: HttpRequest, number: str, action_id: RecordId, payload: ActionCompleteIn
) -> dict[str, object]:
    complaint = _get(request, number, "complaints.handle_complaint")
    action = complaint.actions.filter(pk=action_id).first()
    if action is None:
        raise Http404
    done = services.compensation_action_complete(
        actor=request_user(request), action=action, reference=payload.reference.strip()
    )
    return _action_out(CompensationAction.objects.select_related("completed_by").get(pk=done.pk))


def _review(complaint: Complaint, review_id: int) -> ComplaintReview:
    review = complaint.reviews.filter(pk=review_id).first()
    if review is None:
        raise Http404
    return review


def _review_fresh(review: ComplaintReview) -> dict[str, object]:
    return _review_out(
        ComplaintReview.objects.select_related("complaint__case", "reviewer").get(pk=review.pk)
    )


@router.post("/{number}/reviews/{review_id}/claim", response=ReviewOut, summary="Take a review")
def review_claim(request: HttpRequest, number: str, review_id: RecordId) -> dict[str, object]:
    complaint = _get(request, number, "complaints.review_complaint")
    review = services.complaint_review_claim(
        actor=request_user(request), review=_review(complaint, review_id)
    )
    return _review_fresh(review)


@router.post(
    "/{number}/reviews/{review_id}/complete",
    response=ReviewOut,
    summary="Record the review's findings, responsibility and recommendation",
)
def review_complete(
    request: HttpRequest, number: str, review_id: RecordId, payload: ReviewCompleteIn
) -> dict[str, object]:
    complaint = _get(request, number, "complaints.review_complaint")
    review = services.complaint_review_complete(
        actor=request_user(request),
        review=_review(complaint, review_id),
        findings=payload.findings,
        responsibility=payload.responsibility,
        recommendation=payload.recommendation,
    )
    return _review_fresh(review)
