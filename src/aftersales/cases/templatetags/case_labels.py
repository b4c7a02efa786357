"""Template filters that show the stable codes stored in events with their translated labels."""

import datetime as dt
from typing import Any

from django import template
from django.utils.translation import gettext as _

from aftersales.cases.models import SUBCATEGORIES, Nature, SolutionType, Status, Urgency

register = template.Library()


def _label(enum: Any, code: str) -> str:
    try:
        return str(enum(code).label)
    except ValueError:
        return code or "—"


@register.filter
def status_label(code: str) -> str:
    return _label(Status, code)


@register.filter
def nature_label(code: str) -> str:
    return _label(Nature, code)


@register.filter
def urgency_label(code: str) -> str:
    return _label(Urgency, code)


@register.filter
def solution_label(code: str) -> str:
    return _label(SolutionType, code)


@register.filter
def subcategory_label(code: str, nature: str) -> str:
    return str(SUBCATEGORIES.get(nature, {}).get(code, code or "—"))


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """`1 d 3 h`, `2 h 29 min`, `12 min`: how long, at the precision people read."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": mins}
    return _("%(m)d min") % {"m": mins}


@register.filter
def metric_label(code: str) -> str:
    from aftersales.sla.models import Metric  # the sla app builds on cases

    return _label(Metric, code)


@register.filter
def iso(value: dt.datetime | None) -> str:
    """An aware datetime as ISO 8601 for `data-` attributes the live countdown reads."""
    return value.isoformat() if value else ""
