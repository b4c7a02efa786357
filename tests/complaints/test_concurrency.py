"""Real concurrent transactions on PostgreSQL: a proposal is decided once."""

from collections.abc import Callable

import pytest
from django.db import connection

from aftersales.accounts.models import User
from aftersales.cases.models import CaseEvent
from aftersales.complaints.models import (
    ApprovalDecision,
    CompensationAction,
    CompensationProposal,
)
from aftersales.complaints.services import compensation_decide
from aftersales.core.models import AuditEvent
from tests.concurrency import code_of, run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


def _decide(user_pk: int, proposal_pk: int, decision: str) -> Callable[[], str]:
    def call() -> str:
        proposal = compensation_decide(
            actor=User.objects.get(pk=user_pk),
            proposal=CompensationProposal.objects.get(pk=proposal_pk),
            decision=decision,
        )
        return proposal.status

    return code_of(call)


def test_two_managers_approve_at_once_and_it_is_approved_once(
    manager: User, other_manager: User, proposal: CompensationProposal
) -> None:
    results = run_together(
        [
            _decide(manager.pk, proposal.pk, "approve"),
            _decide(other_manager.pk, proposal.pk, "approve"),
        ]
    )
    assert sorted(results) == ["already_decided", "approved"]
    proposal.refresh_from_db()
    assert proposal.status == "approved"
    assert ApprovalDecision.objects.filter(proposal=proposal).count() == 1
    assert CompensationAction.objects.filter(complaint=proposal.complaint).count() == 2
    approved = CaseEvent.objects.filter(kind="compensation", data__change="approved")
    assert approved.count() == 1
    assert AuditEvent.objects.filter(action="compensation.approve").count() == 1


def test_many_deciders_racing_give_one_final_decision(
    manager: User, other_manager: User, supervisor: User, proposal: CompensationProposal
) -> None:
    calls = [
        _decide(user.pk, proposal.pk, decision)
        for user in (manager, other_manager, supervisor)
        for decision in ("approve", "reject", "approve")
    ]
    results = run_together(calls)
    final = [r for r in results if r in ("approved", "rejected")]
    assert len(final) == 1
    assert results.count("already_decided") == len(calls) - 1
    assert ApprovalDecision.objects.filter(proposal=proposal).count() == 1
    proposal.refresh_from_db()
    expected_actions = 2 if proposal.status == "approved" else 0
    assert CompensationAction.objects.count() == expected_actions
