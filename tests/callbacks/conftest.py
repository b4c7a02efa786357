"""Customers of each tier, resolved cases and due visits for the return-visit tests."""

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.callbacks.models import ReturnVisit
from aftersales.callbacks.services import visit_attempt_record
from aftersales.cases.models import Case
from aftersales.cases.services import case_open, case_transition
from aftersales.privacy.models import Consent, ConsentSource, Purpose
from aftersales.privacy.services import consent_record
from tests import factories


def sampled(number: str, percent: int = 20) -> bool:
    return int(hashlib.sha256(number.encode()).hexdigest(), 16) % 100 < percent


def case_number(*, sampled_in: bool) -> str:
    """A case number the 20 % sample of regular cases takes (or leaves out)."""
    for n in itertools.count(1):
        number = f"SR2099120{n:06d}"
        if sampled(number) == sampled_in and not Case.objects.filter(number=number).exists():
            return number
    raise AssertionError("unreachable")


def agree(customer: Any, purpose: str = Purpose.SURVEYS, *, granted: bool = True) -> Consent:
    """Record the customer's consent to `purpose` (or its withdrawal), as the system would from
    a call: surveys and marketing are opt-in, so a test that surveys a customer or offers them
    something starts from this."""
    return consent_record(
        actor=None, customer=customer, purpose=purpose, granted=granted, source=ConsentSource.PHONE
    )


@pytest.fixture
def customer(db: Any) -> Any:
    return factories.customer()


@pytest.fixture
def vip_customer(db: Any) -> Any:
    return factories.customer(tier="vip")


@pytest.fixture
def low_customer(db: Any) -> Any:
    return factories.customer(tier="low")


@pytest.fixture
def open_case(agent: User) -> Callable[..., Case]:
    """Open a case for a customer and bring it in progress (assigned to the agent)."""

    def make(customer: Any, *, kind: str = "service", number: str | None = None) -> Case:
        case, _ = case_open(
            actor=agent, customer=customer, channel="phone", subject="冰箱不制冷", kind=kind
        )
        Case.objects.filter(pk=case.pk).update(
            status="in_progress", assignee=agent, **({"number": number} if number else {})
        )
        case.refresh_from_db()
        return case

    return make


@pytest.fixture
def resolve(agent: User) -> Callable[[Case], Case]:
    def run(case: Case) -> Case:
        return case_transition(
            actor=agent,
            case=case,
            action="resolve",
            solution_type="remote",
            solution_notes="Reset the controller",
        )

    return run


@pytest.fixture
def vip_visit(
    callback_team: Team,
    vip_customer: Any,
    open_case: Callable[..., Case],
    resolve: Callable[[Case], Case],
) -> ReturnVisit:
    """The due follow-up visit of a VIP customer's resolved case."""
    case = resolve(open_case(vip_customer))
    return ReturnVisit.objects.get(case=case)


@pytest.fixture
def agreed_visit(vip_visit: ReturnVisit) -> ReturnVisit:
    """The VIP visit of a customer who agreed to satisfaction surveys."""
    agree(vip_visit.customer, Purpose.SURVEYS)
    return vip_visit


@pytest.fixture
def reached(callback_agent: User) -> Callable[[ReturnVisit], ReturnVisit]:
    """Record that the callback agent reached the customer of a visit."""

    def run(visit: ReturnVisit) -> ReturnVisit:
        visit_attempt_record(actor=callback_agent, visit=visit, result="reached")
        visit.refresh_from_db()
        return visit

    return run
