"""The spare-parts pages: search, the part page and its stock forms, the case page's parts panel,
backorders, transfers, counts, and the planning pages with their charts."""

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case
from aftersales.core import clock
from aftersales.parts import services
from aftersales.parts.defaults import parts_defaults_ensure
from aftersales.parts.models import (
    Backorder,
    ClassificationRun,
    CycleCount,
    DemandEvent,
    DemandHistory,
    Forecast,
    ForecastAccuracy,
    ForecastOverride,
    ForecastRun,
    Location,
    LocationKind,
    Part,
    PartSupplier,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    StockBalance,
    StockMovement,
    Supplier,
    Transfer,
)
from tests import factories
from tests.auth import sign_in
from tests.parts.stock import issue

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    return sign_in(Client(), user)


def _chart(response: Any, element_id: str) -> Any:
    """The JSON a page hands to web/charts.js in its `json_script` tag."""
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, f"no {element_id} on the page"
    return json.loads(match.group(1))


@pytest.fixture
def central(db: Any) -> Location:
    return Location.objects.create(code="WH-SH", name="Central", kind=LocationKind.CENTRAL)


@pytest.fixture
def outlet(central: Location) -> Location:
    return Location.objects.create(
        code="OUT-SZ", name="Shenzhen outlet", kind=LocationKind.OUTLET, supplied_from=central
    )


@pytest.fixture
def part(db: Any) -> Part:
    return Part.objects.create(
        number="CMP-100",
        name_zh="压缩机",
        name_en="Compressor",
        unit_cost=Decimal("320.00"),
        is_critical=True,
        abc_class="A",
        created_at=clock.now(),
    )


@pytest.fixture
def stocked(part: Part, central: Location, warehouse_user: User) -> Part:
    services.stock_receive(actor=warehouse_user, part=part, location=central, quantity=5)
    return part


@pytest.fixture
def service_case(agent: User, desk_team: Team) -> Case:
    return factories.case(factories.customer(), team=desk_team, assignee=agent)


# --- search and the part page ---------------------------------------------------------------


def test_search_shows_network_stock_and_classes(
    stocked: Part, outlet: Location, warehouse_user: User, agent: User
) -> None:
    Part.objects.create(
        number="PCB-200", name_zh="主板", name_en="Board", unit_cost=1, created_at=clock.now()
    )
    for user in (warehouse_user, agent):
        response = _client(user).get("/parts/", {"q": "压缩", "critical": "yes", "abc": "A"})
        assert response.status_code == 200
        body = response.content.decode()
        assert 'data-part="CMP-100"' in body
        assert 'data-part="PCB-200"' not in body
        row = body.split('data-part="CMP-100"')[1].split("</tr>")[0]
        assert re.search(r"data-available>\s*5\s*<", row)


def test_parts_pages_are_forbidden_without_the_permission(part: Part, callback_agent: User) -> None:
    client = _client(callback_agent)
    for url in ("/parts/", f"/parts/{part.number}/", "/parts/backorders/"):
        assert client.get(url).status_code == 403, url


def test_unknown_part_is_404(warehouse_user: User) -> None:
    assert _client(warehouse_user).get("/parts/NO-SUCH/").status_code == 404


def test_part_page_shows_availability_and_ledger(
    stocked: Part, central: Location, warehouse_user: User
) -> None:
    response = _client(warehouse_user).get(f"/parts/{stocked.number}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-location="WH-SH"' in body
    assert 'data-movement="receipt"' in body
    assert 'id="receive-form"' in body


def test_agent_sees_the_part_page_without_stock_forms(stocked: Part, agent: User) -> None:
    response = _client(agent).get(f"/parts/{stocked.number}/")
    assert response.status_code == 200
    assert 'id="receive-form"' not in response.content.decode()
    assert (
        _client(agent)
        .post(
            f"/parts/{stocked.number}/receive/",
            {"location": "1", "kind": "new", "quantity": "1"},
        )
        .status_code
        == 403
    )


def test_receive_form_books_a_receipt(part: Part, central: Location, warehouse_user: User) -> None:
    response = _client(warehouse_user).post(
        f"/parts/{part.number}/receive/",
        {"location": central.pk, "kind": "new", "quantity": "4", "note": "PO 17"},
    )
    assert response.status_code == 302
    balance = StockBalance.objects.get(part=part, location=central, kind="new")
    assert balance.on_hand == 4
    assert StockMovement.objects.get(part=part).kind == StockMovement.Kind.RECEIPT


@pytest.mark.parametrize("quantity", ["0", "-3"])
def test_bad_quantity_is_refused_with_the_services_message(
    part: Part, central: Location, warehouse_user: User, quantity: str
) -> None:
    response = _client(warehouse_user).post(
        f"/parts/{part.number}/receive/",
        {"location": central.pk, "kind": "new", "quantity": quantity},
    )
    assert response.status_code == 422
    assert 'data-code="invalid_quantity"' in response.content.decode()
    assert not StockMovement.objects.exists()


def test_adjust_below_reserved_is_refused(
    stocked: Part, central: Location, warehouse_user: User, service_case: Case, agent: User
) -> None:
    services.stock_reserve(
        actor=agent, case=service_case, part=stocked, location=central, quantity=4
    )
    before = StockMovement.objects.count()
    response = _client(warehouse_user).post(
        f"/parts/{stocked.number}/adjust/",
        {"location": central.pk, "kind": "new", "quantity": "-3", "reason": "lost"},
    )
    assert response.status_code == 409
    assert 'data-code="below_reserved"' in response.content.decode()
    assert StockMovement.objects.count() == before


# --- the case page --------------------------------------------------------------------------


def test_case_page_reserve_creates_a_reservation(
    stocked: Part, central: Location, service_case: Case, agent: User
) -> None:
    client = _client(agent)
    page = client.get(f"/cases/{service_case.number}/")
    assert 'id="reserve-form"' in page.content.decode()
    response = client.post(
        f"/parts/cases/{service_case.number}/reserve/",
        {"part": stocked.number, "location": central.pk, "quantity": "2", "backorder": "on"},
        follow=True,
    )
    assert response.status_code == 200
    reservation = Reservation.objects.get(case=service_case)
    assert (reservation.part, reservation.quantity, reservation.status) == (stocked, 2, "active")
    assert f'data-reservation="{reservation.pk}"' in response.content.decode()


def test_case_page_reserve_with_bad_quantity_changes_nothing(
    stocked: Part, central: Location, service_case: Case, agent: User
) -> None:
    before = StockMovement.objects.count()
    response = _client(agent).post(
        f"/parts/cases/{service_case.number}/reserve/",
        {"part": stocked.number, "location": central.pk, "quantity": "0"},
        follow=True,
    )
    assert "invalid_quantity" in response.content.decode() or "quantity" in str(
        list(response.context["messages"])
    )
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert StockMovement.objects.count() == before
    assert not Reservation.objects.exists()


def test_case_page_reserve_of_an_unknown_part_is_refused(
    stocked: Part, central: Location, service_case: Case, agent: User
) -> None:
    response = _client(agent).post(
        f"/parts/cases/{service_case.number}/reserve/",
        {"part": "NO-SUCH", "location": central.pk, "quantity": "1"},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "No part has the number NO-SUCH. part: NO-SUCH"
    ]
    assert not Reservation.objects.exists()


def test_case_page_short_stock_waits_as_a_backorder(
    stocked: Part, central: Location, service_case: Case, agent: User
) -> None:
    _client(agent).post(
        f"/parts/cases/{service_case.number}/reserve/",
        {"part": stocked.number, "location": central.pk, "quantity": "9", "backorder": "on"},
    )
    assert Backorder.objects.get(case=service_case).quantity == 9
    assert not Reservation.objects.exists()


def test_reserve_on_a_case_outside_the_scope_is_404(
    stocked: Part, central: Location, other_agent: User, service_case: Case
) -> None:
    response = _client(other_agent).post(
        f"/parts/cases/{service_case.number}/reserve/",
        {"part": stocked.number, "location": central.pk, "quantity": "1"},
    )
    assert response.status_code == 404
    assert not Reservation.objects.exists()


# --- backorders, transfers, counts ----------------------------------------------------------


def test_backorder_queue_and_cancel(
    stocked: Part,
    central: Location,
    service_case: Case,
    agent: User,
    warehouse_user: User,
) -> None:
    services.stock_reserve(
        actor=agent, case=service_case, part=stocked, location=central, quantity=8
    )
    backorder = Backorder.objects.get()
    client = _client(warehouse_user)
    page = client.get("/parts/backorders/").content.decode()
    assert f'data-backorder="{backorder.pk}"' in page
    assert service_case.number in page  # warehouse staff issue parts to every case
    assert client.post(f"/parts/backorders/{backorder.pk}/cancel/").status_code == 302
    backorder.refresh_from_db()
    assert backorder.status == Backorder.Status.CANCELLED


def test_backorder_cancel_on_the_page_follows_the_case_scope_as_the_api_does(
    stocked: Part,
    central: Location,
    service_case: Case,
    agent: User,
    other_agent: User,
    callback_agent: User,
) -> None:
    services.stock_reserve(
        actor=agent, case=service_case, part=stocked, location=central, quantity=8
    )
    backorder = Backorder.objects.get()
    url = f"/parts/backorders/{backorder.pk}/cancel/"
    # No parts permission at all: 403; a case outside the agent's scope: 404. Nothing changes.
    assert _client(callback_agent).post(url).status_code == 403
    assert _client(other_agent).post(url).status_code == 404
    backorder.refresh_from_db()
    assert backorder.status == Backorder.Status.WAITING
    # The case's own agent sees the button and withdraws it.
    assert f'action="{url}"' in _client(agent).get("/parts/backorders/").content.decode()
    assert _client(agent).post(url).status_code == 302
    backorder.refresh_from_db()
    assert backorder.status == Backorder.Status.CANCELLED


def test_transfer_create_ship_and_receive(
    stocked: Part, central: Location, outlet: Location, warehouse_user: User
) -> None:
    client = _client(warehouse_user)
    response = client.post(
        "/parts/transfers/",
        {
            "source": central.pk,
            "destination": outlet.pk,
            "part": stocked.number,
            "kind": "new",
            "quantity": "2",
        },
    )
    assert response.status_code == 302
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.SUGGESTED or transfer.status == "suggested"
    client.post(f"/parts/transfers/{transfer.pk}/ship/")
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.IN_TRANSIT
    client.post(f"/parts/transfers/{transfer.pk}/receive/")
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.RECEIVED
    assert StockBalance.objects.get(part=stocked, location=outlet, kind="new").on_hand == 2


def test_transfer_to_the_same_place_is_refused(
    stocked: Part, central: Location, warehouse_user: User
) -> None:
    response = _client(warehouse_user).post(
        "/parts/transfers/",
        {
            "source": central.pk,
            "destination": central.pk,
            "part": stocked.number,
            "kind": "new",
            "quantity": "1",
            "ship": "on",
        },
    )
    assert response.status_code == 422
    assert 'data-code="same_location"' in response.content.decode()
    assert not Transfer.objects.exists()


def test_count_open_record_and_post(stocked: Part, central: Location, warehouse_user: User) -> None:
    client = _client(warehouse_user)
    response = client.post("/parts/counts/", {"location": central.pk, "parts": stocked.number})
    count = CycleCount.objects.get()
    assert response.status_code == 302
    line = count.lines.get()
    bad = client.post(f"/parts/counts/{count.pk}/", {f"counted-{line.pk}": "x"})
    assert bad.status_code == 422
    line.refresh_from_db()
    assert line.counted is None
    client.post(f"/parts/counts/{count.pk}/", {f"counted-{line.pk}": "3", "post": "1"})
    count.refresh_from_db()
    assert count.status == CycleCount.Status.POSTED
    assert StockBalance.objects.get(part=stocked, location=central, kind="new").on_hand == 3


# --- planning pages -------------------------------------------------------------------------


def _month(n: int) -> dt.date:
    """The first day of the month `n` months from this one."""
    today = clock.today()
    index = today.year * 12 + today.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def forecast(part: Part) -> Forecast:
    """A finished forecast run for the part: 3 months from this one, 7 units issued last month."""
    DemandHistory.objects.create(part=part, month=_month(-1), quantity=7, imported_at=clock.now())
    run = ForecastRun.objects.create(
        started_at=clock.now(),
        finished_at=clock.now(),
        origin=_month(0),
        horizon=3,
        total=1,
        done=1,
        status=ForecastRun.Status.DONE,
    )
    months = [
        {"month": _month(m).isoformat(), "base": 2.0, "mean": 2.5, "p50": 2, "p90": 5, "p95": 6}
        for m in range(3)
    ]
    return Forecast.objects.create(
        run=run,
        part=part,
        method="croston",
        sbc_class="intermittent",
        months=months,
        backtest={"scores": {"croston": 0.81, "ets": 1.2, "tsb": None}, "fixed": False},
    )


def test_part_chart_has_history_forecast_band_and_events(
    forecast: Forecast, warehouse_user: User
) -> None:
    DemandEvent.objects.create(
        name="Recall R-7",
        kind="recall",
        part=forecast.part,
        starts_on=_month(1),
        ends_on=_month(2),
        factor=2,
        created_at=clock.now(),
    )
    response = _client(warehouse_user).get(f"/parts/{forecast.part.number}/")
    chart = _chart(response, "part-forecast-chart")
    months = chart["categories"]
    assert months[-3:] == [_month(m).strftime("%Y-%m") for m in range(3)]
    assert chart["history"]["values"][months.index(_month(-1).strftime("%Y-%m"))] == 7
    assert chart["history"]["values"][-3:] == [None, None, None]
    assert chart["mean"]["values"][-3:] == [2.5, 2.5, 2.5]
    assert chart["band"]["low"][-3:] == [2, 2, 2] and chart["band"]["high"][-3:] == [6, 6, 6]
    assert chart["mean"]["values"][0] is None
    assert [(e["from"], e["to"]) for e in chart["events"]] == [
        (_month(1).strftime("%Y-%m"), _month(2).strftime("%Y-%m"))
    ]
    body = response.content.decode()
    assert 'id="forecast-method">croston<' in body
    assert body.index(">croston") < body.index(">ets")  # best backtest score first


def test_part_page_charts_demand_by_week_or_month_at_a_location(
    part: Part, warehouse_user: User, agent: User, central: Location, outlet: Location,
    regular_case: Case,
) -> None:  # fmt: skip
    today = timezone.localdate(clock.now())
    last_week = today - dt.timedelta(days=today.weekday() + 7)
    at = timezone.make_aware(dt.datetime.combine(last_week + dt.timedelta(days=1), dt.time(9)))
    issue((warehouse_user, agent), regular_case, part, outlet, 4, at)
    client = _client(warehouse_user)

    response = client.get(f"/parts/{part.number}/")
    chart = _chart(response, "part-demand-chart")
    year, week, _day = last_week.isocalendar()
    assert len(chart["categories"]) == 26 and chart["categories"][-1] == f"{year}-W{week:02d}"
    values = chart["series"][0]["values"]
    assert values[-1] == 4 and values[-2] is None  # the week before the ledger began: unknown
    assert "weekly demand, whole network" in chart["title"]
    assert 'id="demand-unknown"' in response.content.decode()

    at_central = _chart(client.get(f"/parts/{part.number}/?location=WH-SH"), "part-demand-chart")
    assert at_central["series"][0]["values"][-1] == 0
    assert "Central" in at_central["title"]
    monthly = _chart(
        client.get(f"/parts/{part.number}/?bucket=month&location=OUT-SZ"), "part-demand-chart"
    )
    assert len(monthly["categories"]) == 24 and "monthly demand" in monthly["title"]
    # The current month is not complete: its issues show from next month on.
    in_a_complete_month = (at.year, at.month) != (today.year, today.month)
    assert sum(monthly["series"][0]["values"]) == (4 if in_a_complete_month else 0)

    # An unknown location: 422 and the form says so; the page still charts the network.
    refused = client.get(f"/parts/{part.number}/?location=NOWHERE&bucket=day")
    assert refused.status_code == 422
    body = refused.content.decode()
    assert 'data-field="location"' in body and 'data-field="bucket"' in body
    assert _chart(refused, "part-demand-chart")["series"][0]["values"][-1] == 4
    # Demand is planning data: agents see stock, not the chart.
    assert "part-demand-chart" not in _client(agent).get(f"/parts/{part.number}/").content.decode()


def test_agent_sees_stock_but_not_the_forecast(forecast: Forecast, agent: User) -> None:
    body = _client(agent).get(f"/parts/{forecast.part.number}/").content.decode()
    assert "part-forecast-chart" not in body
    assert 'id="ledger"' not in body


def test_demand_event_form(part: Part, warehouse_user: User) -> None:
    client = _client(warehouse_user)
    data = {
        "name": "Summer promotion",
        "kind": "promotion",
        "starts_on": _month(1).isoformat(),
        "ends_on": _month(2).isoformat(),
        "factor": "1.5",
        "extra_units": "0",
    }
    bad = client.post(f"/parts/{part.number}/event/", {**data, "ends_on": _month(-2).isoformat()})
    assert bad.status_code == 422
    assert 'data-code="invalid_period"' in bad.content.decode()
    assert not DemandEvent.objects.exists()
    assert client.post(f"/parts/{part.number}/event/", data).status_code == 302
    event = DemandEvent.objects.get()
    assert (event.part, event.factor, event.created_by) == (part, Decimal("1.5"), warehouse_user)


def test_override_form_needs_a_reason(part: Part, warehouse_user: User, agent: User) -> None:
    client = _client(warehouse_user)
    data = {
        "starts_on": _month(1).isoformat(),
        "ends_on": _month(1).isoformat(),
        "quantity": "4",
        "reason": "   ",
        "expires_on": _month(3).isoformat(),
    }
    bad = client.post(f"/parts/{part.number}/override/", data)
    assert bad.status_code == 422
    assert not ForecastOverride.objects.exists()
    ok = client.post(f"/parts/{part.number}/override/", {**data, "reason": "Dealer stock-up"})
    assert ok.status_code == 302
    override = ForecastOverride.objects.get()
    assert (override.quantity, override.author, override.location) == (
        Decimal("4"),
        warehouse_user,
        None,
    )
    assert _client(agent).post(f"/parts/{part.number}/override/", data).status_code == 403


def test_override_form_takes_a_location_and_the_page_names_it(
    part: Part, central: Location, warehouse_user: User
) -> None:
    client = _client(warehouse_user)
    data = {
        "location": str(central.pk),
        "starts_on": _month(1).isoformat(),
        "ends_on": _month(2).isoformat(),
        "quantity": "7",
        "reason": "Trade fair next door",
        "expires_on": _month(3).isoformat(),
    }
    assert client.post(f"/parts/{part.number}/override/", data).status_code == 302
    assert ForecastOverride.objects.get().location == central
    page = client.get(f"/parts/{part.number}/").content.decode()
    assert f"{central.code} · " in page and "Trade fair next door" in page
    unknown = client.post(f"/parts/{part.number}/override/", {**data, "location": "999999"})
    assert unknown.status_code == 422
    assert ForecastOverride.objects.count() == 1


def test_classification_heatmap_and_recompute(
    part: Part, warehouse_user: User, agent: User, callback_agent: User
) -> None:
    Part.objects.filter(pk=part.pk).update(abc_class="A", sbc_class="lumpy", xyz_class="Z")
    client = _client(warehouse_user)
    response = client.get("/parts/classification/")
    assert response.status_code == 200
    heat = _chart(response, "parts-chart-abc-sbc")
    assert heat["y"][:3] == ["A", "B", "C"]
    cell = next(c for c in heat["cells"] if c[2] == 1)
    assert (heat["y"][cell[1]], heat["x"][cell[0]]) == ("A", "Lumpy")
    xyz = _chart(response, "parts-chart-abc-xyz")
    assert [(xyz["y"][c[1]], xyz["x"][c[0]]) for c in xyz["cells"] if c[2]] == [("A", "Z")]
    assert 'id="policy-table"' in response.content.decode()
    assert client.post("/parts/classification/run/").status_code == 302
    assert ClassificationRun.objects.get().actor == warehouse_user
    for user in (agent, callback_agent):
        assert _client(user).get("/parts/classification/").status_code == 403
    assert _client(agent).post("/parts/classification/run/").status_code == 403


def test_forecast_page_accuracy_chart(part: Part, forecast: Forecast, supervisor: User) -> None:
    ForecastAccuracy.objects.create(
        part=part,
        run=forecast.run,
        month=_month(-2),
        lead_months=0,
        forecast=6,
        actual=8,
        sbc_class="intermittent",
        abc_class="A",
    )
    response = _client(supervisor).get("/parts/forecast/")
    assert response.status_code == 200
    chart = _chart(response, "parts-chart-accuracy")
    series = {s["name"]: s["values"] for s in chart["series"]}
    column = chart["categories"].index(_month(-2).strftime("%Y-%m"))
    assert series["Intermittent"][column] == 75.0  # 1 - |6 - 8| / 8
    assert 'id="forecast-now"' not in response.content.decode()  # supervisors read, not run
    by_abc = _chart(
        _client(supervisor).get("/parts/forecast/", {"by": "abc"}), "parts-chart-accuracy"
    )
    assert [s["name"] for s in by_abc["series"]] == ["A"]


def test_run_now_runs_the_forecast_and_its_page_shows_progress(
    part: Part, warehouse_user: User
) -> None:
    client = _client(warehouse_user)
    response = client.post("/parts/forecast/run/")
    run = ForecastRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/parts/forecast/runs/{run.pk}/"
    assert run.status == ForecastRun.Status.DONE and run.done == run.total == 1
    page = client.get(response["Location"]).content.decode()
    assert 'data-status="done"' in page and "hx-get" not in page
    ForecastRun.objects.filter(pk=run.pk).update(status="running", done=0)
    fragment = client.get(f"/parts/forecast/runs/{run.pk}/progress/").content.decode()
    assert f'hx-get="/parts/forecast/runs/{run.pk}/progress/"' in fragment
    assert 'hx-trigger="every 2s"' in fragment
    assert '<progress value="0" max="1"' in fragment


def test_service_curve_lines_per_class(part: Part, warehouse_user: User) -> None:
    parts_defaults_ensure()  # the class policies: today's point
    for m, quantity in enumerate([0, 3, 1, 0, 2, 5, 0, 1, 4, 0, 2, 1] * 2, start=-24):
        DemandHistory.objects.create(
            part=part, month=_month(m), quantity=quantity, imported_at=clock.now()
        )
    response = _client(warehouse_user).get("/parts/service-curve/")
    assert response.status_code == 200
    overall = _chart(response, "parts-chart-curve-1")
    names = [s["name"] for s in overall["series"]]
    assert names == ["This system's method", "Naive min/max", "Today's policy"]
    project = overall["series"][0]["points"]
    assert project and all(0 <= y <= 100 for _x, y in project)
    assert overall["series"][2]["type"] == "scatter"
    assert len(overall["series"][2]["points"]) == 1
    assert 'id="marginal-cost"' in response.content.decode()


def test_service_curve_sets_where_targets_come_from(
    part: Part, warehouse_user: User, manager: User
) -> None:
    parts_defaults_ensure()
    for m, quantity in enumerate([0, 3, 1, 0, 2, 5, 0, 1, 4, 0, 2, 1] * 2, start=-24):
        DemandHistory.objects.create(
            part=part, month=_month(m), quantity=quantity, imported_at=clock.now()
        )
    # Warehouse staff read the curve but do not choose the department's targets.
    page = _client(warehouse_user).get("/parts/service-curve/").content.decode()
    assert 'id="target-mode"' in page and 'id="target-mode-form"' not in page
    url = "/parts/service-curve/targets/"
    assert _client(warehouse_user).post(url, {"mode": "system"}).status_code == 403

    client = _client(manager)
    assert 'id="target-mode-form"' in client.get("/parts/service-curve/").content.decode()
    bad = client.post(url, {"mode": "system", "fill_rate": "1.2"})
    assert bad.status_code == 422
    assert 'data-code="invalid_target"' in bad.content.decode()
    assert services.parts_settings().target_mode == "class"

    ok = client.post(url, {"mode": "system", "fill_rate": "0.9"}, follow=True)
    assert ok.status_code == 200
    settings = services.parts_settings()
    assert (settings.target_mode, settings.system_fill_rate) == ("system", Decimal("0.900"))
    text = ok.content.decode()
    assert "90.0%" in text  # the page says which network fill rate is in force
    assert _chart(ok, "parts-chart-curve-1")["series"][2]["type"] == "scatter"


# --- replenishment --------------------------------------------------------------------------


@pytest.fixture
def draft(part: Part, central: Location) -> PurchaseOrder:
    supplier = Supplier.objects.create(code="SUP-1", name="East compressor works")
    PartSupplier.objects.create(
        part=part,
        supplier=supplier,
        lead_time_days=20,
        min_order_qty=10,
        order_multiple=5,
        unit_price=Decimal("300.00"),
        is_preferred=True,
    )
    order = PurchaseOrder.objects.create(
        number="PO2026110001", supplier=supplier, location=central, created_at=clock.now()
    )
    PurchaseOrderLine.objects.create(
        order=order,
        part=part,
        quantity=20,
        unit_price=Decimal("300.00"),
        reason={"position": 1, "rop": 4, "out": 18, "need": 17, "rounded_from": 17},
    )
    return order


def test_replenishment_page_shows_drafts_and_value_chart(
    draft: PurchaseOrder, warehouse_user: User, callback_agent: User
) -> None:
    response = _client(warehouse_user).get("/parts/replenishment/")
    assert response.status_code == 200
    chart = _chart(response, "parts-chart-by-supplier")
    assert chart["categories"] == ["East compressor works"]
    assert chart["series"][0]["values"] == ["6000.00"]
    assert f'data-approve="{draft.number}"' in response.content.decode()
    assert "17 rounded to 20" in response.content.decode()
    assert _client(callback_agent).get("/parts/replenishment/").status_code == 403


def test_approve_button_approves_the_draft(
    draft: PurchaseOrder, warehouse_user: User, supervisor: User
) -> None:
    url = f"/parts/replenishment/orders/{draft.pk}/approve/"
    assert _client(supervisor).post(url).status_code == 403
    assert _client(warehouse_user).post(url).status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.approved_by) == (PurchaseOrder.Status.APPROVED, warehouse_user)
    again = _client(warehouse_user).post(url)
    assert again.status_code == 409


def test_line_quantity_must_respect_the_suppliers_multiple(
    draft: PurchaseOrder, warehouse_user: User
) -> None:
    line = draft.lines.get()
    url = f"/parts/replenishment/orders/{draft.pk}/line/"
    bad = _client(warehouse_user).post(url, {"line": line.pk, "quantity": "12"})
    assert bad.status_code == 422
    assert 'data-code="not_order_multiple"' in bad.content.decode()
    line.refresh_from_db()
    assert line.quantity == 20
    _client(warehouse_user).post(url, {"line": line.pk, "quantity": "25"})
    line.refresh_from_db()
    assert line.quantity == 25


def test_cancel_and_suggested_transfer_approve(
    draft: PurchaseOrder,
    stocked: Part,
    central: Location,
    outlet: Location,
    warehouse_user: User,
) -> None:
    client = _client(warehouse_user)
    client.post(f"/parts/replenishment/orders/{draft.pk}/cancel/")
    draft.refresh_from_db()
    assert draft.status == PurchaseOrder.Status.CANCELLED
    transfer = services.transfer_create(
        actor=None,
        source=central,
        destination=outlet,
        lines=[(stocked, "new", 2)],
        suggested=True,
        reason={"auto": True, "lines": {str(stocked.pk): {"position": 0, "rop": 1, "out": 2}}},
    )
    page = client.get("/parts/replenishment/").content.decode()
    assert "position 0, reorder point 1, order up to 2" in page
    client.post(f"/parts/replenishment/transfers/{transfer.pk}/approve/")
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.IN_TRANSIT


def test_suggest_now_needs_planning(warehouse_user: User, agent: User) -> None:
    assert _client(agent).post("/parts/replenishment/suggest/").status_code == 403
    response = _client(warehouse_user).post("/parts/replenishment/suggest/", follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["success"]


def test_warehouse_staff_land_on_the_parts(warehouse_user: User, agent: User) -> None:
    assert _client(warehouse_user).get("/")["Location"] == "/parts/"
    assert _client(agent).get("/")["Location"] == "/cases/"
    nav = _client(warehouse_user).get("/parts/").content.decode()
    assert 'href="/parts/"' in nav.split('class="mainnav"')[1].split("</nav>")[0]
