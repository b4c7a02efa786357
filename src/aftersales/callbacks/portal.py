"""The customer's survey page (满意度调查): opened from a one-time, expiring, signed link, with no
sign-in. It shows the questions and takes one answer; a bad, altered or expired link, or a survey
already answered or cancelled, gets a plain page saying so with its status (400, 410, 409).

Nothing about the customer is shown: at most the product model the request was about.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from aftersales.core.errors import ApplicationError

from . import surveys
from .forms import SurveyForm
from .models import Survey

# Longer than any token the service makes: refused without being looked at.
TOKEN_MAX_LENGTH = 300


@never_cache
@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the questions, POST answers them once."""
    try:
        if len(token) > TOKEN_MAX_LENGTH:
            raise surveys.SurveyLinkError("invalid")
        survey = surveys.survey_for_token(token)
    except surveys.SurveyLinkError as exc:
        return _refused(request, exc)
    _customer_language(request, survey)
    status = 200
    if request.method == "POST":
        form = SurveyForm(request.POST)
        if form.is_valid():
            try:
                surveys.survey_answer_by_link(
                    token=token, answers=surveys.SurveyAnswers(**form.cleaned_data)
                )
            except surveys.SurveyLinkError as exc:
                return _refused(request, exc)
            except ApplicationError as exc:
                for field, problem in exc.details.items():
                    form.add_error(field if field in form.fields else None, str(problem))
            else:
                return render(request, "callbacks/public/thanks.html", status=200)
        status = 400
    else:
        form = SurveyForm()
    context: dict[str, Any] = {"form": form, "product": _product(survey)}
    return render(request, "callbacks/public/survey.html", context, status=status)


def _refused(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    reason = getattr(exc, "reason", "invalid")
    return render(
        request,
        "callbacks/public/refused.html",
        {"reason": reason},
        status=exc.status_code,
    )


def _customer_language(request: HttpRequest, survey: Survey) -> None:
    """The customer's own language, unless their browser has chosen one on this site."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return
    language = survey.customer.preferred_language
    if language in dict(settings.LANGUAGES):
        translation.activate(language)
        request.LANGUAGE_CODE = language


def _product(survey: Survey) -> str:
    """The product model the request was about (name only), or nothing."""
    case = survey.case
    unit = case.unit if case is not None else None
    return unit.model.name if unit is not None else ""
