"""Administration of staff, teams and API tokens (for administrators, behind the admin site)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, Team, TeamMembership, User


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["team"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Aftersales", {"fields": ("display_name", "preferred_language")}),
    )
    list_display = ("username", "display_name", "is_active", "last_login")
    list_filter = ("is_active", "groups", "memberships__team")
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
