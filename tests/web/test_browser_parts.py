"""The spare-parts pages in a real Chromium: the part page draws its demand chart (ECharts puts a
canvas in the chart's element, under the strict Content-Security-Policy), and approving a draft
purchase order on the replenishment page approves it."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create
from aftersales.core import clock
from aftersales.parts import services
from aftersales.parts.models import (
    Location,
    LocationKind,
    Part,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
)
from tests.web.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Browser-pass-2026"


def test_part_chart_draws_and_approve_changes_the_order(page: Any) -> None:
    warehouse = staff_create(
        username="warehouse",
        password=PASSWORD,
        display_name="仓库 王",
        roles=[Role.WAREHOUSE],
    )
    central = Location.objects.create(code="WH-SH", name="上海中心仓", kind=LocationKind.CENTRAL)
    part = Part.objects.create(
        number="CMP-100",
        name_zh="压缩机",
        name_en="Compressor",
        unit_cost=Decimal("320.00"),
        created_at=clock.now() - dt.timedelta(days=400),
    )
    services.stock_receive(actor=warehouse, part=part, location=central, quantity=12)
    supplier = Supplier.objects.create(code="SUP-1", name="华东压缩机厂")
    order = PurchaseOrder.objects.create(
        number="PO2026110001",
        supplier=supplier,
        location=central,
        created_at=clock.now(),
    )
    PurchaseOrderLine.objects.create(
        order=order,
        part=part,
        quantity=20,
        unit_price=Decimal("300.00"),
        reason={"position": 2, "rop": 6, "out": 22, "need": 20, "rounded_from": 20},
    )

    login(page, "warehouse", PASSWORD)
    assert "/parts/" in page.url  # warehouse staff land on the parts, not the case queue
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "favicon" not in (m.location or {}).get("url", "")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"/parts/{part.number}/")
    page.wait_for_selector("#part-forecast canvas")
    assert page.locator("#part-forecast canvas").count() >= 1
    page.wait_for_selector("#part-demand canvas")  # demand per week, and per month on request
    page.select_option("#demand-view select[name=bucket]", "month")
    page.click("#demand-view button[type=submit]")
    page.wait_for_url(lambda url: "bucket=month" in url)
    page.wait_for_selector("#part-demand canvas")
    # The new chart kinds draw too: the heatmaps and the accuracy lines.
    page.goto("/parts/classification/")
    page.wait_for_selector("#abc-sbc canvas")
    page.goto("/parts/forecast/")
    page.wait_for_selector("#accuracy canvas")

    page.goto("/parts/replenishment/")
    page.wait_for_selector("#value-by-supplier canvas")
    page.click(f'button[data-approve="{order.number}"]')
    page.wait_for_url(lambda url: "/parts/replenishment/" in url)
    page.wait_for_selector(".messages")
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.APPROVED
    assert page.locator(f'[data-order="{order.number}"] button[data-approve]').count() == 0
    # No script error and no Content-Security-Policy refusal on any of these pages.
    assert errors == []
