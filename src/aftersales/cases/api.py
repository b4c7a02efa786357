"""Cases API: intake on any channel, the queue, classification, assignment, lifecycle, contacts."""

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, UploadedFile
from ninja.responses import Status as Reply
from pydantic import ConfigDict

from aftersales.accounts.models import Team, User
from aftersales.catalog.models import ProductLine
from aftersales.catalog.selectors import unit_queryset_for
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError
from aftersales.core.schemas import Offset, RecordId, StrictIn, idempotency_key
from aftersales.customers.models import Channel
from aftersales.customers.selectors import customer_queryset_for
from aftersales.sla.selectors import case_clocks

from . import attachments, selectors, services
from .models import (
    SUBCATEGORIES,
    Attachment,
    Case,
    CaseEvent,
    Nature,
    SolutionType,
    Status,
    Urgency,
)
from .workflow import TRANSITIONS

router = Router(tags=["cases"])

ChannelT = Literal["phone", "email", "web", "portal", "app", "walk_in", "onsite"]
NatureT = Literal[
    "hardware", "software", "usage", "attitude", "response", "logistics", "billing", "other"
]
UrgencyT = Literal["low", "normal", "high", "critical"]
StatusT = Literal[
    "new",
    "triaged",
    "assigned",
    "in_progress",
    "waiting_customer",
    "waiting_parts",
    "resolved",
    "closed",
    "cancelled",
]
ActionT = Literal[
    "start", "wait_customer", "wait_parts", "resume", "resolve", "close", "reopen", "cancel"
]
SolutionT = Literal[
    "knowledge",
    "remote",
    "software_update",
    "part_replacement",
    "depot_repair",
    "onsite_repair",
    "return",
    "exchange",
    "refund",
    "explanation",
    "compensation",
]
# The Literal types above must list exactly the model choices; checked at import.
for _lit, _choices in (
    (ChannelT, Channel.values),
    (NatureT, Nature.values),
    (UrgencyT, Urgency.values),
    (StatusT, Status.values),
    (ActionT, list(TRANSITIONS)),
    (SolutionT, SolutionType.values),
):
    assert set(_lit.__args__) == set(_choices), _lit  # type: ignore[attr-defined]


class CaseIn(StrictIn):
    customer_id: int = Field(..., gt=0)
    channel: ChannelT
    subject: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=20_000)
    unit_id: int | None = Field(None, gt=0)
    product_line_id: int | None = Field(None, gt=0)
    nature: NatureT | None = None
    subcategory: str = Field("", max_length=30)
    urgency: UrgencyT = "normal"
    kind: Literal["service", "complaint"] = "service"


class ClassifyIn(StrictIn):
    nature: NatureT
    subcategory: str = Field("", max_length=30)
    urgency: UrgencyT | None = None


class AssignIn(StrictIn):
    team_id: int | None = Field(None, gt=0)
    assignee_id: int | None = Field(None, gt=0)
    reason: str = Field("", max_length=2000)


class TransitionIn(StrictIn):
    action: ActionT
    reason: str = Field("", max_length=2000)
    solution_type: SolutionT | None = None
    solution_notes: str = Field("", max_length=20_000)


class CaseContactIn(StrictIn):
    direction: Literal["in", "out"]
    channel: ChannelT
    body: str = Field(..., min_length=1, max_length=20_000)
    occurred_at: dt.datetime | None = None


class NoteIn(StrictIn):
    body: str = Field(..., min_length=1, max_length=20_000)


class FeedbackIn(StrictIn):
    useful: bool
    reason: str = Field("", max_length=2000)


class ClockOut(Schema):
    metric: str
    state: str
    policy: str
    calendar: str
    started_at: dt.datetime
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    stopped_at: dt.datetime | None
    breached_at: dt.datetime | None
    budget_minutes: int
    elapsed_minutes: int


class Ref(Schema):
    id: int
    name: str


class CustomerRef(Schema):
    id: int
    number: str
    name: str
    tier: str


class UnitRef(Schema):
    id: int
    serial_number: str
    model_code: str


class CaseOut(Schema):
    number: str
    kind: str
    status: str
    channel: str
    subject: str
    description: str
    customer: CustomerRef
    unit: UnitRef | None
    product_line: str | None
    nature: str
    subcategory: str
    urgency: str
    priority: int
    team: Ref | None
    assignee: Ref | None
    solution_type: str
    solution_notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    first_contact_resolution: bool | None
    reopen_count: int
    useful_feedback: bool
    allowed_actions: list[str]
    clocks: list[ClockOut]


class CaseListOut(Schema):
    count: int
    items: list[CaseOut]


class EventOut(Schema):
    id: int
    kind: str
    occurred_at: dt.datetime
    actor: Ref | None
    from_status: str
    to_status: str
    channel: str
    direction: str
    body: str
    data: dict[str, object]

    @staticmethod
    def resolve_actor(obj: CaseEvent) -> dict[str, object] | None:
        return {"id": obj.actor.pk, "name": obj.actor.label} if obj.actor else None


class ChoicesOut(Schema):
    channels: list[str]
    natures: dict[str, list[str]]
    urgencies: list[str]
    statuses: list[str]
    actions: dict[str, list[str]]
    solution_types: list[str]


class QueueQuery(Schema):
    model_config = ConfigDict(extra="forbid")
    status: StatusT | Literal["open"] | None = None
    nature: NatureT | None = None
    urgency: UrgencyT | None = None
    channel: ChannelT | None = None
    team: RecordId | None = None
    assignee: RecordId | None = None
    product_line: RecordId | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class CaseSearchIn(QueueQuery):
    """The queue filters plus a search term, sent as a JSON body: a phone number or a name
    is personal data and stays out of URLs (and so out of access logs)."""

    q: str = Field(min_length=1, max_length=100, description="Case no., phone, serial or name")


def _case_out(case: Case, user: User) -> dict[str, object]:
    return {
        "number": case.number,
        "kind": case.kind,
        "status": case.status,
        "channel": case.channel,
        "subject": case.subject,
        "description": case.description,
        "customer": {
            "id": case.customer.pk,
            "number": case.customer.number,
            "name": case.customer.name,
            "tier": case.customer.tier,
        },
        "unit": (
            {
                "id": case.unit.pk,
                "serial_number": case.unit.serial_number,
                "model_code": case.unit.model.code,
            }
            if case.unit
            else None
        ),
        "product_line": case.product_line.code if case.product_line else None,
        "nature": case.nature,
        "subcategory": case.subcategory,
        "urgency": case.urgency,
        "priority": case.priority,
        "team": {"id": case.team.pk, "name": case.team.name} if case.team else None,
        "assignee": {"id": case.assignee.pk, "name": case.assignee.label}
        if case.assignee
        else None,
        "solution_type": case.solution_type,
        "solution_notes": case.solution_notes,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "first_contact_resolution": case.first_contact_resolution,
        "reopen_count": case.reopen_count,
        "useful_feedback": case.useful_feedback,
        "allowed_actions": selectors.case_allowed_actions(user, case),
        "clocks": [
            {
                "metric": c.metric,
                "state": c.state,
                "policy": c.policy,
                "calendar": c.calendar,
                "started_at": c.started_at,
                "due_at": c.due_at,
                "warn_at": c.warn_at,
                "stopped_at": c.stopped_at,
                "breached_at": c.breached_at,
                "budget_minutes": int(c.budget.total_seconds() // 60),
                "elapsed_minutes": int(c.elapsed.total_seconds() // 60),
            }
            for c in case_clocks(case)
        ],
    }


def _get(request: HttpRequest, number: str) -> Case:
    user: User = request.auth  # type: ignore[attr-defined]
    if not selectors.CASE_NUMBER.match(number):
        raise Http404  # not a case number: never sent to the database (a NUL broke PostgreSQL)
    return get_object_or_404(
        selectors.case_queryset_for(user).select_related(
            "customer", "unit__model", "team", "assignee", "product_line"
        ),
        number=number.upper(),
    )


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined, no-any-return]


@router.get("/choices", response=ChoicesOut, summary="Choices for channels, natures, statuses")
def case_choices(request: HttpRequest) -> dict[str, object]:
    return {
        "channels": Channel.values,
        "natures": {n: list(SUBCATEGORIES[n]) for n in Nature.values},
        "urgencies": Urgency.values,
        "statuses": Status.values,
        "actions": {a: sorted(t.sources) for a, t in TRANSITIONS.items()},
        "solution_types": SolutionType.values,
    }


@router.get("", response=CaseListOut, summary="Case queue (scoped, filtered, most urgent first)")
def case_list(request: HttpRequest, filters: Query[QueueQuery]) -> dict[str, object]:
    """The queue by filters; to search by case number, phone, serial or name, POST `/search`."""
    if "q" in request.GET:
        # Refused rather than ignored: a client must not take the whole queue for its answer.
        raise ApplicationError(
            "search_in_url",
            _("Search with POST /cases/search; a search term does not belong in a URL."),
            status=422,
        )
    return _case_page(request, filters, q="")


@router.post("/search", response=CaseListOut, summary="Search the queue (term in the body)")
def case_search(request: HttpRequest, payload: CaseSearchIn) -> dict[str, object]:
    """The queue filtered as `GET /cases` and by `q`: a case number, a phone number, a serial
    number, a full customer name or surname (names are encrypted: exact match only)."""
    return _case_page(request, payload, q=payload.q)


def _case_page(request: HttpRequest, filters: QueueQuery, *, q: str) -> dict[str, object]:
    user = _user(request)
    qs = selectors.case_queue(
        user,
        selectors.QueueFilters(
            status=filters.status or "",
            nature=filters.nature or "",
            urgency=filters.urgency or "",
            channel=filters.channel or "",
            team=filters.team,
            assignee=filters.assignee,
            product_line=filters.product_line,
            date_from=filters.date_from,
            date_to=filters.date_to,
            q=q,
        ),
    ).select_related("unit__model")
    page = list(qs[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "items": [_case_out(c, user) for c in page]}


@router.post(
    "",
    response={200: CaseOut, 201: CaseOut},
    summary="Open a case (intake); send Idempotency-Key to make retries safe",
)
def case_create(request: HttpRequest, payload: CaseIn) -> Any:
    user = _user(request)
    if not user.has_perm("cases.add_case"):
        raise PermissionDenied("Your role does not open cases.")
    key = idempotency_key(request)
    customer = customer_queryset_for(user).filter(pk=payload.customer_id).first()
    if customer is None:
        raise ApplicationError(
            "unknown_customer",
            "No such customer.",
            details={"customer_id": payload.customer_id},
            status=422,
        )
    unit = None
    if payload.unit_id is not None:
        unit = (
            unit_queryset_for(user).select_related("model__line").filter(pk=payload.unit_id).first()
        )
        if unit is None:
            raise ApplicationError(
                "unknown_unit", "No such unit.", details={"unit_id": payload.unit_id}, status=422
            )
    line = None
    if payload.product_line_id is not None:
        line = ProductLine.objects.filter(pk=payload.product_line_id).first()
        if line is None:
            raise ApplicationError(
                "unknown_product_line",
                "No such product line.",
                details={"product_line_id": payload.product_line_id},
                status=422,
            )
    case, created = services.case_open(
        actor=user,
        customer=customer,
        channel=payload.channel,
        subject=payload.subject,
        description=payload.description,
        unit=unit,
        product_line=line,
        nature=payload.nature or "",
        subcategory=payload.subcategory,
        urgency=payload.urgency,
        idempotency_key=key,
        kind=payload.kind,
    )
    return Reply(201 if created else 200, _after_write(request, case))


@router.get("/{number}", response=CaseOut, summary="One case")
def case_detail(request: HttpRequest, number: str) -> dict[str, object]:
    case = _get(request, number)
    personal_data_viewed(
        actor=_user(request),
        customer_id=case.customer_id,
        entity="case",
        entity_id=case.pk,
        via="case.api",
    )
    return _case_out(case, _user(request))


@router.post(
    "/{number}/classify", response=CaseOut, summary="Classify or correct the classification"
)
def case_classify(request: HttpRequest, number: str, payload: ClassifyIn) -> dict[str, object]:
    case = services.case_classify(
        actor=_user(request),
        case=_get(request, number),
        nature=payload.nature,
        subcategory=payload.subcategory,
        urgency=payload.urgency,
    )
    return _case_out(_get(request, case.number), _user(request))


@router.post("/{number}/assign", response=CaseOut, summary="Assign or reassign to a team and agent")
def case_assign(request: HttpRequest, number: str, payload: AssignIn) -> dict[str, object]:
    case = _get(request, number)
    team = None
    if payload.team_id is not None:
        team = Team.objects.filter(pk=payload.team_id, is_active=True).first()
        if team is None:
            raise ApplicationError(
                "unknown_team", "No such team.", details={"team_id": payload.team_id}, status=422
            )
    assignee = None
    if payload.assignee_id is not None:
        assignee = User.objects.filter(pk=payload.assignee_id, is_active=True).first()
        if assignee is None:
            raise ApplicationError(
                "unknown_user",
                "No such active user.",
                details={"assignee_id": payload.assignee_id},
                status=422,
            )
    services.case_assign(
        actor=_user(request), case=case, team=team, assignee=assignee, reason=payload.reason
    )
    return _after_write(request, case)


def _after_write(request: HttpRequest, case: Case) -> dict[str, object]:
    """The case as the actor's write left it.

    `case` is the object the endpoint found through the actor's scope (or the case they just
    opened). After a reassignment it may have left that scope; the actor still gets the state
    their own write produced, read again by primary key, and nothing of any other case.
    """
    user = _user(request)
    fresh = (
        selectors.case_queryset_for(user)
        .select_related("customer", "unit__model", "team", "assignee", "product_line")
        .filter(pk=case.pk)
        .first()
    )
    if fresh is None:
        case.refresh_from_db()
        fresh = case
    return _case_out(fresh, user)


@router.post("/{number}/transitions", response=CaseOut, summary="Apply a lifecycle action")
def case_transition(request: HttpRequest, number: str, payload: TransitionIn) -> dict[str, object]:
    case = services.case_transition(
        actor=_user(request),
        case=_get(request, number),
        action=payload.action,
        reason=payload.reason,
        solution_type=payload.solution_type or "",
        solution_notes=payload.solution_notes,
    )
    return _after_write(request, case)


@router.post(
    "/{number}/contacts", response={201: EventOut}, summary="Record a contact with the customer"
)
def case_contact(request: HttpRequest, number: str, payload: CaseContactIn) -> Any:
    event = services.case_contact_log(
        actor=_user(request),
        case=_get(request, number),
        direction=payload.direction,
        channel=payload.channel,
        body=payload.body,
        occurred_at=payload.occurred_at,
    )
    return Reply(201, event)


@router.post("/{number}/notes", response={201: EventOut}, summary="Add an internal note")
def case_note(request: HttpRequest, number: str, payload: NoteIn) -> Any:
    event = services.case_note_add(
        actor=_user(request), case=_get(request, number), body=payload.body
    )
    return Reply(201, event)


@router.post(
    "/{number}/preliminary-solution",
    response={201: EventOut},
    summary="Record the preliminary solution given to the customer (meets the 24 h promise)",
)
def case_proposal(request: HttpRequest, number: str, payload: NoteIn) -> Any:
    event = services.case_preliminary_solution(
        actor=_user(request), case=_get(request, number), body=payload.body
    )
    return Reply(201, event)


@router.post(
    "/{number}/feedback", response=CaseOut, summary="Mark the report as useful product feedback"
)
def case_feedback(request: HttpRequest, number: str, payload: FeedbackIn) -> dict[str, object]:
    case = services.case_mark_useful_feedback(
        actor=_user(request),
        case=_get(request, number),
        useful=payload.useful,
        reason=payload.reason,
    )
    return _after_write(request, case)


@router.get("/{number}/events", response=list[EventOut], summary="The case's events and contacts")
def case_events(request: HttpRequest, number: str) -> list[CaseEvent]:
    case = _get(request, number)
    personal_data_viewed(
        actor=_user(request),
        customer_id=case.customer_id,
        entity="case",
        entity_id=case.pk,
        via="case.events.api",
    )
    return list(selectors.case_timeline(case))


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime
    uploaded_by: Ref

    @staticmethod
    def resolve_uploaded_by(obj: Attachment) -> dict[str, object]:
        return {"id": obj.uploaded_by.pk, "name": obj.uploaded_by.label}


@router.get("/{number}/attachments", response=list[AttachmentOut], summary="The case's attachments")
def attachment_list(request: HttpRequest, number: str) -> list[Attachment]:
    return list(attachments.attachment_list(_get(request, number)))


@router.post(
    "/{number}/attachments",
    response={201: AttachmentOut},
    summary="Attach a file (multipart field `file`): images, PDF, MP4, plain text; 10 MB",
)
def attachment_upload(request: HttpRequest, number: str, file: File[UploadedFile]) -> Any:
    attachment = attachments.attachment_add(
        actor=_user(request), case=_get(request, number), upload=file
    )
    return Reply(201, attachment)


@router.get(
    "/{number}/attachments/{attachment_id}/download",
    summary="Download an attachment (always as a file to save; audited)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, with its identified type and `attachment` disposition",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def attachment_download(request: HttpRequest, number: str, attachment_id: RecordId) -> Any:
    attachment, handle = attachments.attachment_open(
        actor=_user(request),
        case=_get(request, number),
        attachment_id=attachment_id,
        ip=request.META.get("REMOTE_ADDR"),
    )
    return attachments.download_response(attachment, handle)


@router.delete(
    "/{number}/attachments/{attachment_id}",
    response={204: None},
    summary="Delete an attachment (the uploader, or a supervisor)",
)
def attachment_delete(request: HttpRequest, number: str, attachment_id: RecordId) -> Any:
    attachments.attachment_delete(
        actor=_user(request), case=_get(request, number), attachment_id=attachment_id
    )
    return Reply(204, None)
