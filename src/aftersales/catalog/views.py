"""Staff pages for registered units: list and search, unit page, CSV import (thin views)."""

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.core.errors import ApplicationError

from . import selectors, services

PAGE_SIZE = 50


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file of sales records"))


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # every view here is behind login_required
    return user


@login_required
@permission_required("catalog.view_unit", raise_exception=True)
def unit_list(request: HttpRequest) -> HttpResponse:
    """Units by serial number or model; HTMX asks for the results table only, as the user types."""
    q = request.GET.get("q", "")[:100]
    page = Paginator(selectors.unit_search(_user(request), q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    today = clock.today()
    rows = [(unit, selectors.warranty_status(unit, on=today)) for unit in page.object_list]
    context = {"q": q, "page": page, "rows": rows}
    if request.headers.get("HX-Request") == "true":
        return render(request, "catalog/_unit_results.html", context)
    return render(request, "catalog/unit_list.html", context)


@login_required
@permission_required("catalog.view_unit", raise_exception=True)
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One unit: owner, purchase, warranty position today, and the cases the user may see."""
    user = _user(request)
    unit = selectors.unit_get_for(user, pk=pk)
    context = {
        "unit": unit,
        "warranty": selectors.warranty_status(unit, on=clock.today()),
        "cases": selectors.unit_cases_for(user=user, unit=unit),
    }
    return render(request, "catalog/unit_detail.html", context)


@login_required
@permission_required("catalog.import_units", raise_exception=True)
@require_http_methods(["GET", "POST"])
def unit_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of sales records; a refused file comes back with the reason, nothing saved."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = services.units_import_csv(
                actor=_user(request),
                filename=upload.name or "",
                # One byte over the limit is enough for the service to refuse the file.
                content=upload.read(services.MAX_IMPORT_BYTES + 1),
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("web:unit_import_report", pk=batch.pk)
    context = {
        "form": form,
        "recent": selectors.unit_imports_recent(),
        "required_columns": services.REQUIRED_COLUMNS,
        "optional_columns": services.OPTIONAL_COLUMNS,
        "max_rows": services.MAX_IMPORT_ROWS,
        "max_mb": services.MAX_IMPORT_BYTES // (1024 * 1024),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "catalog/unit_import.html", context, status=status)


@login_required
@permission_required("catalog.import_units", raise_exception=True)
def unit_import_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The report of one import: counts and every rejected row with its reasons."""
    return render(
        request, "catalog/import_report.html", {"batch": selectors.unit_import_get(pk=pk)}
    )
