"""Staff pages for spare parts (备品配件): search, the part page with its forecast, stock
operations, transfers, counts, backorders, classification, the service curve, replenishment and
forecast runs. Thin views: parse, authorise, call one service or selector, render.

A refused action shows its page again with the service's message, the form as it was filled in
and a 4xx status, having changed nothing.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from celery.result import EagerResult
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.selectors import CASE_NUMBER, case_get_for, case_queryset_for
from aftersales.core import clock
from aftersales.core.errors import ApplicationError

from . import planning, replenishment, selectors, services
from .forms import (
    AdjustForm,
    CountOpenForm,
    DemandEventForm,
    DemandViewForm,
    LineQuantityForm,
    OverrideForm,
    PartSearchForm,
    ReceiveForm,
    ReserveForm,
    ScrapForm,
    TargetModeForm,
    TransferForm,
)
from .models import (
    Backorder,
    ClassificationRun,
    CycleCount,
    CycleCountLine,
    ForecastRun,
    Part,
    PurchaseOrder,
    SbcClass,
    StockPolicy,
    Transfer,
)
from .tasks import parts_forecast_task

PAGE_SIZE = 50
LEDGER_ROWS = 50
BACKORDER_ROWS = 500
CLASS_CHANGES = 50
ACCURACY_MONTHS = 12
ACCURACY_GROUPS = ("sbc", "abc", "method")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _part(number: str) -> Part:
    part = Part.objects.filter(number=number).first()
    if part is None:
        raise Http404
    return part


def _typed_part(number: str) -> Part:
    """The part a form names by number; an unknown number is the user's typo (400)."""
    part = Part.objects.filter(number=number.strip()).first()
    if part is None:
        raise ApplicationError(
            "unknown_part",
            _("No part has the number %(number)s.") % {"number": number},
            details={"part": number},
        )
    return part


def _require(request: HttpRequest, perm: str) -> None:
    if not _user(request).has_perm(perm):
        raise PermissionDenied(_("Your role does not allow this action."))


def _invalid(form: forms.Form) -> ApplicationError:
    return ApplicationError(
        "invalid_input",
        _("Please correct the form."),
        details={k: " ".join(str(m) for m in v) for k, v in form.errors.items()},
    )


def _status(error: ApplicationError | None) -> int:
    if error is None:
        return 200
    return 422 if error.status_code == 400 else error.status_code


def _valid(form: forms.Form) -> dict[str, Any]:
    if not form.is_valid():
        raise _invalid(form)
    return form.cleaned_data


def _visible_cases(user: User, case_ids: set[int | None]) -> set[int]:
    """Of these cases, those in the user's scope (linked to their page). Out of scope, only
    warehouse staff, who issue parts for every case, see the number (never the case)."""
    ids = {pk for pk in case_ids if pk is not None}
    if not ids:
        return set()
    return set(case_queryset_for(user).filter(pk__in=ids).values_list("pk", flat=True))


# --- search and the part page ---------------------------------------------------------------


@login_required
@permission_required("parts.view_part", raise_exception=True)
def part_list(request: HttpRequest) -> HttpResponse:
    """Parts by number or name, with network-wide stock and their classes."""
    form = PartSearchForm(request.GET or None)
    data: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    parts = selectors.part_search(
        q=data.get("q") or "",
        critical={"yes": True, "no": False}.get(data.get("critical") or ""),
        abc_class=data.get("abc") or "",
        sbc_class=data.get("pattern") or "",
    ).order_by("number")
    page = Paginator(parts, PAGE_SIZE).get_page(data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "parts/list.html", context, status=422 if form.errors else 200)


@login_required
@permission_required("parts.view_part", raise_exception=True)
def part_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_detail(request, _part(number))


def _render_detail(
    request: HttpRequest,
    part: Part,
    *,
    bound: dict[str, forms.Form] | None = None,
    error: ApplicationError | None = None,
) -> HttpResponse:
    """The part page; each block only for those whose role may read it."""
    user = _user(request)
    context: dict[str, Any] = {
        "part": part,
        "error": error,
        "availability": selectors.part_availability(part),
        "receive_form": ReceiveForm(),
        "adjust_form": AdjustForm(),
        "scrap_form": ScrapForm(),
        "event_form": DemandEventForm(),
        "override_form": OverrideForm(),
    }
    if user.has_perm("parts.view_stockmovement"):
        ledger = list(
            part.movements.select_related("location", "actor", "case").order_by(
                "-occurred_at", "-id"
            )[:LEDGER_ROWS]
        )
        visible = _visible_cases(user, {m.case_id for m in ledger})
        context["ledger"] = [(m, m.case_id in visible) for m in ledger]
    if user.has_perm("parts.view_stocktarget"):
        context["targets"] = selectors.targets_for(part)
    if user.has_perm("parts.view_forecast"):
        demand_form = DemandViewForm(request.GET or None)
        # A filter that does not validate (an unknown location) charts the network by week
        # and says why, with a 422.
        view = demand_form.cleaned_data if demand_form.is_valid() else {}
        series = selectors.demand_series(
            part=part, bucket=view.get("bucket") or "week", location=view.get("location")
        )
        context.update(
            {
                "demand_form": demand_form,
                "demand_chart": _demand_chart(series),
                "demand_unknown": any(q is None for _start, q in series.periods),
                "ledger_since": series.ledger_since,
            }
        )
        chart = selectors.part_forecast_chart(part)
        latest = selectors.forecast_latest(part)
        scores = (latest.backtest or {}).get("scores", {}) if latest else {}
        context.update(
            {
                "forecast_chart": _forecast_chart(part, chart),
                "forecast_method": chart["method"],
                "backtest": sorted(
                    scores.items(), key=lambda kv: (kv[1] is None, kv[1] or 0.0, kv[0])
                ),
                "events": part.events.filter(is_active=True).order_by("-starts_on")[:20],
                "overrides": part.overrides.filter(
                    withdrawn_at__isnull=True, expires_at__gt=clock.now()
                ).select_related("author", "location"),
            }
        )
    context.update(bound or {})
    status = _status(error)
    if status == 200 and "demand_form" in context and context["demand_form"].errors:
        status = 422
    return render(request, "parts/detail.html", context, status=status)


def _month(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def _demand_chart(series: selectors.DemandSeries) -> dict[str, Any]:
    """`demand_series` shaped for web/charts.js's "bar" kind; unknown weeks are gaps."""
    weekly = series.bucket == "week"
    labels = [
        f"{start.isocalendar().year}-W{start.isocalendar().week:02d}" if weekly else _month(start)
        for start, _q in series.periods
    ]
    where = series.location.name if series.location is not None else _("whole network")
    title = (
        _("%(number)s: weekly demand, %(where)s")
        if weekly
        else _("%(number)s: monthly demand, %(where)s")
    ) % {"number": series.part.number, "where": where}
    return {
        "title": title,
        "categories": labels,
        "rotate": 45 if weekly else 0,
        "series": [{"name": _("Demand"), "values": [q for _start, q in series.periods]}],
    }


def _forecast_chart(part: Part, chart: dict[str, Any]) -> dict[str, Any]:
    """`part_forecast_chart` shaped for web/charts.js's "forecast" kind: demand bars, the
    forecast mean, the p50-p95 band, and events and overrides as shaded month ranges."""
    history = chart["history"]
    forecast = chart["forecast"]
    months = [_month(m) for m, _q in history] + [_month(row[0]) for row in forecast]
    gap: list[Any] = [None] * len(history)
    ranges = [
        (_("Event: %(name)s") % {"name": e["name"]}, e["starts_on"], e["ends_on"])
        for e in chart["events"]
    ] + [
        (_("Override: %(reason)s") % {"reason": o["reason"]}, o["starts_on"], o["ends_on"])
        for o in chart["overrides"]
        if o["location"] is None  # a location's override changes its targets, not this line
    ]
    events = []
    for name, start, end in ranges:
        first, last = max(_month(start), months[0]), min(_month(end), months[-1])
        if first <= last:
            events.append({"name": name, "from": first, "to": last})
    return {
        "title": _("%(number)s: monthly demand and forecast") % {"number": part.number},
        "categories": months,
        "history": {
            "name": _("Demand"),
            "values": [q for _m, q in history] + [None] * len(forecast),
        },
        "mean": {"name": _("Forecast (mean)"), "values": gap + [round(r[1], 2) for r in forecast]},
        "band": {
            "name": _("Likely range (p50–p95)"),
            "low": gap + [r[2] for r in forecast],
            "high": gap + [r[4] for r in forecast],
        },
        "events": events,
    }


def _do_receive(request: HttpRequest, user: User, part: Part, bound: dict[str, Any]) -> str:
    form = bound["receive_form"] = ReceiveForm(request.POST)
    data = _valid(form)
    services.stock_receive(
        actor=user,
        part=part,
        location=data["location"],
        quantity=data["quantity"],
        kind=data["kind"],
        unit_cost=data["unit_cost"],
        note=data["note"],
    )
    return _("Stock received.")


def _do_adjust(request: HttpRequest, user: User, part: Part, bound: dict[str, Any]) -> str:
    form = bound["adjust_form"] = AdjustForm(request.POST)
    data = _valid(form)
    services.stock_adjust(
        actor=user,
        part=part,
        location=data["location"],
        kind=data["kind"],
        quantity=data["quantity"],
        reason=data["reason"],
        note=data["note"],
    )
    return _("Stock adjusted.")


def _do_scrap(request: HttpRequest, user: User, part: Part, bound: dict[str, Any]) -> str:
    form = bound["scrap_form"] = ScrapForm(request.POST)
    data = _valid(form)
    services.stock_scrap(
        actor=user,
        part=part,
        location=data["location"],
        kind=data["kind"],
        quantity=data["quantity"],
        note=data["note"],
    )
    return _("Stock scrapped.")


def _do_event(request: HttpRequest, user: User, part: Part, bound: dict[str, Any]) -> str:
    form = bound["event_form"] = DemandEventForm(request.POST)
    data = _valid(form)
    planning.demand_event_create(actor=user, part=part, **data)
    return _("Demand event recorded.")


def _do_override(request: HttpRequest, user: User, part: Part, bound: dict[str, Any]) -> str:
    form = bound["override_form"] = OverrideForm(request.POST)
    data = _valid(form)
    expires = data.pop("expires_on")
    planning.forecast_override_create(
        actor=user,
        part=part,
        expires_at=timezone.make_aware(dt.datetime.combine(expires, dt.time.max)),
        **data,
    )
    return _("Forecast override recorded.")


PartAction = Callable[[HttpRequest, User, Part, dict[str, Any]], str]

# action -> (permission, handler)
PART_ACTIONS: dict[str, tuple[str, PartAction]] = {
    "receive": ("parts.move_stock", _do_receive),
    "adjust": ("parts.move_stock", _do_adjust),
    "scrap": ("parts.move_stock", _do_scrap),
    "event": ("parts.plan_parts", _do_event),
    "override": ("parts.plan_parts", _do_override),
}


@login_required
@permission_required("parts.view_part", raise_exception=True)
@require_POST
def part_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """One POST endpoint per action on a part: stock operations (parts.move_stock), demand
    events and forecast overrides (parts.plan_parts)."""
    entry = PART_ACTIONS.get(action)
    if entry is None:
        raise Http404
    perm, handler = entry
    _require(request, perm)
    part = _part(number)
    bound: dict[str, Any] = {}
    try:
        message = handler(request, _user(request), part, bound)
    except ApplicationError as exc:
        return _render_detail(request, part, bound=bound, error=exc)
    messages.success(request, message)
    return redirect("web:part_detail", number=part.number)


# --- the case page's parts panel ------------------------------------------------------------


@login_required
@permission_required("parts.reserve_part", raise_exception=True)
@require_POST
def case_reserve(request: HttpRequest, number: str) -> HttpResponse:
    """Reserve a part for a case (the case page's form); short stock waits as a backorder
    unless the user asked otherwise. Back to the case page with the outcome."""
    user = _user(request)
    if not CASE_NUMBER.match(number):
        raise Http404
    try:
        case = case_get_for(user, number=number.upper())
    except Case.DoesNotExist as exc:
        raise Http404 from exc
    form = ReserveForm(request.POST)
    try:
        data = _valid(form)
        part = _typed_part(data["part"])
        result = services.stock_reserve(
            actor=user,
            case=case,
            part=part,
            location=data["location"],
            quantity=data["quantity"],
            backorder=data["backorder"],
        )
    except ApplicationError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.details.items())
        messages.error(request, f"{exc.message} {details}".strip())
        return redirect("web:case_detail", number=case.number)
    if result.reservation is not None:
        messages.success(request, _("Part reserved."))
    else:
        messages.warning(request, _("Not enough stock: the request waits as a backorder."))
    return redirect("web:case_detail", number=case.number)


# --- backorders, transfers, counts ----------------------------------------------------------


@login_required
@permission_required("parts.view_backorder", raise_exception=True)
def backorder_list(request: HttpRequest) -> HttpResponse:
    """Waiting backorders in the order stock will serve them: tier, SLA due, waiting since."""
    user = _user(request)
    waiting = Backorder.objects.filter(status=Backorder.Status.WAITING).select_related(
        "part", "location", "case"
    )
    # Warehouse staff serve every case; others see the backorders of the cases they see.
    waiting = selectors.case_stock_for(user, waiting)
    rows = list(waiting[:BACKORDER_ROWS])
    visible = _visible_cases(user, {b.case_id for b in rows})
    context = {"rows": [(b, b.case_id in visible) for b in rows]}
    return render(request, "parts/backorders.html", context)


@login_required
@permission_required("parts.reserve_part", raise_exception=True)
@require_POST
def backorder_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a waiting backorder: warehouse staff any, others those of cases they see
    (as the API)."""
    backorder = selectors.case_stock_for(_user(request), Backorder.objects.filter(pk=pk)).first()
    if backorder is None:
        raise Http404
    try:
        services.backorder_cancel(actor=_user(request), backorder=backorder)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("web:part_backorders")
    messages.success(request, _("Backorder cancelled."))
    return redirect("web:part_backorders")


@login_required
@permission_required("parts.view_transfer", raise_exception=True)
def transfer_list(request: HttpRequest) -> HttpResponse:
    """Transfers, newest first; a member of the stock team can create, ship and receive."""
    if request.method == "POST":
        return _transfer_create(request)
    return _render_transfers(request, TransferForm())


def _render_transfers(
    request: HttpRequest, form: TransferForm, error: ApplicationError | None = None
) -> HttpResponse:
    transfers = Transfer.objects.select_related("source", "destination").prefetch_related(
        "lines__part"
    )[:100]
    context = {"transfers": transfers, "form": form, "error": error}
    return render(request, "parts/transfers.html", context, status=_status(error))


def _transfer_create(request: HttpRequest) -> HttpResponse:
    _require(request, "parts.move_stock")
    form = TransferForm(request.POST)
    try:
        data = _valid(form)
        part = _typed_part(data["part"])
        transfer = services.transfer_create(
            actor=_user(request),
            source=data["source"],
            destination=data["destination"],
            lines=[(part, data["kind"], data["quantity"])],
            ship=data["ship"],
            note=data["note"],
        )
    except ApplicationError as exc:
        return _render_transfers(request, form, exc)
    messages.success(request, _("Transfer %(number)s created.") % {"number": transfer.number})
    return redirect("web:part_transfers")


@login_required
@permission_required("parts.move_stock", raise_exception=True)
@require_POST
def transfer_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Ship or receive (everything shipped) a transfer."""
    transfer = Transfer.objects.filter(pk=pk).first()
    if transfer is None or action not in ("ship", "receive"):
        raise Http404
    user = _user(request)
    try:
        if action == "ship":
            services.transfer_ship(actor=user, transfer=transfer)
            messages.success(request, _("Transfer shipped."))
        else:
            services.transfer_receive(actor=user, transfer=transfer)
            messages.success(request, _("Transfer received."))
    except ApplicationError as exc:
        return _render_transfers(request, TransferForm(), exc)
    return redirect("web:part_transfers")


@login_required
@permission_required("parts.view_cyclecount", raise_exception=True)
def count_list(request: HttpRequest) -> HttpResponse:
    """Cycle counts; opening one for a location (parts.move_stock)."""
    if request.method == "POST":
        _require(request, "parts.move_stock")
        form = CountOpenForm(request.POST)
        try:
            data = _valid(form)
            numbers = form.part_numbers()
            parts = list(Part.objects.filter(number__in=numbers)) if numbers else None
            missing = sorted(set(numbers) - {p.number for p in parts or []})
            if missing:
                raise ApplicationError(
                    "unknown_part",
                    _("No part has the number %(number)s.") % {"number": ", ".join(missing)},
                    details={"parts": ", ".join(missing)},
                )
            count = services.count_open(
                actor=_user(request), location=data["location"], parts=parts
            )
        except ApplicationError as exc:
            return _render_counts(request, form, exc)
        return redirect("web:part_count", pk=count.pk)
    return _render_counts(request, CountOpenForm())


def _render_counts(
    request: HttpRequest, form: CountOpenForm, error: ApplicationError | None = None
) -> HttpResponse:
    counts = CycleCount.objects.select_related("location").prefetch_related("lines")[:100]
    context = {"counts": counts, "form": form, "error": error}
    return render(request, "parts/counts.html", context, status=_status(error))


@login_required
@permission_required("parts.view_cyclecount", raise_exception=True)
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One count: its lines; record the counted quantities, then post the differences."""
    count = CycleCount.objects.filter(pk=pk).select_related("location").first()
    if count is None:
        raise Http404
    if request.method != "POST":
        return _render_count(request, count)
    _require(request, "parts.move_stock")
    user = _user(request)
    try:
        # Every figure is checked before any is saved: a typo changes nothing.
        counted = _counted_quantities(request, count)
        for line, quantity in counted:
            services.count_record(actor=user, line=line, counted=quantity)
        if request.POST.get("post"):
            services.count_post(actor=user, count=count)
            messages.success(request, _("Count posted."))
        else:
            messages.success(request, _("Counted quantities saved."))
    except ApplicationError as exc:
        count.refresh_from_db()
        return _render_count(request, count, exc)
    return redirect("web:part_count", pk=count.pk)


def _counted_quantities(
    request: HttpRequest, count: CycleCount
) -> list[tuple[CycleCountLine, int]]:
    counted = []
    for line in count.lines.select_related("part"):
        raw = request.POST.get(f"counted-{line.pk}", "").strip()
        if raw == "":
            continue
        if not (raw.isascii() and raw.isdigit()):
            raise ApplicationError(
                "invalid_quantity",
                _("Enter a whole number, 0 or more, for each counted quantity."),
                details={line.part.number: raw},
            )
        counted.append((line, int(raw)))
    return counted


def _render_count(
    request: HttpRequest, count: CycleCount, error: ApplicationError | None = None
) -> HttpResponse:
    lines = [
        (line, None if line.counted is None else line.counted - line.expected)
        for line in count.lines.select_related("part", "counted_by")
    ]
    context = {"count": count, "lines": lines, "error": error}
    return render(request, "parts/count.html", context, status=_status(error))


# --- classification -------------------------------------------------------------------------


@login_required
@permission_required("parts.view_stockpolicy", raise_exception=True)
def classification(request: HttpRequest) -> HttpResponse:
    """The ABC x demand-pattern and ABC x XYZ matrices, recent class moves, the policies."""
    return _render_classification(request)


def _render_classification(
    request: HttpRequest, error: ApplicationError | None = None
) -> HttpResponse:
    matrix = selectors.classification_matrix()
    patterns = [(value, str(label)) for value, label in SbcClass.choices]
    context = {
        "charts": {
            "abc_sbc": _heatmap(
                _("Parts by ABC class and demand pattern"), matrix["abc_sbc"], patterns
            ),
            "abc_xyz": _heatmap(
                _("Parts by ABC class and demand variability (XYZ)"),
                matrix["abc_xyz"],
                [("X", "X"), ("Y", "Y"), ("Z", "Z")],
            ),
        },
        "changes": selectors.classification_changes(CLASS_CHANGES),
        "policies": StockPolicy.objects.order_by("rank", "id"),
        "last_run": ClassificationRun.objects.order_by("-started_at", "-id").first(),
        "error": error,
    }
    return render(request, "parts/classification.html", context, status=_status(error))


def _heatmap(title: str, cells: list[dict[str, Any]], columns: list[tuple[str, str]]) -> Any:
    """Matrix cells shaped for web/charts.js's "heatmap" kind: part counts, usage value and
    share in the tooltip; parts not classified yet under "—"."""
    xs = [value for value, _label in columns]
    x_labels = [label for _value, label in columns]
    rows = ["A", "B", "C"]
    for cell in cells:
        if cell["other"] not in xs:
            xs.append(cell["other"])
            x_labels.append(cell["other"] or "—")
        if cell["abc"] not in rows:
            rows.append(cell["abc"])
    return {
        "title": title,
        "x": x_labels,
        "y": [r or "—" for r in rows],
        "valueLabel": _("parts"),
        "noteLabel": _("usage value (12 months)"),
        "cells": [
            [
                xs.index(c["other"]),
                rows.index(c["abc"]),
                c["parts"],
                f"{c['usage_value']:.2f} ({c['share'] * 100:.1f}%)",
            ]
            for c in cells
        ],
    }


@login_required
@permission_required("parts.plan_parts", raise_exception=True)
@require_POST
def classification_start(request: HttpRequest) -> HttpResponse:
    """Reclassify every part now (the monthly run, on demand)."""
    try:
        run = planning.classification_run(actor=_user(request))
    except ApplicationError as exc:
        return _render_classification(request, exc)
    messages.success(
        request,
        _("Classification done: %(parts)d parts, %(changed)d changed class.")
        % {"parts": run.parts, "changed": run.changed},
    )
    return redirect("web:part_classification")


# --- forecasts ------------------------------------------------------------------------------


@login_required
@permission_required("parts.view_forecast", raise_exception=True)
def forecast_list(request: HttpRequest) -> HttpResponse:
    """Forecast runs, and forecast accuracy per class over the last months."""
    by = request.GET.get("by", "sbc")
    if by not in ACCURACY_GROUPS:
        by = "sbc"
    summary = selectors.accuracy_summary(by=by, months=ACCURACY_MONTHS)
    context = {
        "runs": ForecastRun.objects.select_related("actor")[:20],
        "accuracy_chart": _accuracy_chart(summary),
        "by": by,
        "groups": [
            ("sbc", _("Demand pattern")),
            ("abc", _("ABC class")),
            ("method", _("Method")),
        ],
    }
    return render(request, "parts/forecast.html", context)


def _accuracy_chart(summary: dict[str, Any]) -> dict[str, Any]:
    """`accuracy_summary` as lines of accuracy (1 - WAPE, %) per group and month."""
    months = summary["months"]
    series = []
    for group in summary["groups"]:
        by_month = {row["month"]: row["accuracy"] for row in group["by_month"]}
        key = group["key"]
        name = (
            str(SbcClass(key).label) if summary["by"] == "sbc" and key in SbcClass.values else key
        )
        series.append(
            {
                "name": name or "—",
                "values": [
                    None if by_month.get(m) is None else round(by_month[m] * 100, 1) for m in months
                ],
            }
        )
    return {
        "title": _("Forecast accuracy (1 − WAPE) by month"),
        "categories": [_month(m) for m in months],
        "series": series,
        "unit": "%",
        "min": 0,
        "max": 100,
    }


@login_required
@permission_required("parts.plan_parts", raise_exception=True)
@require_POST
def forecast_start(request: HttpRequest) -> HttpResponse:
    """Start a forecast run through its task: on a worker when one runs (the runs list shows
    it once started), in this process in the embedded default (then its page at once)."""
    try:
        result = parts_forecast_task.delay()
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("web:part_forecast")
    # Only a run made in this process has its id here (no result backend is configured).
    if isinstance(result, EagerResult) and isinstance(result.result, int):
        return redirect("web:part_forecast_run", pk=result.result)
    messages.info(request, _("The forecast run has started."))
    return redirect("web:part_forecast")


def _run(pk: int) -> ForecastRun:
    run = ForecastRun.objects.select_related("actor").filter(pk=pk).first()
    if run is None:
        raise Http404
    return run


@login_required
@permission_required("parts.view_forecast", raise_exception=True)
def forecast_run(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "parts/forecast_run.html", {"run": _run(pk)})


@login_required
@permission_required("parts.view_forecast", raise_exception=True)
def forecast_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment a running run's page polls (HTMX) until the run ends."""
    return render(request, "parts/_forecast_progress.html", {"run": _run(pk)})


# --- service curve --------------------------------------------------------------------------


@login_required
@permission_required("parts.view_forecast", raise_exception=True)
def service_curve(request: HttpRequest) -> HttpResponse:
    """Fill rate against average stock value, per ABC class and overall: the project's method
    against the naive one, the targets in force marked; the cost of one more point; and, for
    the parts settings' keepers, where stock targets come from."""
    return _render_curve(request)


@login_required
@permission_required("parts.change_partssettings", raise_exception=True)
@require_POST
def service_curve_targets(request: HttpRequest) -> HttpResponse:
    """Set where stock targets come from and recompute them (when the user may plan)."""
    user = _user(request)
    form = TargetModeForm(request.POST)
    try:
        data = _valid(form)
        _settings, written = replenishment.target_mode_apply(
            actor=user, mode=data["mode"], fill_rate=data["fill_rate"]
        )
    except ApplicationError as exc:
        return _render_curve(request, form, exc)
    if written is None:
        messages.success(request, _("Saved: the next target computation uses it."))
    else:
        messages.success(request, _("Saved and %(n)d stock targets recomputed.") % {"n": written})
    return redirect("web:part_service_curve")


def _render_curve(
    request: HttpRequest,
    form: TargetModeForm | None = None,
    error: ApplicationError | None = None,
) -> HttpResponse:
    curve = replenishment.service_curve()
    settings = services.parts_settings()
    holding = settings.holding_rate
    charts: list[dict[str, Any]] = []
    marginal: list[dict[str, Any]] = []
    for name, data in curve.classes.items():
        label = _("All parts") if name == replenishment.ALL else _("Class %(c)s") % {"c": name}
        charts.append(_curve_chart(label, data, len(charts) + 1))
        current = data["current"]
        if current is None:
            continue
        per_point = current["per_point"]
        marginal.append(
            {
                "label": label,
                "fill_rate": current["fill_rate"],
                "stock_value": current["stock_value"],
                "marginal_value": per_point,
                "marginal_holding": None
                if per_point is None
                else (Decimal(str(per_point)) * holding).quantize(Decimal("0.01")),
            }
        )
    if form is None and _user(request).has_perm("parts.change_partssettings"):
        form = TargetModeForm(
            initial={"mode": settings.target_mode, "fill_rate": settings.system_fill_rate}
        )
    context = {
        "error": error,
        "charts": charts,
        "marginal": marginal,
        "curve": curve,
        "settings": settings,
        "target_form": form,
    }
    return render(request, "parts/service_curve.html", context, status=_status(error))


def _curve_chart(label: str, data: dict[str, Any], n: int) -> dict[str, Any]:
    def points(rows: list[dict[str, Any]]) -> list[list[float]]:
        return [
            [r["stock_value"], round(r["fill_rate"] * 100, 2)]
            for r in rows
            if r["fill_rate"] is not None
        ]

    current = data["current"]
    today = [] if current is None else points([current])
    return {
        "element_id": f"parts-chart-curve-{n}",
        "title": _("%(label)s: fill rate against average stock value") % {"label": label},
        "xName": _("Average stock value"),
        "yName": _("Fill rate"),
        "yUnit": "%",
        "series": [
            {"name": _("This system's method"), "points": points(data[replenishment.PROJECT])},
            {
                "name": _("Naive min/max"),
                "points": points(data[replenishment.NAIVE]),
                "dashed": True,
            },
            {"name": _("Today's policy"), "type": "scatter", "points": today},
        ],
    }


# --- replenishment --------------------------------------------------------------------------


@login_required
@permission_required("parts.view_purchaseorder", raise_exception=True)
def replenishment_page(request: HttpRequest) -> HttpResponse:
    """Draft purchase orders and suggested transfers waiting for approval."""
    return _render_replenishment(request)


def _render_replenishment(
    request: HttpRequest, error: ApplicationError | None = None
) -> HttpResponse:
    pending = selectors.suggestions_pending()
    by_supplier: dict[str, Decimal] = defaultdict(Decimal)
    by_location: dict[str, Decimal] = defaultdict(Decimal)
    by_transfer: dict[str, Decimal] = defaultdict(Decimal)
    orders = []
    for order in pending["orders"]:
        value = sum((li.quantity * li.unit_price for li in order.lines.all()), Decimal(0))
        orders.append((order, value))
        by_supplier[order.supplier.name] += value
        by_location[order.location.code] += value
    for transfer in pending["transfers"]:
        value = sum((li.quantity * li.part.unit_cost for li in transfer.lines.all()), Decimal(0))
        by_transfer[transfer.destination.code] += value
    locations = sorted(set(by_location) | set(by_transfer))
    context = {
        "orders": orders,
        "transfers": pending["transfers"],
        "error": error,
        "charts": {
            "by_supplier": {
                "title": _("Suggested purchases by supplier (CNY)"),
                "categories": list(by_supplier),
                "series": [{"name": _("Value"), "values": [str(v) for v in by_supplier.values()]}],
            },
            "by_location": {
                "title": _("Suggested value by location (CNY)"),
                "categories": locations,
                "series": [
                    {
                        "name": pgettext("replenishment", "Purchases"),
                        "values": [str(by_location.get(c, Decimal(0))) for c in locations],
                    },
                    {
                        "name": _("Transfers in"),
                        "values": [str(by_transfer.get(c, Decimal(0))) for c in locations],
                    },
                ],
            },
        },
    }
    return render(request, "parts/replenishment.html", context, status=_status(error))


@login_required
@permission_required("parts.plan_parts", raise_exception=True)
@require_POST
def replenishment_start(request: HttpRequest) -> HttpResponse:
    """Propose orders and transfers now from the current stock targets."""
    try:
        result = replenishment.replenishment_suggest(actor=_user(request))
    except ApplicationError as exc:
        return _render_replenishment(request, exc)
    messages.success(
        request,
        _("Suggestions updated: %(orders)d draft orders, %(transfers)d transfers.")
        % {"orders": len(result.orders), "transfers": len(result.transfers)},
    )
    return redirect("web:part_replenishment")


@login_required
@permission_required("parts.approve_replenishment", raise_exception=True)
@require_POST
def order_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve or cancel a draft purchase order, or change one of its line's quantity."""
    order = PurchaseOrder.objects.filter(pk=pk).first()
    if order is None or action not in ("approve", "cancel", "line"):
        raise Http404
    user = _user(request)
    try:
        if action == "approve":
            replenishment.purchase_order_approve(actor=user, order=order)
            message = _("Purchase order %(number)s approved.")
        elif action == "cancel":
            replenishment.purchase_order_cancel(actor=user, order=order)
            message = _("Purchase order %(number)s cancelled.")
        else:
            data = _valid(LineQuantityForm(request.POST))
            line = order.lines.filter(pk=data["line"]).first()
            if line is None:
                raise Http404
            replenishment.purchase_order_line_set(actor=user, line=line, quantity=data["quantity"])
            message = _("Purchase order %(number)s changed.")
    except ApplicationError as exc:
        return _render_replenishment(request, exc)
    messages.success(request, message % {"number": order.number})
    return redirect("web:part_replenishment")


@login_required
@permission_required("parts.approve_replenishment", raise_exception=True)
@require_POST
def suggested_transfer_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve a suggested transfer: it ships at once."""
    transfer = Transfer.objects.filter(pk=pk).first()
    if transfer is None:
        raise Http404
    try:
        replenishment.transfer_suggestion_approve(actor=_user(request), transfer=transfer)
    except ApplicationError as exc:
        return _render_replenishment(request, exc)
    messages.success(
        request, _("Transfer %(number)s approved and shipped.") % {"number": transfer.number}
    )
    return redirect("web:part_replenishment")
