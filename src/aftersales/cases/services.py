"""Every write to a case: intake, classification, assignment, lifecycle, contacts.

Each function is one transaction that locks the case row, checks the rule it owns, changes the
case and appends the matching `CaseEvent`. Nothing else writes `Case.status`.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from aftersales.accounts.models import Team, User
from aftersales.accounts.permissions import require_perm
from aftersales.accounts.selectors import user_primary_team, user_team_ids
from aftersales.catalog.models import ProductLine, Unit
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record, number_allocate
from aftersales.customers.models import Channel, Customer
from aftersales.integrations.services import webhooks_case_event
from aftersales.sla.clocks import LIVE_CHANNELS, SpecCache, clocks_sync

from . import signals
from .models import (
    OPEN_STATUSES,
    SUBCATEGORIES,
    Case,
    CaseEvent,
    CaseKind,
    Nature,
    SolutionType,
    Status,
    Urgency,
)
from .workflow import (
    ACTION_LABELS,
    ASSIGN_KEEPS_STATUS,
    ASSIGN_SOURCES,
    TRANSITIONS,
    TRIAGE_SOURCES,
    priority_for,
)

MAX_SUBJECT = 200
MAX_BODY = 20_000


def _status(case: Case) -> dict[str, str]:
    return {"status": str(Status(case.status).label)}


def case_event_record(
    case: Case, *, kind: str, actor: User | None, at: dt.datetime, **fields: Any
) -> CaseEvent:
    """Write one case event, with its audit-log mirror and any webhook deliveries it causes.

    The one writer of case events for every service of a case (lifecycle, contacts, notes,
    attachments); call it inside the transaction of the change it records.
    """
    event = CaseEvent.objects.create(case=case, kind=kind, actor=actor, occurred_at=at, **fields)
    # Webhooks that want this event get a delivery in this transaction, sent after the commit.
    webhooks_case_event(case=case, event=event)
    _event_audit(case, event)
    return event


# Event data left out of the audit mirror: free text that may name or describe the customer.
_NOT_AUDITED = {"subject"}


def _event_audit(case: Case, event: CaseEvent) -> None:
    """Mirror a case event into the audit log (chained, append-only); the body is personal
    free text and stays in the case's own history."""
    audit_record(
        actor=event.actor,
        action=f"case.{event.kind}",
        entity="case",
        entity_id=case.pk,
        customer_id=case.customer_id,
        data={
            "event_id": event.pk,
            "number": case.number,
            "at": event.occurred_at.isoformat(),
            "from_status": event.from_status,
            "to_status": event.to_status,
            "channel": event.channel,
            "direction": event.direction,
            "details": {k: v for k, v in (event.data or {}).items() if k not in _NOT_AUDITED},
        },
    )


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update(of=("self",)).select_related("customer").get(pk=case.pk)


def _validate_classification(nature: str, subcategory: str, urgency: str) -> None:
    errors: dict[str, str] = {}
    if nature and nature not in Nature.values:
        errors["nature"] = _("Unknown nature %(value)r.") % {"value": nature}
    elif subcategory and subcategory not in SUBCATEGORIES.get(nature, {}):
        errors["subcategory"] = _("%(sub)r is not a sub-category of %(nature)s.") % {
            "sub": subcategory,
            "nature": nature or "—",
        }
    if urgency not in Urgency.values:
        errors["urgency"] = _("Unknown urgency %(value)r.") % {"value": urgency}
    if errors:
        raise ApplicationError(
            "invalid_classification", _("Classification is not valid."), details=errors
        )


def _default_team(actor: User | None) -> Team | None:
    return (user_primary_team(actor) if actor is not None else None) or (
        Team.objects.filter(kind=Team.Kind.FRONTLINE, is_active=True).order_by("id").first()
    )


def case_open(
    *,
    actor: User,
    customer: Customer,
    channel: str,
    subject: str,
    description: str = "",
    unit: Unit | None = None,
    product_line: ProductLine | None = None,
    nature: str = "",
    subcategory: str = "",
    urgency: str = Urgency.NORMAL,
    team: Team | None = None,
    idempotency_key: str | None = None,
    kind: str = CaseKind.SERVICE,
) -> tuple[Case, bool]:
    """Open a numbered case from any channel (受理); returns (case, created).

    With an `idempotency_key`, a retried request returns the case the first one created, even
    when the retries race each other; the key is scoped to the calling account.
    """
    require_perm(actor, "cases.add_case")
    subject = subject.strip()
    errors: dict[str, str] = {}
    if channel not in Channel.values:
        errors["channel"] = _("Unknown channel %(value)r.") % {"value": channel}
    if kind not in CaseKind.values:
        errors["kind"] = _("Unknown case type %(value)r.") % {"value": kind}
    if not subject:
        errors["subject"] = _("A subject is required.")
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = _("At most %(n)d characters.") % {"n": MAX_SUBJECT}
    if len(description) > MAX_BODY:
        errors["description"] = _("At most %(n)d characters.") % {"n": MAX_BODY}
    if customer.merged_into_id is not None:
        errors["customer"] = _("This customer record was merged; use the surviving record.")
    if unit is not None and unit.customer_id not in (None, customer.pk):
        errors["unit"] = _("The unit is registered to another customer.")
    if errors:
        raise ApplicationError("invalid_case", _("The case cannot be opened."), details=errors)
    _validate_classification(nature, subcategory, urgency)

    scoped_key = f"{actor.pk}:{idempotency_key}" if idempotency_key else None
    if scoped_key:
        existing = Case.objects.filter(idempotency_key=scoped_key).first()
        if existing is not None:
            return _same_request(existing, customer=customer, subject=subject), False
    try:
        with transaction.atomic():
            case = _case_insert(
                actor=actor,
                customer=customer,
                channel=channel,
                subject=subject,
                description=description,
                unit=unit,
                product_line=product_line,
                nature=nature,
                subcategory=subcategory,
                urgency=urgency,
                team=team,
                idempotency_key=scoped_key,
                kind=kind,
            )
    except IntegrityError:
        # A concurrent retry with the same key committed first: hand back its case.
        if scoped_key is None:
            raise
        existing = Case.objects.filter(idempotency_key=scoped_key).first()
        if existing is None:
            raise
        return _same_request(existing, customer=customer, subject=subject), False
    return case, True


def case_open_for_customer(
    *,
    customer: Customer,
    channel: str,
    subject: str,
    description: str = "",
    kind: str = CaseKind.SERVICE,
    nature: str = "",
    urgency: str = Urgency.NORMAL,
) -> Case:
    """Open a case the customer raised themselves (e.g. a complaint set off by their survey
    answer): no member of staff opened it, so the routing rules place it."""
    subject = subject.strip()
    if not subject or len(subject) > MAX_SUBJECT or len(description) > MAX_BODY:
        raise ApplicationError(
            "invalid_case", _("The case cannot be opened."), details={"subject": "length"}
        )
    if channel not in Channel.values or kind not in CaseKind.values:
        raise ApplicationError(
            "invalid_case", _("The case cannot be opened."), details={"channel": channel}
        )
    _validate_classification(nature, "", urgency)
    with transaction.atomic():
        return _case_insert(
            actor=None,
            customer=customer,
            channel=channel,
            subject=subject,
            description=description,
            unit=None,
            product_line=None,
            nature=nature,
            subcategory="",
            urgency=urgency,
            team=None,
            idempotency_key=None,
            kind=kind,
        )


def _same_request(case: Case, *, customer: Customer, subject: str) -> Case:
    if case.customer_id != customer.pk or case.subject != subject:
        raise Conflict(
            "idempotency_key_reused",
            _("This idempotency key was already used for a different request."),
            details={"case": case.number},
        )
    return case


def _case_insert(
    *,
    actor: User | None,
    customer: Customer,
    channel: str,
    subject: str,
    description: str,
    unit: Unit | None,
    product_line: ProductLine | None,
    nature: str,
    subcategory: str,
    urgency: str,
    team: Team | None,
    idempotency_key: str | None,
    kind: str,
) -> Case:
    now = clock.now()
    if product_line is None and unit is not None:
        product_line = unit.model.line
    case = Case(
        number=number_allocate(prefix="SR"),
        customer=customer,
        unit=unit,
        product_line=product_line,
        kind=kind,
        channel=channel,
        subject=subject,
        description=description,
        urgency=urgency,
        priority=priority_for(urgency=urgency, tier=customer.tier, boost=0),
        status=Status.NEW,
        team=team or _default_team(actor),
        created_at=now,
        created_by=actor,
        updated_at=now,
        idempotency_key=idempotency_key,
        # On a live channel the customer is talking to the agent: that is the first response.
        first_response_at=now if channel in LIVE_CHANNELS else None,
    )
    # Uniqueness is the database's job: a concurrent retry must hit the constraint.
    case.full_clean(
        exclude=["customer", "unit", "product_line", "team", "created_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    case.save()
    case_event_record(
        case,
        kind=CaseEvent.Kind.CREATED,
        actor=actor,
        at=now,
        to_status=Status.NEW,
        channel=channel,
        direction=CaseEvent.Direction.INBOUND,
        body=description,
        data={"subject": subject, "urgency": urgency, "team": case.team_id, "kind": kind},
    )
    if nature:
        _classify(
            case, actor=actor, nature=nature, subcategory=subcategory, urgency=urgency, now=now
        )
    clocks_sync(case=case, actor=actor, now=now, reason="opened")
    if team is None and (channel not in LIVE_CHANNELS or actor is None):
        # Requests that arrive without a conversation (e-mail, web, portal, app) go where the
        # routing rules send them; on a live channel the agent on the line keeps the case.
        from .routing import case_route  # routing builds on this module's helpers

        case_route(case=case, actor=None, at=now)
    return case


def _set_status(
    case: Case,
    *,
    to: str,
    actor: User | None,
    now: dt.datetime,
    action: str,
    reason: str = "",
    source: str = "",
) -> None:
    before = case.status
    case.status = to
    case.updated_at = now
    case_event_record(
        case,
        kind=CaseEvent.Kind.STATUS,
        actor=actor,
        at=now,
        from_status=before,
        to_status=to,
        body=reason,
        data={"action": action, "source": source} if source else {"action": action},
    )


def _classify(
    case: Case,
    *,
    actor: User | None,
    nature: str,
    subcategory: str,
    urgency: str,
    now: dt.datetime,
    source: str = "human",
) -> None:
    before = {"nature": case.nature, "subcategory": case.subcategory, "urgency": case.urgency}
    after = {"nature": nature, "subcategory": subcategory, "urgency": urgency}
    correction = bool(case.nature) and before != after
    urgency_changed = urgency != case.urgency
    case.nature, case.subcategory, case.urgency = nature, subcategory, urgency
    case.priority = priority_for(
        urgency=urgency, tier=case.customer.tier, boost=case.priority_boost
    )
    case.classified_by = actor
    case.updated_at = now
    case_event_record(
        case,
        kind=CaseEvent.Kind.CLASSIFIED,
        actor=actor,
        at=now,
        data={"before": before, "after": after, "correction": correction, "source": source},
    )
    if case.status in TRIAGE_SOURCES:
        _set_status(case, to=Status.TRIAGED, actor=actor, now=now, action="triage")
    case.save()
    if urgency_changed:
        clocks_sync(case=case, actor=actor, now=now, reason="urgency")


def case_classify(
    *,
    actor: User,
    case: Case,
    nature: str,
    subcategory: str = "",
    urgency: str | None = None,
    source: str = "human",
) -> Case:
    """Set or correct nature, sub-category and urgency (分类/评估); a new case becomes triaged.

    The event keeps before and after, and whether it corrected an earlier classification, so
    the auto-classifier can learn from human corrections.
    """
    require_perm(actor, "cases.classify_case")
    with transaction.atomic():
        case = _lock(case)
        if not case.is_open:
            raise ApplicationError(
                "case_not_open",
                _("A case that is %(status)s cannot be reclassified.") % _status(case),
                status=409,
            )
        urgency = urgency or case.urgency
        if not nature:
            raise ApplicationError(
                "invalid_classification", _("Nature is required."), details={"nature": "required"}
            )
        _validate_classification(nature, subcategory, urgency)
        _classify(
            case,
            actor=actor,
            nature=nature,
            subcategory=subcategory,
            urgency=urgency,
            now=clock.now(),
            source=source,
        )
        return case


def case_assign(
    *,
    actor: User,
    case: Case,
    team: Team | None = None,
    assignee: User | None = None,
    reason: str = "",
) -> Case:
    """Assign a case to a team and/or an agent, or reassign it (派单/转派).

    Agents assign within their own teams; moving a case to another team needs `reassign_case`.
    The assignee must be an active member of the team.
    """
    require_perm(actor, "cases.assign_case")
    with transaction.atomic():
        case = _lock(case)
        if case.status not in ASSIGN_SOURCES | ASSIGN_KEEPS_STATUS:
            raise ApplicationError(
                "invalid_transition",
                _("A case that is %(status)s cannot be assigned.") % _status(case),
                details={"status": case.status, "action": "assign"},
                status=409,
            )
        target_team = team or case.team
        if target_team is None:
            raise ApplicationError(
                "invalid_assignment", _("Choose a team."), details={"team": "required"}
            )
        if target_team.pk not in user_team_ids(actor) and not actor.has_perm("cases.reassign_case"):
            raise PermissionDenied(_("Only supervisors move cases to a team that is not yours."))
        if not target_team.is_active:
            raise ApplicationError(
                "invalid_assignment",
                _("That team is not active."),
                details={"team": target_team.pk},
            )
        if assignee is not None and (
            not assignee.is_active or not assignee.memberships.filter(team=target_team).exists()
        ):
            raise ApplicationError(
                "invalid_assignment",
                f"{assignee} is not an active member of {target_team}.",
                details={"assignee": assignee.pk, "team": target_team.pk},
            )
        if (
            target_team.pk == case.team_id
            and (assignee.pk if assignee else None) == case.assignee_id
        ):
            return case
        now = clock.now()
        data = {
            "from_team": case.team_id,
            "to_team": target_team.pk,
            "from_assignee": case.assignee_id,
            "to_assignee": assignee.pk if assignee else None,
        }
        last = (
            case.events.filter(kind__in=[CaseEvent.Kind.ROUTED, CaseEvent.Kind.ASSIGNED])
            .order_by("-occurred_at", "-id")
            .first()
        )
        if last is not None and last.kind == CaseEvent.Kind.ROUTED:
            # A person overrides the rules' decision: say which one, for the routing report.
            data["overrides_routing"] = last.pk
        case.team, case.assignee, case.updated_at = target_team, assignee, now
        case_event_record(
            case, kind=CaseEvent.Kind.ASSIGNED, actor=actor, at=now, body=reason, data=data
        )
        if case.status not in ASSIGN_KEEPS_STATUS:
            target = Status.ASSIGNED if assignee is not None else Status.TRIAGED
            if case.status == Status.NEW and assignee is None:
                target = Status.NEW
            if target != case.status:
                _set_status(case, to=target, actor=actor, now=now, action="assign")
        case.save()
        return case


def case_transition(
    *,
    actor: User,
    case: Case,
    action: str,
    reason: str = "",
    solution_type: str = "",
    solution_notes: str = "",
) -> Case:
    """Apply one lifecycle action (start, wait, resume, resolve, close, reopen, cancel).

    Only transitions in `workflow.TRANSITIONS` succeed; each writes its status event. Resolving
    records the solution and derives resolution time and first-contact resolution from events.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ApplicationError(
            "unknown_action",
            _("Unknown action %(value)r.") % {"value": action},
            details={"allowed": list(TRANSITIONS)},
        )
    require_perm(actor, transition.permission)
    return _transition(
        case,
        actor=actor,
        action=action,
        reason=reason,
        solution_type=solution_type,
        solution_notes=solution_notes,
    )


def case_reopen_for_customer(*, case: Case, reason: str, source: str) -> Case:
    """Reopen a resolved or closed case because the customer says the problem is not solved,
    e.g. in a survey answered through its link: no member of staff acts, the event's actor is
    empty and `source` says where the customer said it."""
    return _transition(case, actor=None, action="reopen", reason=reason, source=source)


def _transition(
    case: Case,
    *,
    actor: User | None,
    action: str,
    reason: str = "",
    solution_type: str = "",
    solution_notes: str = "",
    source: str = "",
) -> Case:
    transition = TRANSITIONS[action]
    reason = reason.strip()
    with transaction.atomic():
        case = _lock(case)
        if case.status not in transition.sources:
            raise ApplicationError(
                "invalid_transition",
                _("“%(action)s” is not possible while the case is %(status)s.")
                % {"action": ACTION_LABELS[action], **_status(case)},
                details={"status": case.status, "action": action},
                status=409,
            )
        if transition.needs_reason and not reason:
            raise ApplicationError(
                "reason_required",
                _("Give a reason for “%(action)s”.") % {"action": ACTION_LABELS[action]},
                details={"reason": "required"},
            )
        if (
            action == "start"
            and actor is not None
            and case.assignee_id != actor.pk
            and not actor.has_perm("cases.reassign_case")
        ):
            raise PermissionDenied(_("Only the assignee starts work on a case."))
        now = clock.now()
        if action == "resolve":
            assert actor is not None
            _record_solution(
                case, actor=actor, now=now, solution_type=solution_type, notes=solution_notes
            )
        _set_status(
            case,
            to=transition.target,
            actor=actor,
            now=now,
            action=action,
            reason=reason,
            source=source,
        )
        if action == "resolve":
            case.resolved_at = now
            case.first_contact_resolution = _first_contact_resolution(case)
        elif action == "close":
            case.closed_at = now
        elif action == "reopen":
            case.reopen_count += 1
            case.resolved_at = None
            case.closed_at = None
            case.first_contact_resolution = False
            if case.assignee_id is None:
                _set_status(
                    case, to=Status.TRIAGED, actor=actor, now=now, action="reopen_unassigned"
                )
        case.save()
        clocks_sync(case=case, actor=actor, now=now, reason=action)
        if action == "resolve":
            signals.case_resolved.send(sender=Case, case=case, actor=actor, at=now)
        elif action == "reopen":
            signals.case_reopened.send(sender=Case, case=case, actor=actor, at=now)
        return case


def _record_solution(
    case: Case, *, actor: User, now: dt.datetime, solution_type: str, notes: str
) -> None:
    if solution_type not in SolutionType.values:
        raise ApplicationError(
            "solution_required",
            _("Choose how the problem was solved."),
            details={"solution_type": "required", "allowed": SolutionType.values},
        )
    if len(notes) > MAX_BODY:
        raise ApplicationError(
            "invalid_solution", _("Notes are too long."), details={"solution_notes": MAX_BODY}
        )
    case.solution_type, case.solution_notes = solution_type, notes.strip()
    case_event_record(
        case,
        kind=CaseEvent.Kind.SOLUTION,
        actor=actor,
        at=now,
        body=case.solution_notes,
        data={"solution_type": solution_type},
    )


def _first_contact_resolution(case: Case) -> bool:
    """Solved at first contact: never reopened, never waited, no contact after the opening one."""
    if case.reopen_count:
        return False
    events = case.events.all()
    if events.filter(kind=CaseEvent.Kind.CONTACT).exists():
        return False
    return not events.filter(
        kind=CaseEvent.Kind.STATUS, to_status__in=[Status.WAITING_CUSTOMER, Status.WAITING_PARTS]
    ).exists()


def case_contact_log(
    *,
    actor: User,
    case: Case,
    direction: str,
    channel: str,
    body: str,
    occurred_at: dt.datetime | None = None,
) -> CaseEvent:
    """Record a contact with the customer (call, e-mail, chat, visit) on the case's timeline.

    The first outbound contact from a person is the case's first response.
    """
    require_perm(actor, "cases.work_case")
    errors: dict[str, str] = {}
    if direction not in CaseEvent.Direction.values:
        errors["direction"] = _("Use 'in' or 'out'.")
    if channel not in Channel.values:
        errors["channel"] = _("Unknown channel %(value)r.") % {"value": channel}
    if not body.strip():
        errors["body"] = _("Say what was said.")
    elif len(body) > MAX_BODY:
        errors["body"] = _("At most %(n)d characters.") % {"n": MAX_BODY}
    now = clock.now()
    if occurred_at is not None:
        if occurred_at.tzinfo is None:
            errors["occurred_at"] = _("Give the time with its time zone.")
        elif occurred_at > now:
            errors["occurred_at"] = _("A contact cannot be in the future.")
        else:
            occurred_at = occurred_at.astimezone(dt.UTC)  # any offset the client sent
    if errors:
        raise ApplicationError(
            "invalid_contact", _("The contact cannot be recorded."), details=errors
        )
    with transaction.atomic():
        case = _lock(case)
        if case.status == Status.CANCELLED:
            raise ApplicationError("case_cancelled", _("The case was cancelled."), status=409)
        if occurred_at is not None and occurred_at < case.created_at:
            raise ApplicationError(
                "invalid_contact",
                _("The contact cannot be recorded."),
                details={"occurred_at": _("A contact cannot be before the case was opened.")},
            )
        at = occurred_at or now
        event = case_event_record(
            case,
            kind=CaseEvent.Kind.CONTACT,
            actor=actor,
            at=at,
            channel=channel,
            direction=direction,
            body=body.strip(),
        )
        if direction == CaseEvent.Direction.OUTBOUND and case.first_response_at is None:
            case.first_response_at = at
        case.updated_at = now
        case.save(update_fields=["first_response_at", "updated_at"])
        if direction == CaseEvent.Direction.OUTBOUND:
            clocks_sync(case=case, actor=actor, now=now, reason="contact")
        return event


def case_note_add(*, actor: User, case: Case, body: str) -> CaseEvent:
    """Add an internal note (not shown to the customer) to the timeline."""
    require_perm(actor, "cases.work_case")
    body = body.strip()
    if not body or len(body) > MAX_BODY:
        raise ApplicationError(
            "invalid_note", _("A note needs 1 to 20,000 characters."), details={"body": "length"}
        )
    with transaction.atomic():
        case = _lock(case)
        now = clock.now()
        case.updated_at = now
        case.save(update_fields=["updated_at"])
        return case_event_record(case, kind=CaseEvent.Kind.NOTE, actor=actor, at=now, body=body)


def case_priorities_refresh(
    *, actor: User | None, customer: Customer, specs: SpecCache | None = None
) -> int:
    """Recompute the priority of a customer's open cases after their tier changed.

    Each change is an event with before and after; returns how many cases changed.
    """
    with transaction.atomic():
        now = clock.now()
        changed = 0
        open_cases = (
            Case.objects.select_for_update()
            .filter(customer=customer, status__in=OPEN_STATUSES)
            .order_by("pk")
        )
        for case in open_cases:
            # The tier moves the SLA policy too: the clocks are recomputed from history.
            case.customer = customer
            clocks_sync(case=case, actor=actor, now=now, reason="tier", specs=specs)
            priority = priority_for(
                urgency=case.urgency, tier=customer.tier, boost=case.priority_boost
            )
            if priority == case.priority:
                continue
            case_event_record(
                case,
                kind=CaseEvent.Kind.PRIORITY,
                actor=actor,
                at=now,
                data={"before": case.priority, "after": priority, "tier": customer.tier},
            )
            case.priority, case.updated_at = priority, now
            case.save(update_fields=["priority", "updated_at"])
            changed += 1
        return changed


def case_preliminary_solution(*, actor: User, case: Case, body: str) -> CaseEvent:
    """Record the preliminary solution given to the customer (初步解决方案).

    It is a reply to the customer too, so it also meets the first-response clock; complaints
    promise one within 24 hours.
    """
    require_perm(actor, "cases.work_case")
    body = body.strip()
    if not body or len(body) > MAX_BODY:
        raise ApplicationError(
            "invalid_proposal",
            _("Describe the preliminary solution (1 to 20,000 characters)."),
            details={"body": "length"},
        )
    with transaction.atomic():
        case = _lock(case)
        if not case.is_open:
            raise ApplicationError(
                "case_not_open",
                _("A case that is %(status)s takes no preliminary solution.") % _status(case),
                status=409,
            )
        now = clock.now()
        event = case_event_record(
            case,
            kind=CaseEvent.Kind.PROPOSAL,
            actor=actor,
            at=now,
            direction=CaseEvent.Direction.OUTBOUND,
            channel=case.customer.preferred_channel,
            body=body,
        )
        if case.first_response_at is None:
            case.first_response_at = now
        case.updated_at = now
        case.save(update_fields=["first_response_at", "updated_at"])
        clocks_sync(case=case, actor=actor, now=now, reason="proposal")
        return event


def case_acknowledge(*, case: Case, channel: str, body: str) -> CaseEvent:
    """Record the system's automatic acknowledgement of a request (自动回复).

    It tells the customer the case number, but it is not a response from a person, so the
    first-response clock keeps running.
    """
    with transaction.atomic():
        case = _lock(case)
        now = clock.now()
        return case_event_record(
            case,
            kind=CaseEvent.Kind.CONTACT,
            actor=None,
            at=now,
            channel=channel,
            direction=CaseEvent.Direction.OUTBOUND,
            body=body,
            data={"automatic": True},
        )


def case_mark_useful_feedback(*, actor: User, case: Case, useful: bool, reason: str = "") -> Case:
    """Mark (or unmark) the customer's report as useful product feedback.

    Useful reports are one of the three dimensions of the customer's value tier.
    """
    require_perm(actor, "cases.work_case")
    with transaction.atomic():
        case = _lock(case)
        if case.useful_feedback == useful:
            return case
        now = clock.now()
        case.useful_feedback, case.updated_at = useful, now
        case.save(update_fields=["useful_feedback", "updated_at"])
        case_event_record(
            case,
            kind=CaseEvent.Kind.FEEDBACK,
            actor=actor,
            at=now,
            body=reason.strip(),
            data={"useful": useful},
        )
        return case


def case_escalate(
    *,
    case: Case,
    now: dt.datetime,
    rule_name: str,
    data: dict[str, Any],
    raise_priority: bool,
    move_to: Team | None,
) -> Team | None:
    """Apply an escalation rule's case actions; the caller (the SLA sweep) holds the case lock.

    Raising priority adds a step that later re-derivations keep; moving to another team (a
    senior queue) takes the case off its assignee, who may not belong there. Returns the team
    moved to, if any.
    """
    before = {"priority": case.priority, "team": case.team_id, "assignee": case.assignee_id}
    if raise_priority and case.priority > 1:
        case.priority_boost += 1
        case.priority = priority_for(
            urgency=case.urgency, tier=case.customer.tier, boost=case.priority_boost
        )
    if move_to is not None:
        case.team, case.assignee = move_to, None
        if case.status in (Status.ASSIGNED, Status.IN_PROGRESS):
            _set_status(case, to=Status.TRIAGED, actor=None, now=now, action="escalate")
    after = {"priority": case.priority, "team": case.team_id, "assignee": case.assignee_id}
    case.updated_at = now
    case.save()
    case_event_record(
        case,
        kind=CaseEvent.Kind.ESCALATED,
        actor=None,
        at=now,
        body=rule_name,
        data={**data, "before": before, "after": after},
    )
    return move_to
