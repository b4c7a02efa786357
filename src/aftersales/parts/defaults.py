"""The parts department's defaults: the settings row and the stock policies by class.

`parts_defaults_ensure` installs what is missing and never changes what an administrator has
set: the policies are written only when there are none at all, so a deleted policy stays
deleted.
"""

from decimal import Decimal
from typing import Any

from .models import PartsSettings, StockPolicy

Measure = StockPolicy.Measure
Method = StockPolicy.Method
Storage = StockPolicy.Storage

# (rank, name, abc, sbc, critical, measure, target, replenishment, storage, review days).
# Critical parts stop a repair, so they are held close to the customer whatever their class;
# slow, irregular C parts are not worth forward stock and are held centrally at a cycle level.
POLICIES: list[tuple[int, str, str, str, bool | None, str, str, str, str, int]] = [
    (
        10,
        "关键件 / Critical parts",
        "",
        "",
        True,
        Measure.FILL_RATE,
        "0.980",
        Method.ORDER_UP_TO,
        Storage.FORWARD,
        7,
    ),
    (
        20,
        "A 类 / A class",
        "A",
        "",
        None,
        Measure.FILL_RATE,
        "0.950",
        Method.ORDER_UP_TO,
        Storage.REGIONAL,
        7,
    ),
    (
        30,
        "B 类 / B class",
        "B",
        "",
        None,
        Measure.FILL_RATE,
        "0.920",
        Method.ORDER_UP_TO,
        Storage.REGIONAL,
        14,
    ),
    (
        40,
        "C 类平稳 / C smooth",
        "C",
        "smooth",
        None,
        Measure.FILL_RATE,
        "0.900",
        Method.ORDER_UP_TO,
        Storage.CENTRAL,
        30,
    ),
    (
        41,
        "C 类波动 / C erratic",
        "C",
        "erratic",
        None,
        Measure.FILL_RATE,
        "0.900",
        Method.ORDER_UP_TO,
        Storage.CENTRAL,
        30,
    ),
    (
        50,
        "C 类间歇 / C intermittent",
        "C",
        "intermittent",
        False,
        Measure.CYCLE,
        "0.850",
        Method.REORDER_POINT,
        Storage.CENTRAL,
        30,
    ),
    (
        51,
        "C 类块状 / C lumpy",
        "C",
        "lumpy",
        False,
        Measure.CYCLE,
        "0.850",
        Method.REORDER_POINT,
        Storage.CENTRAL,
        30,
    ),
    (
        1000,
        "其他 / Everything else",
        "",
        "",
        None,
        Measure.FILL_RATE,
        "0.900",
        Method.ORDER_UP_TO,
        Storage.CENTRAL,
        30,
    ),
]


def parts_defaults_ensure(
    *, settings_model: Any = PartsSettings, policy_model: Any = StockPolicy
) -> None:
    """Create the PartsSettings row and the default stock policies where missing (idempotent).

    The data migration passes its historical models.
    """
    if not settings_model.objects.exists():
        settings_model.objects.create()
    if policy_model.objects.exists():
        return
    policy_model.objects.bulk_create(
        policy_model(
            rank=rank,
            name=name,
            abc_class=abc,
            sbc_class=sbc,
            critical=critical,
            service_measure=measure,
            service_target=Decimal(target),
            method=method,
            storage=storage,
            review_days=review,
        )
        for rank, name, abc, sbc, critical, measure, target, method, storage, review in POLICIES
    )
