"""One's own account pages: the second sign-in step (MFA), security settings, re-authentication."""

import django_otp
from django import forms
from django.contrib import messages
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from aftersales.core.errors import ApplicationError

from . import mfa
from .models import User
from .throttle import client_ip

# The id of the authenticator this session is setting up (see `mfa.mfa_enrolment_start`).
SESSION_PENDING_DEVICE_KEY = "mfa_pending_device"


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=64, strip=True)


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"), max_length=200, strip=False, widget=forms.PasswordInput
    )


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _is_verified(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_verified", lambda: False)())


def _next(request: HttpRequest, default: str) -> str:
    """The `next` parameter if it points into this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _reauth_url(request: HttpRequest, back: str) -> str:
    return reverse("accounts:reauth") + "?" + urlencode({"next": back})


def _enrolment_page(
    request: HttpRequest,
    *,
    device: TOTPDevice,
    form: CodeForm,
    next_url: str,
    replacing: bool,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "accounts/mfa_enrol.html",
        {
            "form": form,
            "qr_svg": mfa.totp_qr_svg(device),
            "secret": mfa.totp_secret(device),
            "next": next_url,
            "replacing": replacing,
        },
        status=status,
    )


def _codes_page(request: HttpRequest, *, codes: list[str], next_url: str) -> HttpResponse:
    """The new recovery codes, shown this once; never cached."""
    response = render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url})
    response["Cache-Control"] = "no-store"
    return response


def _signed_in_with(request: HttpRequest, device: Device) -> None:
    """Mark the session as having passed the second factor, under a new session key."""
    django_otp.login(request, device)
    request.session.cycle_key()


def _keep_this_session(request: HttpRequest, user: User) -> None:
    """After a change that ended the user's other sessions (`sessions_end` gave `user` the new
    security stamp), this one stays signed in, under a new session key.

    The hash is set before the key changes, so the stored copy under the new key has it too.
    """
    request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    request.session.cycle_key()


@login_required
def mfa_page(request: HttpRequest) -> HttpResponse:
    """The second sign-in step: set up the authenticator (first time) or enter a code."""
    user = _user(request)
    next_url = _next(request, reverse("web:home"))
    if _is_verified(request):
        return redirect(next_url)
    device = mfa.mfa_totp_device(user)
    if device is None:
        return _enrol(request, user=user, next_url=next_url, replacing=False)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            used = mfa.mfa_verify(user=user, code=form.cleaned_data["code"], ip=client_ip(request))
        except ApplicationError as exc:
            form.add_error("code", exc.message)
            status = exc.status_code
        else:
            _signed_in_with(request, used)
            if not isinstance(used, TOTPDevice):
                left = mfa.mfa_recovery_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "You signed in with a recovery code; %(n)d left. Make new ones on "
                        "your security page if you are running out."
                    )
                    % {"n": left},
                )
            return redirect(next_url)
    elif request.method == "POST":
        status = 400
    return render(
        request, "accounts/mfa_verify.html", {"form": form, "next": next_url}, status=status
    )


def _enrol(request: HttpRequest, *, user: User, next_url: str, replacing: bool) -> HttpResponse:
    device = mfa.mfa_enrolment_start(
        user=user, pending_id=request.session.get(SESSION_PENDING_DEVICE_KEY)
    )
    request.session[SESSION_PENDING_DEVICE_KEY] = device.pk
    form = CodeForm(request.POST or None)
    if request.method != "POST":
        return _enrolment_page(
            request, device=device, form=form, next_url=next_url, replacing=replacing
        )
    if not form.is_valid():
        return _enrolment_page(
            request, device=device, form=form, next_url=next_url, replacing=replacing, status=400
        )
    try:
        codes = mfa.mfa_enrolment_confirm(
            user=user,
            device=device,
            code=form.cleaned_data["code"],
            ip=client_ip(request),
            reauthenticated=mfa.reauth_is_recent(request.session),
            keep_session_key=request.session.session_key,
        )
    except ApplicationError as exc:
        if exc.code == "reauth_required":
            return redirect(_reauth_url(request, request.get_full_path()))
        form.add_error("code", exc.message)
        return _enrolment_page(
            request,
            device=device,
            form=form,
            next_url=next_url,
            replacing=replacing,
            status=exc.status_code,
        )
    request.session.pop(SESSION_PENDING_DEVICE_KEY, None)
    _keep_this_session(request, user)
    _signed_in_with(request, device)
    return _codes_page(request, codes=codes, next_url=next_url)


@login_required
def mfa_replace(request: HttpRequest) -> HttpResponse:
    """Set up a new authenticator (a new phone); the old one works until this one is confirmed."""
    if not mfa.reauth_is_recent(request.session):
        return redirect(_reauth_url(request, request.get_full_path()))
    return _enrol(
        request,
        user=_user(request),
        next_url=_next(request, reverse("accounts:security")),
        replacing=True,
    )


@login_required
@require_POST
def recovery_regenerate(request: HttpRequest) -> HttpResponse:
    """Replace the recovery codes with a new set, shown once."""
    user = _user(request)
    try:
        codes = mfa.mfa_recovery_regenerate(
            user=user,
            ip=client_ip(request),
            reauthenticated=mfa.reauth_is_recent(request.session),
            keep_session_key=request.session.session_key,
        )
    except ApplicationError as exc:
        if exc.code == "reauth_required":
            return redirect(_reauth_url(request, reverse("accounts:security")))
        messages.error(request, exc.message)
        return redirect("accounts:security")
    _keep_this_session(request, user)
    return _codes_page(request, codes=codes, next_url=reverse("accounts:security"))


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """Sign-in security: the authenticator, how many recovery codes remain, and changes."""
    user = _user(request)
    device = mfa.mfa_totp_device(user)
    return render(
        request,
        "accounts/security.html",
        {
            "device": device,
            "codes_left": mfa.mfa_recovery_codes_left(user),
            "reauth_recent": mfa.reauth_is_recent(request.session),
        },
    )


@login_required
def reauth(request: HttpRequest) -> HttpResponse:
    """Enter the password again before a change to sign-in settings."""
    next_url = _next(request, reverse("accounts:security"))
    form = PasswordForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                mfa.mfa_reauthenticate(
                    request=request, user=_user(request), password=form.cleaned_data["password"]
                )
            except ApplicationError as exc:
                form.add_error("password", exc.message)
                status = exc.status_code
            else:
                request.session.cycle_key()
                return redirect(next_url)
    return render(request, "accounts/reauth.html", {"form": form, "next": next_url}, status=status)
