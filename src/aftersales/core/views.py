"""The supervisor's audit log page (审计日志查询): search, newest first, paginated."""

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.models import User

from .audit import AuditFilters, audit_log_search
from .schemas import DB_INT_MAX

PAGE_SIZE = 50


class AuditSearchForm(forms.Form):
    person = forms.CharField(required=False, max_length=150, label=_("Person (username)"))
    customer = forms.CharField(required=False, max_length=20, label=_("Customer number"))
    case = forms.CharField(required=False, max_length=20, label=_("Case number"))
    entity = forms.SlugField(required=False, max_length=32, label=_("Object type"))
    entity_id = forms.IntegerField(
        required=False, min_value=0, max_value=DB_INT_MAX, label=_("Object id")
    )
    action = forms.CharField(required=False, max_length=64, label=_("Action starts with"))
    since = forms.DateTimeField(
        required=False,
        label=_("From (time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        required=False,
        label=_("Up to (time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            person=data["person"].strip(),
            customer=data["customer"].strip(),
            case=data["case"].strip(),
            entity=data["entity"],
            entity_id=data["entity_id"],
            action=data["action"].strip(),
            since=data["since"],
            until=data["until"],
        )


@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Search the audit log; every search (and page turned) is itself recorded."""
    user = request.user
    assert isinstance(user, User)
    form = AuditSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "core/audit.html", {"form": form, "page": None}, status=422)
    rows = audit_log_search(actor=user, filters=form.filters(), via="audit.page")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "core/audit.html", {"form": form, "page": page, "query": query.urlencode()}
    )
