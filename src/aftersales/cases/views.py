"""Staff pages for cases: the queue, intake, the case page and its actions (thin views)."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from aftersales.accounts.models import Team, User
from aftersales.accounts.selectors import assignable_users, user_team_ids
from aftersales.catalog.models import ProductLine
from aftersales.catalog.selectors import unit_queryset_for, warranty_status
from aftersales.core import clock
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError, NotFound
from aftersales.core.searches import search_store, search_term
from aftersales.customers.models import Customer
from aftersales.customers.selectors import customer_queryset_for
from aftersales.sla.selectors import case_clocks, sla_overview, with_next_due

from . import attachments, selectors, services
from .forms import (
    AssignForm,
    CaseOpenForm,
    ClassifyForm,
    ContactForm,
    FeedbackForm,
    NoteForm,
    QueueFilterForm,
    TransitionForm,
)
from .models import SUBCATEGORIES, Case, CaseKind, SolutionType

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_http_methods(["GET", "POST"])
def case_queue(request: HttpRequest) -> HttpResponse:
    """The queue. Filters travel in the URL; a search term (a phone number or a name is
    personal data) is POSTed, kept in the session, and the URL carries its opaque id `s`."""
    user = _user(request)
    params = _queue_params(request)
    if request.method == "POST" and not request.headers.get("HX-Request"):
        return redirect(f"{reverse('web:case_queue')}?{params.urlencode()}")
    form_data = params.copy()
    q = search_term(request, form_data.pop("s", [""])[-1], kind="cases")
    if q:
        form_data["q"] = q
    form = QueueFilterForm(form_data or None)
    data: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or "open"
    filters = selectors.QueueFilters(
        status="" if status == "all" else status,
        nature=data.get("nature") or "",
        urgency=data.get("urgency") or "",
        channel=data.get("channel") or "",
        team=data.get("team"),
        assignee=data.get("assignee"),
        product_line=data.get("product_line"),
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        q=data.get("q") or "",
    )
    paginator = Paginator(with_next_due(selectors.case_queue(user, filters)), PAGE_SIZE)
    page = paginator.get_page(data.get("page") or 1)
    query = params.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "teams": Team.objects.filter(is_active=True),
        "assignees": assignable_users(team=None),
        "product_lines": ProductLine.objects.all(),
        "now": clock.now(),
        "sla": None if request.headers.get("HX-Request") else sla_overview(user, now=clock.now()),
    }
    template = (
        "cases/_queue_results.html" if request.headers.get("HX-Request") else "cases/queue.html"
    )
    # Filters that do not parse are shown as errors (and ignored), never silently dropped.
    response = render(request, template, context, status=422 if form.errors else 200)
    if request.method == "POST":  # HTMX: the address bar gets the filters and the search id
        response["HX-Push-Url"] = f"{reverse('web:case_queue')}?{params.urlencode()}"
    return response


def _queue_params(request: HttpRequest) -> QueryDict:
    """The queue's URL parameters: as given (GET), or built from a posted filter form, with
    the search term swapped for the opaque id of a search stored in the session."""
    if request.method != "POST":
        return request.GET.copy()
    params = request.POST.copy()
    for name in ("csrfmiddlewaretoken", "page", "s"):
        params.pop(name, None)
    q = params.pop("q", [""])[-1][:100].strip()
    if q:
        params["s"] = search_store(request, kind="cases", term=q)
    return params


@login_required
@permission_required("cases.add_case", raise_exception=True)
def case_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    source = request.POST if request.method == "POST" else request.GET
    customer_id = source.get("customer", "")
    customer = (
        customer_queryset_for(user).filter(pk=customer_id).prefetch_related("units__model").first()
        if customer_id.isdigit()
        else None
    )
    if customer is None:
        messages.info(request, _("Find the customer first (by phone number, name or number)."))
        return redirect("web:caller_lookup")
    form = CaseOpenForm(
        request.POST or None,
        initial={
            "customer": customer.pk,
            "unit": source.get("unit", ""),
            "channel": source.get("channel", "phone"),
        },
    )
    status = 200
    if request.method == "POST":
        case = _open_from_form(user, customer, form)
        if case is not None:
            if not selectors.case_queryset_for(user).filter(pk=case.pk).exists():
                case.refresh_from_db()
                messages.success(
                    request,
                    _("Case %(number)s opened and routed to %(team)s.")
                    % {"number": case.number, "team": case.team or "—"},
                )
                return redirect("web:case_queue")
            messages.success(request, _("Case %(number)s opened.") % {"number": case.number})
            return redirect("web:case_detail", number=case.number)
        status = 422
    today = clock.today()
    units = [(u, warranty_status(u, on=today)) for u in customer.units.all()]
    return render(
        request,
        "cases/new.html",
        {"form": form, "customer": customer, "units": units, "subcategories": SUBCATEGORIES},
        status=status,
    )


def _open_from_form(user: User, customer: Customer, form: CaseOpenForm) -> Case | None:
    """Open the case the intake form describes, or leave the reasons on the form."""
    if not form.is_valid():
        return None
    unit = None
    if form.cleaned_data["unit"]:
        unit = unit_queryset_for(user).filter(pk=form.cleaned_data["unit"]).first()
        if unit is None:
            form.add_error("unit", _("No such product."))
            return None
    try:
        case, _created = services.case_open(
            actor=user,
            customer=customer,
            channel=form.cleaned_data["channel"],
            subject=form.cleaned_data["subject"],
            description=form.cleaned_data["description"],
            unit=unit,
            nature=form.cleaned_data["nature"],
            subcategory=form.cleaned_data["subcategory"],
            urgency=form.cleaned_data["urgency"],
            kind=form.cleaned_data["kind"] or CaseKind.SERVICE,
        )
    except ApplicationError as exc:
        _form_errors(form, exc)
        return None
    return case


def _form_errors(form: Any, exc: ApplicationError) -> None:
    form.add_error(None, exc.message)
    for field, problem in exc.details.items():
        if field in form.fields:
            form.add_error(field, str(problem))


def _case_for(request: HttpRequest, number: str) -> Case:
    try:
        return selectors.case_get_for(_user(request), number=number.upper())
    except Case.DoesNotExist as exc:
        raise Http404 from exc


@login_required
@permission_required("cases.view_case", raise_exception=True)
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = _case_for(request, number)
    # The page shows the customer's name and contacts.
    personal_data_viewed(
        actor=_user(request),
        customer_id=case.customer_id,
        entity="case",
        entity_id=case.pk,
        via="case.page",
    )
    return _render_detail(request, case)


def _render_detail(
    request: HttpRequest, case: Case, *, error: str = "", code: str = "", status: int = 200
) -> HttpResponse:
    user = _user(request)
    team_choices = (
        Team.objects.filter(is_active=True)
        if user.has_perm("cases.reassign_case")
        else Team.objects.filter(pk__in=user_team_ids(user))
    )
    context = {
        "case": case,
        "error": error,
        "error_code": code,
        "events": selectors.case_timeline(case),
        "metrics": selectors.case_metrics(case),
        "clocks": case_clocks(case),
        "actions": selectors.case_allowed_actions(user, case),
        "warranty": warranty_status(case.unit, on=clock.today()) if case.unit else None,
        "classify_form": ClassifyForm(
            initial={
                "nature": case.nature,
                "subcategory": case.subcategory,
                "urgency": case.urgency,
            }
        ),
        "subcategories": SUBCATEGORIES,
        "teams": team_choices,
        "assignees": assignable_users(team=case.team) if case.team else [],
        "solution_types": SolutionType.choices,
        "contact_form": ContactForm(initial={"channel": case.channel, "direction": "out"}),
        "can_assign": user.has_perm("cases.assign_case") and case.is_open,
        "can_classify": user.has_perm("cases.classify_case") and case.is_open,
        "can_work": user.has_perm("cases.work_case"),
        "attachments": attachments.attachment_list(case),
        "can_delete_any_attachment": user.has_perm("cases.reassign_case"),
        "attachment_max_mb": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "cases/detail.html", context, status=status)


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    """One POST endpoint per case action: success redirects to the case, a refusal shows it
    again with the reason and a 4xx status, having changed nothing."""
    user = _user(request)
    case = _case_for(request, number)
    try:
        _apply(request, user, case, kind)
    except ApplicationError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.details.items() if k != "allowed")
        message = f"{exc.message} {details}".strip()
        return _render_detail(
            request,
            _case_for(request, number),
            error=message,
            code=exc.code,
            status=exc.status_code if exc.status_code != 400 else 422,
        )
    except PermissionDenied as exc:
        return _render_detail(
            request,
            _case_for(request, number),
            error=str(exc) or _("Your role does not allow this action."),
            code="forbidden",
            status=403,
        )
    if not selectors.case_queryset_for(user).filter(pk=case.pk).exists():
        messages.info(request, _("The case has left your queue."))
        return redirect("web:case_queue")
    return redirect("web:case_detail", number=case.number)


def _invalid(form: Any) -> ApplicationError:
    return ApplicationError(
        "invalid_input",
        _("Please correct the form."),
        details={k: " ".join(str(m) for m in v) for k, v in form.errors.items()},
    )


def _apply(request: HttpRequest, user: User, case: Case, kind: str) -> None:
    form: forms.Form
    if kind == "classify":
        form = ClassifyForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        services.case_classify(actor=user, case=case, **form.cleaned_data)
        messages.success(request, _("Classification saved."))
    elif kind == "assign":
        form = AssignForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        team = (
            get_object_or_404(Team, pk=form.cleaned_data["team"], is_active=True)
            if form.cleaned_data["team"]
            else None
        )
        assignee_id = form.cleaned_data["assignee"]
        if request.POST.get("to_me"):
            assignee_id = user.pk
        assignee = get_object_or_404(User, pk=assignee_id, is_active=True) if assignee_id else None
        services.case_assign(
            actor=user, case=case, team=team, assignee=assignee, reason=form.cleaned_data["reason"]
        )
        messages.success(request, _("Assignment saved."))
    elif kind == "transition":
        form = TransitionForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        services.case_transition(actor=user, case=case, **form.cleaned_data)
        messages.success(request, _("Case updated."))
    elif kind == "contact":
        form = ContactForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        services.case_contact_log(actor=user, case=case, **form.cleaned_data)
        messages.success(request, _("Contact recorded."))
    elif kind == "proposal":
        form = NoteForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        services.case_preliminary_solution(actor=user, case=case, body=form.cleaned_data["body"])
        messages.success(request, _("Preliminary solution recorded."))
    elif kind == "feedback":
        form = FeedbackForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        services.case_mark_useful_feedback(
            actor=user, case=case, useful=form.cleaned_data["useful"] == "1"
        )
        messages.success(request, _("Saved."))
    elif kind == "attach":
        upload = request.FILES.get("file")
        if upload is None:
            raise ApplicationError(
                "invalid_input", _("Choose a file to attach."), details={"file": "missing"}
            )
        attachments.attachment_add(actor=user, case=case, upload=upload)
        messages.success(request, _("File attached."))
    elif kind == "detach":
        attachment_id = request.POST.get("attachment", "")
        if not (attachment_id.isascii() and attachment_id.isdigit()):
            raise Http404
        attachments.attachment_delete(actor=user, case=case, attachment_id=int(attachment_id))
        messages.success(request, _("Attachment deleted."))
    elif kind == "note":
        form = NoteForm(request.POST)
        if not form.is_valid():
            raise _invalid(form)
        services.case_note_add(actor=user, case=case, body=form.cleaned_data["body"])
        messages.success(request, _("Note added."))
    else:
        raise Http404


@login_required
@permission_required("cases.view_case", raise_exception=True)
def case_attachment_download(
    request: HttpRequest, number: str, attachment_id: int
) -> HttpResponseBase:
    """Send one attachment of a case in the user's scope, as a file to save (audited)."""
    try:
        attachment, handle = attachments.attachment_open(
            actor=_user(request),
            case=_case_for(request, number),
            attachment_id=attachment_id,
            ip=request.META.get("REMOTE_ADDR"),
        )
    except NotFound as exc:
        raise Http404 from exc
    return attachments.download_response(attachment, handle)
