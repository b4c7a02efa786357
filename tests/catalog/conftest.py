"""Catalog test fixtures: a frozen 'today', product models, and CSV files of sales records."""

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case
from aftersales.catalog.models import ProductLine, ProductModel, Unit
from aftersales.core import clock
from aftersales.customers.models import Customer
from tests import factories

TODAY = dt.date(2026, 11, 20)
COLUMNS = (
    "serial_number",
    "model_code",
    "purchase_date",
    "amount",
    "currency",
    "sales_channel",
    "retailer",
    "customer_name",
    "customer_phone",
    "province",
    "city",
    "district",
)


@pytest.fixture(autouse=True)
def today() -> Iterator[dt.date]:
    """Every catalog test runs on 2026-11-20 (Asia/Shanghai), so 'future' and warranty are fixed."""
    with clock.frozen_at(dt.datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))):
        yield TODAY


@pytest.fixture
def fridge_line(db: Any) -> ProductLine:
    return ProductLine.objects.create(code="fridge", name_zh="冰箱", name_en="Fridge")


@pytest.fixture
def fridge(fridge_line: ProductLine) -> ProductModel:
    return ProductModel.objects.create(
        line=fridge_line,
        code="BCD-520",
        name="Cross-door fridge 520L",
        parts_warranty_months=36,
        labour_warranty_months=12,
    )


@pytest.fixture
def tv(db: Any) -> ProductModel:
    line = ProductLine.objects.create(code="tv", name_zh="电视", name_en="TV")
    return ProductModel.objects.create(
        line=line, code="TV-55Q", name="55-inch QLED TV", parts_warranty_months=24
    )


def sales_csv(
    rows: Sequence[dict[str, str]],
    *,
    columns: Sequence[str] = COLUMNS,
    encoding: str = "utf-8",
) -> bytes:
    """A CSV of sales records as a retailer would send it."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode(encoding)


def sale(serial: str, **fields: str) -> dict[str, str]:
    """One valid sales record of the BCD-520 fridge, with the given columns changed."""
    return {
        "serial_number": serial,
        "model_code": "BCD-520",
        "purchase_date": "2026-06-18",
        "amount": "4999.00",
        "currency": "CNY",
        "sales_channel": "online",
        "retailer": "京东自营",
        **fields,
    }


def grant(user: User, *codenames: str) -> User:
    """Give a user extra permissions and return a fresh instance (permissions are cached)."""
    for dotted in codenames:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def make_case(db: Any) -> Callable[..., Case]:

    def make(customer: Customer, unit: Unit, *, team: Team | None, subject: str = "不制冷") -> Case:
        case: Case = factories.case(customer, unit=unit, team=team, subject=subject)
        return case

    return make
