"""Small factories for records the tests need but do not test (direct ORM, no side rules)."""

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from aftersales.catalog.models import ProductLine, ProductModel, Unit
from aftersales.core import clock
from aftersales.customers.models import Customer

_seq = itertools.count(1)


def customer(**fields: Any) -> Customer:
    n = next(_seq)
    defaults: dict[str, Any] = {
        "number": f"CT{n:06d}",
        "name": f"客户{n}",
        "tier": "regular",
        "created_at": clock.now(),
    }
    defaults.update(fields)
    return Customer.objects.create(**defaults)


def product_model(**fields: Any) -> ProductModel:
    n = next(_seq)
    line, _ = ProductLine.objects.get_or_create(
        code="fridge", defaults={"name_zh": "冰箱", "name_en": "Fridge"}
    )
    defaults: dict[str, Any] = {
        "line": line,
        "code": f"BCD-{n}",
        "name": f"Fridge {n}",
        "parts_warranty_months": 36,
        "labour_warranty_months": 12,
    }
    defaults.update(fields)
    return ProductModel.objects.create(**defaults)


def unit(**fields: Any) -> Unit:
    n = next(_seq)
    defaults: dict[str, Any] = {
        "serial_number": f"SN{n:08d}",
        "purchase_date": dt.date(2026, 3, 1),
        "purchase_amount": Decimal("3999.00"),
        "registered_at": clock.now(),
    }
    defaults.update(fields)
    if "model" not in defaults:
        defaults["model"] = product_model()
    return Unit.objects.create(**defaults)


def case(
    customer: Any,
    *,
    team: Any = None,
    assignee: Any = None,
    unit: Any = None,
    subject: str = "冰箱不制冷",
) -> Any:
    """A new case with its `created` event, for tests about what sees or follows cases."""
    from aftersales.cases.models import Case, CaseEvent

    now = clock.now()
    made = Case.objects.create(
        number=f"SR209901{next(_seq):07d}",
        customer=customer,
        unit=unit,
        channel="phone",
        subject=subject,
        status="new",
        team=team,
        assignee=assignee,
        created_at=now,
        updated_at=now,
    )
    CaseEvent.objects.create(case=made, kind=CaseEvent.Kind.CREATED, occurred_at=now)
    return made
