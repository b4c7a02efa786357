"""Real concurrent transactions on PostgreSQL: a survey link is answered once."""

from collections.abc import Callable

import pytest
from django.db import connection

from aftersales.accounts.models import Team, User
from aftersales.callbacks.models import ReturnVisit, Survey
from aftersales.callbacks.surveys import SurveyAnswers, survey_answer_by_link, survey_send_link
from aftersales.cases.models import Case, CaseEvent
from tests import factories
from tests.concurrency import code_of, run_together

from .conftest import agree

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


@pytest.mark.parametrize("csat", [5, 2])
def test_two_answers_of_one_link_at_the_same_time_save_one(
    callback_agent: User,
    callback_team: Team,
    open_case: Callable[..., Case],
    resolve: Callable[[Case], Case],
    csat: int,
) -> None:
    case = resolve(open_case(factories.customer(tier="vip")))
    visit = ReturnVisit.objects.get(case=case)
    agree(visit.customer)
    survey, token = survey_send_link(actor=callback_agent, visit=visit)

    def answer(value: int) -> Callable[[], str]:
        def call() -> str:
            return survey_answer_by_link(token=token, answers=SurveyAnswers(csat=value)).status

        return code_of(call)

    results = run_together([answer(csat), answer(csat if csat == 5 else 1)])
    assert sorted(results) == ["answered", "survey_answered"]
    survey.refresh_from_db()
    assert survey.status == "answered"
    assert Survey.objects.filter(status="answered").count() == 1
    assert CaseEvent.objects.filter(kind="survey", data__change="answered").count() == 1
    if csat == 2:
        # One reopening, by the one answer that was saved.
        assert Case.objects.get(pk=case.pk).reopen_count == 1
        assert CaseEvent.objects.filter(kind="status", data__action="reopen").count() == 1
