"""Return visits API (回访): the worklist, attempts, surveys, recommendations, completion, figures;
and the public survey answer, which a customer sends with the token of their link (no sign-in)."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.audit import personal_data_viewed
from aftersales.core.schemas import RecordId, ReportDate, StrictIn

from . import selectors, services, surveys
from .models import Offer, Recommendation, ReturnVisit, Survey

router = Router(tags=["callbacks"])
# The customer's side: answering a survey through the link's token, with no account.
public_router = Router(tags=["surveys"], auth=None)

ResultT = Literal["reached", "no_answer", "call_back_later", "wrong_number"]
OfferKindT = Literal["extended_warranty", "accessory", "maintenance_tip"]
OutcomeT = Literal["offered", "interested", "accepted", "declined"]


class AttemptIn(StrictIn):
    result: ResultT
    note: str = Field("", max_length=2000)
    callback_at: dt.datetime | None = None


class AnswersIn(StrictIn):
    """The survey's answers. Scores are whole numbers; their ranges (CSAT 1–5, NPS 0–10,
    attitude 1–5) are the service's rule, refused as 400 `invalid_answer` with the field."""

    csat: int = Field(..., ge=-(2**31), le=2**31)
    nps: int | None = Field(None, ge=-(2**31), le=2**31)
    repurchase: str = Field("", max_length=10, description="yes, maybe or no")
    communication_effective: bool | None = None
    attitude: int | None = Field(None, ge=-(2**31), le=2**31)
    comment: str = Field("", max_length=2000)


class PhoneAnswersIn(AnswersIn):
    """The answers given on the call; `consent_given`: the customer agreed on this call to be
    surveyed (surveys are opt-in; without a consent in force the answer is refused, 409)."""

    consent_given: bool = False


class VisitConsentIn(StrictIn):
    """`consent_given`: the customer agreed on this call (surveys and offers are opt-in)."""

    consent_given: bool = False


class LinkAnswerIn(StrictIn):
    token: str = Field(..., min_length=1, max_length=300)
    answers: AnswersIn


class RecommendIn(StrictIn):
    kind: OfferKindT
    offer_id: RecordId | None = None
    unit_id: RecordId | None = None
    outcome: OutcomeT = "offered"
    value: Decimal = Field(Decimal("0"), max_digits=10, decimal_places=2)
    consent_given: bool = False


class RecommendationDecideIn(StrictIn):
    outcome: OutcomeT


class CompleteIn(StrictIn):
    solved: bool
    reason: str = Field("", max_length=2000)


class ReportQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    since: ReportDate | None = None
    until: ReportDate | None = None


class Ref(Schema):
    id: int
    name: str


class CustomerRef(Schema):
    id: int
    number: str
    name: str
    tier: str


class CaseRef(Schema):
    number: str
    status: str
    subject: str


class AttemptOut(Schema):
    result: str
    at: dt.datetime
    by: Ref
    callback_at: dt.datetime | None
    note: str


class SurveyOut(Schema):
    id: int
    method: str
    status: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    answered_at: dt.datetime | None
    csat: int | None
    nps: int | None
    repurchase: str
    communication_effective: bool | None
    attitude: int | None
    comment: str
    follow_up: dict[str, Any]


class RecommendationOut(Schema):
    id: int
    kind: str
    offer: str | None
    unit: str | None
    outcome: str
    value: Decimal
    offered_at: dt.datetime
    decided_at: dt.datetime | None


class VisitOut(Schema):
    id: int
    kind: str
    reason: str
    status: str
    outcome: str
    customer: CustomerRef
    case: CaseRef | None
    team: Ref | None
    assignee: Ref | None
    due_at: dt.datetime
    next_attempt_at: dt.datetime
    attempts: int
    created_at: dt.datetime
    completed_at: dt.datetime | None
    attempt_log: list[AttemptOut]
    surveys: list[SurveyOut]
    recommendations: list[RecommendationOut]


class VisitBrief(Schema):
    id: int
    kind: str
    reason: str
    status: str
    customer: CustomerRef
    case: CaseRef | None
    due_at: dt.datetime
    next_attempt_at: dt.datetime
    attempts: int


class WorklistOut(Schema):
    due: list[VisitBrief]
    upcoming: list[VisitBrief]


class LinkOut(Schema):
    survey: SurveyOut
    token: str
    url: str
    expires_at: dt.datetime | None


class SuggestionOut(Schema):
    kind: str
    offer_id: int | None
    unit_id: int | None
    title: str
    value: Decimal | None


class AnswerAccepted(Schema):
    status: str
    answered_at: dt.datetime | None


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined, no-any-return]


def _customer(visit: ReturnVisit) -> dict[str, Any]:
    c = visit.customer
    return {"id": c.pk, "number": c.number, "name": c.name, "tier": c.tier}


def _case(visit: ReturnVisit) -> dict[str, Any] | None:
    case = visit.case
    if case is None:
        return None
    return {"number": case.number, "status": case.status, "subject": case.subject}


def _brief(visit: ReturnVisit) -> dict[str, Any]:
    return {
        "id": visit.pk,
        "kind": visit.kind,
        "reason": visit.reason,
        "status": visit.status,
        "customer": _customer(visit),
        "case": _case(visit),
        "due_at": visit.due_at,
        "next_attempt_at": visit.next_attempt_at,
        "attempts": visit.attempts,
    }


def _survey_out(survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.pk,
        "method": survey.method,
        "status": survey.status,
        "created_at": survey.created_at,
        "expires_at": survey.expires_at,
        "answered_at": survey.answered_at,
        "csat": survey.csat,
        "nps": survey.nps,
        "repurchase": survey.repurchase,
        "communication_effective": survey.communication_effective,
        "attitude": survey.attitude,
        "comment": survey.comment,
        "follow_up": survey.follow_up or {},
    }


def _recommendation_out(reco: Recommendation) -> dict[str, Any]:
    return {
        "id": reco.pk,
        "kind": reco.kind,
        "offer": reco.offer.code if reco.offer else None,
        "unit": reco.unit.serial_number if reco.unit else None,
        "outcome": reco.outcome,
        "value": reco.value,
        "offered_at": reco.offered_at,
        "decided_at": reco.decided_at,
    }


def _visit_out(visit: ReturnVisit) -> dict[str, Any]:
    return {
        **_brief(visit),
        "outcome": visit.outcome,
        "team": {"id": visit.team.pk, "name": visit.team.name} if visit.team else None,
        "assignee": (
            {"id": visit.assignee.pk, "name": visit.assignee.label} if visit.assignee else None
        ),
        "created_at": visit.created_at,
        "completed_at": visit.completed_at,
        "attempt_log": [
            {
                "result": a.result,
                "at": a.at,
                "by": {"id": a.by.pk, "name": a.by.label},
                "callback_at": a.callback_at,
                "note": a.note,
            }
            for a in visit.attempt_log.select_related("by")
        ],
        "surveys": [_survey_out(s) for s in visit.surveys.all()],
        "recommendations": [
            _recommendation_out(r)
            for r in visit.recommendations.select_related("offer", "unit").order_by("id")
        ],
    }


def _get(request: HttpRequest, visit_id: int, *, work: bool = False) -> ReturnVisit:
    """The visit within the user's scope (404 otherwise); `work`: for a change, which is the
    callback team's (the services check it again)."""
    user = _user(request)
    require_perm(user, "callbacks.view_returnvisit")
    visit = selectors.visit_get_for(user, pk=visit_id)
    if work:
        require_perm(user, "callbacks.work_return_visit")
    return visit


@router.get("", response=WorklistOut, summary="The callback worklist: due now, then upcoming")
def visit_worklist(request: HttpRequest) -> dict[str, Any]:
    """Visits due by the end of today (VIP first, then by time), then the upcoming ones."""
    user = _user(request)
    require_perm(user, "callbacks.view_returnvisit")
    now = clock.now()
    return {
        "due": [_brief(v) for v in selectors.visit_worklist_for(user, now=now)],
        "upcoming": [_brief(v) for v in selectors.visits_upcoming_for(user, now=now)],
    }


@router.get("/report", response=dict[str, Any], summary="Satisfaction and conversion figures")
def callback_report(request: HttpRequest, period: Query[ReportQuery]) -> dict[str, Any]:
    """CSAT, NPS, repurchase intention, communication, attitude, by tier; visits completed and
    unreachable; recommendation conversion by kind. Default period: the last 90 days."""
    require_perm(_user(request), "callbacks.view_callback_report")
    since, until = report_period(period.since, period.until)
    return selectors.callback_figures(since=since, until=until)


def report_period(since: dt.date | None, until: dt.date | None) -> tuple[dt.date, dt.date]:
    """The report's days, both included; the last 90 days unless given."""
    until = until or clock.today()
    since = since or until - dt.timedelta(days=89)
    return since, until


@router.get("/{int:visit_id}", response=VisitOut, summary="One return visit")
def visit_detail(request: HttpRequest, visit_id: int) -> dict[str, Any]:
    visit = _get(request, visit_id)
    personal_data_viewed(
        actor=_user(request),
        customer_id=visit.customer_id,
        entity="return_visit",
        entity_id=visit.pk,
        via="visit.api",
    )
    return _visit_out(visit)


@router.post("/{int:visit_id}/attempts", response=VisitOut, summary="Record a call attempt")
def visit_attempt(request: HttpRequest, visit_id: int, payload: AttemptIn) -> dict[str, Any]:
    """no_answer retries later (unreachable after the last attempt), call_back_later needs a
    future `callback_at`, wrong_number makes the visit unreachable, reached keeps it due."""
    visit = _get(request, visit_id, work=True)
    services.visit_attempt_record(
        actor=_user(request),
        visit=visit,
        result=payload.result,
        note=payload.note,
        callback_at=payload.callback_at,
    )
    return _visit_out(_get(request, visit_id))


def _answers(payload: AnswersIn) -> surveys.SurveyAnswers:
    return surveys.SurveyAnswers(
        csat=payload.csat,
        nps=payload.nps,
        repurchase=payload.repurchase,
        communication_effective=payload.communication_effective,
        attitude=payload.attitude,
        comment=payload.comment,
    )


@router.post("/{int:visit_id}/survey", response=SurveyOut, summary="Record a phone survey")
def visit_survey_phone(
    request: HttpRequest, visit_id: int, payload: PhoneAnswersIn
) -> dict[str, Any]:
    """The agent records the customer's answers; an unsatisfied answer opens its follow-up."""
    survey = surveys.survey_record_phone(
        actor=_user(request),
        visit=_get(request, visit_id, work=True),
        answers=_answers(payload),
        consent_given=payload.consent_given,
    )
    return _survey_out(survey)


@router.post(
    "/{int:visit_id}/survey-link", response=LinkOut, summary="Create a one-time survey link"
)
def visit_survey_link(
    request: HttpRequest, visit_id: int, payload: VisitConsentIn | None = None
) -> dict[str, Any]:
    """A one-time, expiring, signed link for the customer; the token is shown only here."""
    survey, token = surveys.survey_send_link(
        actor=_user(request),
        visit=_get(request, visit_id, work=True),
        base_url=request.build_absolute_uri("/").rstrip("/"),
        consent_given=payload.consent_given if payload else False,
    )
    return {
        "survey": _survey_out(survey),
        "token": token,
        "url": request.build_absolute_uri(reverse("survey", args=[token])),
        "expires_at": survey.expires_at,
    }


@router.get(
    "/{int:visit_id}/suggestions",
    response=list[SuggestionOut],
    summary="What to recommend to this customer",
)
def visit_suggestions(request: HttpRequest, visit_id: int) -> list[dict[str, Any]]:
    visit = _get(request, visit_id)
    return [
        {
            "kind": s.kind,
            "offer_id": s.offer.pk if s.offer else None,
            "unit_id": s.unit.pk if s.unit else None,
            "title": str(s.title),
            "value": s.value,
        }
        for s in selectors.recommendations_for(visit=visit, on=clock.today())
    ]


@router.post(
    "/{int:visit_id}/recommendations",
    response=RecommendationOut,
    summary="Record a recommendation made on the visit",
)
def visit_recommend(request: HttpRequest, visit_id: int, payload: RecommendIn) -> dict[str, Any]:
    visit = _get(request, visit_id, work=True)
    offer = (
        get_object_or_404(Offer, pk=payload.offer_id, is_active=True) if payload.offer_id else None
    )
    # Only the visit's customer's own units.
    unit = (
        get_object_or_404(Unit, pk=payload.unit_id, customer_id=visit.customer_id)
        if payload.unit_id
        else None
    )
    reco = services.recommendation_record(
        actor=_user(request),
        visit=visit,
        kind=payload.kind,
        offer=offer,
        unit=unit,
        outcome=payload.outcome,
        value=payload.value,
        consent_given=payload.consent_given,
    )
    return _recommendation_out(reco)


@router.post(
    "/{int:visit_id}/recommendations/{int:recommendation_id}/decide",
    response=RecommendationOut,
    summary="Record the customer's answer to a recommendation",
)
def visit_recommendation_decide(
    request: HttpRequest, visit_id: int, recommendation_id: int, payload: RecommendationDecideIn
) -> dict[str, Any]:
    visit = _get(request, visit_id, work=True)
    reco = get_object_or_404(Recommendation, pk=recommendation_id, visit=visit)
    reco = services.recommendation_decide(
        actor=_user(request), recommendation=reco, outcome=payload.outcome
    )
    return _recommendation_out(reco)


@router.post("/{int:visit_id}/complete", response=VisitOut, summary="Complete the visit")
def visit_complete(request: HttpRequest, visit_id: int, payload: CompleteIn) -> dict[str, Any]:
    """Solved closes a resolved case; not solved (with a reason) reopens it."""
    services.visit_complete(
        actor=_user(request),
        visit=_get(request, visit_id, work=True),
        solved=payload.solved,
        reason=payload.reason,
    )
    return _visit_out(_get(request, visit_id))


@public_router.post(
    "/answer",
    response=AnswerAccepted,
    summary="Answer a survey with the token of its link (no sign-in)",
)
def survey_answer(request: HttpRequest, payload: LinkAnswerIn) -> dict[str, Any]:
    """Answered once: a bad or altered token is 400 `invalid_link`, an expired one 410, an
    answered or cancelled survey 409. Nothing about the customer is sent back."""
    survey = surveys.survey_answer_by_link(token=payload.token, answers=_answers(payload.answers))
    return {"status": survey.status, "answered_at": survey.answered_at}
