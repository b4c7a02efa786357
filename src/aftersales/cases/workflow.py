"""The case lifecycle as an explicit state machine: which action leads from which status where.

Only `cases.services` applies these; nothing else sets `Case.status`.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .models import Status

S = Status


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    permission: str
    needs_reason: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition("start", frozenset({S.ASSIGNED}), S.IN_PROGRESS, "cases.work_case"),
        Transition(
            "wait_customer", frozenset({S.IN_PROGRESS}), S.WAITING_CUSTOMER, "cases.work_case"
        ),
        Transition("wait_parts", frozenset({S.IN_PROGRESS}), S.WAITING_PARTS, "cases.work_case"),
        Transition(
            "resume",
            frozenset({S.WAITING_CUSTOMER, S.WAITING_PARTS}),
            S.IN_PROGRESS,
            "cases.work_case",
        ),
        Transition(
            "resolve",
            frozenset({S.IN_PROGRESS, S.WAITING_CUSTOMER}),
            S.RESOLVED,
            "cases.work_case",
        ),
        Transition("close", frozenset({S.RESOLVED}), S.CLOSED, "cases.close_case"),
        Transition(
            "reopen",
            frozenset({S.RESOLVED, S.CLOSED}),
            S.IN_PROGRESS,
            "cases.work_case",
            needs_reason=True,
        ),
        Transition(
            "cancel",
            frozenset(
                {
                    S.NEW,
                    S.TRIAGED,
                    S.ASSIGNED,
                    S.IN_PROGRESS,
                    S.WAITING_CUSTOMER,
                    S.WAITING_PARTS,
                }
            ),
            S.CANCELLED,
            "cases.work_case",
            needs_reason=True,
        ),
    ]
}

ACTION_LABELS = {
    "start": _("Start work"),
    "wait_customer": _("Wait for customer"),
    "wait_parts": _("Wait for parts"),
    "resume": _("Resume"),
    "resolve": _("Resolve"),
    "close": _("Close"),
    "reopen": _("Reopen"),
    "cancel": _("Cancel case"),
}

# Statuses from which classification and assignment move the case forward.
TRIAGE_SOURCES = frozenset({S.NEW})
ASSIGN_SOURCES = frozenset({S.NEW, S.TRIAGED, S.ASSIGNED, S.IN_PROGRESS})
# Assignment in a waiting state changes the person, not the status.
ASSIGN_KEEPS_STATUS = frozenset({S.WAITING_CUSTOMER, S.WAITING_PARTS})


def allowed_actions(status: str) -> list[str]:
    """Actions whose source statuses include `status`, in display order."""
    return [a for a, t in TRANSITIONS.items() if status in t.sources]


def priority_for(*, urgency: str, tier: str, boost: int = 0) -> int:
    """Priority 1 (highest) to 4 from urgency and customer tier: VIP moves one step up, and so
    does each escalation that raised it (`boost`)."""
    base = {"critical": 1, "high": 2, "normal": 3, "low": 4}[urgency]
    if tier == "vip":
        base -= 1
    return max(1, base - boost)
