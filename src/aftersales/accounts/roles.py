"""The department's roles as groups with real permissions, and what scope each role sees.

Scopes decide *which* records a user sees; permissions decide *what* they may do with them.
"""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    FRONTLINE_AGENT = "frontline_agent"
    SENIOR_AGENT = "senior_agent"
    TECH_SUPPORT = "tech_support"
    TECHNICIAN = "technician"
    CALLBACK_AGENT = "callback_agent"
    COMPLAINT_REVIEWER = "complaint_reviewer"
    WAREHOUSE = "warehouse_staff"
    SUPERVISOR = "supervisor"
    REGIONAL_MANAGER = "regional_manager"
    MANAGER = "aftersales_manager"
    ADMINISTRATOR = "administrator"


ROLE_LABELS = {
    Role.FRONTLINE_AGENT: _("Front-line agent"),
    Role.SENIOR_AGENT: _("Senior agent"),
    Role.TECH_SUPPORT: _("Technical support"),
    Role.TECHNICIAN: _("Technician"),
    Role.CALLBACK_AGENT: _("Callback agent"),
    Role.COMPLAINT_REVIEWER: _("Complaint reviewer"),
    Role.WAREHOUSE: _("Warehouse staff"),
    Role.SUPERVISOR: _("Supervisor"),
    Role.REGIONAL_MANAGER: _("Regional manager"),
    Role.MANAGER: _("After-sales manager"),
    Role.ADMINISTRATOR: _("Administrator"),
}


class Scope(StrEnum):
    """Which records a role sees, widest wins when a user has several roles."""

    NONE = "none"
    OWN = "own"  # records assigned to the user
    TEAM = "team"  # records of the user's teams, plus their own
    LED_TEAMS = "led_teams"  # records of the teams they lead or belong to
    # Records of every team in the regions (Team.region) of the user's teams, plus their own.
    REGION = "region"
    ALL = "all"


ROLE_SCOPES = {
    Role.FRONTLINE_AGENT: Scope.TEAM,
    Role.SENIOR_AGENT: Scope.TEAM,
    Role.TECH_SUPPORT: Scope.TEAM,
    Role.TECHNICIAN: Scope.OWN,
    Role.CALLBACK_AGENT: Scope.TEAM,
    Role.COMPLAINT_REVIEWER: Scope.TEAM,
    Role.WAREHOUSE: Scope.NONE,
    Role.SUPERVISOR: Scope.LED_TEAMS,
    Role.REGIONAL_MANAGER: Scope.REGION,
    Role.MANAGER: Scope.ALL,
    Role.ADMINISTRATOR: Scope.ALL,
}
_ORDER = [Scope.NONE, Scope.OWN, Scope.TEAM, Scope.LED_TEAMS, Scope.REGION, Scope.ALL]

_CASE_WORK = [
    "cases.view_case",
    "cases.add_case",
    "cases.work_case",
    "cases.classify_case",
    "cases.assign_case",
    "cases.close_case",
    "customers.view_customer",
    "customers.add_customer",
    "customers.change_customer",
    "customers.reveal_contact",
    "catalog.view_unit",
    "catalog.add_unit",
    "catalog.change_unit",
    # Field rules (see `aftersales.core.policy`): who sees contacts, revenue and value figures.
    "customers.view_contact",
    "customers.view_customer_value",
    "catalog.view_purchase_amount",
]

# Absences and working hours: supervisors for the members of teams they lead, managers for all.
_STAFF_PLANNING = ["accounts.view_absence", "accounts.plan_staff"]

# Service commitments: SLA policies, escalation rules and business calendars (the admin site).
_COMMITMENTS = [
    "sla.view_slapolicy",
    "sla.add_slapolicy",
    "sla.change_slapolicy",
    "sla.view_slatarget",
    "sla.add_slatarget",
    "sla.change_slatarget",
    "sla.delete_slatarget",
    "sla.view_escalationrule",
    "sla.add_escalationrule",
    "sla.change_escalationrule",
    "sla.view_escalationfiring",
    "core.view_businesscalendar",
    "core.add_businesscalendar",
    "core.change_businesscalendar",
    "core.view_workingperiod",
    "core.add_workingperiod",
    "core.change_workingperiod",
    "core.delete_workingperiod",
    "core.view_calendarday",
    "core.add_calendarday",
    "core.change_calendarday",
    "core.delete_calendarday",
]

# Data-subject rights (PIPL/GDPR): managers handle erasure and see the privacy records; the
# retention rules are edited in the admin site.
_PRIVACY = [
    "privacy.export_subject",
    "privacy.erase_subject",
    "privacy.view_erasurerecord",
    "privacy.view_consent",
    "privacy.view_retentionrule",
    "privacy.change_retentionrule",
]

# Complaints (投诉): seeing them goes with seeing cases; handling them with the desk's work.
_COMPLAINT_WORK = [
    "complaints.view_complaint",
    "complaints.handle_complaint",
    "complaints.propose_compensation",
    # Within the approval limit of the approver's level (complaints.ApprovalLevel).
    "complaints.approve_compensation",
]
# Return visits (回访): everyone who sees cases sees their visits and surveys.
_VISITS_VIEW = ["callbacks.view_returnvisit", "callbacks.view_survey"]
_VISITS_WORK = [*_VISITS_VIEW, "callbacks.work_return_visit"]
# Rules and settings of complaints and return visits (the admin site).
_SERVICE_RULES = [
    "complaints.view_reviewpolicy",
    "complaints.change_reviewpolicy",
    "complaints.view_approvallevel",
    "complaints.add_approvallevel",
    "complaints.change_approvallevel",
    "complaints.view_lettertemplate",
    "complaints.add_lettertemplate",
    "complaints.change_lettertemplate",
    "callbacks.view_callbackrule",
    "callbacks.add_callbackrule",
    "callbacks.change_callbackrule",
    "callbacks.view_callbacksettings",
    "callbacks.change_callbacksettings",
    "callbacks.view_offer",
    "callbacks.add_offer",
    "callbacks.change_offer",
]
_SERVICE_REPORTS = ["complaints.view_complaint_report", "callbacks.view_callback_report"]

# Spare parts (备品配件): whoever works cases sees stock and reserves parts for their cases;
# warehouse staff run the stock and its planning; managers own the policies and settings.
_PARTS_VIEW = [
    "parts.view_part",
    "parts.view_location",
    "parts.view_stockbalance",
    "parts.view_reservation",
    "parts.view_backorder",
]
_PARTS_CASE = [*_PARTS_VIEW, "parts.reserve_part"]
_PARTS_PLANNING_VIEW = [
    "parts.view_stockmovement",
    "parts.view_transfer",
    "parts.view_cyclecount",
    "parts.view_supplier",
    "parts.view_forecast",
    "parts.view_stockpolicy",
    "parts.view_stocktarget",
    "parts.view_purchaseorder",
    "parts.view_demandevent",
    "parts.view_forecastoverride",
]
_PARTS_WAREHOUSE = [
    *_PARTS_CASE,
    *_PARTS_PLANNING_VIEW,
    "parts.add_part",
    "parts.change_part",
    "parts.add_supplier",
    "parts.change_supplier",
    "parts.add_location",
    "parts.change_location",
    "parts.move_stock",
    "parts.plan_parts",
    "parts.approve_replenishment",
]
_PARTS_RULES = [
    "parts.view_stockpolicy",
    "parts.add_stockpolicy",
    "parts.change_stockpolicy",
    "parts.view_partssettings",
    "parts.change_partssettings",
]

# Reading the audit log (core.audit): supervisors and up see every row; the reading is audited.
_AUDIT = ["core.view_auditevent"]

# Codenames as "app_label.codename"; created by migrations (model defaults and Meta.permissions).
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.FRONTLINE_AGENT: [*_CASE_WORK, *_COMPLAINT_WORK, *_VISITS_VIEW, *_PARTS_CASE],
    Role.SENIOR_AGENT: [
        *_CASE_WORK,
        "customers.merge_customer",
        *_COMPLAINT_WORK,
        *_VISITS_VIEW,
        *_PARTS_CASE,
    ],
    Role.TECH_SUPPORT: [*_CASE_WORK, "complaints.view_complaint", *_VISITS_VIEW, *_PARTS_CASE],
    # Technicians call and visit the customers of their work orders, but see no revenue.
    Role.TECHNICIAN: [
        "cases.view_case",
        "cases.work_case",
        "customers.view_customer",
        "customers.view_contact",
        "customers.reveal_contact",
        "catalog.view_unit",
        *_PARTS_CASE,
    ],
    Role.CALLBACK_AGENT: [
        "cases.view_case",
        "cases.work_case",
        "cases.close_case",
        "customers.view_customer",
        "customers.view_contact",
        "customers.view_customer_value",
        "customers.reveal_contact",
        "catalog.view_unit",
        "catalog.view_purchase_amount",
        "complaints.view_complaint",
        *_VISITS_WORK,
        "callbacks.view_callback_report",
        # Asked on the call: may we survey you, may we tell you about offers?
        "privacy.add_consent",
    ],
    # The independent review group: reads what a review needs, decides nothing about money.
    Role.COMPLAINT_REVIEWER: [
        "cases.view_case",
        "customers.view_customer",
        "customers.view_contact",
        "customers.view_customer_value",
        "catalog.view_unit",
        "catalog.view_purchase_amount",
        "complaints.view_complaint",
        "complaints.review_complaint",
        *_VISITS_VIEW,
    ],
    Role.WAREHOUSE: ["catalog.view_unit", "catalog.view_productmodel", *_PARTS_WAREHOUSE],
    Role.SUPERVISOR: [
        *_CASE_WORK,
        "cases.close_case",
        "cases.reassign_case",
        "customers.merge_customer",
        "customers.view_tier_report",
        "catalog.import_units",
        *_STAFF_PLANNING,
        *_AUDIT,
        *_COMPLAINT_WORK,
        *_VISITS_WORK,
        *_SERVICE_REPORTS,
        *_PARTS_CASE,
        *_PARTS_PLANNING_VIEW,
    ],
    # 区域经理: a supervisor's work over every team of their regions.
    Role.REGIONAL_MANAGER: [
        *_CASE_WORK,
        "cases.close_case",
        "cases.reassign_case",
        "customers.merge_customer",
        "customers.view_tier_report",
        "catalog.import_units",
        *_STAFF_PLANNING,
        *_AUDIT,
        *_COMPLAINT_WORK,
        *_VISITS_WORK,
        *_SERVICE_REPORTS,
        *_PARTS_CASE,
        *_PARTS_PLANNING_VIEW,
    ],
    Role.MANAGER: [
        *_CASE_WORK,
        "cases.close_case",
        "cases.reassign_case",
        "customers.merge_customer",
        "customers.view_tier_report",
        "customers.set_tier",
        "catalog.import_units",
        "catalog.change_productmodel",
        "catalog.add_productmodel",
        "catalog.add_productline",
        *_STAFF_PLANNING,
        *_AUDIT,
        *_COMMITMENTS,
        *_PRIVACY,
        *_COMPLAINT_WORK,
        *_VISITS_WORK,
        *_SERVICE_REPORTS,
        *_SERVICE_RULES,
        *_PARTS_CASE,
        *_PARTS_PLANNING_VIEW,
        *_PARTS_RULES,
        "parts.plan_parts",
        "parts.approve_replenishment",
    ],
    Role.ADMINISTRATOR: [
        *_CASE_WORK,
        "cases.close_case",
        "cases.reassign_case",
        "customers.merge_customer",
        "customers.view_tier_report",
        "customers.set_tier",
        "catalog.import_units",
        "catalog.change_productmodel",
        "catalog.add_productmodel",
        "catalog.add_productline",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_user",
        "accounts.add_team",
        "accounts.change_team",
        *_STAFF_PLANNING,
        *_AUDIT,
        *_COMMITMENTS,
        *_PRIVACY,
        "accounts.add_absence",
        "accounts.change_absence",
        "cases.view_routingrule",
        "cases.add_routingrule",
        "cases.change_routingrule",
        "complaints.view_complaint",
        *_VISITS_VIEW,
        *_SERVICE_RULES,
        # Outgoing webhooks send case data out of the system: administrators only.
        "integrations.view_webhook",
        "integrations.add_webhook",
        "integrations.change_webhook",
        "integrations.view_webhookdelivery",
        *_PARTS_VIEW,
        *_PARTS_RULES,
    ],
}


def widest_scope(role_names: list[str]) -> Scope:
    """The widest scope among a user's roles."""
    scopes = [ROLE_SCOPES[Role(n)] for n in role_names if n in Role._value2member_map_]
    return max(scopes, key=_ORDER.index, default=Scope.NONE)
