"""Administration of staff, teams, absences and API tokens (administrators, the admin site)."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from aftersales.core import clock

from .models import Absence, ApiToken, Team, TeamMembership, User


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            "Aftersales",
            {
                "fields": (
                    "display_name",
                    "preferred_language",
                    "seniority",
                    "work_calendar",
                    "accepting_cases",
                )
            },
        ),
    )
    list_display = (
        "username",
        "display_name",
        "seniority",
        "accepting_cases",
        "is_active",
        "last_login",
    )
    list_filter = ("is_active", "seniority", "accepting_cases", "groups", "memberships__team")
    search_fields = ("username", "display_name", "email")
    inlines = [MembershipInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "code", "kind", "region", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "code", "region")
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")
    search_fields = ("name", "user__username", "prefix")


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "reason", "starts_at", "ends_at", "created_by", "cancelled_at")
    list_filter = ("reason", ("cancelled_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__display_name", "note")
    date_hierarchy = "starts_at"
    autocomplete_fields = ["user"]
    readonly_fields = ("created_by", "created_at", "cancelled_by", "cancelled_at")

    def save_model(self, request: Any, obj: Absence, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
            obj.created_at = clock.now()
        super().save_model(request, obj, form, change)
