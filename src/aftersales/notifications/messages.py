"""What each notification code says, rendered in the reader's language at display time."""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.sla.models import Metric


def _when(value: Any) -> str:
    if not value:
        return "—"
    moment = dt.datetime.fromisoformat(str(value))
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _metric(value: Any) -> str:
    try:
        return str(Metric(value).label)
    except ValueError:
        return str(value)


def render(code: str, params: dict[str, Any]) -> str:
    """One line of text for a notification; unknown codes show the code, never fail."""
    if code == "sla_warning":
        return _("Case %(case)s: %(metric)s is due at %(due)s (rule “%(rule)s”).") % {
            "case": params.get("case", ""),
            "metric": _metric(params.get("metric")),
            "due": _when(params.get("due_at")),
            "rule": params.get("rule", ""),
        }
    if code == "sla_breach":
        return _(
            "Case %(case)s: %(metric)s was due at %(due)s and is overdue (rule “%(rule)s”)."
        ) % {
            "case": params.get("case", ""),
            "metric": _metric(params.get("metric")),
            "due": _when(params.get("due_at")),
            "rule": params.get("rule", ""),
        }
    if code == "compensation_approval_needed":
        return _(
            "Complaint %(case)s: a compensation of ¥%(total)s waits for your approval "
            "(level “%(level)s”)."
        ) % {
            "case": params.get("case", ""),
            "total": params.get("total", ""),
            "level": params.get("level", ""),
        }
    return code
