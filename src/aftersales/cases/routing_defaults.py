"""The routing rules every installation starts with (客户分层分派), as plain data.

Rules name a kind of team, not a team row: teams are created after migrations (by an
administrator or the demo seed), and a kind-plus-region target finds the customer's regional
desk, else one serving every region. A rule whose kind of team does not exist is passed over.

VIP technical faults go to the dedicated VIP desk first (the customer keeps one contact and its
30-minute response); the rules sending them to expert technical support rank right after it and
take over where there is no VIP desk. Rank them above the VIP desk rules to make experts primary.

The data migration installs these with its historical model; `default_rules_install` with the
live model restores them (e.g. after a database flush).
"""

from typing import Any

from django.db import transaction

# rank, name, criteria, action, note
DEFAULT_RULES: list[tuple[int, str, dict[str, Any], dict[str, Any], str]] = [
    (
        10,
        "VIP 投诉 → VIP 专席（资深）",
        {"case_kind": "complaint", "tier": "vip"},
        {"target_team_kind": "vip", "min_seniority": "senior"},
        "VIP complaints stay with the VIP desk, handled by senior agents.",
    ),
    (
        20,
        "VIP 硬件故障 → VIP 专席（资深）",
        {"tier": "vip", "nature": "hardware"},
        {"target_team_kind": "vip", "min_seniority": "senior"},
        "Primary for VIP technical faults; the desk brings in technical experts as needed.",
    ),
    (
        21,
        "VIP 软件问题 → VIP 专席（资深）",
        {"tier": "vip", "nature": "software"},
        {"target_team_kind": "vip", "min_seniority": "senior"},
        "Primary for VIP technical faults; the desk brings in technical experts as needed.",
    ),
    (
        25,
        "VIP 硬件故障 → 技术专家",
        {"tier": "vip", "nature": "hardware"},
        {"target_team_kind": "tech_support", "min_seniority": "expert"},
        "Takes over where there is no VIP desk; rank above 20 to make experts primary.",
    ),
    (
        26,
        "VIP 软件问题 → 技术专家",
        {"tier": "vip", "nature": "software"},
        {"target_team_kind": "tech_support", "min_seniority": "expert"},
        "Takes over where there is no VIP desk; rank above 21 to make experts primary.",
    ),
    (
        29,
        "VIP 其他 → VIP 专席（资深）",
        {"tier": "vip"},
        {"target_team_kind": "vip", "min_seniority": "senior"},
        "Every other VIP case goes to the VIP desk.",
    ),
    (
        30,
        "投诉 → 投诉处理组",
        {"case_kind": "complaint"},
        {"target_team_kind": "complaints"},
        "Complaints of regular and low-value customers.",
    ),
    (
        40,
        "普通客户 → 所在大区前台",
        {"tier": "regular"},
        {"target_team_kind": "frontline"},
        "The front-line desk of the customer's region, else any front-line desk.",
    ),
    (
        50,
        "低价值 使用咨询 → 自助服务优先（4 工时）",
        {"tier": "low", "nature": "usage"},
        {"target_team_kind": "frontline", "self_service_hours": 4},
        "Self-service and remote guidance first; a person takes over after 4 working hours.",
    ),
    (
        51,
        "低价值 软件问题 → 自助服务优先（4 工时）",
        {"tier": "low", "nature": "software"},
        {"target_team_kind": "frontline", "self_service_hours": 4},
        "Self-service and remote guidance first; a person takes over after 4 working hours.",
    ),
    (
        90,
        "其他 → 前台",
        {},
        {"target_team_kind": "frontline"},
        "Catch-all: the front-line desk of the customer's region, else any front-line desk.",
    ),
]


def default_rules_install(*, rule_model: Any = None) -> int:
    """Create the default rules when there are none; returns how many were created.

    Takes the model class so the data migration can run it with its historical model.
    """
    if rule_model is None:
        from .models import RoutingRule

        rule_model = RoutingRule
    with transaction.atomic():
        if rule_model.objects.exists():
            return 0
        rule_model.objects.bulk_create(
            rule_model(rank=rank, name=name, note=note, **criteria, **action)
            for rank, name, criteria, action, note in DEFAULT_RULES
        )
        return len(DEFAULT_RULES)
