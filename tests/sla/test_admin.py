"""Editing a policy in the admin applies to work in progress, with the editor on record."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create
from aftersales.cases.models import CaseEvent
from aftersales.cases.services import case_open
from aftersales.core import clock
from aftersales.sla.models import SlaClock, SlaPolicy
from tests.auth import sign_in

SH = ZoneInfo("Asia/Shanghai")


def test_saving_a_policy_recomputes_open_cases_as_the_administrator(
    agent: User, customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    opened = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SH)
    with clock.frozen_at(opened):
        case, _ = case_open(actor=agent, customer=customer, channel="web", subject="发票抬头错")
    clock_fr = SlaClock.objects.get(case=case, metric="first_response")
    assert clock_fr.due_at == opened + dt.timedelta(hours=4)

    admin = staff_create(
        username="root", password="Admin-pass-2026", display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )  # fmt: skip
    admin.is_superuser = True
    admin.save()
    client = Client()
    with clock.frozen_at(opened):  # signed in shortly before (sessions time out when idle)
        sign_in(client, admin)
    policy = SlaPolicy.objects.get(name="标准服务 / Standard")
    targets = list(policy.targets.order_by("pk"))
    form = {
        "name": policy.name,
        "rank": policy.rank,
        "is_active": "on",
        "pause_statuses": ["waiting_customer"],
        "warn_percent": 75,
        "targets-TOTAL_FORMS": len(targets),
        "targets-INITIAL_FORMS": len(targets),
        "targets-MIN_NUM_FORMS": 0,
        "targets-MAX_NUM_FORMS": 1000,
    }
    for i, t in enumerate(targets):
        form |= {
            f"targets-{i}-id": t.pk,
            f"targets-{i}-policy": policy.pk,
            f"targets-{i}-metric": t.metric,
            f"targets-{i}-amount": 2 if t.metric == "first_response" else t.amount,
            f"targets-{i}-unit": t.unit,
            f"targets-{i}-calendar": t.calendar_id,
        }
    with (
        clock.frozen_at(opened + dt.timedelta(minutes=5)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(f"/admin/sla/slapolicy/{policy.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    clock_fr.refresh_from_db()
    assert clock_fr.due_at == opened + dt.timedelta(hours=2)
    event = case.events.get(kind=CaseEvent.Kind.SLA, data__change="recomputed")
    assert event.actor == admin and event.data["reason"] == "policy"


def test_an_escalation_rule_moves_only_to_a_known_kind_of_team(db: Any) -> None:
    from django.core.exceptions import ValidationError

    from aftersales.sla.models import EscalationRule

    rule = EscalationRule(name="x", trigger="breach", move_to_team_kind="vipp")
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert "move_to_team_kind" in refused.value.message_dict
