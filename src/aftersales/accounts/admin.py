"""Administration of staff, teams, absences and API tokens (administrators, the admin site)."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from aftersales.core import clock
from aftersales.core.errors import ApplicationError

from .models import Absence, ApiToken, Team, TeamMembership, User
from .services import password_change_record, staff_set_active


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
                    "phone",
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
    actions = ["disable_users", "enable_users", "reset_second_factor"]

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        """Enabling or disabling goes through `staff_set_active`: tokens and sessions end."""
        if not change or "is_active" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        wanted = obj.is_active
        obj.is_active = not wanted  # the other changes first; the service flips the flag
        super().save_model(request, obj, form, change)
        try:
            staff_set_active(actor=request.user, user=obj, active=wanted)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def user_change_password(self, request: Any, id: str, form_url: str = "") -> Any:
        """The admin's "set password" form, audited like every other password change."""
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, unquote(id))
                if user is not None:
                    password_change_record(actor=request.user, user=user)
        return response

    def _set_active(self, request: Any, queryset: QuerySet[User], active: bool) -> None:
        done = 0
        for user in queryset.order_by("pk"):
            try:
                staff_set_active(actor=request.user, user=user, active=active)
            except ApplicationError as exc:
                self.message_user(request, f"{user.username}: {exc.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, _("%(n)d accounts changed.") % {"n": done})

    @admin.action(description=gettext_lazy("Disable (revoke tokens, end sessions)"))
    def disable_users(self, request: Any, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description=gettext_lazy("Enable"))
    def enable_users(self, request: Any, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, True)

    @admin.action(
        description=gettext_lazy("Reset second factor (enrol again at next sign-in, end sessions)")
    )
    def reset_second_factor(self, request: Any, queryset: QuerySet[User]) -> None:
        from .mfa import mfa_reset_by_administrator

        done = 0
        for user in queryset.order_by("pk"):
            try:
                mfa_reset_by_administrator(actor=request.user, user=user)
            except ApplicationError as exc:
                self.message_user(request, f"{user.username}: {exc.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, _("%(n)d accounts changed.") % {"n": done})


# Authenticators and recovery codes change only through the MFA services (audited, sessions
# ended); django-otp's own admin pages would let a secret be read or a device be deleted
# silently.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


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
