"""Staff pages for complaints (投诉): the list, raising one, the complaint page and its actions,
the review and approval worklists and the report (thin views over services and selectors)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.selectors import CASE_NUMBER, case_get_for, case_timeline
from aftersales.catalog.selectors import unit_queryset_for
from aftersales.core import clock
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError, NotFound
from aftersales.customers.models import Customer
from aftersales.customers.selectors import customer_queryset_for
from aftersales.sla.selectors import case_clocks, with_next_due

from . import selectors, services
from .forms import (
    ActionCompleteForm,
    AnswerForm,
    CloseForm,
    ComplaintFilterForm,
    ComplaintRaiseForm,
    DecideForm,
    EvaluateForm,
    HandleForm,
    ProposalForm,
    ProposalLineFormSet,
    ProposalRefForm,
    ReopenForm,
    ReviewCompleteForm,
    ReviewRefForm,
    RootCauseForm,
)
from .models import (
    CompensationAction,
    CompensationKind,
    CompensationProposal,
    Complaint,
    ComplaintNature,
    ComplaintReview,
    ComplaintStatus,
    RootCause,
)

PAGE_SIZE = 50
REPORT_DAYS = 90

# Where an action may send the user back to, besides the complaint page.
RETURN_PAGES = {"reviews": "web:complaint_reviews", "approvals": "web:complaint_approvals"}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _complaint_for(request: HttpRequest, number: str) -> Complaint:
    if not CASE_NUMBER.match(number):
        raise Http404
    try:
        return selectors.complaint_get_for(_user(request), number=number.upper())
    except (Complaint.DoesNotExist, NotFound) as exc:
        raise Http404 from exc


@login_required
@permission_required("complaints.view_complaint", raise_exception=True)
def complaint_list(request: HttpRequest) -> HttpResponse:
    """Complaints in the user's scope, filtered by status, nature and review."""
    user = _user(request)
    form = ComplaintFilterForm(request.GET or None)
    valid = form.is_valid()
    data: dict[str, Any] = form.cleaned_data if valid else {}
    complaints = selectors.complaint_list_for(
        user,
        status=data.get("status") or None,
        nature=data.get("nature") or None,
        review=form.review_filter() if valid else None,
    )
    page = Paginator(complaints, PAGE_SIZE).get_page(data.get("page") or 1)
    rows = list(page.object_list)
    due = {
        c.pk: (getattr(c, "next_due_at", None), getattr(c, "next_warn_at", None))
        for c in with_next_due(Case.objects.filter(pk__in=[r.case_id for r in rows]))
    }
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": [(r, *due.get(r.case_id, (None, None))) for r in rows],
        "query": query.urlencode(),
    }
    return render(request, "complaints/list.html", context, status=422 if form.errors else 200)


@login_required
@permission_required(["complaints.view_complaint", "cases.add_case"], raise_exception=True)
@require_http_methods(["GET", "POST"])
def complaint_new(request: HttpRequest) -> HttpResponse:
    """Raise a complaint for a customer, or from one of their cases (the case number is posted
    by the case page's button; the complaint is linked to it)."""
    user = _user(request)
    source = request.POST if request.method == "POST" else request.GET
    related: Case | None = None
    number = source.get("related_case", "").strip()
    if number:
        if not CASE_NUMBER.match(number):
            raise Http404
        try:
            related = case_get_for(user, number=number.upper())
        except Case.DoesNotExist as exc:
            raise Http404 from exc
        customer: Customer | None = related.customer
    else:
        customer_id = source.get("customer", "")
        customer = (
            customer_queryset_for(user).filter(pk=customer_id).first()
            if customer_id.isascii() and customer_id.isdigit()
            else None
        )
    if customer is None:
        messages.info(request, _("Find the customer first, or raise the complaint from a case."))
        return redirect("web:caller_lookup")
    initial = {
        "related_case": related.number if related else "",
        "customer": customer.pk,
        "channel": related.channel if related else customer.preferred_channel,
        "subject": related.subject if related else "",
    }
    # The case page's button posts only the case number: that shows the form.
    submitted = request.method == "POST" and "subject" in request.POST
    form = ComplaintRaiseForm(request.POST if submitted else None, initial=initial)
    status = 200
    if submitted:
        complaint = _raise_from_form(user, customer, related, form)
        if complaint is not None:
            messages.success(
                request, _("Complaint %(number)s raised.") % {"number": complaint.case.number}
            )
            if selectors.complaint_queryset_for(user).filter(pk=complaint.pk).exists():
                return redirect("web:complaint_detail", number=complaint.case.number)
            return redirect("web:complaint_list")
        status = 422
    context = {"form": form, "customer": customer, "related": related}
    return render(request, "complaints/new.html", context, status=status)


def _raise_from_form(
    user: User, customer: Customer, related: Case | None, form: ComplaintRaiseForm
) -> Complaint | None:
    if not form.is_valid():
        return None
    try:
        return services.complaint_raise(
            actor=user,
            customer=customer,
            channel=form.cleaned_data["channel"],
            subject=form.cleaned_data["subject"],
            nature=form.cleaned_data["nature"],
            description=form.cleaned_data["description"],
            related_case=related,
            severity=form.cleaned_data["severity"],
            amount_at_stake=form.cleaned_data["amount_at_stake"],
            media_exposure=form.cleaned_data["media_exposure"],
            unit=related.unit if related else None,
        )
    except ApplicationError as exc:
        _form_errors(form, exc)
        return None


def _form_errors(form: forms.Form, exc: ApplicationError) -> None:
    form.add_error(None, f"{exc.message} ({exc.code})")
    for field, problem in exc.details.items():
        if field in form.fields:
            form.add_error(field, str(problem))


@login_required
@permission_required("complaints.view_complaint", raise_exception=True)
def complaint_detail(request: HttpRequest, number: str) -> HttpResponse:
    complaint = _complaint_for(request, number)
    personal_data_viewed(
        actor=_user(request),
        customer_id=complaint.case.customer_id,
        entity="complaint",
        entity_id=complaint.pk,
        via="complaint.page",
    )
    return _render_detail(request, complaint)


def _line_formset(complaint: Complaint, user: User, data: Any = None) -> Any:
    units = unit_queryset_for(user).filter(customer=complaint.case.customer)
    return ProposalLineFormSet(data, prefix="line", form_kwargs={"units": units})


def _render_detail(
    request: HttpRequest,
    complaint: Complaint,
    *,
    bound: dict[str, Any] | None = None,
    error: ApplicationError | None = None,
    letter: str = "",
) -> HttpResponse:
    """The complaint page; after a refusal, with the reason and the form as it was sent."""
    user = _user(request)
    case = complaint.case
    status = complaint.status
    proposals = list(
        complaint.proposals.select_related("proposed_by", "decided_by", "required_level")
        .prefetch_related("lines__unit", "decisions__approver", "decisions__level")
        .order_by("-proposed_at", "-id")
    )
    pending = next((p for p in proposals if p.status == CompensationProposal.Status.PENDING), None)
    reviews = list(complaint.reviews.select_related("reviewer").order_by("-requested_at", "-id"))
    level, limit, unlimited = selectors.approval_limit_for(user)
    can_handle = user.has_perm("complaints.handle_complaint")
    working = status in (ComplaintStatus.EVALUATED, ComplaintStatus.HANDLING)
    forms_: dict[str, Any] = {
        "evaluate_form": EvaluateForm(
            initial={
                "nature": complaint.nature,
                "severity": complaint.severity,
                "concerns_user": complaint.concerns_user_id,
                "concerns_team": complaint.concerns_team_id,
                "amount_at_stake": complaint.amount_at_stake,
                "media_exposure": complaint.media_exposure,
            }
        ),
        "handle_form": HandleForm(),
        "proposal_form": ProposalForm(),
        "line_formset": _line_formset(complaint, user),
        "answer_form": AnswerForm(
            initial={
                "solution_type": "compensation"
                if any(p.status == CompensationProposal.Status.APPROVED for p in proposals)
                else "explanation"
            }
        ),
        "root_cause_form": RootCauseForm(
            initial={
                "root_cause": complaint.root_cause,
                "communication_error": bool(complaint.communication_error),
            }
        ),
        "close_form": CloseForm(initial={"root_cause": complaint.root_cause}),
        "reopen_form": ReopenForm(),
        "review_form": ReviewCompleteForm(),
        "decide_form": DecideForm(),
        "action_form": ActionCompleteForm(),
    }
    forms_.update(bound or {})
    context = {
        "complaint": complaint,
        "case": case,
        "error": error,
        "error_details": {k: v for k, v in error.details.items() if k != "allowed"}
        if error
        else {},
        "letter": letter,
        "events": case_timeline(case),
        "clocks": case_clocks(case),
        "reviews": reviews,
        "proposals": proposals,
        "actions": list(complaint.actions.select_related("completed_by").order_by("id")),
        "approval_level": level,
        "approval_limit": limit,
        "approval_unlimited": unlimited,
        "can": {
            "evaluate": can_handle
            and status
            in (ComplaintStatus.RECEIVED, ComplaintStatus.EVALUATED, ComplaintStatus.HANDLING),
            "handle": can_handle and working,
            "hand_over": can_handle and working and user.has_perm("cases.reassign_case"),
            "propose": user.has_perm("complaints.propose_compensation")
            and working
            and pending is None,
            "decide": user.has_perm("complaints.approve_compensation")
            and pending is not None
            and pending.proposed_by_id != user.pk,
            "withdraw": pending is not None and (pending.proposed_by_id == user.pk or can_handle),
            "complete_action": can_handle,
            "review": user.has_perm("complaints.review_complaint"),
            "answer": can_handle and working,
            "root_cause": can_handle,
            "close": can_handle and status == ComplaintStatus.ANSWERED,
            "reopen": can_handle and status in (ComplaintStatus.ANSWERED, ComplaintStatus.CLOSED),
        },
        **forms_,
    }
    http_status = 200
    if error is not None:
        http_status = error.status_code if error.status_code != 400 else 422
    return render(request, "complaints/detail.html", context, status=http_status)


def _invalid(form: forms.Form) -> ApplicationError:
    return ApplicationError(
        "invalid_input",
        _("Please correct the form."),
        details={k: " ".join(str(m) for m in v) for k, v in form.errors.items()},
    )


@login_required
@permission_required("complaints.view_complaint", raise_exception=True)
@require_POST
def complaint_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """One POST endpoint per complaint action: success redirects (to the complaint, or back to
    the worklist it came from); a refusal shows the page again with the reason, the form as it
    was filled in and a 4xx status, having changed nothing."""
    user = _user(request)
    complaint = _complaint_for(request, number)
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404
    bound: dict[str, Any] = {}
    try:
        letter = handler(request, user, complaint, bound)
    except ApplicationError as exc:
        return _render_detail(request, _complaint_for(request, number), bound=bound, error=exc)
    except PermissionDenied as exc:
        return _render_detail(
            request,
            _complaint_for(request, number),
            bound=bound,
            error=ApplicationError(
                "forbidden",
                str(exc) or _("Your role does not allow this action."),
                status=403,
            ),
        )
    if letter is not None:  # a letter preview: the page with the letter, nothing changed
        return _render_detail(request, complaint, bound=bound, letter=letter)
    back = RETURN_PAGES.get(request.POST.get("next", ""))
    if back:
        return redirect(back)
    if not selectors.complaint_queryset_for(user).filter(pk=complaint.pk).exists():
        messages.info(request, _("The complaint has left your scope."))
        return redirect("web:complaint_list")
    return redirect("web:complaint_detail", number=complaint.case.number)


def _valid(form: forms.Form, bound: dict[str, Any], name: str) -> dict[str, Any]:
    bound[name] = form
    if not form.is_valid():
        raise _invalid(form)
    return form.cleaned_data


def _proposal(complaint: Complaint, pk: int) -> CompensationProposal:
    proposal = complaint.proposals.filter(pk=pk).first()
    if proposal is None:
        raise Http404
    return proposal


def _review(complaint: Complaint, pk: int) -> ComplaintReview:
    review = complaint.reviews.filter(pk=pk).first()
    if review is None:
        raise Http404
    return review


def _do_evaluate(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(EvaluateForm(request.POST), bound, "evaluate_form")
    services.complaint_evaluate(actor=user, complaint=complaint, **data)
    messages.success(request, _("Evaluation saved."))
    return None


def _do_handle(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(HandleForm(request.POST), bound, "handle_form")
    services.complaint_handle(actor=user, complaint=complaint, handler=data["handler"])
    messages.success(request, _("The complaint is being handled."))
    return None


def _do_propose(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    lines = _line_formset(complaint, user, request.POST)
    bound["line_formset"] = lines
    data = _valid(ProposalForm(request.POST), bound, "proposal_form")
    if not lines.is_valid():
        details: dict[str, Any] = {
            f"line {i + 1}": "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
            for i, errors in enumerate(lines.errors)
            if errors
        }
        if lines.non_form_errors():
            details["lines"] = " ".join(lines.non_form_errors())
        raise ApplicationError("invalid_input", _("Please correct the form."), details=details)
    proposed = [
        services.LineIn(
            kind=line["kind"],
            amount=line["amount"] if line.get("amount") is not None else Decimal("0"),
            unit=line.get("unit"),
            months=line.get("months"),
            note=line.get("note") or "",
        )
        for line in (f.cleaned_data for f in lines.forms)
        if line and (line.get("kind") or line.get("amount") is not None)
    ]
    services.compensation_propose(
        actor=user, complaint=complaint, lines=proposed, reason=data["reason"]
    )
    messages.success(request, _("Compensation proposed."))
    return None


def _do_decide(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(DecideForm(request.POST), bound, "decide_form")
    proposal = _proposal(complaint, data["proposal"])
    services.compensation_decide(
        actor=user, proposal=proposal, decision=data["decision"], note=data["note"]
    )
    messages.success(request, _("Decision recorded."))
    return None


def _do_withdraw(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(ProposalRefForm(request.POST), bound, "withdraw_form")
    services.compensation_withdraw(actor=user, proposal=_proposal(complaint, data["proposal"]))
    messages.success(request, _("Proposal withdrawn."))
    return None


def _do_complete_action(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(ActionCompleteForm(request.POST), bound, "action_form")
    action = complaint.actions.filter(pk=data["action"]).first()
    if not isinstance(action, CompensationAction):
        raise Http404
    services.compensation_action_complete(
        actor=user, action=action, reference=data["reference"].strip()
    )
    messages.success(request, _("Follow-up action completed."))
    return None


def _do_claim_review(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(ReviewRefForm(request.POST), bound, "claim_form")
    services.complaint_review_claim(actor=user, review=_review(complaint, data["review"]))
    messages.success(request, _("Review claimed."))
    return None


def _do_complete_review(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(ReviewCompleteForm(request.POST), bound, "review_form")
    services.complaint_review_complete(
        actor=user,
        review=_review(complaint, data["review"]),
        findings=data["findings"],
        responsibility=data["responsibility"],
        recommendation=data["recommendation"],
    )
    messages.success(request, _("Review completed."))
    return None


def _do_answer(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(AnswerForm(request.POST), bound, "answer_form")
    if request.POST.get("preview"):
        return services.complaint_letter(
            complaint=complaint, template=data["template"], message=data["message"]
        ).text
    services.complaint_answer(actor=user, complaint=complaint, **data)
    messages.success(request, _("Answer sent to the customer."))
    return None


def _do_root_cause(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(RootCauseForm(request.POST), bound, "root_cause_form")
    services.complaint_root_cause_set(actor=user, complaint=complaint, **data)
    messages.success(request, _("Root cause saved."))
    return None


def _do_close(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(CloseForm(request.POST), bound, "close_form")
    flag = data["communication_error"]
    services.complaint_close(
        actor=user,
        complaint=complaint,
        root_cause=data["root_cause"],
        communication_error=None if flag == "" else flag == "1",
    )
    messages.success(request, _("Complaint closed."))
    return None


def _do_reopen(
    request: HttpRequest, user: User, complaint: Complaint, bound: dict[str, Any]
) -> str | None:
    data = _valid(ReopenForm(request.POST), bound, "reopen_form")
    services.complaint_reopen(actor=user, complaint=complaint, reason=data["reason"])
    messages.success(request, _("Complaint reopened."))
    return None


ACTIONS = {
    "evaluate": _do_evaluate,
    "handle": _do_handle,
    "propose": _do_propose,
    "decide": _do_decide,
    "withdraw": _do_withdraw,
    "complete-action": _do_complete_action,
    "claim-review": _do_claim_review,
    "complete-review": _do_complete_review,
    "answer": _do_answer,
    "root-cause": _do_root_cause,
    "close": _do_close,
    "reopen": _do_reopen,
}


@login_required
@permission_required("complaints.review_complaint", raise_exception=True)
def complaint_reviews(request: HttpRequest) -> HttpResponse:
    """The independent review group's worklist: reviews waiting, and those the user has."""
    reviews = selectors.review_worklist_for(_user(request)).select_related(
        "complaint__case__customer", "reviewer"
    )
    return render(request, "complaints/reviews.html", {"reviews": reviews})


@login_required
@permission_required("complaints.approve_compensation", raise_exception=True)
def complaint_approvals(request: HttpRequest) -> HttpResponse:
    """Compensation proposals waiting for the user's decision, within their approval limit."""
    user = _user(request)
    proposals = (
        selectors.approvals_waiting_for(user)
        .select_related("complaint__case__customer", "proposed_by", "required_level")
        .prefetch_related("lines", "decisions__approver")
    )
    level, limit, unlimited = selectors.approval_limit_for(user)
    context = {
        "proposals": proposals,
        "approval_level": level,
        "approval_limit": limit,
        "approval_unlimited": unlimited,
    }
    return render(request, "complaints/approvals.html", context)


@login_required
@permission_required("complaints.view_complaint_report", raise_exception=True)
def complaint_report(request: HttpRequest) -> HttpResponse:
    """Complaint figures: by nature and root cause, communication errors, cycle time."""
    today = clock.today()
    since = _date(request.GET.get("since")) or today - dt.timedelta(days=REPORT_DAYS)
    until = _date(request.GET.get("until")) or today
    if since > until:
        since, until = until, since
    figures = selectors.complaint_figures(
        since=_midnight(since), until=_midnight(until + dt.timedelta(days=1)), user=_user(request)
    )
    context = {
        "figures": figures,
        "charts": _report_charts(figures),
        "since": since,
        "until": until,
    }
    return render(request, "complaints/report.html", context)


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _bar(title: str, labels: list[str], name: str, values: list[Any], unit: str = "") -> Any:
    return {
        "title": title,
        "categories": labels,
        "series": [{"name": name, "values": values}],
        "unit": unit,
        "rotate": 20 if len(labels) > 4 else 0,
    }


def _report_charts(figures: dict[str, Any]) -> dict[str, Any]:
    """The report's figures shaped for web/charts.js (labels translated here)."""
    by_nature = figures.get("by_nature", {})
    by_cause = figures.get("by_root_cause", {})
    with_cause = sum(by_cause.values())
    comm = round(figures.get("communication_error_share", 0.0) * with_cause)
    money = figures.get("compensation_by_kind", {})
    return {
        "nature": _bar(
            _("Complaints by nature"),
            [str(ComplaintNature(k).label) for k in by_nature],
            _("Complaints"),
            list(by_nature.values()),
        ),
        "root_cause": _bar(
            _("Complaints by root cause"),
            [str(RootCause(k).label) for k in by_cause],
            _("Complaints"),
            list(by_cause.values()),
        ),
        "communication": {
            "title": _("Internal communication errors (of complaints with a root cause)"),
            "slices": [
                {"name": _("Communication error"), "value": comm},
                {"name": _("Other causes"), "value": with_cause - comm},
            ],
        },
        "cycle": _bar(
            _("Cycle time, received to closed (working days)"),
            [_("Median"), _("Average")],
            _("Working days"),
            [figures.get("cycle_days_median"), figures.get("cycle_days_avg")],
        ),
        "compensation": _bar(
            _("Approved compensation by kind (CNY)"),
            [str(CompensationKind(k).label) for k in money],
            _("CNY"),
            [str(v) for v in money.values()],
        ),
    }
