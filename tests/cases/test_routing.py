"""Tier-driven routing: rules by rank, the team by kind and region, the person by shift and work."""

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from aftersales.accounts.models import Absence, Team, User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import absence_record, availability_set, team_create
from aftersales.cases.models import Case, CaseEvent, RoutingRule, Status
from aftersales.cases.routing import (
    case_route,
    province_region,
    route_decide,
    routing_sweep,
)
from aftersales.cases.routing_defaults import default_rules_install
from aftersales.catalog.models import ProductLine
from aftersales.core import clock
from aftersales.core.calendars import default_calendars_ensure
from aftersales.core.errors import ApplicationError
from aftersales.core.models import BusinessCalendar, WorkingPeriod
from aftersales.customers.models import Address, Customer
from tests import factories
from tests.concurrency import run_together

T = TypeVar("T")

SH = ZoneInfo("Asia/Shanghai")
MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=SH)
MONDAY_16 = dt.datetime(2026, 12, 7, 16, 0, tzinfo=SH)
MONDAY_20 = dt.datetime(2026, 12, 7, 20, 0, tzinfo=SH)
TUESDAY_9 = dt.datetime(2026, 12, 8, 9, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def calendars(db: Any) -> None:
    default_calendars_ensure()


@pytest.fixture
def no_rules(db: Any) -> None:
    RoutingRule.objects.all().delete()


@pytest.fixture
def default_rules(db: Any) -> None:
    RoutingRule.objects.all().delete()
    default_rules_install()


@pytest.fixture
def vip_team(db: Any) -> Team:
    return team_create(code="vip", name="VIP 贵宾专席", kind="vip")


@pytest.fixture
def always_open(db: Any) -> BusinessCalendar:
    return BusinessCalendar.objects.get(code="always-open")


def _customer(tier: str = "regular", province: str = "") -> Customer:
    customer = factories.customer(tier=tier)
    if province:
        Address.objects.create(customer=customer, province=province, city="", is_default=True)
    return customer


def _case(customer: Customer, **fields: Any) -> Case:
    case: Case = factories.case(customer)
    if fields:
        Case.objects.filter(pk=case.pk).update(**fields)
        case.refresh_from_db()
    return case


def _routed(case: Case) -> list[dict[str, Any]]:
    return [e.data for e in case.events.filter(kind=CaseEvent.Kind.ROUTED).order_by("id")]


def _rule(rank: int, name: str, **fields: Any) -> RoutingRule:
    rule: RoutingRule = RoutingRule.objects.create(rank=rank, name=name, **fields)
    return rule


# Regions


@pytest.mark.parametrize(
    ("province", "region"),
    [
        ("广东", "华南"),
        ("广东省", "华南"),
        ("广西壮族自治区", "华南"),
        ("北京市", "华北"),
        ("内蒙古自治区", "华北"),
        ("黑龙江省", "东北"),
        ("新疆维吾尔自治区", "西北"),
        ("宁夏回族自治区", "西北"),
        ("重庆市", "西南"),
        ("湖北省", "华中"),
        ("浙江", "华东"),
        ("Ontario", ""),
        ("", ""),
    ],
)
def test_province_region(province: str, region: str) -> None:
    assert province_region(province) == region


# Rules


def test_first_active_rule_by_rank_wins_and_blank_criteria_match_anything(
    no_rules: None, desk_team: Team, other_team: Team, tech_team: Team
) -> None:
    _rule(5, "switched off", tier="vip", target_team=tech_team, is_active=False)
    hardware = _rule(10, "VIP hardware", tier="vip", nature="hardware", target_team=tech_team)
    vip = _rule(20, "VIP", tier="vip", target_team=other_team)
    anything = _rule(90, "anything", target_team=desk_team)
    vip_customer = _customer("vip")

    decision = route_decide(_case(vip_customer, nature="hardware"), at=MONDAY_10)
    assert decision.rule == hardware and decision.team == tech_team
    assert decision.matched == {"tier": "vip", "nature": "hardware"}

    decision = route_decide(_case(vip_customer, nature="usage"), at=MONDAY_10)
    assert decision.rule == vip and decision.matched == {"tier": "vip"}

    decision = route_decide(_case(_customer("regular"), nature="hardware"), at=MONDAY_10)
    assert decision.rule == anything and decision.matched == {}


def test_every_criterion_must_match(no_rules: None, desk_team: Team, tech_team: Team) -> None:
    line = ProductLine.objects.create(code="watch", name_zh="手表", name_en="Watch")
    narrow = _rule(
        10,
        "south app complaints about watches",
        case_kind="complaint",
        tier="regular",
        nature="software",
        product_line=line,
        channel="app",
        region="华南",
        target_team=tech_team,
    )
    _rule(90, "anything", target_team=desk_team)
    fields: dict[str, Any] = {
        "kind": "complaint",
        "nature": "software",
        "product_line": line,
        "channel": "app",
    }
    south = _customer("regular", "广东省")
    decision = route_decide(_case(south, **fields), at=MONDAY_10)
    assert decision.rule == narrow
    assert decision.matched == {
        "case_kind": "complaint",
        "tier": "regular",
        "nature": "software",
        "product_line": line.pk,
        "channel": "app",
        "region": "华南",
    }
    changes: list[dict[str, Any]] = [
        {"kind": "service"},
        {"nature": "hardware"},
        {"product_line": None},
        {"channel": "phone"},
    ]
    for change in changes:
        assert route_decide(_case(south, **{**fields, **change}), at=MONDAY_10).rule != narrow
    north = _customer("regular", "北京市")
    assert route_decide(_case(north, **fields), at=MONDAY_10).rule != narrow
    assert route_decide(_case(_customer("vip", "广东"), **fields), at=MONDAY_10).rule != narrow


def test_team_kind_goes_to_the_customers_region_else_one_serving_all(no_rules: None) -> None:
    south = team_create(code="desk-south", name="华南前台", kind="frontline", region="华南")
    north = team_create(code="desk-north", name="华北前台", kind="frontline", region="华北")
    guangxi = team_create(code="desk-gx", name="广西前台", kind="frontline", region="广西")
    national = team_create(code="desk-all", name="全国前台", kind="frontline")
    _rule(10, "front line", target_team_kind="frontline")

    def team_for(province: str) -> Team | None:
        return route_decide(_case(_customer("regular", province)), at=MONDAY_10).team

    assert team_for("广东省") == south
    assert team_for("北京") == north
    assert team_for("广西壮族自治区") == guangxi  # its own province's desk first
    assert team_for("四川省") == national  # no desk in 西南
    assert team_for("") == national
    decision = route_decide(_case(_customer("regular", "广东")), at=MONDAY_10)
    assert decision.region == "华南"


def test_rule_whose_kind_of_team_does_not_exist_is_passed_over(
    no_rules: None, desk_team: Team
) -> None:
    vip = _rule(10, "VIP desk", tier="vip", target_team_kind="vip")
    _rule(90, "anything", target_team_kind="frontline")
    case = _case(_customer("vip"))
    decision = route_decide(case, at=MONDAY_10)
    assert decision.team == desk_team and decision.skipped == [vip]
    with clock.frozen_at(MONDAY_10):
        case_route(case=case)
    assert _routed(case)[0]["skipped_rules"] == [vip.pk]


def test_no_rule_leaves_the_case_where_it_is(no_rules: None, desk_team: Team) -> None:
    case = _case(_customer(), team=desk_team)
    with clock.frozen_at(MONDAY_10):
        decision = case_route(case=case)
    case.refresh_from_db()
    assert decision.reason == "no_rule" and decision.rule is None
    assert case.team == desk_team and case.assignee is None and case.status == Status.NEW
    assert _routed(case)[0]["reason"] == "no_rule"


# People: seniority, shifts, absences, "away"


def test_vip_case_lands_with_a_senior_agent_on_shift(
    default_rules: None,
    vip_team: Team,
    make_staff: Callable[..., User],
    supervisor: User,
    manager: User,
) -> None:
    junior = make_staff(Role.FRONTLINE_AGENT, teams=[vip_team], username="junior")
    absent = make_staff(Role.SENIOR_AGENT, teams=[vip_team], username="absent")
    weekend = make_staff(Role.SENIOR_AGENT, teams=[vip_team], username="weekend")
    away = make_staff(Role.SENIOR_AGENT, teams=[vip_team], username="away")
    on_shift = make_staff(Role.SENIOR_AGENT, teams=[vip_team], username="on_shift")
    # The one on shift already has work; the others have none, and must still be passed over.
    _case(_customer(), team=vip_team, assignee=on_shift, status=Status.IN_PROGRESS)
    absence_record(
        actor=manager,
        user=absent,
        starts_at=MONDAY_10 - dt.timedelta(hours=1),
        ends_at=MONDAY_10 + dt.timedelta(hours=8),
        reason=Absence.Reason.LEAVE,
    )
    weekends = BusinessCalendar.objects.create(code="weekends", name="周末班")
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(calendar=weekends, weekday=day, start=dt.time(9), end=dt.time(21))
        for day in (5, 6)
    )
    weekend.work_calendar = weekends
    weekend.save()
    availability_set(actor=away, accepting=False)

    case = _case(_customer("vip", "广东"), nature="hardware", priority=2)
    with clock.frozen_at(MONDAY_10):
        decision = case_route(case=case)

    case.refresh_from_db()
    assert case.team == vip_team and case.assignee == on_shift
    assert case.status == Status.ASSIGNED
    assert decision.reason == "least_loaded" and decision.chosen == on_shift
    data = _routed(case)[0]
    assert data["rule_name"] == "VIP 硬件故障 → VIP 专席（资深）"
    assert data["matched"] == {"tier": "vip", "nature": "hardware"}
    assert data["team"] == vip_team.pk and data["chosen"] == on_shift.pk
    assert data["to_assignee"] == on_shift.pk and data["from_assignee"] is None
    candidates = {
        c["user"]: (c["available"], c["unavailable"], c["open"]) for c in data["candidates"]
    }
    assert candidates == {
        absent.pk: (False, "absent", 0),
        weekend.pk: (False, "off_shift", 0),
        away.pk: (False, "away", 0),
        on_shift.pk: (True, "", 1),
    }
    assert junior.pk not in candidates  # below the rule's seniority
    status = case.events.get(kind=CaseEvent.Kind.STATUS)
    assert (status.from_status, status.to_status, status.data) == (
        "new",
        "assigned",
        {"action": "route"},
    )


def test_nobody_qualified_keeps_the_case_in_the_team(
    default_rules: None, vip_team: Team, make_staff: Callable[..., User]
) -> None:
    make_staff(Role.FRONTLINE_AGENT, teams=[vip_team])
    case = _case(_customer("vip"), nature="software")
    with clock.frozen_at(MONDAY_10):
        decision = case_route(case=case)
    case.refresh_from_db()
    assert decision.reason == "nobody_qualified" and decision.candidates == []
    assert case.team == vip_team and case.assignee is None and case.status == Status.TRIAGED


def test_team_leads_are_not_given_cases(
    no_rules: None, desk_team: Team, supervisor: User, agent: User
) -> None:
    _rule(10, "desk", target_team=desk_team)
    decision = route_decide(_case(_customer()), at=MONDAY_10)
    assert [c.user for c in decision.candidates] == [agent]


# Balancing


def test_nine_cases_spread_three_each_across_three_agents(
    no_rules: None, desk_team: Team, make_staff: Callable[..., User]
) -> None:
    agents = [make_staff(Role.FRONTLINE_AGENT, teams=[desk_team]) for _ in range(3)]
    _rule(10, "desk", target_team=desk_team)
    customer = _customer()
    order = []
    for minute in range(9):
        with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=minute)):
            order.append(case_route(case=_case(customer)).chosen)
    assert Counter(order) == {agent: 3 for agent in agents}
    # Equal work goes to whoever was given a case least recently, first time by id.
    assert order == agents * 3


def test_open_work_is_weighted_by_priority(
    no_rules: None, desk_team: Team, make_staff: Callable[..., User]
) -> None:
    busy, calm = (make_staff(Role.FRONTLINE_AGENT, teams=[desk_team]) for _ in range(2))
    _rule(10, "desk", target_team=desk_team)
    customer = _customer()
    _case(customer, team=desk_team, assignee=busy, status=Status.ASSIGNED, priority=1)  # weighs 4
    for _ in range(3):  # weigh 1 each
        _case(customer, team=desk_team, assignee=calm, status=Status.ASSIGNED, priority=4)
    _case(customer, team=desk_team, assignee=calm, status=Status.CLOSED, priority=1)  # not open
    decision = route_decide(_case(customer), at=MONDAY_10)
    loads = {c.user: (c.open_cases, c.workload) for c in decision.candidates}
    assert loads == {busy: (1, 4), calm: (3, 3)}
    assert decision.chosen == calm


def test_equal_work_goes_to_who_was_given_a_case_least_recently(
    no_rules: None, desk_team: Team, make_staff: Callable[..., User]
) -> None:
    first, second = (make_staff(Role.FRONTLINE_AGENT, teams=[desk_team]) for _ in range(2))
    _rule(10, "desk", target_team=desk_team)
    done = _case(_customer(), team=desk_team, status=Status.CLOSED)
    CaseEvent.objects.create(
        case=done,
        kind=CaseEvent.Kind.ASSIGNED,
        occurred_at=MONDAY_10 - dt.timedelta(hours=1),
        data={"to_assignee": first.pk},
    )
    assert route_decide(_case(_customer()), at=MONDAY_10).chosen == second


# Nobody on shift, and the sweep


def test_nobody_on_shift_waits_in_the_team_until_the_sweep_finds_someone(
    no_rules: None, desk_team: Team, agent: User
) -> None:
    _rule(10, "desk", target_team=desk_team)
    case = _case(_customer())
    with clock.frozen_at(MONDAY_20):
        decision = case_route(case=case)
    case.refresh_from_db()
    assert decision.chosen is None and decision.reason == "nobody_available"
    assert case.team == desk_team and case.assignee is None and case.status == Status.TRIAGED
    data = _routed(case)[0]
    assert data["reason"] == "nobody_available" and data["chosen"] is None
    assert data["candidates"] == [
        {
            "user": agent.pk,
            "name": "agent",
            "open": 0,
            "load": 0,
            "available": False,
            "unavailable": "off_shift",
        }
    ]

    with clock.frozen_at(MONDAY_20 + dt.timedelta(hours=2)):
        assert routing_sweep() == 0  # still night: nothing written
    assert len(_routed(case)) == 1

    with clock.frozen_at(TUESDAY_9):
        assert routing_sweep() == 1
        assert routing_sweep() == 0
    case.refresh_from_db()
    assert case.assignee == agent and case.status == Status.ASSIGNED
    retried = _routed(case)
    assert len(retried) == 2
    assert retried[1]["reason"] == "least_loaded" and retried[1]["trigger"] == "retry"
    assert case.events.filter(kind=CaseEvent.Kind.ROUTED).last().occurred_at == TUESDAY_9


def test_sweep_leaves_a_case_a_supervisor_moved_since(
    no_rules: None, desk_team: Team, other_team: Team, agent: User, supervisor: User
) -> None:
    _rule(10, "desk", target_team=desk_team)
    case = _case(_customer())
    with clock.frozen_at(MONDAY_20):
        case_route(case=case)
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.ASSIGNED,
        actor=supervisor,
        occurred_at=MONDAY_20 + dt.timedelta(minutes=5),
        data={"from_team": desk_team.pk, "to_team": other_team.pk, "to_assignee": None},
    )
    with clock.frozen_at(TUESDAY_9):
        assert routing_sweep() == 0
    assert len(_routed(case)) == 1


# Self-service first


def test_low_value_usage_question_gets_self_service_first_then_a_person(
    default_rules: None, desk_team: Team, agent: User
) -> None:
    case = _case(_customer("low", "广东"), nature="usage")
    with clock.frozen_at(MONDAY_16):
        decision = case_route(case=case)
    case.refresh_from_db()
    # 4 working hours from Monday 16:00 on 09:00-18:00 office hours: Tuesday 11:00.
    until = dt.datetime(2026, 12, 8, 11, 0, tzinfo=SH)
    assert decision.reason == "self_service_first" and decision.self_service_until == until
    assert case.self_service_until == until
    assert case.team == desk_team and case.assignee is None and case.status == Status.TRIAGED
    first = _routed(case)[0]
    assert first["reason"] == "self_service_first"
    assert first["rule_name"] == "低价值 使用咨询 → 自助服务优先（4 工时）"
    assert first["self_service_until"] == until.isoformat()

    with clock.frozen_at(until - dt.timedelta(minutes=1)):
        assert routing_sweep() == 0
    with clock.frozen_at(until):
        assert routing_sweep() == 1
        assert routing_sweep() == 0
    case.refresh_from_db()
    assert case.assignee == agent and case.status == Status.ASSIGNED
    assert case.self_service_until is None
    handed_over = _routed(case)
    assert len(handed_over) == 2
    assert handed_over[1]["reason"] == "self_service_expired"
    assert handed_over[1]["trigger"] == "self_service_expired"

    # Routed again later (e.g. reopened), it does not start self-service a second time.
    Case.objects.filter(pk=case.pk).update(assignee=None, status=Status.TRIAGED)
    with clock.frozen_at(TUESDAY_9 + dt.timedelta(days=1)):
        again = case_route(case=case)
    assert again.reason == "least_loaded" and again.chosen == agent


def test_self_service_over_with_nobody_on_shift_waits_for_the_next_one(
    default_rules: None, desk_team: Team, agent: User
) -> None:
    case = _case(_customer("low"), nature="software")
    with clock.frozen_at(MONDAY_16):
        case_route(case=case)
    case.refresh_from_db()
    availability_set(actor=agent, accepting=False)
    assert case.self_service_until is not None
    with clock.frozen_at(case.self_service_until):
        assert routing_sweep() == 0
    case.refresh_from_db()
    assert case.self_service_until is None and case.assignee is None
    assert [d["reason"] for d in _routed(case)] == ["self_service_first", "nobody_available"]
    availability_set(actor=agent, accepting=True)
    with clock.frozen_at(TUESDAY_9 + dt.timedelta(hours=3)):
        assert routing_sweep() == 1
    case.refresh_from_db()
    assert case.assignee == agent


def test_reclassified_out_of_self_service_goes_to_a_person_at_once(
    default_rules: None, desk_team: Team, agent: User
) -> None:
    case = _case(_customer("low"), nature="usage")
    with clock.frozen_at(MONDAY_10):
        assert case_route(case=case).reason == "self_service_first"
        assert case_route(case=case).reason == "self_service_first"  # still within its time
    case.refresh_from_db()
    assert case.self_service_until == MONDAY_10 + dt.timedelta(hours=4)
    Case.objects.filter(pk=case.pk).update(nature="hardware")  # not a self-service question
    with clock.frozen_at(MONDAY_10 + dt.timedelta(minutes=30)):
        decision = case_route(case=case)
    case.refresh_from_db()
    assert decision.reason == "least_loaded" and case.assignee == agent
    assert case.self_service_until is None


def test_regular_customer_is_not_sent_to_self_service(
    default_rules: None, desk_team: Team, agent: User
) -> None:
    case = _case(_customer("regular"), nature="usage")
    with clock.frozen_at(MONDAY_10):
        decision = case_route(case=case)
    assert decision.reason == "least_loaded" and decision.chosen == agent


# Guards


def test_closed_case_cannot_be_routed(default_rules: None, desk_team: Team, agent: User) -> None:
    case = _case(_customer(), status=Status.CLOSED)
    with pytest.raises(ApplicationError) as error:
        case_route(case=case)
    assert error.value.code == "invalid_transition" and error.value.status_code == 409
    assert not _routed(case)


def test_routing_on_request_needs_the_assign_permission(
    default_rules: None, desk_team: Team, agent: User, technician: User
) -> None:
    case = _case(_customer())
    with pytest.raises(PermissionDenied):
        case_route(case=case, actor=technician)
    with clock.frozen_at(MONDAY_10):
        case_route(case=case, actor=agent)
    assert case.events.get(kind=CaseEvent.Kind.ROUTED).actor == agent


# Concurrency (PostgreSQL)


def _run_concurrently(n: int, fn: Callable[[int], T]) -> list[T]:
    return run_together([lambda i=i: fn(i) for i in range(n)])


def _postgres(test: Callable[..., None]) -> Callable[..., None]:
    for mark in (
        pytest.mark.postgres,
        pytest.mark.django_db(transaction=True, serialized_rollback=True),
        pytest.mark.skipif(
            connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
        ),
    ):
        test = mark(test)
    return test


def _staffed_team(make_staff: Callable[..., User], always_open: BusinessCalendar) -> list[User]:
    """Four agents on a 7x24 calendar in one team, and one rule sending everything there."""
    team = team_create(code="desk-cc", name="并发前台", kind="frontline")
    RoutingRule.objects.all().delete()
    _rule(10, "desk", target_team=team)
    agents = [make_staff(Role.FRONTLINE_AGENT, teams=[team]) for _ in range(4)]
    User.objects.filter(pk__in=[a.pk for a in agents]).update(work_calendar=always_open)
    return agents


def _routed_per_case() -> Counter[int]:
    return Counter(
        CaseEvent.objects.filter(kind=CaseEvent.Kind.ROUTED).values_list("case_id", flat=True)
    )


@_postgres
def test_concurrent_routing_into_one_team_balances(
    make_staff: Callable[..., User], always_open: BusinessCalendar
) -> None:
    agents = _staffed_team(make_staff, always_open)
    cases = [_case(_customer()) for _ in range(20)]

    def route(thread: int) -> list[int | None]:
        return [getattr(case_route(case=c).chosen, "pk", None) for c in cases[thread::2]]

    chosen = [pk for picks in _run_concurrently(2, route) for pk in picks]
    counts = Counter(Case.objects.values_list("assignee_id", flat=True))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert counts == {a.pk: 5 for a in agents}
    assert Counter(chosen) == counts
    assert _routed_per_case() == {c.pk: 1 for c in cases}
    # Serialised by the team lock: every decision saw the work given by all earlier ones.
    given: Counter[int] = Counter()
    for event in CaseEvent.objects.filter(kind=CaseEvent.Kind.ROUTED).order_by("id"):
        seen = {c["user"]: c["open"] for c in event.data["candidates"]}
        assert seen == {a.pk: given[a.pk] for a in agents}
        given[event.data["chosen"]] += 1


@_postgres
def test_concurrent_sweeps_route_each_waiting_case_once(
    make_staff: Callable[..., User], always_open: BusinessCalendar
) -> None:
    agents = _staffed_team(make_staff, always_open)
    User.objects.filter(pk__in=[a.pk for a in agents]).update(accepting_cases=False)
    customer = _customer()
    cases = [_case(customer) for _ in range(50)]
    for c in cases:
        assert case_route(case=c).reason == "nobody_available"
    User.objects.filter(pk__in=[a.pk for a in agents]).update(accepting_cases=True)

    swept = _run_concurrently(2, lambda _: routing_sweep())

    assert sum(swept) == 50
    assert _routed_per_case() == {c.pk: 2 for c in cases}  # nobody, then a person: once each
    counts = Counter(Case.objects.values_list("assignee_id", flat=True))
    assert set(counts) == {a.pk for a in agents}
    assert routing_sweep() == 0
