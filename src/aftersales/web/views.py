"""The staff UI shell."""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from aftersales.accounts.forms import StaffAuthenticationForm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The case queue; for those who work stock and not cases (warehouse staff), the parts."""
    user = request.user
    if not user.has_perm("cases.view_case") and user.has_perm("parts.view_part"):
        return redirect("web:part_list")
    return redirect("web:case_queue")


class StaffLoginView(LoginView):
    """Staff sign-in (password, then the MFA page); wrong credentials answer 401."""

    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = StaffAuthenticationForm  # throttled: a locked attempt answers 429

    def get_success_url(self) -> str:
        """On through the second sign-in step (MFA), then where the person was going."""
        target = super().get_success_url()
        return reverse("accounts:mfa") + "?" + urlencode({"next": target})

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 401
        if isinstance(form, StaffAuthenticationForm) and form.locked_out:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
