"""aftersales.callbacks.surveys: signed one-time links, answers, refusals and follow-ups."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail, signing
from django.core.exceptions import PermissionDenied

from aftersales.accounts.models import User
from aftersales.callbacks.models import ReturnVisit, Survey
from aftersales.callbacks.services import visit_attempt_record
from aftersales.callbacks.surveys import (
    TOKEN_SALT,
    SurveyAnswers,
    SurveyLinkError,
    survey_answer_by_link,
    survey_for_token,
    survey_link_email_send,
    survey_record_phone,
    survey_send_link,
    survey_token,
)
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_transition
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.customers.models import ContactPoint
from aftersales.privacy.models import Consent
from aftersales.privacy.selectors import consent_in_force
from tests import factories

from .conftest import agree

pytestmark = pytest.mark.django_db

HAPPY = SurveyAnswers(
    csat=5,
    nps=9,
    repurchase="yes",
    communication_effective=True,
    attitude=5,
    comment="师傅很专业",
)


def _link(actor: User, visit: ReturnVisit) -> tuple[Survey, str]:
    return survey_send_link(actor=actor, visit=visit)


def _survey_events(case: Case | None) -> list[dict[str, Any]]:
    assert case is not None
    return [e.data for e in case.events.filter(kind="survey").order_by("occurred_at", "id")]


def _refused(token: str, answers: SurveyAnswers = HAPPY) -> SurveyLinkError:
    with pytest.raises(SurveyLinkError) as exc:
        survey_answer_by_link(token=token, answers=answers)
    return exc.value


class TestLink:
    def test_a_link_is_answered_once(self, callback_agent: User, agreed_visit: ReturnVisit) -> None:
        with clock.frozen_at(clock.now()):
            survey, token = _link(callback_agent, agreed_visit)
            assert survey.expires_at == clock.now() + dt.timedelta(days=7)
        assert (survey.method, survey.status, survey.customer) == (
            "link",
            "open",
            agreed_visit.customer,
        )
        assert survey_for_token(token) == survey
        answered = survey_answer_by_link(token=token, answers=HAPPY)
        assert (answered.status, answered.csat, answered.nps, answered.comment) == (
            "answered",
            5,
            9,
            "师傅很专业",
        )
        assert answered.recorded_by == callback_agent
        assert answered.follow_up == {}
        error = _refused(token)
        assert (error.reason, error.code, error.status_code) == ("answered", "survey_answered", 409)
        with pytest.raises(SurveyLinkError):
            survey_for_token(token)
        events = _survey_events(agreed_visit.case)
        assert [e["change"] for e in events] == ["link_sent", "answered"]
        assert events[1] == {
            "change": "answered",
            "survey": survey.pk,
            "method": "link",
            "csat": 5,
            "nps": 9,
            "follow_up": {},
        }
        answer_event = CaseEvent.objects.get(kind="survey", data__change="answered")
        assert answer_event.actor is None
        Survey.objects.get(pk=survey.pk, csat=5)  # the first answer stands

    def test_sending_again_gives_the_same_open_link(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        first, token = _link(callback_agent, agreed_visit)
        again, token_again = _link(callback_agent, agreed_visit)
        assert (again, token_again) == (first, token)
        assert Survey.objects.count() == 1

    def test_a_tampered_token_is_invalid(
        self, callback_agent: User, agreed_visit: ReturnVisit, customer: Any
    ) -> None:
        survey, token = _link(callback_agent, agreed_visit)
        changed = token[:-1] + ("A" if token[-1] != "A" else "B")
        first = token[0] + ("x" if token[1] != "x" else "y") + token[2:]
        for bad in (changed, first, token + "x", "", "not-a-token", "a:b:c"):
            error = _refused(bad)
            assert (error.reason, error.code, error.status_code) == ("invalid", "invalid_link", 400)
        # Another survey's nonce under this survey's id (even with a genuine signature).
        other = Survey.objects.create(
            customer=customer,
            method="link",
            nonce="0" * 32,
            created_at=clock.now(),
            expires_at=clock.now() + dt.timedelta(days=7),
        )
        swapped = signing.Signer(salt=TOKEN_SALT).sign_object([survey.pk, other.nonce])
        assert _refused(swapped).reason == "invalid"
        # A value signed for another purpose of the site (another salt) is no token.
        assert _refused(signing.Signer().sign_object([survey.pk, survey.nonce])).reason == (
            "invalid"
        )
        survey.refresh_from_db()
        assert survey.status == "open" and survey.csat is None

    def test_an_expired_link_is_refused(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        survey, token = _link(callback_agent, agreed_visit)
        assert survey.expires_at is not None
        with clock.frozen_at(survey.expires_at - dt.timedelta(seconds=1)):
            assert survey_for_token(token) == survey
        with clock.frozen_at(survey.expires_at + dt.timedelta(seconds=1)):
            error = _refused(token)
        assert (error.reason, error.code, error.status_code) == ("expired", "link_expired", 410)
        survey.refresh_from_db()
        assert survey.status == "open" and survey.answered_at is None

    def test_a_cancelled_link_is_refused(
        self, agent: User, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        from aftersales.cases.services import case_transition

        survey, token = _link(callback_agent, agreed_visit)
        assert agreed_visit.case is not None
        case_transition(actor=agent, case=agreed_visit.case, action="reopen", reason="Again")
        error = _refused(token)
        assert (error.reason, error.status_code) == ("cancelled", 409)
        cancelled = CaseEvent.objects.get(kind="return_visit", data__change="cancelled")
        assert cancelled.data["cancelled_links"] == [survey.pk]

    def test_the_link_is_emailed_to_a_customer_whose_channel_is_email(
        self,
        callback_agent: User,
        open_case: Callable[..., Case],
        resolve: Callable[[Case], Case],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = factories.customer(
            tier="vip", preferred_channel="email", preferred_language="en"
        )
        ContactPoint.objects.create(
            customer=customer,
            kind="email",
            value="li.wei@example.com",
            is_primary=True,
            created_at=clock.now(),
        )
        agree(customer)
        visit = ReturnVisit.objects.get(case=resolve(open_case(customer)))
        with django_capture_on_commit_callbacks(execute=True):
            _, token = survey_send_link(
                actor=callback_agent, visit=visit, base_url="https://service.example.com/"
            )
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["li.wei@example.com"]
        assert f"https://service.example.com/survey/{token}/" in message.body
        assert "survey" in message.subject.lower()
        assert _survey_events(visit.case)[0]["emailed"] is True

    def test_no_email_on_another_channel(
        self,
        callback_agent: User,
        agreed_visit: ReturnVisit,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        ContactPoint.objects.create(
            customer=agreed_visit.customer,
            kind="email",
            value="li.wei@example.com",
            created_at=clock.now(),
        )
        with django_capture_on_commit_callbacks(execute=True):
            _link(callback_agent, agreed_visit)
        assert mail.outbox == []
        assert _survey_events(agreed_visit.case)[0]["emailed"] is False

    def test_only_callback_staff_send_links(self, agent: User, agreed_visit: ReturnVisit) -> None:
        with pytest.raises(PermissionDenied):
            _link(agent, agreed_visit)
        assert not Survey.objects.exists()


class TestAnswers:
    @pytest.mark.parametrize(
        ("answers", "field"),
        [
            (SurveyAnswers(csat=0), "csat"),
            (SurveyAnswers(csat=6), "csat"),
            (SurveyAnswers(csat=-1), "csat"),
            (SurveyAnswers(csat=True), "csat"),
            (SurveyAnswers(csat=4, nps=11), "nps"),
            (SurveyAnswers(csat=4, nps=-1), "nps"),
            (SurveyAnswers(csat=4, attitude=6), "attitude"),
            (SurveyAnswers(csat=4, attitude=0), "attitude"),
            (SurveyAnswers(csat=4, repurchase="perhaps"), "repurchase"),
            (SurveyAnswers(csat=4, comment="很" * 2001), "comment"),
        ],
    )
    def test_out_of_range_answers_by_link_are_refused_and_nothing_is_saved(
        self,
        callback_agent: User,
        agreed_visit: ReturnVisit,
        answers: SurveyAnswers,
        field: str,
    ) -> None:
        survey, token = _link(callback_agent, agreed_visit)
        events = CaseEvent.objects.count()
        before = Survey.objects.values().get(pk=survey.pk)
        with pytest.raises(ApplicationError) as exc:
            survey_answer_by_link(token=token, answers=answers)
        assert (exc.value.code, exc.value.status_code) == ("invalid_answer", 400)
        assert field in exc.value.details
        assert Survey.objects.values().get(pk=survey.pk) == before
        assert CaseEvent.objects.count() == events
        # The link still works for a valid answer.
        assert survey_answer_by_link(token=token, answers=HAPPY).status == "answered"

    def test_every_bad_field_is_named(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        with pytest.raises(ApplicationError) as exc:
            survey_record_phone(
                actor=callback_agent,
                visit=agreed_visit,
                answers=SurveyAnswers(csat=6, nps=11, attitude=6, repurchase="?"),
            )
        assert exc.value.details.keys() == {"csat", "nps", "attitude", "repurchase"}
        assert not Survey.objects.exists()

    def test_csat_2_by_link_reopens_the_case_for_the_customer(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        survey, token = _link(callback_agent, agreed_visit)
        answered = survey_answer_by_link(
            token=token, answers=SurveyAnswers(csat=2, nps=3, comment="还是不制冷")
        )
        case = Case.objects.get(pk=agreed_visit.case_id)
        assert (case.status, case.reopen_count) == ("in_progress", 1)
        reopen = case.events.get(kind="status", data__action="reopen")
        assert reopen.actor is None
        assert reopen.data["source"] == "survey"
        assert answered.follow_up == {
            "action": "reopened",
            "actions": ["reopened"],
            "case": case.number,
        }
        assert Survey.objects.get(pk=survey.pk).follow_up == answered.follow_up
        event = case.events.get(kind="survey", data__change="answered")
        assert event.data["follow_up"] == answered.follow_up
        assert event.data["csat"] == 2
        # The reopening cancelled the due visit; the answer itself stands.
        assert ReturnVisit.objects.get(pk=agreed_visit.pk).status == "cancelled"
        assert Survey.objects.get(pk=survey.pk).status == "answered"

    def test_csat_3_is_not_unsatisfied_by_default(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        _, token = _link(callback_agent, agreed_visit)
        answered = survey_answer_by_link(token=token, answers=SurveyAnswers(csat=3))
        assert answered.follow_up == {}
        assert Case.objects.get(pk=agreed_visit.case_id).status == "resolved"

    def test_the_threshold_is_a_setting(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        from aftersales.callbacks.models import CallbackSettings

        CallbackSettings.objects.update(unsatisfied_csat=3)
        _, token = _link(callback_agent, agreed_visit)
        answered = survey_answer_by_link(token=token, answers=SurveyAnswers(csat=3))
        assert answered.follow_up["action"] == "reopened"

    def test_attitude_1_raises_a_complaint_linked_to_the_case(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        pytest.importorskip("aftersales.complaints.services")
        from aftersales.complaints.models import Complaint

        _, token = _link(callback_agent, agreed_visit)
        answered = survey_answer_by_link(
            token=token, answers=SurveyAnswers(csat=4, attitude=1, comment="客服态度很差")
        )
        complaint = Complaint.objects.get()
        assert complaint.related_case_id == agreed_visit.case_id
        assert complaint.nature == "service_attitude"
        assert complaint.case.customer == agreed_visit.customer
        assert complaint.case.kind == "complaint"
        assert complaint.case.created_by is None
        assert answered.follow_up == {
            "action": "complaint",
            "actions": ["complaint"],
            "complaint_case": complaint.case.number,
        }
        # Satisfied with the fix itself: the case stays resolved.
        assert Case.objects.get(pk=agreed_visit.case_id).status == "resolved"


class TestPhone:
    def test_phone_survey_is_recorded_by_the_agent(
        self,
        callback_agent: User,
        agreed_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(agreed_visit)
        link, token = _link(callback_agent, agreed_visit)
        survey = survey_record_phone(actor=callback_agent, visit=agreed_visit, answers=HAPPY)
        assert (survey.method, survey.status, survey.recorded_by, survey.nonce) == (
            "phone",
            "answered",
            callback_agent,
            None,
        )
        assert survey.answered_at is not None
        # The link sent earlier is cancelled: the survey was answered on the phone.
        link.refresh_from_db()
        assert link.status == "cancelled"
        assert _refused(token).reason == "cancelled"
        event = CaseEvent.objects.get(kind="survey", data__change="answered")
        assert event.actor == callback_agent
        assert event.data["cancelled_links"] == [link.pk]
        with pytest.raises(ApplicationError) as exc:
            survey_record_phone(actor=callback_agent, visit=agreed_visit, answers=HAPPY)
        assert (exc.value.code, exc.value.status_code) == ("survey_answered", 409)
        with pytest.raises(ApplicationError) as again:
            _link(callback_agent, agreed_visit)
        assert again.value.code == "survey_answered"

    def test_an_unsatisfied_phone_answer_reopens_and_ends_the_visit(
        self,
        callback_agent: User,
        agreed_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(agreed_visit)
        survey = survey_record_phone(
            actor=callback_agent, visit=agreed_visit, answers=SurveyAnswers(csat=1)
        )
        case = Case.objects.get(pk=agreed_visit.case_id)
        assert case.status == "in_progress"
        assert case.events.get(kind="status", data__action="reopen").actor == callback_agent
        visit = ReturnVisit.objects.get(pk=agreed_visit.pk)
        assert (visit.status, visit.outcome, visit.completed_by) == (
            "completed",
            "not_solved",
            callback_agent,
        )
        assert survey.follow_up["case"] == case.number

    def test_a_visit_no_longer_due_takes_no_phone_survey(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        visit_attempt_record(actor=callback_agent, visit=agreed_visit, result="wrong_number")
        with pytest.raises(ApplicationError) as exc:
            survey_record_phone(actor=callback_agent, visit=agreed_visit, answers=HAPPY)
        assert exc.value.code == "visit_not_due"
        assert not Survey.objects.exists()

    def test_the_token_is_signed_with_its_own_salt(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        survey, token = _link(callback_agent, agreed_visit)
        assert survey_token(survey) == token
        assert signing.Signer(salt=TOKEN_SALT).unsign_object(token) == [survey.pk, survey.nonce]
        assert survey.nonce is not None and survey.nonce not in (str(survey.pk), "")


class TestComplaintCases:
    """The visit of an answered complaint follows the complaint's own lifecycle."""

    @pytest.fixture
    def answered_complaint(
        self, agent: User, callback_team: Any, open_case: Callable[..., Case]
    ) -> Any:
        services = pytest.importorskip("aftersales.complaints.services")
        service_case = open_case(factories.customer())
        agree(service_case.customer)
        complaint = services.complaint_raise(
            actor=agent,
            customer=service_case.customer,
            channel="phone",
            subject="维修太慢",
            nature="slow_response",
            severity="minor",
            related_case=service_case,
        )
        services.complaint_evaluate(
            actor=agent, complaint=complaint, nature="slow_response", severity="minor"
        )
        services.complaint_handle(actor=agent, complaint=complaint)
        services.complaint_answer(actor=agent, complaint=complaint, message="已加急处理")
        complaint.refresh_from_db()
        assert complaint.status == "answered"
        return complaint

    def test_an_unsatisfied_answer_reopens_the_complaint(
        self, callback_agent: User, answered_complaint: Any
    ) -> None:
        visit = ReturnVisit.objects.get(case=answered_complaint.case)
        assert visit.reason == "complaint"
        _, token = _link(callback_agent, visit)
        survey_answer_by_link(token=token, answers=SurveyAnswers(csat=1))
        answered_complaint.refresh_from_db()
        assert answered_complaint.status == "handling"
        assert Case.objects.get(pk=visit.case_id).status == "in_progress"

    def test_a_bad_attitude_links_the_new_complaint_to_the_service_case(
        self, callback_agent: User, answered_complaint: Any
    ) -> None:
        from aftersales.complaints.models import Complaint

        visit = ReturnVisit.objects.get(case=answered_complaint.case)
        _, token = _link(callback_agent, visit)
        answered = survey_answer_by_link(token=token, answers=SurveyAnswers(csat=4, attitude=1))
        new = Complaint.objects.exclude(pk=answered_complaint.pk).get()
        assert new.related_case_id == answered_complaint.related_case_id
        assert answered.follow_up["complaint_case"] == new.case.number

    def test_solved_leaves_the_closing_to_the_complaint_desk(
        self,
        callback_agent: User,
        answered_complaint: Any,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        from aftersales.callbacks.services import visit_complete

        visit = reached(ReturnVisit.objects.get(case=answered_complaint.case))
        visit_complete(actor=callback_agent, visit=visit, solved=True)
        assert Case.objects.get(pk=visit.case_id).status == "resolved"
        assert ReturnVisit.objects.get(pk=visit.pk).outcome == "solved"


def _no_consent(call: Callable[[], Any]) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        call()
    assert (exc.value.code, exc.value.status_code, exc.value.details) == (
        "no_consent",
        409,
        {"purpose": "surveys"},
    )
    return exc.value


def _email_customer() -> Any:
    customer = factories.customer(tier="vip", preferred_channel="email", preferred_language="en")
    ContactPoint.objects.create(
        customer=customer,
        kind="email",
        value="li.wei@example.com",
        is_primary=True,
        created_at=clock.now(),
    )
    return customer


class TestConsent:
    """Surveys are opt-in (privacy): a customer is surveyed only with their consent in force,
    given before or on the call itself (then recorded as theirs, by the agent)."""

    def test_a_phone_survey_without_consent_is_refused_and_changes_nothing(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(vip_visit)
        link, _ = survey_send_link(actor=callback_agent, visit=vip_visit, consent_given=True)
        # The customer then withdrew: the phone survey is refused, and the link stays as it was.
        agree(vip_visit.customer, granted=False)
        consents = Consent.objects.count()
        events, audits = CaseEvent.objects.count(), AuditEvent.objects.count()
        _no_consent(
            lambda: survey_record_phone(actor=callback_agent, visit=vip_visit, answers=HAPPY)
        )
        assert not Survey.objects.filter(method="phone").exists()
        assert Survey.objects.get(pk=link.pk).status == "open"
        assert Consent.objects.count() == consents
        assert (CaseEvent.objects.count(), AuditEvent.objects.count()) == (events, audits)
        assert ReturnVisit.objects.get(pk=vip_visit.pk).status == "due"

    def test_nothing_is_saved_for_a_customer_never_asked(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(vip_visit)
        assert not consent_in_force(vip_visit.customer, "surveys")  # opt-in: no until granted
        events = CaseEvent.objects.count()
        _no_consent(
            lambda: survey_record_phone(actor=callback_agent, visit=vip_visit, answers=HAPPY)
        )
        assert not Survey.objects.exists()
        assert not Consent.objects.filter(customer=vip_visit.customer).exists()
        assert CaseEvent.objects.count() == events
        assert not CaseEvent.objects.filter(kind="survey").exists()

    def test_consent_given_on_the_call_is_recorded_with_the_survey(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(vip_visit)
        with clock.frozen_at(clock.now()):
            survey = survey_record_phone(
                actor=callback_agent, visit=vip_visit, answers=HAPPY, consent_given=True
            )
        consent = Consent.objects.get(customer=vip_visit.customer)
        assert (consent.purpose, consent.granted, consent.source, consent.recorded_by) == (
            "surveys",
            True,
            "phone",
            callback_agent,
        )
        assert consent.recorded_at == survey.answered_at
        assert consent_in_force(vip_visit.customer, "surveys")
        assert AuditEvent.objects.get(action="privacy.consent_recorded").actor == callback_agent
        assert Survey.objects.get() == survey
        assert (survey.method, survey.status, survey.csat) == ("phone", "answered", 5)
        event = CaseEvent.objects.get(kind="survey", data__change="answered")
        assert event.actor == callback_agent

    def test_a_withdrawn_consent_is_refused_again(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        with clock.frozen_at(clock.now() - dt.timedelta(days=30)):
            agree(vip_visit.customer)
        agree(vip_visit.customer, granted=False)  # the later record is in force
        reached(vip_visit)
        _no_consent(
            lambda: survey_record_phone(actor=callback_agent, visit=vip_visit, answers=HAPPY)
        )
        _no_consent(lambda: survey_send_link(actor=callback_agent, visit=vip_visit))
        assert not Survey.objects.exists()
        assert Consent.objects.filter(customer=vip_visit.customer).count() == 2
        # Asked again on this call, the customer agrees: a new record, then the survey.
        survey_record_phone(
            actor=callback_agent, visit=vip_visit, answers=HAPPY, consent_given=True
        )
        latest = Consent.objects.filter(customer=vip_visit.customer).first()
        assert latest is not None and (latest.granted, latest.recorded_by) == (
            True,
            callback_agent,
        )

    def test_a_link_without_consent_is_refused(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        events = CaseEvent.objects.count()
        _no_consent(lambda: survey_send_link(actor=callback_agent, visit=vip_visit))
        assert not Survey.objects.exists()
        assert not Consent.objects.exists()
        assert CaseEvent.objects.count() == events
        survey, token = survey_send_link(actor=callback_agent, visit=vip_visit, consent_given=True)
        assert survey.status == "open" and survey_for_token(token) == survey
        consent = Consent.objects.get()
        assert (consent.purpose, consent.granted, consent.source, consent.recorded_by) == (
            "surveys",
            True,
            "phone",
            callback_agent,
        )
        # The consent is in force now: sending again needs no tick and records nothing more.
        assert survey_send_link(actor=callback_agent, visit=vip_visit)[0] == survey
        assert Consent.objects.count() == 1

    def test_an_open_link_is_closed_to_a_customer_who_withdrew(
        self, callback_agent: User, agreed_visit: ReturnVisit
    ) -> None:
        survey, token = _link(callback_agent, agreed_visit)
        agree(agreed_visit.customer, granted=False)
        error = _refused(token)
        assert (error.code, error.status_code) == ("survey_cancelled", 409)
        survey.refresh_from_db()
        assert (survey.status, survey.csat, survey.answered_at) == ("open", None, None)

    def test_a_refused_survey_records_no_consent(
        self, agent: User, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        with pytest.raises(ApplicationError) as invalid:
            survey_record_phone(
                actor=callback_agent,
                visit=vip_visit,
                answers=SurveyAnswers(csat=9),
                consent_given=True,
            )
        assert invalid.value.code == "invalid_answer"
        assert vip_visit.case is not None
        # Reopening the case cancels the visit: neither survey can be made on it any more.
        case_transition(actor=agent, case=vip_visit.case, action="reopen", reason="Again")
        with pytest.raises(ApplicationError) as not_due:
            survey_record_phone(
                actor=callback_agent, visit=vip_visit, answers=HAPPY, consent_given=True
            )
        assert not_due.value.code == "visit_not_due"
        with pytest.raises(ApplicationError) as cancelled:
            survey_send_link(actor=callback_agent, visit=vip_visit, consent_given=True)
        assert cancelled.value.code == "visit_cancelled"
        assert not Consent.objects.exists() and not Survey.objects.exists()

    def test_only_callback_staff_record_the_consent(
        self, agent: User, vip_visit: ReturnVisit
    ) -> None:
        with pytest.raises(PermissionDenied):
            survey_send_link(actor=agent, visit=vip_visit, consent_given=True)
        assert not Consent.objects.exists()

    @pytest.mark.parametrize("purpose", ["surveys", "contact_email"])
    def test_no_email_after_consent_is_withdrawn_before_it_is_sent(
        self,
        callback_agent: User,
        open_case: Callable[..., Case],
        resolve: Callable[[Case], Case],
        django_capture_on_commit_callbacks: Any,
        purpose: str,
    ) -> None:
        customer = _email_customer()
        agree(customer)
        visit = ReturnVisit.objects.get(case=resolve(open_case(customer)))
        with django_capture_on_commit_callbacks(execute=False) as queued:
            survey, _ = survey_send_link(
                actor=callback_agent, visit=visit, base_url="https://service.example.com"
            )
        assert len(queued) == 1
        # Between the click and the send the customer withdraws (surveys, or e-mail contact).
        agree(customer, purpose, granted=False)
        for callback in queued:
            callback()
        assert mail.outbox == []
        assert survey_link_email_send(survey_id=survey.pk, base_url="https://x.example") == 0
        assert Survey.objects.get(pk=survey.pk).status == "open"
        # Granted again, the same survey can be mailed.
        agree(customer, purpose)
        assert survey_link_email_send(survey_id=survey.pk, base_url="https://x.example") == 1
