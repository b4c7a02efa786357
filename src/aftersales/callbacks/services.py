"""Every write of return visits (回访): scheduling after a resolution and cancelling on a
reopening, VIP care calls, call attempts with their retry rules, the end of a visit (solved:
the case closes; not solved: it reopens), recommendations and their outcomes.

The surveys' writes live in `callbacks.surveys` (tokens, answers, follow-ups) and are
re-exported here, so every write of the app can be reached from this module.
"""

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from aftersales.accounts.models import Team, User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import Case, CaseEvent, CaseKind, Status
from aftersales.cases.services import case_event_record, case_transition
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record
from aftersales.customers.models import Customer, Tier
from aftersales.privacy.models import ErasureRecord, Purpose

from .models import CallbackRule, Offer, Recommendation, ReturnVisit, Survey, VisitAttempt
from .selectors import callback_settings
from .surveys import (
    SurveyAnswers,
    SurveyLinkError,
    case_reopen_after_visit,
    consent_for_visit,
    survey_answer_by_link,
    survey_for_token,
    survey_record_phone,
    survey_send_link,
)

__all__ = [
    "SurveyAnswers",
    "SurveyLinkError",
    "care_calls_schedule",
    "recommendation_decide",
    "recommendation_record",
    "survey_answer_by_link",
    "survey_for_token",
    "survey_record_phone",
    "survey_send_link",
    "visit_attempt_record",
    "visit_complete",
    "visit_finish",
    "visit_schedule_for_case",
    "visits_cancel_for_case",
]

VISIT_EVENT = CaseEvent.Kind.RETURN_VISIT
MAX_NOTE = 2000
MAX_VALUE = Decimal("99999999.99")


def _visit_event(
    visit: ReturnVisit,
    *,
    change: str,
    actor: User | None,
    at: dt.datetime,
    body: str = "",
    **data: Any,
) -> None:
    """The visit's event: on its case's timeline (mirrored to the audit log there), or straight
    in the audit log for a care call, which has no case."""
    payload = {"change": change, "visit": visit.pk, **data}
    if visit.case_id is not None and visit.case is not None:
        case_event_record(visit.case, kind=VISIT_EVENT, actor=actor, at=at, body=body, data=payload)
    else:
        audit_record(
            actor=actor,
            action=f"return_visit.{change}",
            entity="return_visit",
            entity_id=visit.pk,
            customer_id=visit.customer_id,
            data=payload,
        )


def _lock(visit: ReturnVisit) -> ReturnVisit:
    return (
        ReturnVisit.objects.select_for_update(of=("self",))
        .select_related("customer", "case")
        .get(pk=visit.pk)
    )


def _lock_case(case_id: int | None) -> None:
    """Lock the visit's case before the visit, in the order the case lifecycle takes them (the
    case, then its visits), so the two can never wait for each other."""
    if case_id is not None:
        Case.objects.select_for_update(of=("self",)).filter(pk=case_id).first()


def _callback_team() -> Team | None:
    return Team.objects.filter(kind=Team.Kind.CALLBACK, is_active=True).order_by("id").first()


def _sampled(number: str, percent: int) -> bool:
    """A stable choice of `percent` % of cases by their number: a re-run decides the same."""
    return int(hashlib.sha256(number.encode()).hexdigest(), 16) % 100 < percent


def _rule_for(case: Case) -> CallbackRule | None:
    tier = case.customer.tier
    for rule in CallbackRule.objects.filter(is_active=True).order_by("rank", "id"):
        if (not rule.case_kind or rule.case_kind == case.kind) and (
            not rule.tier or rule.tier == tier
        ):
            return rule
    return None


def visit_schedule_for_case(*, case: Case, at: dt.datetime) -> ReturnVisit | None:
    """Schedule the return visit of a case just resolved at `at`, if the rules want one.

    The first active rule matching the case's kind and the customer's tier decides (by rank);
    its sample takes the case when `sha256(number) % 100 < sample_percent`. The visit is due
    `delay_hours` after the resolution, for the first active callback team. A customer who does
    not consent to be contacted gets none. Idempotent: a due visit of the case is returned.
    Called by the `case_resolved` receiver inside the resolution's transaction.
    """
    with transaction.atomic():
        existing = ReturnVisit.objects.filter(case=case, status=ReturnVisit.Status.DUE).first()
        if existing is not None:
            return existing
        if not case.customer.consent_contact:
            return None
        rule = _rule_for(case)
        if rule is None or not _sampled(case.number, rule.sample_percent):
            return None
        due_at = at + dt.timedelta(hours=rule.delay_hours)
        visit = ReturnVisit.objects.create(
            kind=ReturnVisit.Kind.FOLLOW_UP,
            reason=rule.reason,
            customer_id=case.customer_id,
            case=case,
            rule=rule,
            team=_callback_team(),
            due_at=due_at,
            next_attempt_at=due_at,
            created_at=at,
        )
        _visit_event(
            visit,
            change="scheduled",
            actor=None,
            at=at,
            due_at=due_at.isoformat(),
            reason=rule.reason,
        )
        return visit


def visits_cancel_for_case(*, case: Case, actor: User | None, at: dt.datetime) -> int:
    """Cancel the due visits of a case that was reopened (with their open survey links): the
    problem is being worked on again. Returns how many were cancelled."""
    with transaction.atomic():
        visits = list(
            ReturnVisit.objects.select_for_update(of=("self",))
            .filter(case=case, status=ReturnVisit.Status.DUE)
            .order_by("pk")
        )
        for visit in visits:
            visit.case = case
            visit.status = ReturnVisit.Status.CANCELLED
            visit.save(update_fields=["status"])
            open_links = Survey.objects.filter(visit=visit, status=Survey.Status.OPEN)
            cancelled = list(open_links.order_by("pk").values_list("pk", flat=True))
            open_links.update(status=Survey.Status.CANCELLED)
            _visit_event(visit, change="cancelled", actor=actor, at=at, cancelled_links=cancelled)
        return len(visits)


def care_calls_schedule(*, at: dt.datetime | None = None) -> int:
    """Schedule a care call (关怀回访) for every VIP customer who had none in the last
    `care_interval_days` and has none due; customers who do not consent to be contacted,
    merged or erased ones are left out. Safe to run twice. Returns how many were created."""
    at = at or clock.now()
    since = at - dt.timedelta(days=callback_settings().care_interval_days)
    recent = ReturnVisit.objects.filter(kind=ReturnVisit.Kind.CARE).filter(
        Q(created_at__gt=since) | Q(status=ReturnVisit.Status.DUE)
    )
    customers = (
        Customer.objects.filter(tier=Tier.VIP, merged_into__isnull=True, consent_contact=True)
        .exclude(pk__in=recent.values("customer_id"))
        .exclude(pk__in=ErasureRecord.objects.values("customer_id"))
        .order_by("pk")
    )
    team = _callback_team()
    created = 0
    for customer_id in customers.values_list("pk", flat=True).iterator():
        try:
            with transaction.atomic():
                visit = ReturnVisit.objects.create(
                    kind=ReturnVisit.Kind.CARE,
                    reason="care",
                    customer_id=customer_id,
                    team=team,
                    due_at=at,
                    next_attempt_at=at,
                    created_at=at,
                )
                _visit_event(
                    visit,
                    change="scheduled",
                    actor=None,
                    at=at,
                    due_at=at.isoformat(),
                    reason="care",
                )
        except IntegrityError:
            continue  # a concurrent run scheduled this customer's care call first
        created += 1
    return created


def visit_finish(
    visit: ReturnVisit,
    *,
    outcome: str,
    actor: User | None,
    at: dt.datetime,
    status: str = ReturnVisit.Status.COMPLETED,
    reason: str = "",
) -> None:
    """End a locked due visit (completed with an outcome, or unreachable) and write its event;
    the callers hold the lock and have checked the rules."""
    visit.status, visit.outcome = status, outcome
    visit.completed_at, visit.completed_by = at, actor
    visit.save(update_fields=["status", "outcome", "completed_at", "completed_by"])
    _visit_event(
        visit,
        change="completed" if status == ReturnVisit.Status.COMPLETED else status,
        actor=actor,
        at=at,
        body=reason,
        outcome=outcome,
        attempts=visit.attempts,
    )


def _not_due(visit: ReturnVisit) -> Conflict:
    return Conflict(
        "visit_not_due",
        _("This return visit is not due any more."),
        details={"status": visit.status},
    )


def visit_attempt_record(
    *,
    actor: User,
    visit: ReturnVisit,
    result: str,
    note: str = "",
    callback_at: dt.datetime | None = None,
) -> VisitAttempt:
    """Record one call attempt of a due visit (回访尝试).

    no_answer tries again `retry_after_hours` later (from the planned time, or now if that has
    passed) and makes the visit unreachable at the `max_attempts`-th unanswered call;
    wrong_number makes it unreachable at once; call_back_later moves the next attempt to the
    customer's (future) `callback_at`; reached keeps it due for the survey and the outcome.
    400 `invalid_attempt` (details per field), 409 `visit_not_due`.
    """
    require_perm(actor, "callbacks.work_return_visit")
    R = VisitAttempt.Result
    now = clock.now()
    errors: dict[str, str] = {}
    if result not in R.values:
        errors["result"] = _("Unknown result %(value)r.") % {"value": result}
    if result == R.CALL_BACK_LATER:
        if callback_at is None:
            errors["callback_at"] = _("Say when to call back.")
        elif callback_at.tzinfo is None:
            errors["callback_at"] = _("Give the time with its time zone.")
        elif callback_at <= now:
            errors["callback_at"] = _("The time to call back must be in the future.")
    if len(note) > MAX_NOTE:
        errors["note"] = _("At most %(n)d characters.") % {"n": MAX_NOTE}
    if errors:
        raise ApplicationError(
            "invalid_attempt", _("The attempt cannot be recorded."), details=errors
        )
    with transaction.atomic():
        visit = _lock(visit)
        if visit.status != ReturnVisit.Status.DUE:
            raise _not_due(visit)
        attempt = VisitAttempt.objects.create(
            visit=visit,
            result=result,
            at=now,
            by=actor,
            callback_at=callback_at if result == R.CALL_BACK_LATER else None,
            note=note.strip(),
        )
        visit.attempts += 1
        if visit.assignee_id is None:
            visit.assignee = actor
        limits = callback_settings()
        unreachable = result == R.WRONG_NUMBER
        if result == R.NO_ANSWER:
            unanswered = visit.attempt_log.filter(result=R.NO_ANSWER).count()
            if unanswered >= limits.max_attempts:
                unreachable = True
            else:
                visit.next_attempt_at = max(visit.next_attempt_at, now) + dt.timedelta(
                    hours=limits.retry_after_hours
                )
        elif result == R.CALL_BACK_LATER and callback_at is not None:
            visit.next_attempt_at = callback_at
        visit.save(update_fields=["attempts", "assignee", "next_attempt_at"])
        _visit_event(
            visit,
            change="attempt",
            actor=actor,
            at=now,
            result=result,
            attempts=visit.attempts,
            next_attempt_at=visit.next_attempt_at.isoformat(),
        )
        if unreachable:
            visit_finish(
                visit, outcome="", actor=actor, at=now, status=ReturnVisit.Status.UNREACHABLE
            )
        return attempt


def visit_complete(
    *, actor: User, visit: ReturnVisit, solved: bool, reason: str = ""
) -> ReturnVisit:
    """End a due visit on which the customer was reached (409 `not_reached` otherwise).

    Follow-up visit, solved: the case is closed if it is resolved. Not solved: a reason is
    required (400 `reason_required`) and the case is reopened with it (回访未解决 → 重开).
    A care call ends as done. 409 `visit_not_due`.
    """
    require_perm(actor, "callbacks.work_return_visit")
    reason = reason.strip()
    if len(reason) > MAX_NOTE:
        raise ApplicationError(
            "invalid_reason",
            _("At most %(n)d characters.") % {"n": MAX_NOTE},
            details={"reason": "length"},
        )
    with transaction.atomic():
        _lock_case(visit.case_id)
        visit = _lock(visit)
        if visit.status != ReturnVisit.Status.DUE:
            raise _not_due(visit)
        if not visit.attempt_log.filter(result=VisitAttempt.Result.REACHED).exists():
            raise Conflict(
                "not_reached", _("Record the call on which the customer was reached first.")
            )
        now = clock.now()
        case = visit.case
        if visit.kind == ReturnVisit.Kind.CARE or case is None:
            visit_finish(visit, outcome=ReturnVisit.Outcome.CARE_DONE, actor=actor, at=now)
        elif solved:
            visit_finish(visit, outcome=ReturnVisit.Outcome.SOLVED, actor=actor, at=now)
            # A complaint's case is closed by the complaint desk, with its root cause.
            if case.status == Status.RESOLVED and case.kind != CaseKind.COMPLAINT:
                case_transition(actor=actor, case=case, action="close")
        else:
            if not reason:
                raise ApplicationError(
                    "reason_required",
                    _("Say why the problem is not solved."),
                    details={"reason": "required"},
                )
            visit_finish(
                visit, outcome=ReturnVisit.Outcome.NOT_SOLVED, actor=actor, at=now, reason=reason
            )
            if case.status in (Status.RESOLVED, Status.CLOSED):
                case_reopen_after_visit(case, actor=actor, reason=reason, source="return_visit")
        return visit


# --- recommendations (个性化推荐) ----------------------------------------------------------------


def _money(value: Any) -> Decimal | None:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        return None
    return amount.quantize(Decimal("0.01"))


def recommendation_record(
    *,
    actor: User,
    visit: ReturnVisit,
    kind: str,
    offer: Offer | None = None,
    unit: Unit | None = None,
    outcome: str = Recommendation.Outcome.OFFERED,
    value: Decimal = Decimal("0"),
    consent_given: bool = False,
) -> Recommendation:
    """Record a recommendation made on a visit with the customer's first answer, so the
    conversion can be measured. An extended warranty names one of the customer's units;
    accessories and tips name an active offer of their kind. A zero value takes the offer's
    price. 400 `invalid_recommendation`, 409 `visit_not_open`, 409 `already_recommended`;
    offers are marketing, opt-in: 409 `no_consent` unless the customer agreed (before, or on
    this call: `consent_given`)."""
    require_perm(actor, "callbacks.work_return_visit")
    errors: dict[str, str] = {}
    if kind not in Offer.Kind.values:
        errors["kind"] = _("Unknown kind %(value)r.") % {"value": kind}
    if outcome not in Recommendation.Outcome.values:
        errors["outcome"] = _("Unknown outcome %(value)r.") % {"value": outcome}
    amount = _money(value)
    if amount is None:
        errors["value"] = _("Give an amount of at least 0.")
    if offer is not None and (offer.kind != kind or not offer.is_active):
        errors["offer"] = _("This offer is not an active offer of that kind.")
    if kind == Offer.Kind.EXTENDED_WARRANTY:
        if unit is None:
            errors["unit"] = _("Choose the unit whose warranty is extended.")
    elif kind in Offer.Kind.values and offer is None:
        errors["offer"] = _("Choose the offer.")
    if unit is not None and unit.customer_id != visit.customer_id:
        errors["unit"] = _("The unit is not the customer's.")
    if errors:
        raise ApplicationError(
            "invalid_recommendation", _("The recommendation cannot be recorded."), details=errors
        )
    assert amount is not None
    with transaction.atomic():
        visit = _lock(visit)
        if visit.status not in (ReturnVisit.Status.DUE, ReturnVisit.Status.COMPLETED):
            raise Conflict(
                "visit_not_open",
                _("Nothing can be recorded on a visit that was cancelled or never reached."),
                details={"status": visit.status},
            )
        if Recommendation.objects.filter(visit=visit, kind=kind, offer=offer, unit=unit).exists():
            raise Conflict("already_recommended", _("This was already recommended on this visit."))
        consent_for_visit(
            actor=actor, visit=visit, purpose=Purpose.MARKETING, consent_given=consent_given
        )
        if amount == 0 and offer is not None and offer.price is not None:
            amount = offer.price
        now = clock.now()
        reco = Recommendation.objects.create(
            visit=visit,
            customer_id=visit.customer_id,
            kind=kind,
            offer=offer,
            unit=unit,
            outcome=outcome,
            value=amount,
            offered_by=actor,
            offered_at=now,
            decided_at=None if outcome == Recommendation.Outcome.OFFERED else now,
        )
        _visit_event(
            visit,
            change="recommendation",
            actor=actor,
            at=now,
            recommendation=reco.pk,
            kind=kind,
            offer=offer.code if offer else None,
            unit=unit.pk if unit else None,
            outcome=outcome,
            value=str(amount),
        )
        return reco


def recommendation_decide(
    *, actor: User, recommendation: Recommendation, outcome: str
) -> Recommendation:
    """Record the customer's answer to a recommendation (interested, accepted, declined);
    an accepted or declined one is final (409 `already_decided`)."""
    require_perm(actor, "callbacks.work_return_visit")
    final = (Recommendation.Outcome.ACCEPTED, Recommendation.Outcome.DECLINED)
    if outcome not in (Recommendation.Outcome.INTERESTED, *final):
        raise ApplicationError(
            "invalid_recommendation",
            _("Unknown outcome %(value)r.") % {"value": outcome},
            details={"outcome": outcome},
        )
    with transaction.atomic():
        reco = (
            Recommendation.objects.select_for_update(of=("self",))
            .select_related("visit__case", "offer")
            .get(pk=recommendation.pk)
        )
        if reco.outcome in final:
            raise Conflict(
                "already_decided",
                _("The customer's answer was already recorded."),
                details={"outcome": reco.outcome},
            )
        now = clock.now()
        before = reco.outcome
        reco.outcome, reco.decided_at = outcome, now
        reco.save(update_fields=["outcome", "decided_at"])
        _visit_event(
            reco.visit,
            change="recommendation_decided",
            actor=actor,
            at=now,
            recommendation=reco.pk,
            kind=reco.kind,
            before=before,
            outcome=outcome,
        )
        return reco
