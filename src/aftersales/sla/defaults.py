"""The department's commitments (PRODUCT.md §2) as the default policies and escalation rules.

Complaints: a reply within 1 hour and a preliminary solution within 24 hours, resolved in 2
working days; VIP customers answered within 30 minutes on the 7×24 hotline calendar. Installed
by a migration; `sla_defaults_ensure` puts them back where a database was emptied (tests).
"""

from typing import Any

OFFICE = "cn-mainland"
HOTLINE = "always-open"

# (rank, name, match, pause statuses, [(metric, amount, unit, calendar)])
POLICIES: list[tuple[int, str, dict[str, str], list[tuple[str, int, str, str]]]] = [
    (
        10,
        "VIP 投诉 / VIP complaint",
        {"case_kind": "complaint", "tier": "vip"},
        [
            ("first_response", 30, "minutes", HOTLINE),
            ("preliminary_solution", 24, "hours", HOTLINE),
            ("resolution", 2, "days", OFFICE),
        ],
    ),
    (
        20,
        "投诉 / Complaint",
        {"case_kind": "complaint"},
        [
            ("first_response", 1, "hours", OFFICE),
            ("preliminary_solution", 24, "hours", HOTLINE),
            ("resolution", 2, "days", OFFICE),
        ],
    ),
    (
        30,
        "VIP 服务 / VIP service",
        {"tier": "vip"},
        [("first_response", 30, "minutes", HOTLINE), ("resolution", 2, "days", OFFICE)],
    ),
    (
        40,
        "紧急 / Critical",
        {"urgency": "critical"},
        [("first_response", 1, "hours", OFFICE), ("resolution", 1, "days", OFFICE)],
    ),
    (
        80,
        "低价值客户 / Low value",
        {"tier": "low"},
        [("first_response", 8, "hours", OFFICE), ("resolution", 5, "days", OFFICE)],
    ),
    (
        90,
        "标准服务 / Standard",
        {},
        [("first_response", 4, "hours", OFFICE), ("resolution", 3, "days", OFFICE)],
    ),
]

RULES: list[tuple[str, str, str, int | None, dict[str, Any]]] = [
    # name, trigger, metric, policy rank (None = any), actions
    ("提醒处理人 / Warn the assignee", "warning", "", None, {"notify_assignee": True}),
    (
        "超时：通知主管并提级 / Breach: supervisor and priority",
        "breach",
        "",
        None,
        {"notify_assignee": True, "notify_supervisor": True, "raise_priority": True},
    ),
    (
        "VIP 首响超时：转 VIP 专席 / VIP first response breached: VIP desk",
        "breach",
        "first_response",
        30,
        {"notify_supervisor": True, "move_to_team_kind": "vip"},
    ),
    (
        "VIP 投诉首响超时：转 VIP 专席 / VIP complaint reply breached: VIP desk",
        "breach",
        "first_response",
        10,
        {"notify_supervisor": True, "move_to_team_kind": "vip"},
    ),
]


def sla_defaults_install(
    *, calendar_model: Any, policy_model: Any, target_model: Any, rule_model: Any
) -> None:
    """Create the default policies and rules with the given (possibly historical) models."""
    calendars = {c.code: c for c in calendar_model.objects.filter(code__in=[OFFICE, HOTLINE])}
    if len(calendars) < 2:
        return  # calendars removed by hand: leave the policies to the administrator
    by_rank: dict[int, Any] = {}
    for rank, name, match, targets in POLICIES:
        policy = policy_model.objects.create(
            name=name, rank=rank, pause_statuses=["waiting_customer"], warn_percent=75, **match
        )
        by_rank[rank] = policy
        for metric, amount, unit, calendar in targets:
            target_model.objects.create(
                policy=policy, metric=metric, amount=amount, unit=unit, calendar=calendars[calendar]
            )
    for name, trigger, metric, policy_rank, actions in RULES:
        rule_model.objects.create(
            name=name,
            trigger=trigger,
            metric=metric,
            policy=by_rank.get(policy_rank) if policy_rank else None,
            **{"notify_assignee": False, **actions},
        )


def sla_defaults_ensure() -> None:
    """Install the defaults if there are no policies at all (e.g. after a database flush)."""
    from aftersales.core.models import BusinessCalendar

    from .models import EscalationRule, SlaPolicy, SlaTarget

    if not SlaPolicy.objects.exists():
        sla_defaults_install(
            calendar_model=BusinessCalendar,
            policy_model=SlaPolicy,
            target_model=SlaTarget,
            rule_model=EscalationRule,
        )
