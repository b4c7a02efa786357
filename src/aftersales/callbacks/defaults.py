"""The callback team's defaults: settings, the rules of which resolved cases get a return visit
(every complaint, every VIP case, a fifth of the rest), and a few offers to recommend.

Installed by a migration; `callbacks_defaults_ensure` puts them back where a database was
emptied (tests), and adds the offers of product lines created since (lines are created by an
administrator or the demo, after the migrations: run it again then).
"""

from decimal import Decimal
from typing import Any

# (rank, name, match, reason, sample %, delay hours)
RULES: list[tuple[int, str, dict[str, str], str, int, int]] = [
    (10, "每个投诉 / Every complaint", {"case_kind": "complaint"}, "complaint", 100, 24),
    (20, "每个 VIP 工单 / Every VIP case", {"tier": "vip"}, "vip", 100, 24),
    (100, "其余工单抽样 / Sample of the rest", {}, "sample", 20, 48),
]

# (code, kind, product line code or "" for every line, title zh, title en, price or None)
OFFERS: list[tuple[str, str, str, str, str, Decimal | None]] = [
    (
        "fridge-filter",
        "accessory",
        "fridge",
        "冰箱除味净化滤芯",
        "Fridge odour filter cartridge",
        Decimal("69.00"),
    ),
    (
        "fridge-care-tip",
        "maintenance_tip",
        "fridge",
        "冰箱保养：每半年清洁门封条和后部散热网",
        "Fridge care: clean the door seal and the rear condenser every six months",
        None,
    ),
    (
        "aircon-cleaning",
        "accessory",
        "aircon",
        "空调深度清洗服务（上门）",
        "Air conditioner deep cleaning (at home)",
        Decimal("129.00"),
    ),
    (
        "aircon-filter-tip",
        "maintenance_tip",
        "aircon",
        "空调保养：使用季每两周清洗一次过滤网",
        "Air conditioner care: wash the filter every two weeks in season",
        None,
    ),
    (
        "tv-wall-mount",
        "accessory",
        "tv",
        "电视超薄壁挂架",
        "Slim TV wall mount",
        Decimal("199.00"),
    ),
    (
        "washer-descaler",
        "accessory",
        "washer",
        "洗衣机槽清洁剂（12 次装）",
        "Washing machine drum cleaner (12 doses)",
        Decimal("39.90"),
    ),
    (
        "washer-drum-tip",
        "maintenance_tip",
        "washer",
        "洗衣机保养：每月运行一次筒自洁程序",
        "Washer care: run the drum self-clean programme monthly",
        None,
    ),
    (
        "watch-strap",
        "accessory",
        "watch",
        "智能手表替换表带",
        "Smart watch replacement strap",
        Decimal("99.00"),
    ),
    (
        "band-charger",
        "accessory",
        "band",
        "手环备用充电线",
        "Fitness band spare charging cable",
        Decimal("29.00"),
    ),
    (
        "purifier-filter",
        "accessory",
        "purifier",
        "空气净化器复合滤网",
        "Air purifier composite filter",
        Decimal("299.00"),
    ),
    (
        "robot-brush-kit",
        "accessory",
        "robot",
        "扫地机边刷滚刷耗材套装",
        "Robot vacuum brush and mop kit",
        Decimal("149.00"),
    ),
    (
        "firmware-update-tip",
        "maintenance_tip",
        "",
        "保持 App 和设备固件为最新版本",
        "Keep the app and the device firmware up to date",
        None,
    ),
]


def callbacks_defaults_install(
    *, settings_model: Any, rule_model: Any, offer_model: Any, line_model: Any
) -> None:
    """Install what is missing, with the given (possibly historical) models: the settings row,
    the rules (only when there are none), the offers by code. An offer for a product line
    waits until the line exists (an offer without a line is shown to every customer)."""
    if not settings_model.objects.exists():
        settings_model.objects.create()
    if not rule_model.objects.exists():
        for rank, name, match, reason, sample, delay in RULES:
            rule_model.objects.create(
                name=name,
                rank=rank,
                reason=reason,
                sample_percent=sample,
                delay_hours=delay,
                **match,
            )
    lines = {line.code: line for line in line_model.objects.all()}
    existing = set(offer_model.objects.values_list("code", flat=True))
    for code, kind, line_code, title_zh, title_en, price in OFFERS:
        line = lines.get(line_code)
        if code in existing or (line_code and line is None):
            continue
        offer_model.objects.create(
            code=code,
            kind=kind,
            product_line=line,
            title_zh=title_zh,
            title_en=title_en,
            price=price,
        )


def callbacks_defaults_ensure() -> None:
    """Install the callback defaults that are missing (after a database flush, or once the
    product lines exist)."""
    from aftersales.catalog.models import ProductLine

    from .models import CallbackRule, CallbackSettings, Offer

    callbacks_defaults_install(
        settings_model=CallbackSettings,
        rule_model=CallbackRule,
        offer_model=Offer,
        line_model=ProductLine,
    )
