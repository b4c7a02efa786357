"""Administration of the return-visit rules, the callback team's settings and the offers."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import CallbackRule, CallbackSettings, Offer


@admin.register(CallbackRule)
class CallbackRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "rank",
        "name",
        "is_active",
        "case_kind",
        "tier",
        "sample_percent",
        "delay_hours",
        "reason",
    )
    list_display_links = ("name",)
    list_editable = ("rank", "is_active")
    list_filter = ("is_active", "case_kind", "tier")
    search_fields = ("name", "reason")
    ordering = ("rank", "id")
    fieldsets = (
        (None, {"fields": ("name", "rank", "is_active", "reason")}),
        (_("Matches (blank: any)"), {"fields": ("case_kind", "tier")}),
        (_("Visit"), {"fields": ("sample_percent", "delay_hours")}),
    )


@admin.register(CallbackSettings)
class CallbackSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One row: it can be changed, never added twice or deleted."""

    list_display = (
        "__str__",
        "retry_after_hours",
        "max_attempts",
        "care_interval_days",
        "survey_link_days",
        "unsatisfied_csat",
        "unsatisfied_attitude",
        "warranty_offer_days",
    )
    readonly_fields = ("updated_at",)
    fieldsets = (
        (_("Call attempts"), {"fields": ("retry_after_hours", "max_attempts")}),
        (_("Care calls"), {"fields": ("care_interval_days",)}),
        (
            _("Surveys"),
            {"fields": ("survey_link_days", "unsatisfied_csat", "unsatisfied_attitude")},
        ),
        (_("Recommendations"), {"fields": ("warranty_offer_days",)}),
        (None, {"fields": ("updated_at",)}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not CallbackSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "kind", "product_line", "title_zh", "title_en", "price", "is_active")
    list_editable = ("is_active",)
    list_filter = ("is_active", "kind", "product_line")
    search_fields = ("code", "title_zh", "title_en")
    ordering = ("kind", "code")
    fields = ("code", "kind", "product_line", "title_zh", "title_en", "price", "is_active")
