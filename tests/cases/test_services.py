import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case, CaseEvent, Status
from aftersales.cases.services import (
    case_assign,
    case_classify,
    case_contact_log,
    case_note_add,
    case_open,
    case_transition,
)
from aftersales.cases.workflow import TRANSITIONS
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from tests import factories

pytestmark = pytest.mark.django_db

ARGS = {
    "resolve": {"solution_type": "remote", "solution_notes": "Reset the controller"},
    "reopen": {"reason": "Still not cooling"},
    "cancel": {"reason": "Duplicate of another case"},
}


def _force_status(case: Case, status: str, assignee: User | None = None) -> Case:
    Case.objects.filter(pk=case.pk).update(status=status, assignee=assignee)
    case.refresh_from_db()
    return case


class TestOpen:
    def test_open_numbers_case_and_writes_created_event(
        self, agent: User, customer: Any, desk_team: Team
    ) -> None:
        case, created = case_open(
            actor=agent,
            customer=customer,
            channel="phone",
            subject="冰箱不制冷",
            description="冷藏室温度高",
        )
        assert created
        period = clock.now().astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m")
        assert case.number == f"SR{period}0000001"
        assert case.status == Status.NEW
        assert case.team == desk_team
        event = case.events.get(kind="created")
        assert (event.kind, event.actor, event.channel, event.direction) == (
            "created",
            agent,
            "phone",
            "in",
        )
        assert event.body == "冷藏室温度高"

    def test_numbers_are_sequential(self, agent: User, customer: Any) -> None:
        numbers = [
            case_open(actor=agent, customer=customer, channel="web", subject=f"s{i}")[0].number
            for i in range(3)
        ]
        assert [int(n[-7:]) for n in numbers] == [1, 2, 3]

    def test_classified_at_intake_is_triaged_with_priority(self, agent: User) -> None:
        vip = factories.customer(tier="vip")
        case, _ = case_open(
            actor=agent,
            customer=vip,
            channel="phone",
            subject="手表黑屏",
            nature="hardware",
            subcategory="display",
            urgency="high",
        )
        assert case.status == Status.TRIAGED
        assert case.priority == 1  # high urgency, VIP moves one step up
        kinds = list(case.events.values_list("kind", flat=True))
        assert kinds == ["created", "classified", "status", "sla"]

    def test_idempotency_key_returns_same_case(self, agent: User, customer: Any) -> None:
        first, created = case_open(
            actor=agent, customer=customer, channel="app", subject="x", idempotency_key="k1"
        )
        again, created_again = case_open(
            actor=agent, customer=customer, channel="app", subject="x", idempotency_key="k1"
        )
        assert created and not created_again
        assert again.pk == first.pk
        assert Case.objects.count() == 1

    def test_idempotency_key_reused_for_other_request_is_conflict(
        self, agent: User, customer: Any
    ) -> None:
        case_open(actor=agent, customer=customer, channel="app", subject="x", idempotency_key="k1")
        with pytest.raises(ApplicationError) as exc:
            case_open(
                actor=agent, customer=customer, channel="app", subject="other", idempotency_key="k1"
            )
        assert exc.value.code == "idempotency_key_reused"
        assert Case.objects.count() == 1

    @pytest.mark.parametrize(
        ("fields", "code", "field"),
        [
            ({"channel": "pigeon"}, "invalid_case", "channel"),
            ({"subject": "  "}, "invalid_case", "subject"),
            ({"subject": "x" * 201}, "invalid_case", "subject"),
            ({"nature": "magic"}, "invalid_classification", "nature"),
            (
                {"nature": "hardware", "subcategory": "firmware"},
                "invalid_classification",
                "subcategory",
            ),
            ({"urgency": "asap"}, "invalid_classification", "urgency"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_saved(
        self, agent: User, customer: Any, fields: dict[str, str], code: str, field: str
    ) -> None:
        args: dict[str, Any] = {"channel": "phone", "subject": "s", **fields}
        with pytest.raises(ApplicationError) as exc:
            case_open(actor=agent, customer=customer, **args)
        assert exc.value.code == code
        assert field in exc.value.details
        assert not Case.objects.exists() and not CaseEvent.objects.exists()

    def test_unit_of_another_customer_is_refused(self, agent: User, customer: Any) -> None:
        foreign = factories.unit(customer=factories.customer())
        with pytest.raises(ApplicationError) as exc:
            case_open(actor=agent, customer=customer, channel="phone", subject="s", unit=foreign)
        assert "unit" in exc.value.details

    def test_unit_sets_product_line(self, agent: User, customer: Any) -> None:
        unit = factories.unit(customer=customer)
        case, _ = case_open(
            actor=agent, customer=customer, channel="walk_in", subject="s", unit=unit
        )
        assert case.product_line == unit.model.line

    def test_role_without_permission_cannot_open(self, warehouse_user: User, customer: Any) -> None:
        with pytest.raises(PermissionDenied):
            case_open(actor=warehouse_user, customer=customer, channel="phone", subject="s")


class TestTransitions:
    @pytest.mark.parametrize("status", Status.values)
    @pytest.mark.parametrize("action", list(TRANSITIONS))
    def test_every_action_from_every_status(
        self, supervisor: User, open_case: Case, status: str, action: str
    ) -> None:
        case = _force_status(open_case, status, assignee=supervisor)
        events_before = case.events.count()
        transition = TRANSITIONS[action]
        if status in transition.sources:
            result = case_transition(
                actor=supervisor, case=case, action=action, **ARGS.get(action, {})
            )
            assert result.status == transition.target
            assert Case.objects.get(pk=case.pk).status == transition.target
            event = case.events.filter(kind="status").last()
            assert event is not None
            assert (event.from_status, event.to_status, event.actor) == (
                status,
                transition.target,
                supervisor,
            )
            assert event.data["action"] == action
        else:
            with pytest.raises(ApplicationError) as exc:
                case_transition(actor=supervisor, case=case, action=action, **ARGS.get(action, {}))
            assert exc.value.code == "invalid_transition"
            assert exc.value.status_code == 409
            assert Case.objects.get(pk=case.pk).status == status
            assert case.events.count() == events_before

    def test_unknown_action(self, agent: User, open_case: Case) -> None:
        with pytest.raises(ApplicationError) as exc:
            case_transition(actor=agent, case=open_case, action="teleport")
        assert exc.value.code == "unknown_action"

    def test_resolve_needs_solution(self, agent: User, open_case: Case) -> None:
        case = _force_status(open_case, Status.IN_PROGRESS, assignee=agent)
        with pytest.raises(ApplicationError) as exc:
            case_transition(actor=agent, case=case, action="resolve")
        assert exc.value.code == "solution_required"
        assert Case.objects.get(pk=case.pk).status == Status.IN_PROGRESS

    @pytest.mark.parametrize("action", ["cancel", "reopen"])
    def test_reason_required(self, agent: User, open_case: Case, action: str) -> None:
        status = Status.RESOLVED if action == "reopen" else Status.NEW
        case = _force_status(open_case, status, assignee=agent)
        with pytest.raises(ApplicationError) as exc:
            case_transition(actor=agent, case=case, action=action, reason=" ")
        assert exc.value.code == "reason_required"

    def test_only_assignee_starts(self, agent: User, senior_agent: User, open_case: Case) -> None:
        case = _force_status(open_case, Status.ASSIGNED, assignee=senior_agent)
        with pytest.raises(PermissionDenied):
            case_transition(actor=agent, case=case, action="start")

    def test_technician_cannot_close(self, technician: User, open_case: Case) -> None:
        case = _force_status(open_case, Status.RESOLVED, assignee=technician)
        with pytest.raises(PermissionDenied):
            case_transition(actor=technician, case=case, action="close")


class TestFullLifecycle:
    def test_open_classify_assign_resolve_close(
        self, agent: User, customer: Any, desk_team: Team
    ) -> None:
        case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="空调不制热")
        case = case_classify(
            actor=agent, case=case, nature="hardware", subcategory="cooling", urgency="high"
        )
        assert case.status == Status.TRIAGED and case.priority == 2 and case.classified_by == agent
        case = case_assign(actor=agent, case=case, team=desk_team, assignee=agent)
        assert case.status == Status.ASSIGNED and case.assignee == agent
        case = case_transition(actor=agent, case=case, action="start")
        case = case_transition(
            actor=agent,
            case=case,
            action="resolve",
            solution_type="remote",
            solution_notes="重置遥控器",
        )
        assert case.status == Status.RESOLVED and case.resolved_at is not None
        assert case.first_contact_resolution is True
        case = case_transition(actor=agent, case=case, action="close")
        assert case.status == Status.CLOSED and case.closed_at is not None
        statuses = list(case.events.filter(kind="status").values_list("to_status", flat=True))
        assert statuses == ["triaged", "assigned", "in_progress", "resolved", "closed"]
        assert case.events.filter(kind="solution", data__solution_type="remote").exists()

    def test_contact_after_opening_means_not_first_contact_resolution(
        self, agent: User, open_case: Case, desk_team: Team
    ) -> None:
        case = case_assign(actor=agent, case=open_case, assignee=agent)
        case = case_transition(actor=agent, case=case, action="start")
        case_contact_log(
            actor=agent, case=case, direction="out", channel="phone", body="回电确认型号"
        )
        case = case_transition(actor=agent, case=case, action="resolve", solution_type="remote")
        assert case.first_contact_resolution is False

    def test_reopen_counts_and_clears_resolution(self, agent: User, open_case: Case) -> None:
        case = _force_status(open_case, Status.IN_PROGRESS, assignee=agent)
        case = case_transition(actor=agent, case=case, action="resolve", solution_type="remote")
        case = case_transition(actor=agent, case=case, action="reopen", reason="又坏了")
        assert case.status == Status.IN_PROGRESS
        assert case.reopen_count == 1 and case.resolved_at is None
        assert case.first_contact_resolution is False


class TestClassify:
    def test_correction_is_recorded(self, agent: User, senior_agent: User, open_case: Case) -> None:
        case_classify(actor=agent, case=open_case, nature="software", subcategory="app")
        case_classify(actor=senior_agent, case=open_case, nature="hardware", subcategory="display")
        last = open_case.events.filter(kind="classified").last()
        assert last is not None and last.actor == senior_agent
        assert last.data["correction"] is True
        assert last.data["before"]["nature"] == "software"
        assert last.data["after"]["nature"] == "hardware"

    def test_closed_case_cannot_be_reclassified(self, agent: User, open_case: Case) -> None:
        case = _force_status(open_case, Status.CLOSED)
        with pytest.raises(ApplicationError) as exc:
            case_classify(actor=agent, case=case, nature="usage")
        assert exc.value.code == "case_not_open"


class TestAssign:
    def test_reassignment_event_has_before_and_after(
        self, agent: User, senior_agent: User, open_case: Case, desk_team: Team
    ) -> None:
        case_assign(actor=agent, case=open_case, assignee=agent)
        case_assign(actor=agent, case=open_case, assignee=senior_agent, reason="需要高级坐席")
        event = open_case.events.filter(kind="assigned").last()
        assert event is not None
        assert event.data == {
            "from_team": desk_team.pk,
            "to_team": desk_team.pk,
            "from_assignee": agent.pk,
            "to_assignee": senior_agent.pk,
        }
        assert event.body == "需要高级坐席"

    def test_assignee_must_be_team_member(
        self, agent: User, other_agent: User, open_case: Case
    ) -> None:
        with pytest.raises(ApplicationError) as exc:
            case_assign(actor=agent, case=open_case, assignee=other_agent)
        assert exc.value.code == "invalid_assignment"
        assert Case.objects.get(pk=open_case.pk).assignee is None

    def test_agent_cannot_move_case_to_foreign_team(
        self, agent: User, other_team: Team, open_case: Case
    ) -> None:
        with pytest.raises(PermissionDenied):
            case_assign(actor=agent, case=open_case, team=other_team)

    def test_manager_moves_case_to_other_team(
        self, manager: User, other_agent: User, other_team: Team, open_case: Case
    ) -> None:
        case = case_assign(actor=manager, case=open_case, team=other_team, assignee=other_agent)
        assert case.team == other_team and case.assignee == other_agent

    def test_inactive_assignee_refused(
        self, agent: User, senior_agent: User, open_case: Case
    ) -> None:
        User.objects.filter(pk=senior_agent.pk).update(is_active=False)
        senior_agent.refresh_from_db()
        with pytest.raises(ApplicationError):
            case_assign(actor=agent, case=open_case, assignee=senior_agent)


class TestContacts:
    def test_first_outbound_contact_is_first_response(self, agent: User, customer: Any) -> None:
        open_case, _ = case_open(actor=agent, customer=customer, channel="email", subject="s")
        case_contact_log(
            actor=agent, case=open_case, direction="in", channel="phone", body="客户再次来电"
        )
        open_case.refresh_from_db()
        assert open_case.first_response_at is None
        event = case_contact_log(
            actor=agent, case=open_case, direction="out", channel="phone", body="已回电"
        )
        open_case.refresh_from_db()
        assert open_case.first_response_at == event.occurred_at

    @pytest.mark.parametrize(
        ("direction", "channel", "body"),
        [("sideways", "phone", "x"), ("in", "fax", "x"), ("in", "phone", "  ")],
    )
    def test_bad_contact_refused(
        self, agent: User, open_case: Case, direction: str, channel: str, body: str
    ) -> None:
        with pytest.raises(ApplicationError) as exc:
            case_contact_log(
                actor=agent, case=open_case, direction=direction, channel=channel, body=body
            )
        assert exc.value.code == "invalid_contact"
        assert not open_case.events.filter(kind="contact").exists()

    def test_note(self, agent: User, open_case: Case) -> None:
        event = case_note_add(actor=agent, case=open_case, body="内部备注")
        assert (event.kind, event.actor, event.body) == ("note", agent, "内部备注")


def test_tier_change_reprioritises_open_cases(manager: User, agent: User, customer: Any) -> None:
    from aftersales.customers.services import customer_set_tier

    open_case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="s")
    done, _ = case_open(actor=agent, customer=customer, channel="phone", subject="t")
    Case.objects.filter(pk=done.pk).update(status=Status.CLOSED)
    assert open_case.priority == 3
    customer_set_tier(
        actor=manager,
        customer=customer,
        tier="vip",
        reason="年度大客户",
        expires_at=clock.now() + dt.timedelta(days=365),
    )
    open_case.refresh_from_db()
    done.refresh_from_db()
    assert open_case.priority == 2 and done.priority == 3
    event = open_case.events.get(kind="priority")
    assert event.data == {"before": 3, "after": 2, "tier": "vip"}


def test_reassigning_a_routed_case_is_recorded_as_an_override(
    agent: User, senior_agent: User, supervisor: User, customer: Any
) -> None:
    case, _ = case_open(actor=agent, customer=customer, channel="email", subject="发票开错")
    routed = case.events.get(kind="routed")
    case_assign(actor=supervisor, case=case, assignee=senior_agent, reason="熟悉该客户")
    event = case.events.filter(kind="assigned").latest("id")
    assert event.data["overrides_routing"] == routed.pk
    assert event.actor == supervisor and event.body == "熟悉该客户"
    # A further reassignment overrides a person, not the rules.
    case_assign(actor=supervisor, case=case, assignee=agent)
    assert "overrides_routing" not in case.events.filter(kind="assigned").latest("id").data


def test_a_contact_keeps_its_instant_whatever_the_offset_and_not_before_the_case(
    agent: User, customer: Any
) -> None:
    case, _ = case_open(actor=agent, customer=customer, channel="email", subject="s")
    # +16:00 is a valid ISO offset the database cannot store as such: the instant is kept.
    far_east = dt.timezone(dt.timedelta(hours=16))
    at = case.created_at.astimezone(far_east)
    event = case_contact_log(
        actor=agent, case=case, direction="in", channel="app", body="追问进度", occurred_at=at
    )
    event.refresh_from_db()
    assert event.occurred_at == at
    with pytest.raises(ApplicationError) as refused:
        case_contact_log(
            actor=agent,
            case=case,
            direction="out",
            channel="phone",
            body="回电",
            occurred_at=case.created_at - dt.timedelta(hours=1),
        )
    assert refused.value.code == "invalid_contact"
    assert "occurred_at" in refused.value.details
    assert case.events.filter(kind="contact").count() == 1
