"""The Django admin only after the second factor, entered through the staff sign-in page."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse


class MfaAdminSite(admin.AdminSite):
    """`admin.site` with django_otp's OTPAdminSite rule: active staff who passed MFA.

    Its own login form (password only) is replaced by the staff sign-in, which leads through
    the MFA step and back. A signed-in user without admin rights gets 403 instead of a login
    form that would send them round in a loop.
    """

    def has_permission(self, request: HttpRequest) -> bool:
        verified = bool(getattr(request.user, "is_verified", lambda: False)())
        return super().has_permission(request) and verified

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.user.is_authenticated:
            raise PermissionDenied
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        response: HttpResponse = redirect_to_login(target, login_url=reverse("login"))
        return response


def admin_site_require_mfa(site: Any = admin.site) -> None:
    """Give the default admin site (with every registration kept) the MFA rule."""
    site.__class__ = MfaAdminSite
