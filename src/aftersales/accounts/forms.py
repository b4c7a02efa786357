"""Forms of sign-in, password reset and one's own contact details."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from aftersales.core.errors import ApplicationError

from .throttle import client_ip, throttle_failure, throttle_guard, throttle_success

LOCKED_OUT = "too_many_attempts"


class StaffAuthenticationForm(AuthenticationForm):
    """The sign-in form, throttled: repeated failures lock the account from that address.

    A locked attempt is refused before the password is even checked, with the error code
    `too_many_attempts` and `retry_after` (seconds) set, so the view can answer 429.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Wrong username or password."),
    }

    def __init__(self, request: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.retry_after = 0

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        ip = client_ip(self.request) if self.request is not None else ""
        try:
            throttle_guard(scope="login", account=username, ip=ip)
        except ApplicationError as exc:
            self.retry_after = int(exc.details.get("retry_after", 0))
            raise ValidationError(exc.message, code=LOCKED_OUT) from exc
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle_failure(scope="login", account=username, ip=ip)
            raise
        throttle_success(scope="login", account=username, ip=ip)
        return cleaned

    @property
    def locked_out(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, LOCKED_OUT)


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)


class ContactForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254, required=False)
    phone = forms.CharField(label=_("Work phone"), max_length=40, required=False)
