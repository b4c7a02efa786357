"""Satisfaction surveys (满意度调查): asked on the phone, or answered once through a link.

A link carries a signed token of the survey's id and its random nonce (signed with the site's
secret under a salt of its own, so no other signed value of the site passes for one). The token
itself never expires: the survey's stored `expires_at` decides, so an administrator can see and
change it, and the answer, the cancellation and the expiry are all rows in the database. A
token that fails its signature, or whose nonce is not the survey's, is "invalid"; nothing tells
the customer more than the reason.

Any answer may set off a follow-up: a CSAT at or below the threshold reopens the resolved case;
a service-attitude score at or below its threshold raises a complaint linked to the case.
"""

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import Case, CaseEvent, CaseKind, Status
from aftersales.cases.services import (
    case_event_record,
    case_reopen_for_customer,
    case_transition,
)
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record
from aftersales.customers.models import Channel, ContactPoint, Customer
from aftersales.privacy.models import Purpose

from .models import Repurchase, ReturnVisit, Survey
from .selectors import callback_settings

if TYPE_CHECKING:
    from aftersales.complaints.models import Complaint

TOKEN_SALT = "aftersales.callbacks.survey-link"  # nosec B105  # a signing namespace, not a secret
MAX_COMMENT = 2000
SURVEY_EVENT = CaseEvent.Kind.SURVEY
COMPLAINT_SUBJECT = "回访调查：服务态度不满意 / Survey: unhappy with the service attitude"


class SurveyLinkError(ApplicationError):
    """A survey link that cannot be answered; `reason` is "invalid", "expired", "answered" or
    "cancelled" (the public page shows one plain message per reason, never a trace)."""

    CODES = {
        "invalid": ("invalid_link", 400),
        "expired": ("link_expired", 410),
        "answered": ("survey_answered", 409),
        "cancelled": ("survey_cancelled", 409),
    }

    def __init__(self, reason: str) -> None:
        code, status = self.CODES[reason]
        messages = {
            "invalid": _("This survey link is not valid."),
            "expired": _("This survey link has expired."),
            "answered": _("This survey has already been answered. Thank you!"),
            "cancelled": _("This survey is no longer open."),
        }
        super().__init__(code, messages[reason], details={"reason": reason}, status=status)
        self.reason = reason


# --- tokens ---------------------------------------------------------------------------------


def survey_token(survey: Survey) -> str:
    """The link token of a link survey: its id and nonce, signed (the same token every time)."""
    if survey.nonce is None:
        raise ValueError("only link surveys have a token")
    return signing.Signer(salt=TOKEN_SALT).sign_object([survey.pk, survey.nonce])


def _token_read(token: str) -> tuple[int, str]:
    """(survey id, nonce) of a genuine token; SurveyLinkError("invalid") for anything else."""
    try:
        value = signing.Signer(salt=TOKEN_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        raise SurveyLinkError("invalid") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or not isinstance(value[1], str)
    ):
        raise SurveyLinkError("invalid")
    return value[0], value[1]


def survey_link_path(token: str) -> str:
    """The public page of a survey link (no sign-in)."""
    return f"/survey/{token}/"


def _refuse_unless_open(survey: Survey, now: dt.datetime) -> None:
    if survey.status == Survey.Status.ANSWERED:
        raise SurveyLinkError("answered")
    if survey.status == Survey.Status.CANCELLED:
        raise SurveyLinkError("cancelled")
    if survey.expires_at is None or survey.expires_at <= now:
        raise SurveyLinkError("expired")
    from aftersales.privacy.selectors import consent_in_force

    # A customer who withdrew their consent to surveys after the link was made is not asked.
    if not consent_in_force(survey.customer, Purpose.SURVEYS):
        raise SurveyLinkError("cancelled")


def survey_for_token(token: str) -> Survey:
    """The open link survey a token names; SurveyLinkError with reason "invalid" (400),
    "expired" (410), "answered" or "cancelled" (409) otherwise."""
    pk, nonce = _token_read(token)
    survey = (
        Survey.objects.select_related("customer", "case")
        .filter(pk=pk, nonce=nonce, method=Survey.Method.LINK)
        .first()
    )
    if survey is None:
        raise SurveyLinkError("invalid")
    _refuse_unless_open(survey, clock.now())
    return survey


# --- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyAnswers:
    """The answers: CSAT 1–5 (required), NPS 0–10, repurchase intention (yes/maybe/no),
    whether the communication was effective, service attitude 1–5, and a free comment."""

    csat: int
    nps: int | None = None
    repurchase: str = ""
    communication_effective: bool | None = None
    attitude: int | None = None
    comment: str = ""


def _is_score(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _validate(answers: SurveyAnswers) -> None:
    """400 `invalid_answer` with one reason per field that is out of range."""
    errors: dict[str, str] = {}
    if not _is_score(answers.csat, 1, 5):
        errors["csat"] = _("Give a satisfaction score from 1 to 5.")
    if answers.nps is not None and not _is_score(answers.nps, 0, 10):
        errors["nps"] = _("Give a score from 0 to 10.")
    if answers.repurchase and answers.repurchase not in Repurchase.values:
        errors["repurchase"] = _("Answer yes, maybe or no.")
    if answers.communication_effective is not None and not isinstance(
        answers.communication_effective, bool
    ):
        errors["communication_effective"] = _("Answer yes or no.")
    if answers.attitude is not None and not _is_score(answers.attitude, 1, 5):
        errors["attitude"] = _("Give a score from 1 to 5.")
    if not isinstance(answers.comment, str) or len(answers.comment) > MAX_COMMENT:
        errors["comment"] = _("At most %(n)d characters.") % {"n": MAX_COMMENT}
    if errors:
        raise ApplicationError("invalid_answer", _("Some answers are not valid."), details=errors)


def _fill(survey: Survey, answers: SurveyAnswers, *, now: dt.datetime) -> None:
    survey.csat = answers.csat
    survey.nps = answers.nps
    survey.repurchase = answers.repurchase
    survey.communication_effective = answers.communication_effective
    survey.attitude = answers.attitude
    survey.comment = answers.comment.strip()
    survey.status = Survey.Status.ANSWERED
    survey.answered_at = now


def _complaint_of(case: Case) -> "Complaint | None":
    if case.kind != CaseKind.COMPLAINT:
        return None
    from aftersales.complaints.models import Complaint

    return Complaint.objects.filter(case=case).first()


def _service_case_of(case: Case | None) -> Case | None:
    """The service case a new complaint is linked to: the case itself, or for a complaint's own
    case the service case that complaint was raised from (a complaint links to service cases)."""
    if case is None:
        return None
    complaint = _complaint_of(case)
    if complaint is None:
        return case if case.kind != CaseKind.COMPLAINT else None
    return complaint.related_case


def case_reopen_after_visit(case: Case, *, actor: User | None, reason: str, source: str) -> None:
    """Reopen a resolved or closed case because the customer says the problem is not solved:
    by `actor`, or for the customer (`actor=None`). A complaint's case is reopened through its
    complaint, so the two lifecycles stay together (by the actor if they handle complaints,
    else for the customer, whose answer it is)."""
    complaint = _complaint_of(case)
    if complaint is not None and complaint.status in ("answered", "closed"):
        from aftersales.complaints.services import complaint_reopen

        handler = (
            actor if actor is not None and actor.has_perm("complaints.handle_complaint") else None
        )
        complaint_reopen(actor=handler, complaint=complaint, reason=reason)
    elif actor is None:
        case_reopen_for_customer(case=case, reason=reason, source=source)
    else:
        case_transition(actor=actor, case=case, action="reopen", reason=reason)


def _follow_up(
    survey: Survey, *, actor: User | None, channel: str, visit: ReturnVisit | None = None
) -> dict[str, Any]:
    """What an unsatisfied answer sets off, as stored in `Survey.follow_up`.

    CSAT at or below `unsatisfied_csat` reopens the case if it is resolved or closed (by the
    agent who recorded the answer, or for the customer when they answered by link); the due
    visit on whose call the answer was given ends as not solved first (a reopening cancels the
    case's due visits, and this one did take place). Attitude at or below
    `unsatisfied_attitude` raises a complaint about the service attitude, linked to the
    (service) case, raised for the customer (it is theirs) and routed with its own clocks.
    """
    limits = callback_settings()
    actions: list[str] = []
    result: dict[str, Any] = {}
    case = survey.case
    if case is not None and survey.csat is not None and survey.csat <= limits.unsatisfied_csat:
        status = Case.objects.values_list("status", flat=True).get(pk=case.pk)
        if status in (Status.RESOLVED, Status.CLOSED):
            reason = _("Satisfaction survey: the customer is not satisfied (CSAT %(csat)d).") % {
                "csat": survey.csat
            }
            if visit is not None and visit.status == ReturnVisit.Status.DUE:
                from .services import visit_finish  # that module re-exports this one

                visit_finish(
                    visit, outcome=ReturnVisit.Outcome.NOT_SOLVED, actor=actor, at=clock.now()
                )
            case_reopen_after_visit(case, actor=actor, reason=reason, source="survey")
            actions.append("reopened")
            result["case"] = case.number
    if survey.attitude is not None and survey.attitude <= limits.unsatisfied_attitude:
        from aftersales.complaints.services import complaint_raise

        complaint = complaint_raise(
            actor=None,
            customer=survey.customer,
            channel=channel,
            subject=COMPLAINT_SUBJECT,
            nature="service_attitude",
            description=survey.comment,
            related_case=_service_case_of(case),
            idempotency_key=f"survey-{survey.pk}",
        )
        actions.append("complaint")
        result["complaint_case"] = complaint.case.number
    if not actions:
        return {}
    return {"action": actions[0], "actions": actions, **result}


def survey_event_record(
    survey: Survey, *, change: str, actor: User | None, at: dt.datetime, **data: Any
) -> None:
    """The survey's event: on its case's timeline (which mirrors it to the audit log), or
    straight in the audit log for a care call, which has no case."""
    payload = {
        "change": change,
        "survey": survey.pk,
        "method": survey.method,
        "csat": survey.csat,
        "nps": survey.nps,
        "follow_up": survey.follow_up or {},
        **data,
    }
    if survey.case_id is not None and survey.case is not None:
        case_event_record(survey.case, kind=SURVEY_EVENT, actor=actor, at=at, data=payload)
    else:
        audit_record(
            actor=actor,
            action=f"survey.{change}",
            entity="survey",
            entity_id=survey.pk,
            customer_id=survey.customer_id,
            data=payload,
        )


def consent_for_visit(
    *, actor: User, visit: ReturnVisit, purpose: str, consent_given: bool
) -> None:
    """Surveys and marketing are opt-in (privacy): go ahead when the customer's consent for
    `purpose` is in force; when the agent has just asked on the call and the customer agreed
    (`consent_given`), record that consent first; otherwise 409 `no_consent`."""
    from aftersales.privacy.selectors import consent_in_force
    from aftersales.privacy.services import consent_record_on_call

    if consent_in_force(visit.customer, purpose):
        return
    if not consent_given:
        raise Conflict(
            "no_consent",
            _(
                "The customer has not agreed to this (%(purpose)s). Ask on the call and record "
                "their agreement first."
            )
            % {"purpose": purpose},
            details={"purpose": purpose},
        )
    consent_record_on_call(
        actor=actor,
        customer=visit.customer,
        purpose=purpose,
        note=_("Agreed on return visit %(visit)d.") % {"visit": visit.pk},
    )


def _lock_case(case_id: int | None) -> None:
    """Lock the case first, as its lifecycle does, so a follow-up that reopens it cannot
    deadlock with a change of the case that cancels its visits."""
    if case_id is not None:
        Case.objects.select_for_update(of=("self",)).filter(pk=case_id).first()


def survey_record_phone(
    *, actor: User, visit: ReturnVisit, answers: SurveyAnswers, consent_given: bool = False
) -> Survey:
    """Record the answers the customer gave on the call of a due visit; an open link of the
    visit is cancelled. 400 `invalid_answer` (details per field) and nothing saved when an
    answer is out of range; 409 `visit_not_due`, 409 `survey_answered` if the visit's survey
    was already answered; 409 `no_consent` unless the customer agreed to surveys (before, or
    on this call: `consent_given`)."""
    require_perm(actor, "callbacks.work_return_visit")
    _validate(answers)
    with transaction.atomic():
        _lock_case(visit.case_id)
        visit = (
            ReturnVisit.objects.select_for_update(of=("self",))
            .select_related("customer", "case")
            .get(pk=visit.pk)
        )
        if visit.status != ReturnVisit.Status.DUE:
            raise Conflict(
                "visit_not_due",
                _("This return visit is not due any more."),
                details={"status": visit.status},
            )
        if visit.surveys.filter(status=Survey.Status.ANSWERED).exists():
            raise Conflict("survey_answered", _("The survey of this visit was already answered."))
        consent_for_visit(
            actor=actor, visit=visit, purpose=Purpose.SURVEYS, consent_given=consent_given
        )
        now = clock.now()
        # The open link is superseded by the answer on the call; the answer's event names it.
        open_links = visit.surveys.filter(status=Survey.Status.OPEN)
        cancelled = list(open_links.order_by("pk").values_list("pk", flat=True))
        open_links.update(status=Survey.Status.CANCELLED)
        survey = Survey(
            customer=visit.customer,
            case=visit.case,
            visit=visit,
            method=Survey.Method.PHONE,
            created_at=now,
            recorded_by=actor,
        )
        _fill(survey, answers, now=now)
        survey.save()
        survey.follow_up = _follow_up(survey, actor=actor, channel=Channel.PHONE, visit=visit)
        survey.save(update_fields=["follow_up"])
        survey_event_record(
            survey, change="answered", actor=actor, at=now, cancelled_links=cancelled
        )
        return survey


def _email_contact(customer: Customer) -> ContactPoint | None:
    return (
        customer.contacts.filter(kind=ContactPoint.Kind.EMAIL).order_by("-is_primary", "id").first()
    )


def survey_send_link(
    *, actor: User, visit: ReturnVisit, base_url: str = "", consent_given: bool = False
) -> tuple[Survey, str]:
    """Create the visit's one-time survey link (or give the open one again) and return it with
    its token; the link is `/survey/<token>/`, valid `survey_link_days`. A customer whose
    channel is e-mail and who has an e-mail address gets it by e-mail after the commit
    (`base_url` is the site's address for that mail). 409 `visit_cancelled`, 409
    `survey_answered`, 409 `no_consent` as for a phone survey."""
    require_perm(actor, "callbacks.work_return_visit")
    with transaction.atomic():
        visit = (
            ReturnVisit.objects.select_for_update(of=("self",))
            .select_related("customer", "case")
            .get(pk=visit.pk)
        )
        if visit.status == ReturnVisit.Status.CANCELLED:
            raise Conflict("visit_cancelled", _("This return visit was cancelled."))
        if visit.surveys.filter(status=Survey.Status.ANSWERED).exists():
            raise Conflict("survey_answered", _("The survey of this visit was already answered."))
        consent_for_visit(
            actor=actor, visit=visit, purpose=Purpose.SURVEYS, consent_given=consent_given
        )
        now = clock.now()
        survey = (
            visit.surveys.filter(
                method=Survey.Method.LINK, status=Survey.Status.OPEN, expires_at__gt=now
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if survey is None:
            survey = Survey.objects.create(
                customer=visit.customer,
                case=visit.case,
                visit=visit,
                method=Survey.Method.LINK,
                nonce=secrets.token_hex(16),
                created_at=now,
                expires_at=now + dt.timedelta(days=callback_settings().survey_link_days),
                recorded_by=actor,
            )
        emailed = (
            visit.customer.preferred_channel == Channel.EMAIL
            and _email_contact(visit.customer) is not None
        )
        survey_event_record(
            survey,
            change="link_sent",
            actor=actor,
            at=now,
            expires_at=survey.expires_at.isoformat() if survey.expires_at else None,
            emailed=emailed,
        )
        if emailed:
            survey_id, url = survey.pk, base_url or _public_base_url()
            transaction.on_commit(lambda: _email_queue(survey_id, url), robust=True)
        return survey, survey_token(survey)


def _public_base_url() -> str:
    origins: list[str] = list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
    return origins[0] if origins else "http://localhost:8000"


def _email_queue(survey_id: int, base_url: str) -> None:
    from .tasks import survey_link_email  # the task module imports this one

    survey_link_email.delay(survey_id, base_url)


def survey_link_email_send(*, survey_id: int, base_url: str) -> int:
    """E-mail an open link survey to the customer's e-mail address, in their language; returns
    the number of mails sent (0 when the survey is no longer open or there is no address)."""
    survey = Survey.objects.select_related("customer").filter(pk=survey_id).first()
    if survey is None or survey.method != Survey.Method.LINK:
        return 0
    try:
        _refuse_unless_open(survey, clock.now())
    except SurveyLinkError:
        return 0
    from aftersales.privacy.selectors import consent_in_force

    # Consents can be withdrawn between the click and the send: read them again.
    if not all(
        consent_in_force(survey.customer, p) for p in (Purpose.SURVEYS, Purpose.CONTACT_EMAIL)
    ):
        return 0
    contact = _email_contact(survey.customer)
    if contact is None:
        return 0
    link = base_url.rstrip("/") + survey_link_path(survey_token(survey))
    language = survey.customer.preferred_language or settings.LANGUAGE_CODE
    assert survey.expires_at is not None  # an open link survey has its expiry
    with translation.override(language):
        subject = _("How did we do? A short survey about your service request")
        body = _(
            "Thank you for contacting our after-sales service.\n\n"
            "Please tell us how we did; the survey takes a minute:\n%(link)s\n\n"
            "The link can be used once and is valid until %(until)s."
        ) % {
            "link": link,
            "until": timezone.localtime(survey.expires_at).strftime("%Y-%m-%d %H:%M"),
        }
    return send_mail(subject, body, None, [contact.value])


def survey_answer_by_link(*, token: str, answers: SurveyAnswers) -> Survey:
    """The customer answers through their link (no sign-in): answered once. The row is locked,
    so of two answers sent together one is saved and the other refused as answered (409).
    Refusals change nothing: SurveyLinkError for the link, 400 `invalid_answer` (details per
    field) for an out-of-range score. The follow-up acts for the customer (no actor)."""
    survey = survey_for_token(token)
    _validate(answers)
    with transaction.atomic():
        _lock_case(survey.case_id)
        survey = (
            Survey.objects.select_for_update(of=("self",))
            .select_related("customer", "case")
            .get(pk=survey.pk)
        )
        now = clock.now()
        _refuse_unless_open(survey, now)
        _fill(survey, answers, now=now)
        survey.save()
        survey.follow_up = _follow_up(survey, actor=None, channel=Channel.PORTAL)
        survey.save(update_fields=["follow_up"])
        survey_event_record(survey, change="answered", actor=None, at=now)
        return survey
