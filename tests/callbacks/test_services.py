"""aftersales.callbacks.services: scheduling, cancelling, care calls, attempts, completion,
recommendations."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from aftersales.accounts.models import Team, User
from aftersales.callbacks.models import (
    CallbackSettings,
    Offer,
    Recommendation,
    ReturnVisit,
    VisitAttempt,
)
from aftersales.callbacks.services import (
    care_calls_schedule,
    recommendation_decide,
    recommendation_record,
    survey_send_link,
    visit_attempt_record,
    visit_complete,
    visit_schedule_for_case,
)
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_transition
from aftersales.catalog.models import ProductLine
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.privacy.models import Consent
from tests import factories

from .conftest import agree, case_number

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def _visit_events(case: Case) -> list[dict[str, Any]]:
    return [e.data for e in case.events.filter(kind="return_visit").order_by("occurred_at", "id")]


class TestSchedule:
    def test_resolving_a_vip_case_schedules_a_visit_with_its_event(
        self,
        callback_team: Team,
        vip_customer: Any,
        open_case: Callable[..., Case],
        resolve: Callable[[Case], Case],
    ) -> None:
        with clock.frozen_at(NOW):
            case = resolve(open_case(vip_customer, number=case_number(sampled_in=False)))
        visit = ReturnVisit.objects.get(case=case)
        assert (visit.kind, visit.reason, visit.status, visit.team) == (
            "follow_up",
            "vip",
            "due",
            callback_team,
        )
        assert visit.due_at == visit.next_attempt_at == NOW + dt.timedelta(hours=24)
        assert visit.created_at == NOW
        event = case.events.get(kind="return_visit")
        assert event.actor is None
        assert event.data == {
            "change": "scheduled",
            "visit": visit.pk,
            "due_at": (NOW + dt.timedelta(hours=24)).isoformat(),
            "reason": "vip",
        }
        assert AuditEvent.objects.filter(action="case.return_visit").count() == 1

    @pytest.mark.parametrize("sampled_in", [True, False])
    def test_a_regular_case_is_visited_when_the_stable_sample_takes_its_number(
        self,
        customer: Any,
        open_case: Callable[..., Case],
        resolve: Callable[[Case], Case],
        sampled_in: bool,
    ) -> None:
        with clock.frozen_at(NOW):
            case = resolve(open_case(customer, number=case_number(sampled_in=sampled_in)))
        visit = ReturnVisit.objects.filter(case=case).first()
        if sampled_in:
            assert visit is not None
            assert visit.reason == "sample"
            assert visit.due_at == NOW + dt.timedelta(hours=48)
        else:
            assert visit is None
            assert not case.events.filter(kind="return_visit").exists()

    @pytest.mark.parametrize("tier", ["regular", "low", "vip"])
    def test_every_complaint_case_gets_a_visit(
        self,
        open_case: Callable[..., Case],
        resolve: Callable[[Case], Case],
        tier: str,
    ) -> None:
        customer = factories.customer(tier=tier)
        case = resolve(open_case(customer, kind="complaint", number=case_number(sampled_in=False)))
        assert ReturnVisit.objects.get(case=case).reason == "complaint"

    def test_the_sample_share_and_delay_come_from_the_rule(
        self, customer: Any, open_case: Callable[..., Case], resolve: Callable[[Case], Case]
    ) -> None:
        from aftersales.callbacks.models import CallbackRule

        CallbackRule.objects.filter(reason="sample").update(sample_percent=100, delay_hours=2)
        with clock.frozen_at(NOW):
            case = resolve(open_case(customer, number=case_number(sampled_in=False)))
        assert ReturnVisit.objects.get(case=case).due_at == NOW + dt.timedelta(hours=2)

    def test_no_visit_without_consent_to_be_contacted(
        self, open_case: Callable[..., Case], resolve: Callable[[Case], Case]
    ) -> None:
        customer = factories.customer(tier="vip", consent_contact=False)
        case = resolve(open_case(customer))
        assert not ReturnVisit.objects.filter(case=case).exists()

    def test_scheduling_is_idempotent(self, vip_visit: ReturnVisit) -> None:
        assert vip_visit.case is not None
        again = visit_schedule_for_case(case=vip_visit.case, at=clock.now())
        assert again == vip_visit
        assert ReturnVisit.objects.count() == 1
        assert vip_visit.case.events.filter(kind="return_visit").count() == 1

    def test_reopening_cancels_the_due_visit_and_its_open_link(
        self, agent: User, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        agree(vip_visit.customer)
        survey, _ = survey_send_link(actor=callback_agent, visit=vip_visit)
        assert vip_visit.case is not None
        case_transition(actor=agent, case=vip_visit.case, action="reopen", reason="Still noisy")
        vip_visit.refresh_from_db()
        survey.refresh_from_db()
        assert vip_visit.status == "cancelled"
        assert survey.status == "cancelled"
        last = _visit_events(vip_visit.case)[-1]
        assert last == {
            "change": "cancelled",
            "visit": vip_visit.pk,
            "cancelled_links": [survey.pk],
        }
        assert vip_visit.case.events.filter(kind="return_visit").last().actor == agent  # type: ignore[union-attr]

    def test_a_second_resolution_schedules_a_new_visit(
        self, agent: User, vip_visit: ReturnVisit, resolve: Callable[[Case], Case]
    ) -> None:
        assert vip_visit.case is not None
        case = case_transition(actor=agent, case=vip_visit.case, action="reopen", reason="Again")
        resolve(case)
        statuses = list(ReturnVisit.objects.filter(case=case).values_list("status", flat=True))
        assert sorted(statuses) == ["cancelled", "due"]


class TestCareCalls:
    def test_one_care_call_per_vip_without_a_recent_one_and_idempotent(
        self, callback_team: Team
    ) -> None:
        vip = factories.customer(tier="vip")
        recently_called = factories.customer(tier="vip")
        factories.customer(tier="vip", consent_contact=False)
        factories.customer(tier="regular")
        ReturnVisit.objects.create(
            kind="care",
            reason="care",
            customer=recently_called,
            status="completed",
            outcome="care_done",
            due_at=NOW - dt.timedelta(days=30),
            next_attempt_at=NOW - dt.timedelta(days=30),
            created_at=NOW - dt.timedelta(days=30),
        )
        assert care_calls_schedule(at=NOW) == 1
        visit = ReturnVisit.objects.get(kind="care", status="due")
        assert (visit.customer, visit.team, visit.due_at, visit.case) == (
            vip,
            callback_team,
            NOW,
            None,
        )
        assert AuditEvent.objects.filter(
            action="return_visit.scheduled", entity_id=visit.pk, customer_id=vip.pk
        ).exists()
        assert care_calls_schedule(at=NOW) == 0
        assert care_calls_schedule(at=NOW + dt.timedelta(days=1)) == 0
        # After the interval the one called 30 days ago is due again; the other's is still due.
        assert care_calls_schedule(at=NOW + dt.timedelta(days=61)) == 1
        assert ReturnVisit.objects.filter(kind="care", status="due").count() == 2

    def test_the_daily_task_runs_the_service(self) -> None:
        from aftersales.callbacks.tasks import care_calls_schedule as task

        factories.customer(tier="vip")
        assert task.apply().get() == 1


class TestAttempts:
    def test_no_answer_retries_later_and_the_last_one_makes_the_visit_unreachable(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        due = vip_visit.next_attempt_at
        with clock.frozen_at(due):
            visit_attempt_record(actor=callback_agent, visit=vip_visit, result="no_answer")
        vip_visit.refresh_from_db()
        assert vip_visit.next_attempt_at == due + dt.timedelta(hours=4)
        assert (vip_visit.attempts, vip_visit.status, vip_visit.assignee) == (
            1,
            "due",
            callback_agent,
        )
        with clock.frozen_at(due + dt.timedelta(hours=4)):
            visit_attempt_record(actor=callback_agent, visit=vip_visit, result="no_answer")
        vip_visit.refresh_from_db()
        assert vip_visit.next_attempt_at == due + dt.timedelta(hours=8)
        with clock.frozen_at(due + dt.timedelta(hours=8)):
            visit_attempt_record(actor=callback_agent, visit=vip_visit, result="no_answer")
        vip_visit.refresh_from_db()
        assert (vip_visit.attempts, vip_visit.status) == (3, "unreachable")
        assert vip_visit.completed_at == due + dt.timedelta(hours=8)
        assert vip_visit.case is not None
        changes = [(d["change"], d.get("result")) for d in _visit_events(vip_visit.case)]
        assert changes == [
            ("scheduled", None),
            ("attempt", "no_answer"),
            ("attempt", "no_answer"),
            ("attempt", "no_answer"),
            ("unreachable", None),
        ]

    def test_retries_and_attempts_follow_the_settings(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        CallbackSettings.objects.update(retry_after_hours=1, max_attempts=1)
        visit_attempt_record(actor=callback_agent, visit=vip_visit, result="no_answer")
        vip_visit.refresh_from_db()
        assert vip_visit.status == "unreachable"

    def test_an_overdue_visit_is_retried_from_now(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        late = vip_visit.next_attempt_at + dt.timedelta(days=2)
        with clock.frozen_at(late):
            visit_attempt_record(actor=callback_agent, visit=vip_visit, result="no_answer")
        vip_visit.refresh_from_db()
        assert vip_visit.next_attempt_at == late + dt.timedelta(hours=4)

    def test_wrong_number_makes_the_visit_unreachable(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        visit_attempt_record(
            actor=callback_agent, visit=vip_visit, result="wrong_number", note="空号"
        )
        vip_visit.refresh_from_db()
        assert vip_visit.status == "unreachable"
        assert VisitAttempt.objects.get(visit=vip_visit).note == "空号"
        with pytest.raises(ApplicationError) as exc:
            visit_attempt_record(actor=callback_agent, visit=vip_visit, result="reached")
        assert (exc.value.code, exc.value.status_code) == ("visit_not_due", 409)
        assert VisitAttempt.objects.count() == 1

    def test_call_back_later_moves_the_next_attempt_to_the_customers_time(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        with clock.frozen_at(NOW):
            visit_attempt_record(
                actor=callback_agent,
                visit=vip_visit,
                result="call_back_later",
                callback_at=NOW + dt.timedelta(days=1, hours=3),
            )
        vip_visit.refresh_from_db()
        assert vip_visit.next_attempt_at == NOW + dt.timedelta(days=1, hours=3)
        assert vip_visit.status == "due"

    @pytest.mark.parametrize(
        ("result", "callback_at", "field"),
        [
            ("call_back_later", None, "callback_at"),
            ("call_back_later", NOW - dt.timedelta(minutes=1), "callback_at"),
            ("call_back_later", NOW, "callback_at"),
            ("call_back_later", dt.datetime(2026, 12, 1, 10, 0), "callback_at"),
            ("hung_up", None, "result"),
        ],
    )
    def test_invalid_attempts_are_refused_and_change_nothing(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        result: str,
        callback_at: dt.datetime | None,
        field: str,
    ) -> None:
        before = ReturnVisit.objects.values().get(pk=vip_visit.pk)
        with clock.frozen_at(NOW), pytest.raises(ApplicationError) as exc:
            visit_attempt_record(
                actor=callback_agent, visit=vip_visit, result=result, callback_at=callback_at
            )
        assert (exc.value.code, exc.value.status_code) == ("invalid_attempt", 400)
        assert field in exc.value.details
        assert ReturnVisit.objects.values().get(pk=vip_visit.pk) == before
        assert not VisitAttempt.objects.exists()

    def test_reached_keeps_the_visit_due(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        visit_attempt_record(actor=callback_agent, visit=vip_visit, result="reached")
        vip_visit.refresh_from_db()
        assert (vip_visit.status, vip_visit.attempts) == ("due", 1)

    def test_only_staff_who_make_visits_record_attempts(
        self, agent: User, vip_visit: ReturnVisit
    ) -> None:
        with pytest.raises(PermissionDenied):
            visit_attempt_record(actor=agent, visit=vip_visit, result="reached")
        assert not VisitAttempt.objects.exists()


class TestComplete:
    def test_the_customer_must_have_been_reached(
        self, callback_agent: User, vip_visit: ReturnVisit
    ) -> None:
        visit_attempt_record(actor=callback_agent, visit=vip_visit, result="no_answer")
        with pytest.raises(ApplicationError) as exc:
            visit_complete(actor=callback_agent, visit=vip_visit, solved=True)
        assert (exc.value.code, exc.value.status_code) == ("not_reached", 409)
        vip_visit.refresh_from_db()
        assert vip_visit.status == "due"

    def test_solved_closes_the_case(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(vip_visit)
        visit = visit_complete(actor=callback_agent, visit=vip_visit, solved=True)
        assert (visit.status, visit.outcome, visit.completed_by) == (
            "completed",
            "solved",
            callback_agent,
        )
        case = Case.objects.get(pk=vip_visit.case_id)
        assert case.status == "closed"
        closing = case.events.get(kind="status", to_status="closed")
        assert closing.actor == callback_agent
        assert _visit_events(case)[-1]["change"] == "completed"
        assert _visit_events(case)[-1]["outcome"] == "solved"

    def test_not_solved_needs_a_reason_and_reopens_the_case(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        reached: Callable[[ReturnVisit], ReturnVisit],
    ) -> None:
        reached(vip_visit)
        with pytest.raises(ApplicationError) as exc:
            visit_complete(actor=callback_agent, visit=vip_visit, solved=False, reason="  ")
        assert (exc.value.code, exc.value.status_code) == ("reason_required", 400)
        assert ReturnVisit.objects.get(pk=vip_visit.pk).status == "due"
        visit = visit_complete(
            actor=callback_agent, visit=vip_visit, solved=False, reason="还是有噪音"
        )
        # The visit took place: it is completed as not solved, not cancelled by the reopening.
        assert (visit.status, visit.outcome) == ("completed", "not_solved")
        case = Case.objects.get(pk=vip_visit.case_id)
        assert (case.status, case.reopen_count) == ("in_progress", 1)
        reopen = case.events.get(kind="status", data__action="reopen")
        assert (reopen.actor, reopen.body) == (callback_agent, "还是有噪音")
        event = case.events.filter(kind="return_visit", data__change="completed").get()
        assert event.body == "还是有噪音"
        with pytest.raises(ApplicationError) as again:
            visit_complete(actor=callback_agent, visit=vip_visit, solved=True)
        assert again.value.code == "visit_not_due"

    def test_a_care_call_ends_as_done(
        self, callback_agent: User, callback_team: Team, vip_customer: Any
    ) -> None:
        care_calls_schedule()
        visit = ReturnVisit.objects.get(customer=vip_customer)
        visit_attempt_record(actor=callback_agent, visit=visit, result="reached")
        visit = visit_complete(actor=callback_agent, visit=visit, solved=True)
        assert (visit.status, visit.outcome) == ("completed", "care_done")
        assert AuditEvent.objects.filter(
            action="return_visit.completed", entity_id=visit.pk
        ).exists()


class TestRecommendations:
    @pytest.fixture
    def fridge_offers(self, db: Any) -> None:
        from aftersales.callbacks.defaults import callbacks_defaults_ensure

        ProductLine.objects.get_or_create(
            code="fridge", defaults={"name_zh": "冰箱", "name_en": "Fridge"}
        )
        callbacks_defaults_ensure()

    @pytest.fixture
    def marketing_agreed(self, vip_visit: ReturnVisit) -> None:
        """Offers are marketing, opt-in: the customer agreed to hear about them."""
        agree(vip_visit.customer, "marketing")

    def test_record_and_decide_with_events(
        self,
        callback_agent: User,
        vip_visit: ReturnVisit,
        fridge_offers: None,
        marketing_agreed: None,
    ) -> None:
        offer = Offer.objects.get(code="fridge-filter")
        reco = recommendation_record(
            actor=callback_agent, visit=vip_visit, kind="accessory", offer=offer
        )
        assert (reco.outcome, reco.value, reco.customer, reco.decided_at) == (
            "offered",
            Decimal("69.00"),
            vip_visit.customer,
            None,
        )
        reco = recommendation_decide(actor=callback_agent, recommendation=reco, outcome="accepted")
        assert reco.outcome == "accepted" and reco.decided_at is not None
        assert vip_visit.case is not None
        changes = [d["change"] for d in _visit_events(vip_visit.case)]
        assert changes[-2:] == ["recommendation", "recommendation_decided"]
        with pytest.raises(ApplicationError) as exc:
            recommendation_decide(actor=callback_agent, recommendation=reco, outcome="declined")
        assert (exc.value.code, exc.value.status_code) == ("already_decided", 409)
        with pytest.raises(ApplicationError) as dup:
            recommendation_record(
                actor=callback_agent, visit=vip_visit, kind="accessory", offer=offer
            )
        assert (dup.value.code, dup.value.status_code) == ("already_recommended", 409)
        assert Recommendation.objects.get().outcome == "accepted"

    def test_extended_warranty_names_a_unit_of_the_customer(
        self, callback_agent: User, vip_visit: ReturnVisit, marketing_agreed: None
    ) -> None:
        own = factories.unit(customer=vip_visit.customer)
        other = factories.unit(customer=factories.customer())
        for kwargs, field in [
            ({}, "unit"),
            ({"unit": other}, "unit"),
            ({"unit": own, "value": Decimal("-1")}, "value"),
        ]:
            with pytest.raises(ApplicationError) as exc:
                recommendation_record(
                    actor=callback_agent, visit=vip_visit, kind="extended_warranty", **kwargs
                )
            assert exc.value.code == "invalid_recommendation"
            assert field in exc.value.details
        reco = recommendation_record(
            actor=callback_agent,
            visit=vip_visit,
            kind="extended_warranty",
            unit=own,
            outcome="accepted",
            value=Decimal("399"),
        )
        assert (reco.value, reco.outcome) == (Decimal("399.00"), "accepted")
        assert reco.decided_at is not None
        assert Recommendation.objects.count() == 1

    def test_an_offer_must_be_of_the_kind(
        self, callback_agent: User, vip_visit: ReturnVisit, fridge_offers: None
    ) -> None:
        tip = Offer.objects.get(code="fridge-care-tip")
        with pytest.raises(ApplicationError) as exc:
            recommendation_record(
                actor=callback_agent, visit=vip_visit, kind="accessory", offer=tip
            )
        assert exc.value.details.keys() == {"offer"}
        with pytest.raises(ApplicationError):
            recommendation_record(actor=callback_agent, visit=vip_visit, kind="accessory")
        assert not Recommendation.objects.exists()

    def test_without_marketing_consent_nothing_is_offered(
        self, callback_agent: User, vip_visit: ReturnVisit, fridge_offers: None
    ) -> None:
        agree(vip_visit.customer, "surveys")  # agreeing to surveys is not agreeing to offers
        events = CaseEvent.objects.count()
        with pytest.raises(ApplicationError) as exc:
            recommendation_record(
                actor=callback_agent,
                visit=vip_visit,
                kind="accessory",
                offer=Offer.objects.get(code="fridge-filter"),
            )
        assert (exc.value.code, exc.value.status_code, exc.value.details) == (
            "no_consent",
            409,
            {"purpose": "marketing"},
        )
        assert not Recommendation.objects.exists()
        assert not Consent.objects.filter(purpose="marketing").exists()
        assert CaseEvent.objects.count() == events

    def test_consent_given_on_the_call_is_recorded_with_the_recommendation(
        self, callback_agent: User, vip_visit: ReturnVisit, fridge_offers: None
    ) -> None:
        with clock.frozen_at(clock.now()):
            reco = recommendation_record(
                actor=callback_agent,
                visit=vip_visit,
                kind="accessory",
                offer=Offer.objects.get(code="fridge-filter"),
                outcome="interested",
                consent_given=True,
            )
        consent = Consent.objects.get(customer=vip_visit.customer)
        assert (consent.purpose, consent.granted, consent.source, consent.recorded_by) == (
            "marketing",
            True,
            "phone",
            callback_agent,
        )
        assert consent.recorded_at == reco.offered_at
        assert Recommendation.objects.get() == reco and reco.outcome == "interested"
        assert vip_visit.case is not None
        assert _visit_events(vip_visit.case)[-1]["change"] == "recommendation"
        # In force from now on: the next offer needs no new agreement.
        recommendation_record(
            actor=callback_agent,
            visit=vip_visit,
            kind="maintenance_tip",
            offer=Offer.objects.get(code="fridge-care-tip"),
        )
        assert Recommendation.objects.count() == 2 and Consent.objects.count() == 1

    def test_a_withdrawn_marketing_consent_is_refused(
        self, callback_agent: User, vip_visit: ReturnVisit, fridge_offers: None
    ) -> None:
        with clock.frozen_at(clock.now() - dt.timedelta(days=1)):
            agree(vip_visit.customer, "marketing")
        agree(vip_visit.customer, "marketing", granted=False)
        with pytest.raises(ApplicationError) as exc:
            recommendation_record(
                actor=callback_agent,
                visit=vip_visit,
                kind="maintenance_tip",
                offer=Offer.objects.get(code="fridge-care-tip"),
            )
        assert exc.value.code == "no_consent"
        assert not Recommendation.objects.exists()

    def test_nothing_is_recommended_on_a_cancelled_visit(
        self, agent: User, callback_agent: User, vip_visit: ReturnVisit, fridge_offers: None
    ) -> None:
        assert vip_visit.case is not None
        case_transition(actor=agent, case=vip_visit.case, action="reopen", reason="Again")
        with pytest.raises(ApplicationError) as exc:
            recommendation_record(
                actor=callback_agent,
                visit=vip_visit,
                kind="maintenance_tip",
                offer=Offer.objects.get(code="fridge-care-tip"),
            )
        assert (exc.value.code, exc.value.status_code) == ("visit_not_open", 409)
