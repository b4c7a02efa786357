"""The callback team's pages (回访): worklist, the visit page with its actions, the report.

Thin: parse, authorise, call one service or selector, render. A refusal shows the page again with
the reason and a 4xx status, having changed nothing.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError, NotFound
from aftersales.customers.models import Tier
from aftersales.privacy.models import Purpose
from aftersales.privacy.selectors import consent_in_force

from . import selectors, services, surveys
from .forms import (
    AttemptForm,
    CompleteForm,
    DecideForm,
    RecommendForm,
    ReportPeriodForm,
    SurveyForm,
)
from .models import Offer, Recommendation, Repurchase, ReturnVisit

REPORT_DEFAULT_DAYS = 90


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # every view here is behind login_required
    return user


def _visit_for(request: HttpRequest, pk: int) -> ReturnVisit:
    """The visit within the user's scope; anything else is a 404."""
    try:
        return selectors.visit_get_for(_user(request), pk=pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
@permission_required("callbacks.view_returnvisit", raise_exception=True)
@require_GET
def visit_worklist(request: HttpRequest) -> HttpResponse:
    """Due now (VIP first, then by time), and the visits coming up after today."""
    user = _user(request)
    now = clock.now()
    context = {
        "due": list(selectors.visit_worklist_for(user, now=now)),
        "upcoming": list(selectors.visits_upcoming_for(user, now=now)),
        "now": now,
    }
    return render(request, "callbacks/worklist.html", context)


@login_required
@permission_required("callbacks.view_returnvisit", raise_exception=True)
@require_GET
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_for(request, pk)
    # The page shows the customer's name and tier (the phone stays behind "reveal").
    personal_data_viewed(
        actor=_user(request),
        customer_id=visit.customer_id,
        entity="return_visit",
        entity_id=visit.pk,
        via="visit.page",
    )
    return _render_visit(request, visit)


def _render_visit(
    request: HttpRequest,
    visit: ReturnVisit,
    *,
    error: str = "",
    code: str = "",
    status: int = 200,
    link: dict[str, Any] | None = None,
    bound: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    user = _user(request)
    bound = bound or {}
    is_due = visit.status == ReturnVisit.Status.DUE
    can_work = user.has_perm("callbacks.work_return_visit")
    context = {
        "visit": visit,
        "case": visit.case,
        "customer": visit.customer,
        "attempts": visit.attempt_log.select_related("by"),
        "surveys": visit.surveys.select_related("recorded_by"),
        "recommendations": visit.recommendations.select_related("offer", "unit__model").order_by(
            "id"
        ),
        "suggestions": (
            selectors.recommendations_for(visit=visit, on=clock.today()) if is_due else []
        ),
        "reached": visit.attempt_log.filter(result="reached").exists(),
        "can_work": can_work and is_due,
        # Surveys and offers are opt-in: without consent the agent asks and ticks the answer.
        "survey_consent": consent_in_force(visit.customer, Purpose.SURVEYS),
        "marketing_consent": consent_in_force(visit.customer, Purpose.MARKETING),
        "attempt_form": bound.get("attempt") or AttemptForm(),
        "survey_form": bound.get("survey") or SurveyForm(),
        "complete_form": bound.get("complete") or CompleteForm(),
        "decide_outcomes": [
            c for c in Recommendation.Outcome.choices if c[0] != Recommendation.Outcome.OFFERED
        ],
        "link": link,
        "error": error,
        "error_code": code,
    }
    return render(request, "callbacks/visit.html", context, status=status)


def _consent_given(request: HttpRequest) -> bool:
    """The agent ticked "the customer agreed on this call"."""
    return request.POST.get("consent_given") in ("on", "true", "1")


def _invalid(form: forms.Form) -> ApplicationError:
    return ApplicationError(
        "invalid_input",
        _("Please correct the form."),
        details={k: " ".join(str(m) for m in v) for k, v in form.errors.items()},
    )


@login_required
@permission_required("callbacks.view_returnvisit", raise_exception=True)
@require_POST
def visit_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One POST endpoint per visit action: success redirects to the visit (the survey link is
    shown once, on the page answering the POST), a refusal shows it again with the reason."""
    user = _user(request)
    visit = _visit_for(request, pk)
    bound: dict[str, forms.Form] = {}
    try:
        # Every action is the callback team's work (the services check it again).
        require_perm(user, "callbacks.work_return_visit")
        link = _apply(request, user, visit, action, bound)
    except ApplicationError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.details.items())
        return _render_visit(
            request,
            _visit_for(request, pk),
            error=f"{exc.message} {details}".strip(),
            code=exc.code,
            status=exc.status_code if exc.status_code != 400 else 422,
            bound=bound,
        )
    except PermissionDenied as exc:
        return _render_visit(
            request,
            _visit_for(request, pk),
            error=str(exc) or _("Your role does not allow this action."),
            code="forbidden",
            status=403,
        )
    if link is not None:
        return _render_visit(request, _visit_for(request, pk), link=link)
    return redirect("web:visit_detail", pk=visit.pk)


def _apply(
    request: HttpRequest,
    user: User,
    visit: ReturnVisit,
    action: str,
    bound: dict[str, forms.Form],
) -> dict[str, Any] | None:
    """Run one action; returns the survey link when one was made (shown once)."""
    if action == "attempt":
        attempt = AttemptForm(request.POST)
        bound["attempt"] = attempt
        if not attempt.is_valid():
            raise _invalid(attempt)
        services.visit_attempt_record(actor=user, visit=visit, **attempt.cleaned_data)
        messages.success(request, _("Attempt recorded."))
    elif action == "survey":
        survey = SurveyForm(request.POST)
        bound["survey"] = survey
        if not survey.is_valid():
            raise _invalid(survey)
        recorded = surveys.survey_record_phone(
            actor=user,
            visit=visit,
            answers=surveys.SurveyAnswers(**survey.cleaned_data),
            consent_given=_consent_given(request),
        )
        messages.success(request, _("Survey recorded."))
        if recorded.follow_up:
            messages.info(request, _follow_up_text(recorded.follow_up))
    elif action == "link":
        made, token = surveys.survey_send_link(
            actor=user,
            visit=visit,
            base_url=request.build_absolute_uri("/").rstrip("/"),
            consent_given=_consent_given(request),
        )
        return {
            "url": request.build_absolute_uri(reverse("survey", args=[token])),
            "expires_at": made.expires_at,
        }
    elif action == "recommend":
        reco = RecommendForm(request.POST)
        if not reco.is_valid():
            raise _invalid(reco)
        data = reco.cleaned_data
        offer = (
            get_object_or_404(Offer, pk=data["offer"], is_active=True) if data["offer"] else None
        )
        unit = (
            get_object_or_404(Unit, pk=data["unit"], customer_id=visit.customer_id)
            if data["unit"]
            else None
        )
        services.recommendation_record(
            actor=user,
            visit=visit,
            kind=data["kind"],
            offer=offer,
            unit=unit,
            outcome=data["outcome"],
            value=data["value"] if data["value"] is not None else Decimal("0"),
            consent_given=_consent_given(request),
        )
        messages.success(request, _("Recommendation recorded."))
    elif action == "decide":
        decide = DecideForm(request.POST)
        if not decide.is_valid():
            raise _invalid(decide)
        recommendation = get_object_or_404(
            Recommendation, pk=decide.cleaned_data["recommendation"], visit=visit
        )
        services.recommendation_decide(
            actor=user, recommendation=recommendation, outcome=decide.cleaned_data["outcome"]
        )
        messages.success(request, _("Answer recorded."))
    elif action == "complete":
        complete = CompleteForm(request.POST)
        bound["complete"] = complete
        if not complete.is_valid():
            raise _invalid(complete)
        services.visit_complete(actor=user, visit=visit, **complete.cleaned_data)
        messages.success(request, _("Visit completed."))
    else:
        raise Http404
    return None


def _follow_up_text(follow_up: dict[str, Any]) -> str:
    if follow_up.get("action") == "reopened":
        return _("The answer is unsatisfied: case %(case)s was reopened.") % {
            "case": follow_up.get("case", "")
        }
    if follow_up.get("action") == "complaint":
        return _("The answer is unsatisfied: complaint %(case)s was raised.") % {
            "case": follow_up.get("complaint_case", "")
        }
    return _("The answer opened a follow-up.")


@login_required
@permission_required("callbacks.view_callback_report", raise_exception=True)
@require_GET
def callback_report(request: HttpRequest) -> HttpResponse:
    """Satisfaction (CSAT, NPS, repurchase, by tier) and recommendation conversion, as charts."""
    form = ReportPeriodForm(request.GET or None)
    since = until = None
    if form.is_valid():
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    until = until or clock.today()
    since = since or until - dt.timedelta(days=REPORT_DEFAULT_DAYS - 1)
    if since > until:
        since, until = until, since
    figures = selectors.callback_figures(since=since, until=until)
    context = {
        "form": form,
        "since": since,
        "until": until,
        "figures": figures,
        "charts": report_charts(figures),
    }
    return render(request, "callbacks/report.html", context)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def report_charts(figures: dict[str, Any]) -> dict[str, Any]:
    """The report's figures as data for the shared chart script (web/charts.js, "bar")."""
    tiers = [(tier, str(label)) for tier, label in Tier.choices]
    by_tier = figures.get("by_tier", {})
    distribution = figures.get("csat_distribution", {})
    conversion = figures.get("recommendations", {})
    rows = [
        {
            "kind": kind,
            "label": str(label),
            **conversion.get(kind, {}),
            "percent": _percent(conversion.get(kind, {}).get("conversion_rate")),
        }
        for kind, label in Offer.Kind.choices
    ]
    return {
        "communication_percent": _percent(figures.get("communication_effective_rate")),
        "csat": {
            "title": _("CSAT distribution (answers per score)"),
            "categories": [str(n) for n in range(1, 6)],
            "series": [
                {"name": _("Answers"), "values": [distribution.get(str(n), 0) for n in range(1, 6)]}
            ],
        },
        "repurchase": {
            "title": _("Repurchase intention"),
            "categories": [str(label) for _value, label in Repurchase.choices],
            "series": [
                {
                    "name": _("Share of answers"),
                    "values": [
                        _percent(figures.get("repurchase", {}).get(value)) or 0
                        for value in Repurchase.values
                    ],
                }
            ],
            "unit": "%",
            "max": 100,
        },
        "tiers": {
            "title": _("Satisfaction by tier (averages, 1–5)"),
            "categories": [label for _tier, label in tiers],
            "series": [
                {
                    "name": _("CSAT"),
                    "values": [by_tier.get(t, {}).get("csat_average") or 0 for t, _l in tiers],
                },
                {
                    "name": _("Service attitude"),
                    "values": [by_tier.get(t, {}).get("attitude_average") or 0 for t, _l in tiers],
                },
            ],
            "max": 5,
        },
        "nps": {
            "title": _("NPS by tier"),
            "categories": [_("All"), *(label for _tier, label in tiers)],
            "series": [
                {
                    "name": _("NPS"),
                    "values": [
                        figures.get("nps") or 0,
                        *(by_tier.get(t, {}).get("nps") or 0 for t, _l in tiers),
                    ],
                }
            ],
        },
        "conversion": {
            "title": _("Recommendation conversion"),
            "categories": [row["label"] for row in rows],
            "series": [
                {"name": _("Offered"), "values": [row.get("offered", 0) for row in rows]},
                {"name": _("Interested"), "values": [row.get("interested", 0) for row in rows]},
                {"name": _("Accepted"), "values": [row.get("accepted", 0) for row in rows]},
            ],
        },
        "conversion_rows": rows,
    }
