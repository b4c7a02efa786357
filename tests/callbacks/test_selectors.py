"""aftersales.callbacks.selectors: scope, worklist order, suggestions and figures."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.callbacks.defaults import callbacks_defaults_ensure
from aftersales.callbacks.models import Offer, ReturnVisit
from aftersales.callbacks.selectors import (
    callback_figures,
    recommendations_for,
    visit_get_for,
    visit_queryset_for,
    visit_worklist_for,
    visits_upcoming_for,
)
from aftersales.callbacks.services import (
    recommendation_decide,
    recommendation_record,
    survey_record_phone,
    visit_attempt_record,
    visit_complete,
)
from aftersales.callbacks.surveys import SurveyAnswers
from aftersales.cases.models import Case
from aftersales.catalog.models import ProductLine
from aftersales.core import clock
from aftersales.core.errors import NotFound
from tests import factories

from .conftest import agree

pytestmark = pytest.mark.django_db

# 10:00 in Shanghai; the local day ends at 16:00 UTC.
NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


def _visit(customer: Any, team: Team | None, at: dt.datetime, **fields: Any) -> ReturnVisit:
    return ReturnVisit.objects.create(
        kind="care",
        reason="care",
        customer=customer,
        team=team,
        due_at=at,
        next_attempt_at=at,
        created_at=NOW - dt.timedelta(days=1),
        **fields,
    )


class TestWorklist:
    def test_vip_first_then_regular_then_low_and_by_next_attempt(
        self, callback_agent: User, callback_team: Team
    ) -> None:
        low_early = _visit(
            factories.customer(tier="low"), callback_team, NOW - dt.timedelta(days=2)
        )
        regular_late = _visit(factories.customer(), callback_team, NOW + dt.timedelta(hours=5))
        regular_early = _visit(factories.customer(), callback_team, NOW - dt.timedelta(hours=1))
        vip_late = _visit(
            factories.customer(tier="vip"), callback_team, NOW + dt.timedelta(hours=13)
        )
        vip_early = _visit(factories.customer(tier="vip"), callback_team, NOW)
        tomorrow = _visit(
            factories.customer(tier="vip"), callback_team, NOW + dt.timedelta(hours=14)
        )
        _visit(factories.customer(tier="vip"), callback_team, NOW, status="completed")
        assert list(visit_worklist_for(callback_agent, now=NOW)) == [
            vip_early,
            vip_late,
            regular_early,
            regular_late,
            low_early,
        ]
        assert list(visits_upcoming_for(callback_agent, now=NOW)) == [tomorrow]

    def test_a_call_back_later_moves_the_visit_to_upcoming(
        self, callback_agent: User, callback_team: Team
    ) -> None:
        visit = _visit(factories.customer(tier="vip"), callback_team, NOW)
        with clock.frozen_at(NOW):
            visit_attempt_record(
                actor=callback_agent,
                visit=visit,
                result="call_back_later",
                callback_at=NOW + dt.timedelta(days=1),
            )
        assert list(visit_worklist_for(callback_agent, now=NOW)) == []
        assert list(visits_upcoming_for(callback_agent, now=NOW)) == [visit]


class TestScope:
    def test_who_sees_which_visits(
        self,
        callback_agent: User,
        callback_team: Team,
        agent: User,
        other_agent: User,
        manager: User,
        warehouse_user: User,
        make_staff: Callable[..., User],
        vip_visit: ReturnVisit,
    ) -> None:
        other_callback_team = Team.objects.create(code="cb-2", name="Callback 2", kind="callback")
        other_callback = make_staff(Role.CALLBACK_AGENT, teams=[other_callback_team])
        care = _visit(factories.customer(tier="vip"), callback_team, NOW)
        # The callback team sees its own visits; the case's desk sees the visit of its case.
        assert set(visit_queryset_for(callback_agent)) == {vip_visit, care}
        assert set(visit_queryset_for(agent)) == {vip_visit}
        assert set(visit_queryset_for(manager)) == {vip_visit, care}
        assert list(visit_queryset_for(other_agent)) == []
        assert list(visit_queryset_for(warehouse_user)) == []
        # Another callback team sees the resolved case's visit (callback agents follow up
        # every resolved case) but not this team's care call.
        assert set(visit_queryset_for(other_callback)) == {vip_visit}
        assert visit_get_for(callback_agent, pk=care.pk) == care
        with pytest.raises(NotFound) as exc:
            visit_get_for(other_agent, pk=care.pk)
        assert (exc.value.code, exc.value.status_code) == ("visit_not_found", 404)


class TestRecommendations:
    @pytest.fixture
    def lines(self, db: Any) -> dict[str, ProductLine]:
        made = {
            code: ProductLine.objects.get_or_create(
                code=code, defaults={"name_zh": code, "name_en": code}
            )[0]
            for code in ("fridge", "aircon")
        }
        callbacks_defaults_ensure()
        return made

    def test_extended_warranty_for_a_unit_leaving_warranty_and_offers_of_its_lines(
        self, callback_agent: User, vip_visit: ReturnVisit, lines: dict[str, ProductLine]
    ) -> None:
        on = dt.date(2026, 11, 23)
        model = factories.product_model(
            line=lines["fridge"], parts_warranty_months=36, labour_warranty_months=12
        )
        # Labour warranty ends 2026-12-20: within the 60 days.
        ending = factories.unit(
            customer=vip_visit.customer, model=model, purchase_date=dt.date(2025, 12, 20)
        )
        # Bought this year: both warranties end far away.
        factories.unit(customer=vip_visit.customer, model=model, purchase_date=dt.date(2026, 10, 1))
        suggestions = recommendations_for(visit=vip_visit, on=on)
        warranty = [s for s in suggestions if s.kind == "extended_warranty"]
        assert [(s.unit, s.offer, s.value) for s in warranty] == [(ending, None, Decimal("0"))]
        assert "2026-12-20" in str(warranty[0].title)
        offers = {s.offer.code for s in suggestions if s.offer is not None}
        # The fridge's offers and the tip for every line, nothing for air conditioners.
        assert offers == {"fridge-filter", "fridge-care-tip", "firmware-update-tip"}
        # Recorded suggestions are not suggested again.
        agree(vip_visit.customer, "marketing")
        recommendation_record(
            actor=callback_agent,
            visit=vip_visit,
            kind="accessory",
            offer=Offer.objects.get(code="fridge-filter"),
        )
        recommendation_record(
            actor=callback_agent, visit=vip_visit, kind="extended_warranty", unit=ending
        )
        again = recommendations_for(visit=vip_visit, on=on)
        assert {s.offer.code for s in again if s.offer} == {
            "fridge-care-tip",
            "firmware-update-tip",
        }
        assert not [s for s in again if s.kind == "extended_warranty"]

    def test_a_priced_warranty_offer_gives_the_value(
        self, vip_visit: ReturnVisit, lines: dict[str, ProductLine]
    ) -> None:
        offer = Offer.objects.create(
            kind="extended_warranty",
            code="ew-fridge",
            product_line=lines["fridge"],
            title_zh="冰箱延保两年",
            title_en="Fridge +2 years",
            price=Decimal("399.00"),
        )
        model = factories.product_model(line=lines["fridge"], labour_warranty_months=12)
        factories.unit(customer=vip_visit.customer, model=model, purchase_date=dt.date(2025, 12, 1))
        warranty = [
            s
            for s in recommendations_for(visit=vip_visit, on=dt.date(2026, 11, 23))
            if s.kind == "extended_warranty"
        ]
        assert [(s.offer, s.value) for s in warranty] == [(offer, Decimal("399.00"))]

    def test_offers_wait_for_their_product_line(self, db: Any) -> None:
        # The migration ran before any product line existed: only the tip for every line.
        assert set(Offer.objects.values_list("code", flat=True)) == {"firmware-update-tip"}
        ProductLine.objects.create(code="tv", name_zh="电视", name_en="TV")
        callbacks_defaults_ensure()
        assert Offer.objects.get(code="tv-wall-mount").product_line.code == "tv"  # type: ignore[union-attr]


class TestFigures:
    def test_satisfaction_visits_and_conversion(
        self,
        callback_agent: User,
        callback_team: Team,
        open_case: Callable[..., Case],
        resolve: Callable[[Case], Case],
    ) -> None:
        ProductLine.objects.create(code="fridge", name_zh="冰箱", name_en="Fridge")
        callbacks_defaults_ensure()
        answers = [
            (
                "vip",
                SurveyAnswers(
                    csat=5, nps=10, repurchase="yes", communication_effective=True, attitude=5
                ),
            ),
            (
                "vip",
                SurveyAnswers(
                    csat=4, nps=9, repurchase="maybe", communication_effective=True, attitude=4
                ),
            ),
            (
                "regular",
                SurveyAnswers(
                    csat=3, nps=5, repurchase="no", communication_effective=False, attitude=3
                ),
            ),
        ]
        visits = []
        for tier, answer in answers:
            customer = factories.customer(tier=tier)
            agree(customer, "surveys")
            agree(customer, "marketing")
            case = open_case(customer, kind="complaint")
            resolve(case)
            visit = ReturnVisit.objects.get(case=case)
            visit_attempt_record(actor=callback_agent, visit=visit, result="reached")
            survey_record_phone(actor=callback_agent, visit=visit, answers=answer)
            visits.append(visit)
        offer = Offer.objects.get(code="fridge-filter")
        reco = recommendation_record(
            actor=callback_agent, visit=visits[0], kind="accessory", offer=offer
        )
        recommendation_decide(actor=callback_agent, recommendation=reco, outcome="accepted")
        recommendation_record(actor=callback_agent, visit=visits[1], kind="accessory", offer=offer)
        visit_complete(actor=callback_agent, visit=visits[0], solved=True)
        visit_attempt_record(actor=callback_agent, visit=visits[2], result="wrong_number")

        today = clock.today()
        figures = callback_figures(since=today, until=today)
        assert figures["surveys"] == 3
        assert figures["csat_average"] == 4.0
        assert figures["csat_distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
        # Promoters 2 of 3, detractors 1 of 3.
        assert figures["nps"] == pytest.approx(33.3)
        assert figures["repurchase"] == {"yes": 0.3333, "maybe": 0.3333, "no": 0.3333}
        assert figures["communication_effective_rate"] == 0.6667
        assert figures["attitude_average"] == 4.0
        assert figures["by_method"] == {"phone": 3, "link": 0}
        assert figures["by_tier"]["vip"]["surveys"] == 2
        assert figures["by_tier"]["vip"]["csat_average"] == 4.5
        assert figures["by_tier"]["low"]["surveys"] == 0
        assert figures["by_tier"]["low"]["csat_average"] is None
        assert figures["visits"]["completed"] == 1
        assert figures["visits"]["solved"] == 1
        assert figures["visits"]["unreachable"] == 1
        accessory = figures["recommendations"]["accessory"]
        assert (accessory["offered"], accessory["accepted"], accessory["conversion_rate"]) == (
            2,
            1,
            0.5,
        )
        assert accessory["accepted_value"] == Decimal("69.00")
        assert figures["recommendations"]["extended_warranty"]["conversion_rate"] is None
        # Another period has none of it.
        yesterday = today - dt.timedelta(days=1)
        empty = callback_figures(since=yesterday, until=yesterday)
        assert empty["surveys"] == 0 and empty["csat_average"] is None
        assert empty["recommendations"]["accessory"]["offered"] == 0
