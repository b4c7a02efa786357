"""Administration of the value tiers: the tier policy; history and overrides to look at.

Tier moves and overrides are written by the services only (with their audit and the cases'
re-prioritisation), so they are read-only here.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from aftersales.core import clock

from .models import TierChange, TierOverride, TierPolicy


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "is_active",
        "cutoff_mode",
        "weight_purchase",
        "weight_usage",
        "weight_feedback",
        "vip_share",
        "low_share",
        "scored_at",
    )
    fields = (
        "is_active",
        ("weight_purchase", "weight_usage", "weight_feedback"),
        ("lookback_months", "purchase_lookback_months"),
        "cutoff_mode",
        ("vip_share", "low_share"),
        ("vip_threshold", "low_threshold"),
        ("vip_cutoff", "low_cutoff", "scored_at"),
        ("updated_at", "updated_by"),
    )
    readonly_fields = ("vip_cutoff", "low_cutoff", "scored_at", "updated_at", "updated_by")

    def save_model(self, request: HttpRequest, obj: TierPolicy, form: Any, change: bool) -> None:
        obj.updated_at = clock.now()
        obj.updated_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TierChange)
class TierChangeAdmin(_ReadOnly):
    list_display = ("occurred_at", "customer", "before", "after", "source", "reason_code", "actor")
    list_filter = ("source", "after")
    search_fields = ("customer__number",)  # names are encrypted: not searchable in SQL
    list_select_related = ("customer", "actor")
    date_hierarchy = "occurred_at"


@admin.register(TierOverride)
class TierOverrideAdmin(_ReadOnly):
    list_display = ("customer", "tier", "expires_at", "set_by", "created_at", "ended_at")
    list_filter = ("tier", "end_reason")
    search_fields = ("customer__number",)  # names are encrypted: not searchable in SQL
    list_select_related = ("customer", "set_by")
