"""One's own account (e-mail, work phone, password) and the password reset pages.

Thin views: parse, call a service in `services.py`, render.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from aftersales.core.errors import ApplicationError
from aftersales.core.phones import format_phone

from . import mfa
from .forms import ContactForm, PasswordResetRequestForm
from .models import User
from .services import (
    password_change,
    password_reset_complete,
    password_reset_request,
    staff_contact_update,
)
from .throttle import client_ip, throttle_failure, throttle_guard, throttle_success

# Where a service's error code belongs on the contact form.
CONTACT_FIELDS = {"invalid_email": "email", "invalid_phone": "phone"}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # behind login_required
    return user


def _reauth_url(back: str) -> str:
    return reverse("accounts:reauth") + "?" + urlencode({"next": back})


def _throttled(response: HttpResponse, exc: ApplicationError) -> HttpResponse:
    response.status_code = exc.status_code
    if "retry_after" in exc.details:
        response["Retry-After"] = str(exc.details["retry_after"])
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    """One's own e-mail and work phone; changing them needs the password entered again."""
    user = _user(request)
    reauthenticated = mfa.reauth_is_recent(request.session)
    here = reverse("account_settings")
    status = 200
    if request.method == "POST":
        if not reauthenticated:
            messages.info(request, _("Enter your password again to change your contact details."))
            return redirect(_reauth_url(here))
        form = ContactForm(request.POST)
        status = 422
        if form.is_valid():
            try:
                staff_contact_update(
                    actor=user,
                    email=form.cleaned_data["email"],
                    phone=form.cleaned_data["phone"],
                    reauthenticated=reauthenticated,
                )
            except ApplicationError as exc:
                if exc.code == "reauth_required":
                    return redirect(_reauth_url(here))
                form.add_error(CONTACT_FIELDS.get(exc.code), exc.message)
            else:
                messages.success(request, _("Your contact details are saved."))
                return redirect(here)
    else:
        form = ContactForm(initial={"email": user.email, "phone": user.phone})
    context: dict[str, Any] = {
        "form": form,
        "can_edit": reauthenticated,
        "reauth_url": _reauth_url(here),
        "phone_display": format_phone(user.phone) if user.phone else "",
    }
    return render(request, "accounts/account.html", context, status=status)


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    """Change one's password, knowing the current one; other sessions end, this one stays."""
    user = _user(request)
    form = PasswordChangeForm(user, request.POST or None)
    if request.method != "POST":
        return render(request, "accounts/password_change.html", {"form": form})
    ip = client_ip(request)
    # The current password is a guess like any other for whoever holds a stolen session.
    try:
        throttle_guard(scope="login", account=user.username, ip=ip)
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        response = render(request, "accounts/password_change.html", {"form": form})
        return _throttled(response, exc)
    if not form.is_valid():
        if form.has_error("old_password"):
            throttle_failure(scope="login", account=user.username, ip=ip)
        return render(request, "accounts/password_change.html", {"form": form}, status=422)
    throttle_success(scope="login", account=user.username, ip=ip)
    password_change(user=user, password=form.cleaned_data["new_password1"], ip=ip)
    update_session_auth_hash(request, user)
    messages.success(request, _("Your password is changed. Your other sessions have ended."))
    return redirect("account_settings")


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link by e-mail; the answer is the same whether the address is known."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method != "POST":
        return render(request, "accounts/password_reset.html", {"form": form})
    if not form.is_valid():
        return render(request, "accounts/password_reset.html", {"form": form}, status=422)
    try:
        password_reset_request(
            email=form.cleaned_data["email"],
            ip=client_ip(request),
            base_url=request.build_absolute_uri("/"),
        )
    except ApplicationError as exc:
        if exc.code != "too_many_attempts":
            raise
        form.add_error(None, exc.message)
        response = render(request, "accounts/password_reset.html", {"form": form})
        return _throttled(response, exc)
    return redirect("password_reset_sent")


def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_sent.html")


class PasswordResetSetView(PasswordResetConfirmView):
    """Choose a new password through the e-mailed link (Django's one-use, one-hour token).

    Django moves the token from the address into the session first, so it never leaks in a
    Referer header.
    """

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form: Any) -> HttpResponse:
        assert self.user is not None  # the form is only shown for a valid link
        password_reset_complete(
            user=self.user,
            password=form.cleaned_data["new_password1"],
            ip=client_ip(self.request),
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_complete.html")
