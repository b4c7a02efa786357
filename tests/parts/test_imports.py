"""Demand history from the previous system: upserted per part, location and month; bad rows
reported and skipped; a file without the needed columns refused whole."""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.parts.imports import demand_history_import, demand_history_import_text
from aftersales.parts.models import DemandHistory, Location, LocationKind, Part

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 11, 20, 10, 0))


@pytest.fixture
def parts(db: Any) -> list[Part]:
    return [
        Part.objects.create(
            number=number,
            name_zh=number,
            name_en=number,
            unit_cost=Decimal("12.50"),
            created_at=NOW,
        )
        for number in ("CMP-100", "PCB-200")
    ]


@pytest.fixture
def central(db: Any) -> Location:
    return Location.objects.create(code="WH-SH", name="Central", kind=LocationKind.CENTRAL)


def _import(actor: User | None, text: str) -> Any:
    with clock.frozen_at(NOW):
        return demand_history_import_text(actor=actor, text=text, source="legacy.csv")


def test_rows_are_written_per_part_location_and_month(
    parts: list[Part], central: Location, warehouse_user: User
) -> None:
    result = _import(
        warehouse_user,
        "part,month,quantity,location\n"
        "CMP-100,2025-01,3,\n"
        "CMP-100,2025-02,0,\n"
        "CMP-100,2025-02,2,WH-SH\n"
        "PCB-200,2025-01,7,\n",
    )
    assert (result.rows, result.written, result.rejected) == (4, 4, [])
    rows = {
        (h.part.number, h.location_id, h.month, h.quantity)
        for h in DemandHistory.objects.select_related("part")
    }
    assert rows == {
        ("CMP-100", None, dt.date(2025, 1, 1), 3),
        ("CMP-100", None, dt.date(2025, 2, 1), 0),
        ("CMP-100", central.pk, dt.date(2025, 2, 1), 2),
        ("PCB-200", None, dt.date(2025, 1, 1), 7),
    }
    audit = AuditEvent.objects.get(action="parts.history_imported")
    assert audit.actor == warehouse_user
    assert audit.data["written"] == 4


def test_importing_again_replaces_the_month_instead_of_adding_a_row(
    parts: list[Part], warehouse_user: User
) -> None:
    _import(warehouse_user, "part,month,quantity\nCMP-100,2025-01,3\n")
    _import(warehouse_user, "part,month,quantity\nCMP-100,2025-01,5\n")
    assert list(DemandHistory.objects.values_list("quantity", flat=True)) == [5]


def test_duplicate_lines_in_one_file_add_up(parts: list[Part], warehouse_user: User) -> None:
    _import(warehouse_user, "part,month,quantity\nCMP-100,2025-01,3\nCMP-100,2025-01,4\n")
    assert list(DemandHistory.objects.values_list("quantity", flat=True)) == [7]


def test_bad_rows_are_reported_with_their_line_and_skipped(
    parts: list[Part], warehouse_user: User
) -> None:
    result = _import(
        warehouse_user,
        "part,month,quantity,location\n"
        "NOPE-1,2025-01,3,\n"
        "CMP-100,2025-13,3,\n"
        "CMP-100,2025-01,-2,\n"
        "CMP-100,2025-01,x,\n"
        "CMP-100,2025-01,1,WH-XX\n"
        "CMP-100,2027-01,1,\n"
        "CMP-100,2025-03,4,\n",
    )
    assert [(r["line"], r["reason"]) for r in result.rejected] == [
        (2, "unknown_part"),
        (3, "bad_month"),
        (4, "bad_quantity"),
        (5, "bad_quantity"),
        (6, "unknown_location"),
        (7, "future_month"),
    ]
    assert list(DemandHistory.objects.values_list("month", "quantity")) == [
        (dt.date(2025, 3, 1), 4)
    ]


def test_a_file_without_the_needed_columns_is_refused_whole(
    parts: list[Part], warehouse_user: User
) -> None:
    with pytest.raises(ApplicationError) as refused:
        _import(warehouse_user, "part,qty\nCMP-100,3\n")
    assert refused.value.code == "bad_header"
    assert refused.value.details == {"missing": ["month", "quantity"]}
    assert not DemandHistory.objects.exists()


def test_only_planners_may_import(parts: list[Part], agent: User) -> None:
    with pytest.raises(PermissionDenied):
        _import(agent, "part,month,quantity\nCMP-100,2025-01,3\n")
    assert not DemandHistory.objects.exists()


def test_the_command_imports_a_file_with_a_progress_bar(parts: list[Part], tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("part,month,quantity\nCMP-100,2025-01,3\nPCB-200,2025-02,1\n", "utf-8")
    out = io.StringIO()
    with clock.frozen_at(NOW):
        call_command("parts_history_import", str(path), stdout=out, verbosity=0)
    assert "2 rows read, 2 part-months written, 0 rejected" in out.getvalue()
    assert DemandHistory.objects.count() == 2
    assert set(DemandHistory.objects.values_list("source", flat=True)) == {"history.csv"}


def test_progress_is_reported_while_reading(parts: list[Part]) -> None:
    seen: list[int] = []
    lines = ["part,month,quantity\n"] + [f"CMP-100,2024-{m:02d},{m}\n" for m in range(1, 13)]
    with clock.frozen_at(NOW):
        demand_history_import(actor=None, lines=lines, progress=seen.append)
    assert seen[-1] == 12
