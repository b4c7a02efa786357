"""The spare-parts API: catalogue, stock and the ledger, reservations by case and by id, backorders,
warehouse movements, transfers, counts, planning and replenishment; every refusal in the one
error shape, with the ledger and the balances left as they were."""

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from celery.result import AsyncResult
from django.utils import timezone

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case
from aftersales.core import clock
from aftersales.core.models import AuditEvent
from aftersales.parts import selectors, services
from aftersales.parts.defaults import parts_defaults_ensure
from aftersales.parts.models import (
    Backorder,
    CycleCount,
    DemandEvent,
    ForecastOverride,
    ForecastRun,
    Location,
    Part,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    StockBalance,
    StockMovement,
    Supplier,
    Transfer,
)
from aftersales.parts.tasks import parts_forecast_task
from tests import factories
from tests.conftest import ApiClient
from tests.parts.stock import issue

pytestmark = pytest.mark.django_db

Api = Callable[[User], ApiClient]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code, body
    return body


def _stock_state() -> tuple[int, list[tuple[Any, ...]]]:
    return StockMovement.objects.count(), list(
        StockBalance.objects.order_by("pk").values_list("pk", "on_hand", "reserved", "in_transit")
    )


@contextmanager
def unchanged() -> Iterator[None]:
    """The ledger and every balance are the same after the block as before it."""
    before = _stock_state()
    yield
    assert _stock_state() == before


@pytest.fixture
def own_case(agent: User, desk_team: Team) -> Case:
    """A regular customer's open case of the agent's team."""
    case: Case = factories.case(factories.customer(tier="regular"), team=desk_team, assignee=agent)
    return case


@pytest.fixture
def foreign_case(other_agent: User, other_team: Team) -> Case:
    case: Case = factories.case(
        factories.customer(tier="regular"), team=other_team, assignee=other_agent
    )
    return case


@pytest.fixture
def stocked(part: Part, central: Location, warehouse_user: User) -> Part:
    """Ten new relays at the central warehouse."""
    services.stock_receive(actor=warehouse_user, part=part, location=central, quantity=10)
    return part


def _reserve(client: ApiClient, case: Case, quantity: int = 2, **extra: Any) -> Any:
    return client.post(
        "/parts/reservations",
        {"case": case.number, "part": "RL-100", "location": "CW", "quantity": quantity, **extra},
    )


def _balance(part: Part, location: Location, kind: str = "new") -> StockBalance:
    return StockBalance.objects.get(part=part, location=location, kind=kind)


# --- catalogue ------------------------------------------------------------------------------


def test_part_create_list_and_detail(
    api: Api, warehouse_user: User, agent: User, stocked: Part, supplier: Supplier
) -> None:
    model = factories.product_model(code="BCD-501W")
    created = api(warehouse_user).post(
        "/parts",
        {
            "number": "fan-9",
            "name_zh": "风扇电机",
            "name_en": "Fan motor",
            "unit_cost": "85.50",
            "is_critical": True,
            "compatible_models": ["BCD-501W"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"] == "FAN-9" and body["compatible_models"] == [model.code]
    assert Decimal(body["unit_cost"]) == Decimal("85.50") and body["availability"] == []

    listed = api(agent).get("/parts", q="relay").json()
    assert [p["number"] for p in listed["items"]] == ["RL-100"] and listed["count"] == 1
    assert listed["items"][0]["available"] == 10
    assert [p["number"] for p in api(agent).get("/parts", critical="true").json()["items"]] == [
        "FAN-9"
    ]

    services.part_source_set(
        actor=warehouse_user,
        part=stocked,
        supplier=supplier,
        lead_time_days=20,
        unit_price=Decimal(100),
    )
    detail = api(warehouse_user).get("/parts/rl-100").json()
    assert detail["availability"] == [
        {
            "location": "CW",
            "location_name": "Central warehouse",
            "kind": "new",
            "on_hand": 10,
            "reserved": 0,
            "available": 10,
            "in_transit": 0,
        }
    ]
    assert detail["sources"][0]["supplier"] == "SUP-A"
    # Suppliers and prices are purchasing data: an agent sees stock, not sources.
    assert api(agent).get("/parts/RL-100").json()["sources"] == []


def test_part_create_refusals(api: Api, warehouse_user: User, agent: User, part: Part) -> None:
    payload = {"number": "RL-100", "name_zh": "继电器", "name_en": "Relay", "unit_cost": "1.00"}
    _error(api(warehouse_user).post("/parts", payload), 409, "duplicate_part")
    _error(api(agent).post("/parts", {**payload, "number": "NEW-1"}), 403, "forbidden")
    _error(
        api(warehouse_user).post("/parts", {**payload, "number": "NEW-1", "unit_cost": "-1"}),
        422,
        "invalid_input",
    )
    _error(
        api(warehouse_user).post("/parts", {**payload, "number": "NEW-1", "abc_class": "A"}),
        422,
        "invalid_input",
    )
    body = _error(
        api(warehouse_user).post(
            "/parts", {**payload, "number": "NEW-1", "compatible_models": ["X"]}
        ),
        422,
        "unknown_model",
    )
    assert body["details"] == {"field": "compatible_models", "unknown": 1}
    assert list(Part.objects.values_list("number", flat=True)) == ["RL-100"]
    _error(api(agent).get("/parts/NOPE-1"), 404, "unknown_part")


def test_supersede_and_its_cycle(api: Api, warehouse_user: User, part: Part) -> None:
    newer = services.part_create(
        actor=warehouse_user, number="RL-200", name_zh="新", name_en="New", unit_cost=Decimal(1)
    )
    response = api(warehouse_user).post("/parts/RL-100/supersede", {"by": "RL-200"})
    assert response.status_code == 200 and response.json()["superseded_by"] == "RL-200"
    assert api(warehouse_user).get("/parts/RL-200").json()["supersedes"] == ["RL-100"]
    _error(
        api(warehouse_user).post("/parts/RL-200/supersede", {"by": "RL-100"}),
        400,
        "supersession_cycle",
    )
    newer.refresh_from_db()
    assert newer.superseded_by_id is None
    _error(api(warehouse_user).post("/parts/RL-200/supersede", {"by": "NOPE"}), 404, "unknown_part")


# --- locations and the ledger ---------------------------------------------------------------


def test_locations_and_their_stock(
    api: Api, agent: User, stocked: Part, regional: Location
) -> None:
    codes = [loc["code"] for loc in api(agent).get("/parts/locations").json()]
    assert codes == ["CW", "RW-GD"]
    assert api(agent).get("/parts/locations").json()[1]["supplied_from"] == "CW"
    stock = api(agent).get("/parts/locations/CW/stock").json()
    assert stock == [
        {
            "part": "RL-100",
            "part_name": "Compressor relay",
            "kind": "new",
            "on_hand": 10,
            "reserved": 0,
            "available": 10,
            "in_transit": 0,
        }
    ]
    assert api(agent).get("/parts/locations/RW-GD/stock").json() == []
    _error(api(agent).get("/parts/locations/NOWHERE/stock"), 404, "unknown_location")


def test_ledger_filters_and_case_numbers_by_scope(
    api: Api,
    warehouse_user: User,
    agent: User,
    supervisor: User,
    stocked: Part,
    central: Location,
    own_case: Case,
    foreign_case: Case,
) -> None:
    for case in (own_case, foreign_case):
        services.stock_reserve(
            actor=warehouse_user, case=case, part=stocked, location=central, quantity=1
        )
    ledger = api(warehouse_user).get("/parts/ledger", part="RL-100", location="CW").json()
    assert ledger["count"] == 3
    assert [m["kind"] for m in ledger["items"]] == ["reserve", "reserve", "receipt"]
    assert {m["case"] for m in ledger["items"]} == {None, own_case.number, foreign_case.number}
    receipts = api(warehouse_user).get("/parts/ledger", kind="receipt").json()
    assert receipts["count"] == 1 and receipts["items"][0]["on_hand_after"] == 10
    today = clock.today()
    assert api(warehouse_user).get("/parts/ledger", since=str(today)).json()["count"] == 3
    later = today + dt.timedelta(days=1)
    assert api(warehouse_user).get("/parts/ledger", since=str(later)).json()["count"] == 0
    # A supervisor reads the ledger, but a case outside their teams stays anonymous.
    shown = {m["case"] for m in api(supervisor).get("/parts/ledger").json()["items"]}
    assert shown == {None, own_case.number}
    _error(api(agent).get("/parts/ledger"), 403, "forbidden")
    _error(api(warehouse_user).get("/parts/ledger", part="NOPE"), 404, "unknown_part")
    _error(api(warehouse_user).get("/parts/ledger", kind="gift"), 422, "invalid_input")


# --- reservations ---------------------------------------------------------------------------


def test_reserve_for_a_case_then_issue_and_return(
    api: Api, agent: User, stocked: Part, central: Location, own_case: Case
) -> None:
    client = api(agent)
    created = _reserve(client, own_case, 3)
    assert created.status_code == 201, created.content
    reservation = created.json()
    assert reservation["case"] == own_case.number and reservation["open_quantity"] == 3
    assert reservation["stock_kind"] == "new" and reservation["status"] == "active"
    assert _balance(stocked, central).reserved == 3

    listed = client.get("/parts/reservations", case=own_case.number.lower()).json()
    assert [r["id"] for r in listed["items"]] == [reservation["id"]]

    issued = client.post(f"/parts/reservations/{reservation['id']}/issue", {"quantity": 2})
    assert issued.status_code == 200, issued.content
    assert issued.json()["kind"] == "issue" and issued.json()["quantity"] == -2
    assert issued.json()["case"] == own_case.number
    balance = _balance(stocked, central)
    assert (balance.on_hand, balance.reserved) == (8, 1)

    returned = client.post(f"/parts/reservations/{reservation['id']}/return", {"quantity": 1})
    assert returned.status_code == 200 and returned.json()["kind"] == "return"
    released = client.post(f"/parts/reservations/{reservation['id']}/release")
    assert released.status_code == 200 and released.json()["status"] == "released"
    balance = _balance(stocked, central)
    assert (balance.on_hand, balance.reserved) == (9, 0)


def test_short_stock_waits_as_a_backorder_or_is_refused(
    api: Api, agent: User, stocked: Part, own_case: Case
) -> None:
    with unchanged():
        body = _error(
            _reserve(api(agent), own_case, 11, backorder=False), 409, "insufficient_stock"
        )
    assert body["details"]["available"] == 10
    queued = _reserve(api(agent), own_case, 11)
    assert queued.status_code == 202, queued.content
    assert queued.json()["status"] == "waiting" and queued.json()["quantity"] == 11
    assert Backorder.objects.filter(case=own_case, status="waiting").count() == 1
    assert not Reservation.objects.exists()


def test_reservation_refusals_change_nothing(
    api: Api, agent: User, stocked: Part, own_case: Case, foreign_case: Case
) -> None:
    client = api(agent)
    with unchanged():
        # A case outside the agent's scope is not found, whatever it holds.
        _error(_reserve(client, foreign_case), 404, "unknown_case")
        _error(_reserve(client, own_case, 0), 422, "invalid_input")
        _error(_reserve(client, own_case, -3), 422, "invalid_input")
        _error(_reserve(client, own_case, 2, part="NOPE-1"), 404, "unknown_part")
        _error(_reserve(client, own_case, 2, location="NOWHERE"), 404, "unknown_location")
        _error(_reserve(client, own_case, 2, kinds=["defective"]), 422, "invalid_input")
        _error(_reserve(client, own_case, 2, tier="vip"), 422, "invalid_input")
        _error(client.get("/parts/reservations", case=foreign_case.number), 404, "unknown_case")
    assert not Reservation.objects.exists() and not Backorder.objects.exists()


def test_issue_refusals_change_nothing(
    api: Api, agent: User, other_agent: User, stocked: Part, own_case: Case
) -> None:
    reservation = _reserve(api(agent), own_case, 2).json()
    url = f"/parts/reservations/{reservation['id']}"
    with unchanged():
        _error(api(agent).post(f"{url}/issue", {"quantity": 3}), 409, "exceeds_reservation")
        _error(api(agent).post(f"{url}/issue", {"quantity": 0}), 422, "invalid_input")
        _error(api(agent).post(f"{url}/issue", {"quantity": -1}), 422, "invalid_input")
        _error(api(agent).post(f"{url}/return", {"quantity": 1}), 409, "exceeds_issued")
        # Another team's agent does not reach the reservation at all.
        _error(api(other_agent).post(f"{url}/issue", {}), 404, "unknown_reservation")
        _error(api(other_agent).post(f"{url}/release"), 404, "unknown_reservation")
        _error(api(agent).post("/parts/reservations/999999/issue", {}), 404, "unknown_reservation")
    assert Reservation.objects.get().issued_quantity == 0
    api(agent).post(f"{url}/release")
    with unchanged():
        _error(api(agent).post(f"{url}/issue", {}), 409, "reservation_not_active")


def test_warehouse_issues_by_reservation_id_for_any_case(
    api: Api,
    agent: User,
    warehouse_user: User,
    stocked: Part,
    central: Location,
    own_case: Case,
) -> None:
    reservation = _reserve(api(agent), own_case, 2).json()
    listed = api(warehouse_user).get("/parts/reservations", location="CW", status="active")
    assert [r["id"] for r in listed.json()["items"]] == [reservation["id"]]
    issued = api(warehouse_user).post(f"/parts/reservations/{reservation['id']}/issue", {})
    assert issued.status_code == 200 and issued.json()["quantity"] == -2
    assert Reservation.objects.get().status == "issued"
    assert _balance(stocked, central).on_hand == 8


def test_technician_reserves_and_issues_for_their_own_case(
    api: Api, technician: User, warehouse_user: User, part: Part, van: Location
) -> None:
    services.stock_receive(actor=warehouse_user, part=part, location=van, quantity=2)
    case = factories.case(factories.customer(tier="vip"), assignee=technician)
    reserved = api(technician).post(
        "/parts/reservations",
        {"case": case.number, "part": "RL-100", "location": "VAN-1", "quantity": 1},
    )
    assert reserved.status_code == 201, reserved.content
    issued = api(technician).post(f"/parts/reservations/{reserved.json()['id']}/issue", {})
    assert issued.status_code == 200 and _balance(part, van).on_hand == 1


# --- backorders -----------------------------------------------------------------------------


def test_backorders_in_priority_order_and_cancel(
    api: Api, agent: User, other_agent: User, part: Part, central: Location, desk_team: Team
) -> None:
    regular = factories.case(factories.customer(tier="regular"), team=desk_team)
    vip = factories.case(factories.customer(tier="vip"), team=desk_team)
    first = _reserve(api(agent), regular, 1).json()
    second = _reserve(api(agent), vip, 1).json()
    queue = api(agent).get("/parts/backorders", part="RL-100").json()
    assert [b["id"] for b in queue["items"]] == [second["id"], first["id"]]  # VIP first
    assert api(other_agent).get("/parts/backorders").json()["count"] == 0
    _error(
        api(other_agent).post(f"/parts/backorders/{first['id']}/cancel"), 404, "unknown_backorder"
    )
    cancelled = api(agent).post(f"/parts/backorders/{first['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    _error(api(agent).post(f"/parts/backorders/{first['id']}/cancel"), 409, "backorder_not_waiting")
    assert api(agent).get("/parts/backorders").json()["count"] == 1


# --- receipts, adjustments, scrap, defective parts ------------------------------------------


def test_receipt_serves_the_backorder_queue(
    api: Api, warehouse_user: User, agent: User, part: Part, central: Location, own_case: Case
) -> None:
    _reserve(api(agent), own_case, 2)
    received = api(warehouse_user).post(
        "/parts/receipts", {"part": "RL-100", "location": "CW", "quantity": 5, "unit_cost": "110"}
    )
    assert received.status_code == 201, received.content
    assert received.json()["kind"] == "receipt" and Decimal(received.json()["unit_cost"]) == 110
    assert Backorder.objects.get().status == "filled"
    balance = _balance(part, central)
    assert (balance.on_hand, balance.reserved) == (5, 2)


def test_warehouse_movements(
    api: Api,
    warehouse_user: User,
    stocked: Part,
    repairable_part: Part,
    central: Location,
    supplier: Supplier,
) -> None:
    client = api(warehouse_user)
    adjusted = client.post(
        "/parts/adjustments",
        {"part": "RL-100", "location": "CW", "quantity": -2, "reason": "lost", "note": "盘亏"},
    )
    assert adjusted.status_code == 201 and adjusted.json()["reason"] == "lost"
    scrapped = client.post("/parts/scrap", {"part": "RL-100", "location": "CW", "quantity": 1})
    assert scrapped.status_code == 201 and _balance(stocked, central).on_hand == 7
    for path, body in (
        ("/parts/defective", {"part": "PCB-7", "location": "CW", "quantity": 3}),
        (
            "/parts/defective/return",
            {"part": "PCB-7", "location": "CW", "quantity": 1, "supplier": "SUP-A"},
        ),
        ("/parts/refurbish", {"part": "PCB-7", "location": "CW", "quantity": 1}),
    ):
        response = client.post(path, body)
        assert response.status_code == 201, (path, response.content)
    assert _balance(repairable_part, central, "defective").on_hand == 1
    assert _balance(repairable_part, central, "refurbished").on_hand == 1


def test_frontline_agent_cannot_move_stock(
    api: Api, agent: User, stocked: Part, regional: Location
) -> None:
    with unchanged():
        for path, body in (
            ("/parts/receipts", {"part": "RL-100", "location": "CW", "quantity": 5}),
            (
                "/parts/adjustments",
                {"part": "RL-100", "location": "CW", "quantity": 5, "reason": "found"},
            ),
            ("/parts/scrap", {"part": "RL-100", "location": "CW", "quantity": 1}),
            (
                "/parts/transfers",
                {
                    "source": "CW",
                    "destination": "RW-GD",
                    "lines": [{"part": "RL-100", "quantity": 1}],
                },
            ),
            ("/parts/counts", {"location": "CW"}),
        ):
            _error(api(agent).post(path, body), 403, "forbidden")


def test_warehouse_refusals_change_nothing(
    api: Api, warehouse_user: User, stocked: Part, central: Location, own_case: Case, part: Part
) -> None:
    services.stock_reserve(
        actor=warehouse_user, case=own_case, part=part, location=central, quantity=4
    )
    client = api(warehouse_user)
    base = {"part": "RL-100", "location": "CW"}
    with unchanged():
        _error(client.post("/parts/receipts", {**base, "quantity": -5}), 422, "invalid_input")
        _error(client.post("/parts/receipts", {**base, "quantity": 0}), 422, "invalid_input")
        _error(
            client.post("/parts/receipts", {**base, "quantity": 1, "kind": "defective"}),
            422,
            "invalid_input",
        )
        _error(
            client.post("/parts/receipts", {**base, "part": "NOPE", "quantity": 1}),
            404,
            "unknown_part",
        )
        _error(
            client.post("/parts/receipts", {**base, "quantity": 1, "supplier": "NOPE"}),
            404,
            "unknown_supplier",
        )
        _error(
            client.post("/parts/adjustments", {**base, "quantity": 0, "reason": "found"}),
            400,
            "invalid_quantity",
        )
        _error(
            client.post("/parts/adjustments", {**base, "quantity": -7, "reason": "lost"}),
            409,
            "below_reserved",
        )
        _error(client.post("/parts/scrap", {**base, "quantity": 7}), 409, "insufficient_stock")
        _error(client.post("/parts/refurbish", {**base, "quantity": 1}), 409, "not_repairable")
        _error(
            client.post("/parts/defective/return", {**base, "quantity": 1, "supplier": "NOPE"}),
            404,
            "unknown_supplier",
        )


# --- transfers ------------------------------------------------------------------------------


def test_transfer_ship_and_receive_short(
    api: Api, warehouse_user: User, stocked: Part, central: Location, regional: Location
) -> None:
    client = api(warehouse_user)
    created = client.post(
        "/parts/transfers",
        {"source": "CW", "destination": "rw-gd", "lines": [{"part": "RL-100", "quantity": 4}]},
    )
    assert created.status_code == 201, created.content
    transfer = created.json()
    assert transfer["status"] == "in_transit" and transfer["lines"][0]["quantity"] == 4
    assert _balance(stocked, regional).in_transit == 4
    listed = client.get("/parts/transfers", location="RW-GD", status="in_transit").json()
    assert [t["number"] for t in listed["items"]] == [transfer["number"]]

    line = transfer["lines"][0]["id"]
    received = client.post(
        f"/parts/transfers/{transfer['number']}/receive",
        {"received": [{"line": line, "quantity": 3}]},
    )
    assert received.status_code == 200 and received.json()["status"] == "received"
    balance = _balance(stocked, regional)
    assert (balance.on_hand, balance.in_transit) == (3, 0)
    assert _balance(stocked, central).on_hand == 6


def test_unshipped_transfer_ship_or_cancel(
    api: Api, warehouse_user: User, stocked: Part, regional: Location
) -> None:
    client = api(warehouse_user)
    body = {"source": "CW", "destination": "RW-GD", "lines": [{"part": "RL-100", "quantity": 1}]}
    first = client.post("/parts/transfers", {**body, "ship": False}).json()
    second = client.post("/parts/transfers", {**body, "ship": False}).json()
    assert first["status"] == "suggested"
    shipped = client.post(f"/parts/transfers/{first['number']}/ship")
    assert shipped.status_code == 200 and shipped.json()["status"] == "in_transit"
    cancelled = client.post(f"/parts/transfers/{second['number']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with unchanged():
        _error(
            client.post(f"/parts/transfers/{second['number']}/ship"), 409, "invalid_transfer_state"
        )
        _error(client.post("/parts/transfers/TR000/ship"), 404, "unknown_transfer")


def test_transfer_refusals_change_nothing(
    api: Api, warehouse_user: User, stocked: Part, regional: Location
) -> None:
    client = api(warehouse_user)
    line = {"part": "RL-100", "quantity": 1}
    with unchanged():
        body = _error(
            client.post("/parts/transfers", {"source": "CW", "destination": "cw", "lines": [line]}),
            400,
            "same_location",
        )
        assert body["details"] == {"location": "CW"}
        _error(
            client.post(
                "/parts/transfers",
                {"source": "CW", "destination": "RW-GD", "lines": [{**line, "quantity": 11}]},
            ),
            409,
            "insufficient_stock",
        )
        _error(
            client.post(
                "/parts/transfers",
                {"source": "CW", "destination": "RW-GD", "lines": [{**line, "quantity": -1}]},
            ),
            422,
            "invalid_input",
        )
        _error(
            client.post(
                "/parts/transfers",
                {"source": "CW", "destination": "RW-GD", "lines": [{**line, "part": "NOPE"}]},
            ),
            404,
            "unknown_part",
        )
        _error(
            client.post("/parts/transfers", {"source": "CW", "destination": "RW-GD", "lines": []}),
            422,
            "invalid_input",
        )
    assert not Transfer.objects.exists()


# --- cycle counts ---------------------------------------------------------------------------


def test_count_open_record_post(
    api: Api, warehouse_user: User, stocked: Part, central: Location
) -> None:
    client = api(warehouse_user)
    opened = client.post("/parts/counts", {"location": "CW"})
    assert opened.status_code == 201, opened.content
    count = opened.json()
    assert [(line["part"], line["expected"]) for line in count["lines"]] == [("RL-100", 10)]
    url = f"/parts/counts/{count['number']}"
    with unchanged():
        _error(client.post(f"{url}/post"), 409, "count_incomplete")
        _error(
            client.post(f"{url}/lines/{count['lines'][0]['id']}", {"counted": -1}),
            422,
            "invalid_input",
        )
        _error(client.post(f"{url}/lines/999999", {"counted": 1}), 404, "unknown_count_line")
    recorded = client.post(f"{url}/lines/{count['lines'][0]['id']}", {"counted": 8})
    assert recorded.status_code == 200 and recorded.json()["lines"][0]["counted"] == 8
    posted = client.post(f"{url}/post")
    assert posted.status_code == 200, posted.content
    assert posted.json()["count"]["status"] == "posted"
    assert [(m["kind"], m["quantity"], m["reason"]) for m in posted.json()["movements"]] == [
        ("adjustment", -2, "cycle_count")
    ]
    assert _balance(stocked, central).on_hand == 8
    assert CycleCount.objects.get().status == "posted"


# --- planning -------------------------------------------------------------------------------


def test_planning_runs_and_reads(
    api: Api, warehouse_user: User, manager: User, stocked: Part
) -> None:
    classified = api(warehouse_user).post("/parts/classification/run")
    assert classified.status_code == 201 and classified.json()["parts"] == 1
    matrix = api(manager).get("/parts/classification/matrix").json()
    assert matrix["parts"] == 1 and len(matrix["abc_xyz"]) >= 9

    started = api(manager).post("/parts/forecasts/run")
    assert started.status_code == 201, started.content
    run = started.json()
    assert run["status"] == "done" and run["total"] == 1 and run["done"] == 1
    assert api(warehouse_user).get(f"/parts/forecasts/runs/{run['id']}").json() == run
    assert api(warehouse_user).get("/parts/forecasts/runs").json() == [run]
    _error(api(warehouse_user).get("/parts/forecasts/runs/999999"), 404, "unknown_run")

    chart = api(warehouse_user).get("/parts/RL-100/forecast").json()
    assert chart["part"] == "RL-100" and len(chart["history"]) == 24
    assert len(chart["forecast"]) == run["horizon"]
    assert api(warehouse_user).get("/parts/RL-100").json()["forecast"]["run_id"] == run["id"]
    accuracy = api(manager).get("/parts/accuracy", by="abc", months=6).json()
    assert accuracy["by"] == "abc" and len(accuracy["months"]) == 6
    _error(api(manager).get("/parts/accuracy", by="colour"), 422, "invalid_input")


def test_demand_per_week_or_month_and_location(
    api: Api,
    warehouse_user: User,
    agent: User,
    part: Part,
    central: Location,
    regional: Location,
    regular_case: Case,
) -> None:
    today = timezone.localdate(clock.now())
    this_monday = today - dt.timedelta(days=today.weekday())
    two_weeks_ago = this_monday - dt.timedelta(weeks=2)
    # The ledger's first movement: the Wednesday two weeks ago.
    at = timezone.make_aware(dt.datetime.combine(two_weeks_ago + dt.timedelta(days=2), dt.time(10)))
    issue((warehouse_user, agent), regular_case, part, central, 3, at)

    weekly = api(warehouse_user).get("/parts/RL-100/demand", bucket="week", periods=4).json()
    assert weekly["bucket"] == "week" and weekly["location"] is None
    assert weekly["ledger_since"] == (two_weeks_ago + dt.timedelta(days=2)).isoformat()
    assert weekly["periods"] == [
        {"start": (this_monday - dt.timedelta(weeks=4)).isoformat(), "quantity": None},
        {"start": (this_monday - dt.timedelta(weeks=3)).isoformat(), "quantity": None},
        {"start": two_weeks_ago.isoformat(), "quantity": 3},
        {"start": (this_monday - dt.timedelta(weeks=1)).isoformat(), "quantity": 0},
    ]
    at_regional = (
        api(warehouse_user)
        .get("/parts/RL-100/demand", bucket="week", periods=4, location="RW-GD")
        .json()
    )
    assert at_regional["location"] == "RW-GD"
    assert [p["quantity"] for p in at_regional["periods"]] == [None, None, 0, 0]
    monthly = api(warehouse_user).get("/parts/RL-100/demand").json()
    assert monthly["bucket"] == "month" and len(monthly["periods"]) == 24
    assert all(p["start"].endswith("-01") and p["quantity"] is not None for p in monthly["periods"])

    client = api(warehouse_user)
    _error(client.get("/parts/RL-100/demand", bucket="day"), 422, "invalid_input")
    _error(client.get("/parts/RL-100/demand", periods=0), 422, "invalid_input")
    _error(client.get("/parts/RL-100/demand", periods=261), 422, "invalid_input")
    _error(client.get("/parts/RL-100/demand", location="NOWHERE"), 404, "unknown_location")
    _error(client.get("/parts/NOPE/demand"), 404, "unknown_part")
    _error(api(agent).get("/parts/RL-100/demand"), 403, "forbidden")


def test_forecast_run_queued_for_a_worker(api: Api, manager: User) -> None:
    # As in production: the task goes to the broker and a worker runs it later.
    with mock.patch.object(parts_forecast_task, "apply_async") as queue:
        queue.return_value = AsyncResult("queued-run")
        response = api(manager).post("/parts/forecasts/run")
    assert response.status_code == 202, response.content
    assert response.json() == {"run_id": None, "status": "queued"}
    queue.assert_called_once()
    assert not ForecastRun.objects.exists()
    assert api(manager).get("/parts/forecasts/runs").json() == []


def test_planning_is_for_planners(api: Api, agent: User, stocked: Part) -> None:
    for response in (
        api(agent).post("/parts/forecasts/run"),
        api(agent).post("/parts/classification/run"),
        api(agent).get("/parts/RL-100/forecast"),
    ):
        _error(response, 403, "forbidden")
    assert not ForecastRun.objects.exists()


def test_demand_events_and_overrides(api: Api, warehouse_user: User, part: Part) -> None:
    client = api(warehouse_user)
    event = client.post(
        "/parts/events",
        {
            "name": "召回",
            "kind": "recall",
            "part": "RL-100",
            "starts_on": "2027-01-01",
            "ends_on": "2027-03-31",
            "factor": "1.50",
        },
    )
    assert event.status_code == 201, event.content
    assert event.json()["part"] == "RL-100" and event.json()["is_active"] is True
    _error(
        client.post(
            "/parts/events",
            {"name": "x", "kind": "recall", "starts_on": "2027-02-01", "ends_on": "2027-01-01"},
        ),
        400,
        "event_target_missing",
    )
    withdrawn = client.delete(f"/parts/events/{event.json()['id']}")
    assert withdrawn.status_code == 200 and withdrawn.json()["is_active"] is False
    _error(client.delete(f"/parts/events/{event.json()['id']}"), 409, "event_withdrawn")

    expires = (clock.now() + dt.timedelta(days=90)).isoformat()
    override = client.post(
        "/parts/overrides",
        {
            "part": "RL-100",
            "starts_on": "2027-01-15",
            "ends_on": "2027-02-10",
            "quantity": "4",
            "reason": "新机型上市",
            "expires_at": expires,
        },
    )
    assert override.status_code == 201, override.content
    assert override.json()["starts_on"] == "2027-01-01"
    past = (clock.now() - dt.timedelta(days=1)).isoformat()
    _error(
        client.post(
            "/parts/overrides",
            {
                "part": "RL-100",
                "starts_on": "2027-01-01",
                "ends_on": "2027-01-01",
                "quantity": "4",
                "reason": "x",
                "expires_at": past,
            },
        ),
        400,
        "invalid_expiry",
    )
    assert ForecastOverride.objects.count() == 1
    removed = client.delete(f"/parts/overrides/{override.json()['id']}")
    assert removed.status_code == 200 and removed.json()["withdrawn_at"] is not None
    _error(client.delete("/parts/overrides/999999"), 404, "unknown_override")
    assert DemandEvent.objects.count() == 1


# --- replenishment --------------------------------------------------------------------------


@pytest.fixture
def draft(part: Part, central: Location, supplier: Supplier) -> PurchaseOrder:
    order = PurchaseOrder.objects.create(
        number="PO2026110000001", supplier=supplier, location=central, created_at=clock.now()
    )
    PurchaseOrderLine.objects.create(order=order, part=part, quantity=6, unit_price=Decimal("100"))
    return order


def test_purchase_order_approve_edit_receive(
    api: Api,
    warehouse_user: User,
    manager: User,
    draft: PurchaseOrder,
    part: Part,
    central: Location,
) -> None:
    pending = api(manager).get("/parts/replenishment/pending").json()
    assert [o["number"] for o in pending["orders"]] == [draft.number]
    line = pending["orders"][0]["lines"][0]["id"]
    url = f"/parts/purchase-orders/{draft.number}"
    edited = api(manager).patch(f"{url}/lines/{line}", {"quantity": 8})
    assert edited.status_code == 200 and edited.json()["lines"][0]["quantity"] == 8
    _error(api(manager).patch(f"{url}/lines/{line}", {"quantity": 0}), 422, "invalid_input")
    approved = api(manager).post(f"{url}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    _error(api(manager).post(f"{url}/approve"), 409, "not_draft")
    with unchanged():
        _error(
            api(warehouse_user).post(f"{url}/receive", {"lines": [{"line": line, "quantity": 9}]}),
            400,
            "over_receipt",
        )
        _error(
            api(manager).post(f"{url}/receive", {"lines": [{"line": line, "quantity": 1}]}),
            403,
            "forbidden",
        )
    received = api(warehouse_user).post(
        f"{url}/receive", {"lines": [{"line": line, "quantity": 8}]}
    )
    assert received.status_code == 200 and received.json()["status"] == "received"
    assert _balance(part, central).on_hand == 8
    _error(api(manager).post("/parts/purchase-orders/PO0/approve"), 404, "unknown_order")


def test_purchase_order_cancel(api: Api, manager: User, agent: User, draft: PurchaseOrder) -> None:
    _error(api(agent).post(f"/parts/purchase-orders/{draft.number}/cancel"), 403, "forbidden")
    cancelled = api(manager).post(f"/parts/purchase-orders/{draft.number}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_suggested_transfer_approve_and_suggest(
    api: Api, warehouse_user: User, manager: User, stocked: Part, regional: Location
) -> None:
    transfer = services.transfer_create(
        actor=None,
        source=Location.objects.get(code="CW"),
        destination=regional,
        lines=[(stocked, "new", 2)],
        suggested=True,
    )
    pending = api(manager).get("/parts/replenishment/pending").json()
    assert [t["number"] for t in pending["transfers"]] == [transfer.number]
    approved = api(manager).post(f"/parts/transfers/{transfer.number}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "in_transit"
    _error(api(manager).post(f"/parts/transfers/{transfer.number}/approve"), 409, "not_suggested")
    suggested = api(warehouse_user).post("/parts/replenishment/suggest", {})
    assert suggested.status_code == 200, suggested.content
    assert suggested.json()["targets"] is None
    _error(
        api(warehouse_user).post("/parts/replenishment/suggest", {"recompute_targets": True}),
        409,
        "no_forecast",
    )


def test_target_mode_read_set_and_refused(
    api: Api, manager: User, warehouse_user: User, stocked: Part
) -> None:
    parts_defaults_ensure()
    now = api(warehouse_user).get("/parts/targets/mode")
    assert now.status_code == 200, now.content
    assert (now.json()["mode"], now.json()["fill_rate"]) == ("class", "0.950")
    # Before any forecast the mode is saved and nothing is recomputed.
    saved = api(manager).put("/parts/targets/mode", {"mode": "system", "fill_rate": "0.9"})
    assert saved.status_code == 200, saved.content
    assert (saved.json()["mode"], saved.json()["fill_rate"], saved.json()["targets"]) == (
        "system",
        "0.900",
        None,
    )
    assert api(warehouse_user).get("/parts/targets/mode").json()["mode"] == "system"
    for body, code in (
        ({"mode": "cheapest"}, "invalid_input"),
        ({"mode": "system", "fill_rate": "1.5"}, "invalid_input"),
        ({"mode": "system", "fill_rate": "0.5"}, "invalid_input"),
        ({"mode": "system", "extra": 1}, "invalid_input"),
    ):
        _error(api(manager).put("/parts/targets/mode", body), 422, code)
    _error(api(warehouse_user).put("/parts/targets/mode", {"mode": "class"}), 403, "forbidden")
    settings = selectors.parts_settings()
    assert (settings.target_mode, settings.system_fill_rate) == ("system", Decimal("0.900"))
    assert AuditEvent.objects.filter(action="parts.target_mode_set").count() == 1


def test_service_curve(api: Api, manager: User, agent: User, stocked: Part) -> None:
    curve = api(manager).get("/parts/service-curve", months=24)
    assert curve.status_code == 200, curve.content
    assert curve.json()["parts"] == 1 and curve.json()["fit_months"] == 12
    assert set(curve.json()["classes"]) >= {"all"}
    _error(api(manager).get("/parts/service-curve", months=6), 400, "invalid_months")
    _error(api(agent).get("/parts/service-curve"), 403, "forbidden")
