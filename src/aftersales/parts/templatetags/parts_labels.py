"""Labels for the spare-parts pages, and the case page's parts panel."""

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from aftersales.parts.models import (
    Backorder,
    Location,
    Reservation,
    SbcClass,
    StockKind,
    StockMovement,
)

register = template.Library()


@register.filter
def sbc_label(value: str) -> Any:
    """The demand pattern's name ("lumpy" -> "Lumpy", translated); blank stays blank."""
    return SbcClass(value).label if value in SbcClass.values else value


# Forecast methods with a name of their own; the statsforecast methods keep theirs.
METHOD_LABELS = {
    "stacked": _("Learned combination (auto)"),
    "installed_base": _("Installed base"),
    "history_mean": _("Average of the history"),
}


@register.filter
def method_label(value: str) -> Any:
    """A forecast method's name for people ("stacked" -> "Learned combination (auto)")."""
    return METHOD_LABELS.get(value, value)


@register.filter
def stock_kind_label(value: str) -> Any:
    return StockKind(value).label if value in StockKind.values else value


@register.filter
def movement_label(value: str) -> Any:
    return StockMovement.Kind(value).label if value in StockMovement.Kind.values else value


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    """A share (0.953) as a percentage ("95.3%"); blank for none."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


@register.simple_tag
def case_parts(case: Any) -> dict[str, Any]:
    """What the case page's parts panel shows: the case's reservations and waiting or filled
    backorders, and the locations a reservation can be made at."""
    return {
        "reservations": Reservation.objects.filter(case=case)
        .select_related("part", "location")
        .order_by("created_at", "id"),
        "backorders": Backorder.objects.filter(case=case)
        .exclude(status=Backorder.Status.FILLED)
        .select_related("part", "location"),
        "locations": Location.objects.filter(is_active=True).order_by("code"),
    }


@register.filter
def line_reason(reason: Any, part_id: int) -> Any:
    """A suggested transfer's reason for one of its parts (position, reorder point...)."""
    lines = reason.get("lines", {}) if isinstance(reason, dict) else {}
    return lines.get(str(part_id), {})
