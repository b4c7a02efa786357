"""Administration of routing rules (分派规则), behind the admin site."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import RoutingRule


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "rank",
        "name",
        "is_active",
        "case_kind",
        "tier",
        "nature",
        "channel",
        "region",
        "target_team",
        "target_team_kind",
        "min_seniority",
        "self_service_hours",
    )
    list_display_links = ("name",)
    list_editable = ("rank", "is_active")
    list_filter = ("is_active", "tier", "case_kind", "nature", "target_team_kind")
    search_fields = ("name", "note")
    ordering = ("rank", "id")
    autocomplete_fields = ["target_team"]
    fieldsets = (
        (None, {"fields": ("name", "rank", "is_active", "note")}),
        (
            _("Matches (blank: any)"),
            {"fields": ("case_kind", "tier", "nature", "product_line", "channel", "region")},
        ),
        (
            _("Routes to"),
            {
                "fields": (
                    "target_team",
                    "target_team_kind",
                    "min_seniority",
                    "required_role",
                    "self_service_hours",
                )
            },
        ),
    )
