"""The spare-parts part of the demo data set (备件演示数据), written through the parts services.

`aftersales seed` calls it in three steps around the replay of the demo cases:

1. `parts_demo_prepare`, once the case plans are known and before they are replayed: six
   suppliers and their sources (lead times, minimum order quantities, order multiples), the
   location network (上海中央仓 WH-SH, the regional warehouses of 华南 / 华北 / 西南, three
   service outlets and one van per field technician), about 200 parts of the eight product
   lines with three supersessions, 36 months of demand history imported from "the previous
   system" (`parts.imports.demand_history_import`) for the months before the system went live,
   and the opening stock (`stock_receive`) on the eve of go-live.
2. `PartsDemo.before_step`, called by the case replay before each step: just before a hardware
   repair is resolved, the part its solution names is reserved and issued by whoever resolves
   it, from their van, the outlet, the customer's regional warehouse or the repair centre.
   Parts are reserved for open cases only, so this happens while the case is being worked.
3. `PartsDemo.finish`, after everything else: reservations held for open cases, the
   backorder queue of one scarce critical part (a VIP, a regular and a low-value customer
   waiting: the VIP first), a transfer in transit, a cycle count half done, defective parts
   taken back (one returned to its supplier, one refurbished), then the planning of a
   warehouse: the default policies, a recall and a launch event, a planner's override,
   classification, forecast, stock targets and replenishment suggestions (draft purchase
   orders and transfers waiting for the warehouse user's approval).

Everything is decided up front from a seeded `random.Random` and the case plans, so the data
is the same for the same seed and day. Demand is tied to the installed base: a part's monthly
rate is its failure weight times the registered units of its compatible models (cheap wear
parts fail more), with the models' launch ramp, a slight rise for newer models, summer peaks
for air-conditioner parts and winter peaks for purifiers; order sizes make cheap parts lumpy.
The history's level matches the rate at which the replayed repairs use parts, so the months
before and after go-live read as one series.

The ledger is written in time order per part and location: a use that would land before an
earlier-written movement of the same stock goes elsewhere or is left out, so the balances
shown after each movement read correctly on the part page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.cases.models import OPEN_STATUSES, Case, CaseKind, Nature, SolutionType
from aftersales.catalog.models import ProductModel, Unit
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.customers.models import Customer, Tier

from . import planning, replenishment, services
from .defaults import parts_defaults_ensure
from .imports import demand_history_import
from .models import (
    KIND_PREFERENCE,
    Backorder,
    DemandEvent,
    Location,
    LocationKind,
    Part,
    PurchaseOrder,
    StockBalance,
    StockKind,
    Supplier,
    Transfer,
)

if TYPE_CHECKING:
    from aftersales.web.demo import CasePlan, Step

HISTORY_MONTHS = 36
# The history's network level at least this many units a month (small demo bases).
MIN_MONTHLY_UNITS = 60.0
# Below this a part still shows a demand now and then (about two in three years).
MIN_PART_RATE = 0.06
# Solution types whose repair uses a part.
REPAIRS = frozenset(
    {SolutionType.ONSITE_REPAIR, SolutionType.PART_REPLACEMENT, SolutionType.DEPOT_REPAIR}
)
SECOND_LINE_SHARE = 0.3  # repairs that also use a small part (screws, seals, sensors)
OPEN_RESERVATIONS = 10

# --------------------------------------------------------------------------------------------
# Suppliers, locations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierSpec:
    code: str
    name: str
    lead: tuple[int, int]  # lead-time days, from..to


SUPPLIERS: tuple[SupplierSpec, ...] = (
    SupplierSpec("SUP-HL", "常州恒力压缩机有限公司 Hengli Compressor", (45, 60)),
    SupplierSpec("SUP-HT", "深圳华拓电子有限公司 Huatuo Electronics", (20, 35)),
    SupplierSpec("SUP-JX", "合肥京显光电有限公司 Jingxian Display", (40, 60)),
    SupplierSpec("SUP-RD", "宁波瑞德电机有限公司 Ruide Motors", (25, 40)),
    SupplierSpec("SUP-ZL", "东莞智联穿戴配件有限公司 Zhilian Wearables", (15, 30)),
    SupplierSpec("SUP-TY", "佛山通用五金塑料制品厂 Tongyong Hardware & Plastics", (10, 20)),
)
SUPPLIER_BY_CODE = {s.code: s for s in SUPPLIERS}


@dataclass(frozen=True)
class LocationSpec:
    code: str
    name: str
    kind: str
    region: str
    supplied_from: str = ""
    transfer_days: int = 2
    team: str = ""  # a demo team's code


CENTRAL = "WH-SH"
# fmt: off
LOCATIONS: tuple[LocationSpec, ...] = (
    LocationSpec(CENTRAL, "上海中央仓 Shanghai central warehouse", LocationKind.CENTRAL, "华东",
                 team="warehouse"),
    LocationSpec("WH-GZ", "华南区域仓（广州）South China warehouse", LocationKind.REGIONAL,
                 "华南", CENTRAL, 2),
    LocationSpec("WH-BJ", "华北区域仓（北京）North China warehouse", LocationKind.REGIONAL,
                 "华北", CENTRAL, 2),
    LocationSpec("WH-CD", "西南区域仓（成都）South-west warehouse", LocationKind.REGIONAL,
                 "西南", CENTRAL, 3),
    LocationSpec("OUT-SZ", "深圳南山服务网点 Shenzhen Nanshan outlet", LocationKind.OUTLET,
                 "华南", "WH-GZ", 1),
    LocationSpec("OUT-BJ", "北京朝阳服务网点 Beijing Chaoyang outlet", LocationKind.OUTLET,
                 "华北", "WH-BJ", 1),
    LocationSpec("OUT-CD", "成都武侯服务网点 Chengdu Wuhou outlet", LocationKind.OUTLET,
                 "西南", "WH-CD", 1),
)
# fmt: on
REGIONALS = ("WH-GZ", "WH-BJ", "WH-CD")
# Which warehouse serves a customer: by the city for the south-west, else by the desk.
SOUTH_WEST_CITIES = frozenset({"成都市", "重庆市", "昆明市"})
DESK_WAREHOUSE = {"desk-sz": "WH-GZ", "desk-bj": "WH-BJ", "desk-sh": CENTRAL}
OUTLET_CITY = {"深圳市": "OUT-SZ", "北京市": "OUT-BJ", "成都市": "OUT-CD"}
REGION_WAREHOUSE = {"华南": "WH-GZ", "华北": "WH-BJ", "西南": "WH-CD"}

# --------------------------------------------------------------------------------------------
# The catalogue: part families per product line
# --------------------------------------------------------------------------------------------

# fmt: off
LINE_PREFIX = {
    "fridge": "FR", "aircon": "AC", "tv": "TV", "washer": "WM", "watch": "SW", "band": "BD",
    "purifier": "AP", "robot": "RV", "generic": "GN",
}
MODEL_KEY = {
    "BCD-520WKPZM": "520", "BCD-405WLHTD": "405", "BCD-218STPA": "218",
    "KFR-35GW/A1": "35A1", "KFR-26GW/Q3": "26Q3", "KFR-72LW/B5": "72B5",
    "65Q8-MAX": "65Q8", "55U7": "55U7", "85M9-MINILED": "85M9", "43E3": "43E3",
    "XQG100-HD12": "HD12", "XQB80-T5": "T5", "W5-PRO": "W5P", "W3-LITE": "W3L",
    "K2-KIDS": "K2", "B8": "B8", "B8-NFC": "B8N", "AP-600": "AP6",
    "RV-X20": "X20", "RV-S10": "S10",
}
MODEL_LINE = {
    "BCD-520WKPZM": "fridge", "BCD-405WLHTD": "fridge", "BCD-218STPA": "fridge",
    "KFR-35GW/A1": "aircon", "KFR-26GW/Q3": "aircon", "KFR-72LW/B5": "aircon",
    "65Q8-MAX": "tv", "55U7": "tv", "85M9-MINILED": "tv", "43E3": "tv",
    "XQG100-HD12": "washer", "XQB80-T5": "washer", "W5-PRO": "watch", "W3-LITE": "watch",
    "K2-KIDS": "watch", "B8": "band", "B8-NFC": "band", "AP-600": "purifier",
    "RV-X20": "robot", "RV-S10": "robot",
}
# fmt: on
# Models launched in or after this year sell more every year: their parts trend up a little;
# the oldest models' parts fade slowly.
NEW_MODEL_YEAR = 2022
OLD_MODEL_YEAR = 2020


@dataclass(frozen=True)
class FamilySpec:
    """One kind of part of a product line: one part per model (`per_model`) or one shared by
    the models listed (all the line's models when none are)."""

    line: str
    code: str
    name_zh: str
    name_en: str
    cost: int
    supplier: str
    weight: float  # relative failures per registered unit and month
    per_model: bool = True
    models: tuple[str, ...] = ()
    costs: tuple[tuple[str, int], ...] = ()  # per-model unit costs
    critical: bool = False
    repairable: bool = False
    keyword: str = ""  # the part's name in the demo cases' solution notes
    usage: int = 1
    moq: int = 0  # 0: by unit cost
    multiple: int = 0
    variants: tuple[tuple[str, str, str], ...] = ()  # (suffix, 中文, English)


def _f(
    line: str,
    code: str,
    names: str,
    cost: int | str,
    supplier: str,
    weight: float,
    *,
    shared: bool = False,
    models: str = "",
    flags: str = "",
    keyword: str = "",
    usage: int = 1,
    moq: int = 0,
    multiple: int = 0,
    variants: str = "",
) -> FamilySpec:
    """A family from compact arguments: "中文 / English" names, a cost or "MODEL:cost ..."."""
    zh, en = (s.strip() for s in names.split("/", 1))
    costs: tuple[tuple[str, int], ...] = ()
    if isinstance(cost, str):
        costs = tuple((m, int(c)) for m, c in (pair.split(":") for pair in cost.split()))
        base = max(c for _m, c in costs)
    else:
        base = cost
    return FamilySpec(
        line=line,
        code=code,
        name_zh=zh,
        name_en=en,
        cost=base,
        supplier=supplier,
        weight=weight,
        per_model=not shared,
        models=tuple(models.split()) or tuple(m for m, _c in costs),
        costs=costs,
        critical="C" in flags,
        repairable="R" in flags,
        keyword=keyword,
        usage=usage,
        moq=moq,
        multiple=multiple,
        variants=tuple((a, b, c) for a, b, c in (v.split(":") for v in variants.split())),
    )


STRAP_COLOURS = "BK:黑色:black WH:白色:white BL:蓝色:blue"
# fmt: off
FAMILIES: tuple[FamilySpec, ...] = (
    # Fridges
    _f("fridge", "CMP", "变频压缩机 / Inverter compressor",
       "BCD-520WKPZM:620 BCD-405WLHTD:560 BCD-218STPA:410", "SUP-HL", 0.5, flags="C", moq=10),
    _f("fridge", "PTC", "压缩机启动器 / Compressor starter relay", 32, "SUP-HT", 1.6, shared=True,
       keyword="压缩机启动器"),
    _f("fridge", "TCB", "温控板 / Temperature control board",
       "BCD-520WKPZM:185 BCD-405WLHTD:165 BCD-218STPA:95", "SUP-HT", 1.0, flags="R",
       keyword="温控板"),
    _f("fridge", "MCB", "主控板 / Main control board",
       "BCD-520WKPZM:320 BCD-405WLHTD:280", "SUP-HT", 0.8, flags="CR", keyword="主控板"),
    _f("fridge", "DSP", "显示板 / Display board", "BCD-520WKPZM:135 BCD-405WLHTD:120", "SUP-HT",
       0.5, flags="R"),
    _f("fridge", "SNS", "温度传感器 / Temperature sensor", 12, "SUP-HT", 1.0, shared=True),
    _f("fridge", "EFM", "蒸发器风扇电机 / Evaporator fan motor", 88, "SUP-RD", 1.0, shared=True,
       models="BCD-520WKPZM BCD-405WLHTD", keyword="风扇电机"),
    _f("fridge", "CFM", "冷凝器风机 / Condenser fan motor", 76, "SUP-RD", 0.6, shared=True,
       keyword="风扇电机"),
    _f("fridge", "DFH", "化霜加热丝 / Defrost heater", 48, "SUP-TY", 1.2, shared=True,
       models="BCD-520WKPZM BCD-405WLHTD", keyword="化霜加热丝"),
    _f("fridge", "DSF", "冷藏室门封条 / Fridge door seal",
       "BCD-520WKPZM:118 BCD-405WLHTD:96 BCD-218STPA:72", "SUP-TY", 1.1, keyword="门封条"),
    _f("fridge", "DSZ", "冷冻室门封条 / Freezer door seal",
       "BCD-520WKPZM:98 BCD-405WLHTD:84 BCD-218STPA:64", "SUP-TY", 0.7, keyword="门封条"),
    _f("fridge", "HNG", "门铰链组件 / Door hinge kit", 24, "SUP-TY", 0.5, shared=True),
    _f("fridge", "DRT", "接水盘 / Drip tray", 18, "SUP-TY", 0.4, shared=True),
    _f("fridge", "GLS", "玻璃隔板 / Glass shelf",
       "BCD-520WKPZM:68 BCD-405WLHTD:58 BCD-218STPA:42", "SUP-TY", 0.3),
    _f("fridge", "BIN", "门搁架 / Door bin", "BCD-520WKPZM:32 BCD-405WLHTD:28 BCD-218STPA:22",
       "SUP-TY", 0.5),
    _f("fridge", "LED", "照明灯 / LED lamp", 15, "SUP-HT", 0.5, shared=True),
    _f("fridge", "FDR", "干燥过滤器 / Filter drier", 12, "SUP-TY", 0.7, shared=True),
    _f("fridge", "DMP", "电动风门 / Motorised damper", 88, "SUP-RD", 0.4,
       models="BCD-405WLHTD"),
    _f("fridge", "ICE", "制冰机组件 / Ice maker assembly", 285, "SUP-RD", 0.3,
       models="BCD-520WKPZM", flags="R"),
    # Air conditioners
    _f("aircon", "CMP", "变频压缩机 / Inverter compressor",
       "KFR-35GW/A1:980 KFR-26GW/Q3:860 KFR-72LW/B5:2380", "SUP-HL", 0.4, flags="C", moq=10),
    _f("aircon", "OPB", "室外机主板 / Outdoor control board",
       "KFR-35GW/A1:420 KFR-26GW/Q3:360 KFR-72LW/B5:560", "SUP-HT", 0.8, flags="CR",
       keyword="主控板"),
    _f("aircon", "IPB", "室内机主板 / Indoor control board",
       "KFR-35GW/A1:190 KFR-26GW/Q3:160 KFR-72LW/B5:260", "SUP-HT", 0.6, flags="R",
       keyword="主控板"),
    _f("aircon", "IPM", "变频模块 / Inverter power module", "KFR-35GW/A1:280 KFR-72LW/B5:340",
       "SUP-HT", 0.4, flags="C"),
    _f("aircon", "OFM", "室外风机 / Outdoor fan motor",
       "KFR-35GW/A1:210 KFR-26GW/Q3:185 KFR-72LW/B5:265", "SUP-RD", 1.1, keyword="室外风机"),
    _f("aircon", "IFM", "室内风机 / Indoor fan motor",
       "KFR-35GW/A1:150 KFR-26GW/Q3:130 KFR-72LW/B5:210", "SUP-RD", 0.5),
    _f("aircon", "CAP", "启动电容 35μF / Run capacitor 35 µF", 18, "SUP-HT", 2.4, shared=True,
       keyword="启动电容"),
    _f("aircon", "FCP", "风机电容 2.5μF / Fan capacitor 2.5 µF", 8, "SUP-HT", 0.9, shared=True),
    _f("aircon", "FWV", "四通阀 / Four-way valve", 96, "SUP-HL", 1.3, shared=True,
       keyword="四通阀"),
    _f("aircon", "EEV", "电子膨胀阀 / Electronic expansion valve", 110, "SUP-HL", 0.4,
       shared=True),
    _f("aircon", "CTS", "管温传感器 / Coil temperature sensor", 12, "SUP-HT", 1.3, shared=True,
       keyword="温度传感器"),
    _f("aircon", "RTS", "室温传感器 / Room temperature sensor", 10, "SUP-HT", 0.7, shared=True,
       keyword="温度传感器"),
    _f("aircon", "RMT", "空调遥控器 / Remote control", 35, "SUP-TY", 1.0, shared=True),
    _f("aircon", "DRH", "排水管 / Drain hose", 8, "SUP-TY", 1.8, shared=True, keyword="排水管"),
    _f("aircon", "DRP", "冷凝水泵 / Condensate pump", 75, "SUP-RD", 0.4,
       models="KFR-72LW/B5"),
    _f("aircon", "SWM", "摆叶电机 / Swing motor", 22, "SUP-RD", 0.7, shared=True),
    _f("aircon", "CFF", "贯流风叶 / Cross-flow fan", 55, "SUP-TY", 0.3, shared=True,
       models="KFR-35GW/A1 KFR-26GW/Q3"),
    _f("aircon", "DSP", "显示板 / Display board",
       "KFR-35GW/A1:48 KFR-26GW/Q3:42 KFR-72LW/B5:88", "SUP-HT", 0.3),
    _f("aircon", "FLT", "过滤网 / Air filter", "KFR-35GW/A1:18 KFR-26GW/Q3:16 KFR-72LW/B5:36",
       "SUP-TY", 0.6),
    _f("aircon", "FAM", "新风模块 / Fresh-air module", 420, "SUP-RD", 0.3,
       models="KFR-72LW/B5", flags="R"),
    _f("aircon", "R32", "R32 冷媒（罐） / R32 refrigerant can", 45, "SUP-TY", 0.9, shared=True),
    _f("aircon", "CPP", "连接铜管 3m / Copper line set 3 m", 60, "SUP-TY", 0.4, shared=True),
    # TVs
    _f("tv", "PNL", "屏幕面板 / Display panel",
       "65Q8-MAX:1680 55U7:890 85M9-MINILED:2500 43E3:520", "SUP-JX", 0.3, flags="C", moq=5),
    _f("tv", "TCN", "T-CON板 / T-con board",
       "65Q8-MAX:180 55U7:140 85M9-MINILED:260 43E3:110", "SUP-JX", 0.8, flags="R",
       keyword="T-CON板"),
    _f("tv", "MBD", "主板 / Main board",
       "65Q8-MAX:420 55U7:320 85M9-MINILED:480 43E3:260", "SUP-HT", 0.8, flags="CR",
       keyword="主板"),
    _f("tv", "PSU", "电源板 / Power board",
       "65Q8-MAX:230 55U7:180 85M9-MINILED:300 43E3:150", "SUP-HT", 0.9, flags="R",
       keyword="电源板"),
    _f("tv", "BLS", "背光灯条（套） / Backlight strip set",
       "65Q8-MAX:190 55U7:130 43E3:90", "SUP-JX", 0.9, keyword="背光灯条"),
    _f("tv", "MLD", "Mini LED 背光模组 / Mini LED backlight module", 980, "SUP-JX", 0.6,
       models="85M9-MINILED", flags="C", keyword="背光灯条"),
    _f("tv", "RMV", "语音遥控器 / Voice remote control", 45, "SUP-TY", 1.1, shared=True,
       models="65Q8-MAX 55U7 85M9-MINILED", keyword="遥控器"),
    _f("tv", "RMB", "红外遥控器 / IR remote control", 18, "SUP-TY", 1.1, shared=True,
       models="43E3", keyword="遥控器"),
    _f("tv", "SPK", "扬声器（对） / Speaker pair", 38, "SUP-TY", 0.3, shared=True),
    _f("tv", "IRB", "遥控接收板 / IR receiver board", 25, "SUP-HT", 0.4, shared=True),
    _f("tv", "WIF", "Wi-Fi 模块 / Wi-Fi module", 35, "SUP-HT", 0.3, shared=True,
       models="65Q8-MAX 55U7 85M9-MINILED"),
    _f("tv", "LVD", "屏线 / Panel cable",
       "65Q8-MAX:36 55U7:30 85M9-MINILED:45 43E3:24", "SUP-JX", 0.3),
    _f("tv", "STD", "底座（对） / Stand feet",
       "65Q8-MAX:48 55U7:40 85M9-MINILED:88 43E3:32", "SUP-TY", 0.2),
    # Washing machines
    _f("washer", "MTR", "电机 / Motor", "XQG100-HD12:420 XQB80-T5:260", "SUP-RD", 0.4,
       flags="C", moq=10),
    _f("washer", "DRP", "排水泵 / Drain pump", 58, "SUP-RD", 1.4, shared=True, flags="C",
       keyword="排水泵"),
    _f("washer", "DLK", "门锁 / Door lock", 38, "SUP-TY", 1.6, models="XQG100-HD12",
       keyword="门锁"),
    _f("washer", "LLK", "盖板开关 / Lid lock switch", 22, "SUP-TY", 1.6, models="XQB80-T5",
       keyword="门锁"),
    _f("washer", "BRS", "电机碳刷（对） / Motor carbon brushes", 18, "SUP-RD", 1.6,
       shared=True, keyword="电机碳刷"),
    _f("washer", "INV", "进水阀 / Inlet valve", 28, "SUP-TY", 1.4, shared=True,
       keyword="进水阀"),
    _f("washer", "CTB", "电脑板 / Control board", "XQG100-HD12:240 XQB80-T5:150", "SUP-HT",
       1.3, flags="R", keyword="电脑板"),
    _f("washer", "GSK", "门封圈 / Door gasket", 95, "SUP-TY", 0.5, models="XQG100-HD12"),
    _f("washer", "SHK", "减震器 / Shock absorber", 32, "SUP-TY", 0.4, models="XQG100-HD12",
       usage=2),
    _f("washer", "BRG", "轴承套件 / Bearing kit", "XQG100-HD12:85 XQB80-T5:65", "SUP-RD", 0.3),
    _f("washer", "CLT", "离合器 / Clutch", 120, "SUP-RD", 0.3, models="XQB80-T5"),
    _f("washer", "BLT", "皮带 / Drive belt", 20, "SUP-TY", 0.4, models="XQB80-T5"),
    _f("washer", "HTR", "加热管 / Heater element", 60, "SUP-TY", 0.3, models="XQG100-HD12"),
    _f("washer", "WLS", "水位传感器 / Water level sensor", 22, "SUP-HT", 0.4, shared=True),
    _f("washer", "DRH", "排水管 / Drain hose", 15, "SUP-TY", 0.5, shared=True),
    # Smart watches
    _f("watch", "BAT", "电池 / Battery", "W5-PRO:85 W3-LITE:55 K2-KIDS:45", "SUP-ZL", 1.4,
       flags="C", keyword="电池"),
    _f("watch", "SCR", "屏幕总成 / Screen assembly", "W5-PRO:650 W3-LITE:320 K2-KIDS:240",
       "SUP-ZL", 1.2, flags="CR", keyword="屏幕总成", moq=5),
    _f("watch", "MBD", "主板 / Main board", "W5-PRO:680 W3-LITE:380 K2-KIDS:320", "SUP-ZL",
       0.4, flags="R"),
    _f("watch", "DCK", "充电底座 / Charging dock", "W5-PRO:99 W3-LITE:69 K2-KIDS:59",
       "SUP-ZL", 0.8),
    _f("watch", "CHG", "充电触点排线 / Charging contact flex", "W5-PRO:45 W3-LITE:35 K2-KIDS:30",
       "SUP-ZL", 1.1, keyword="充电触点"),
    _f("watch", "CBL", "充电线 / Charging cable", 19, "SUP-ZL", 0.6, shared=True,
       models="W5-PRO W3-LITE"),
    _f("watch", "BCV", "后盖（含心率传感器） / Back cover with heart-rate sensor",
       "W5-PRO:120 W3-LITE:85 K2-KIDS:70", "SUP-ZL", 0.3),
    _f("watch", "BTN", "表冠按键 / Crown button", 25, "SUP-ZL", 0.3, shared=True,
       models="W5-PRO W3-LITE"),
    _f("watch", "STR", "表带 / Strap", "W5-PRO:129 W3-LITE:69 K2-KIDS:39", "SUP-ZL", 0.5,
       keyword="表带", variants=STRAP_COLOURS, moq=20, multiple=10),
    _f("watch", "SEL", "防水密封圈套件 / Waterproof seal kit", 6, "SUP-ZL", 0.8, shared=True,
       moq=100, multiple=100),
    _f("watch", "CAM", "摄像头模组 / Camera module", 45, "SUP-ZL", 0.3, models="K2-KIDS"),
    _f("watch", "SIM", "SIM 卡托 / SIM tray", 5, "SUP-ZL", 0.3, models="K2-KIDS", moq=50,
       multiple=50),
    _f("watch", "SPK", "扬声器 / Speaker", 18, "SUP-ZL", 0.3, shared=True,
       models="W5-PRO K2-KIDS"),
    # Fitness bands
    _f("band", "STR", "腕带 / Wrist strap", 25, "SUP-ZL", 0.8, shared=True, keyword="腕带",
       variants="BK:黑色:black BL:蓝色:blue PK:粉色:pink", moq=50, multiple=50),
    _f("band", "BAT", "电池 / Battery", 25, "SUP-ZL", 1.6, shared=True, keyword="电池"),
    _f("band", "DSP", "屏幕模组 / Display module", 65, "SUP-ZL", 1.5, shared=True,
       keyword="屏幕"),
    _f("band", "MBD", "主板 / Main board", "B8:90 B8-NFC:120", "SUP-ZL", 1.4, flags="R",
       keyword="主板"),
    _f("band", "CBL", "充电线 / Charging cable", 15, "SUP-ZL", 0.7, shared=True),
    _f("band", "HSG", "主体外壳 / Housing", 30, "SUP-ZL", 0.3, shared=True),
    _f("band", "NFC", "NFC 天线 / NFC antenna", 18, "SUP-ZL", 0.3, models="B8-NFC"),
    # Air purifier
    _f("purifier", "FAN", "风机 / Fan motor", 210, "SUP-RD", 1.2, flags="C", keyword="风机"),
    _f("purifier", "PMS", "PM2.5 传感器 / PM2.5 sensor", 65, "SUP-HT", 1.2,
       keyword="PM2.5传感器"),
    _f("purifier", "HCS", "甲醛传感器 / Formaldehyde sensor", 95, "SUP-HT", 0.4),
    _f("purifier", "MBD", "主控板 / Main board", 160, "SUP-HT", 1.2, flags="R",
       keyword="主控板"),
    _f("purifier", "FLT", "复合滤网 / HEPA composite filter", 199, "SUP-TY", 1.3,
       keyword="滤网"),
    _f("purifier", "TNK", "加湿水箱 / Humidifier tank", 55, "SUP-TY", 0.4),
    _f("purifier", "DSP", "显示板 / Display board", 60, "SUP-HT", 0.3),
    _f("purifier", "ADP", "电源适配器 / Power adapter", 45, "SUP-HT", 0.4),
    # Robot vacuums
    _f("robot", "BAT", "电池包 / Battery pack", "RV-X20:259 RV-S10:199", "SUP-ZL", 1.2,
       flags="C", keyword="电池包"),
    _f("robot", "LDS", "激光雷达 / LiDAR sensor", "RV-X20:320 RV-S10:260", "SUP-HT", 1.0,
       flags="CR", keyword="激光雷达"),
    _f("robot", "MBM", "主刷电机 / Main brush motor", 85, "SUP-RD", 1.3, shared=True,
       keyword="主刷电机"),
    _f("robot", "SBR", "边刷组件（2只装） / Side brush kit (pair)", 12, "SUP-TY", 1.6,
       shared=True, keyword="边刷组件", moq=50, multiple=50),
    _f("robot", "WHL", "驱动轮模组 / Drive wheel module", "RV-X20:125 RV-S10:110", "SUP-RD",
       1.1, keyword="驱动轮"),
    _f("robot", "MBR", "主刷 / Main brush", 35, "SUP-TY", 0.8, shared=True),
    _f("robot", "DBN", "尘盒 / Dust bin", "RV-X20:49 RV-S10:45", "SUP-TY", 0.3),
    _f("robot", "HPF", "HEPA 滤网 / HEPA filter", 9, "SUP-TY", 1.0, shared=True, moq=40,
       multiple=20),
    _f("robot", "MBD", "主板 / Main board", "RV-X20:300 RV-S10:260", "SUP-HT", 0.3,
       flags="R"),
    _f("robot", "SCM", "吸尘风机 / Suction motor", "RV-X20:165 RV-S10:150", "SUP-RD", 0.3),
    _f("robot", "CSS", "防跌落传感器 / Cliff sensor", 22, "SUP-HT", 0.3, shared=True),
    _f("robot", "BMP", "碰撞板 / Bumper", "RV-X20:42 RV-S10:38", "SUP-TY", 0.2),
    _f("robot", "DOK", "充电座 / Charging dock", 159, "SUP-HT", 0.3, models="RV-S10"),
    _f("robot", "BSP", "基站水泵 / Base station water pump", 68, "SUP-RD", 0.3,
       models="RV-X20"),
    _f("robot", "MOP", "拖布（2片装） / Mop pads (pair)", 15, "SUP-TY", 0.8, models="RV-X20",
       moq=50, multiple=50),
    # Consumables used across the big appliances
    _f("generic", "SCR", "十字螺丝 M4×10（10只装） / Screws M4x10 (pack of 10)", 3, "SUP-TY",
       0.25, shared=True, moq=100, multiple=100,
       models="@fridge @aircon @tv @washer @purifier @robot"),
    _f("generic", "TAP", "铝箔胶带 / Aluminium tape", 6, "SUP-TY", 0.15, shared=True,
       moq=50, multiple=50, models="@fridge @aircon"),
    _f("generic", "PST", "导热硅脂 / Thermal paste", 8, "SUP-HT", 0.1, shared=True, moq=20,
       multiple=10, models="@aircon @tv @robot"),
    _f("generic", "TIE", "扎带（100条） / Cable ties (100)", 5, "SUP-TY", 0.1, shared=True,
       moq=50, multiple=50, models="@fridge @aircon @tv @washer"),
    _f("generic", "INS", "保温棉 / Insulation foam", 12, "SUP-TY", 0.15, shared=True, moq=20,
       multiple=10, models="@fridge @aircon"),
)
# fmt: on

# (current part number, months before go-live it replaced the old one, why the old one went).
SUPERSESSIONS: tuple[tuple[str, int, str], ...] = (
    ("AC-CAP", 20, "供应商换型 / supplier changed the design"),
    ("FR-DSF-405", 14, "磁条偏窄易漏冷 / magnetic strip too narrow"),
    ("SW-BAT-W3L", 8, "电芯续航衰减快 / cell faded fast"),
)
# The part a recall touches (for the next three months) and the one a launch brings.
RECALL_PART = "FR-DSF-405"
LAUNCH_PART = ("SW-STR-W5P-OR", "表带 橙色氟橡胶（新品） / Strap, orange (new)", 139)
OVERRIDE_PART = "RV-SBR"
# Critical parts that may be the scarce one, in order of preference.
SCARCE_CANDIDATES = (
    "SW-SCR-W5P",
    "WM-DRP",
    "RV-LDS-X20",
    "AC-OPB-35A1",
    "TV-MBD-65Q8",
    "FR-MCB-520",
)
# Parts kept as a loan pool at the regional warehouses (swapped in while the original is
# repaired).
LOAN_FAMILIES = frozenset({("tv", "MBD"), ("robot", "BAT"), ("watch", "MBD")})

SEASON: dict[str, dict[int, float]] = {
    "aircon": {1: 0.7, 2: 0.6, 3: 0.6, 4: 0.8, 5: 1.2, 6: 1.9, 7: 2.4, 8: 2.2, 9: 1.3,
               10: 0.7, 11: 0.6, 12: 0.8},
    "fridge": {6: 1.2, 7: 1.35, 8: 1.3},
    "purifier": {11: 1.3, 12: 1.5, 1: 1.5, 2: 1.3},
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# What the plan decides
# --------------------------------------------------------------------------------------------


@dataclass
class PartDef:
    """A part to create: its family, numbers, compatible models and demand rate."""

    number: str
    name_zh: str
    name_en: str
    cost: int
    family: FamilySpec
    models: tuple[str, ...]
    rates: list[float] = field(default_factory=list)  # expected monthly demand, history months
    batch: float = 0.0  # the share of demands that are several units at once
    batch_size: float = 0.0  # their mean extra units
    old_number: str = ""  # the part it superseded
    switch: int = 0  # history month index from which this part (not the old one) is used
    per_location: bool = False
    created_days_ago: int = 0

    @property
    def rate(self) -> float:
        """The current monthly rate: the last 12 history months' mean."""
        recent = self.rates[-12:]
        return sum(recent) / len(recent) if recent else 0.0


@dataclass
class Use:
    """A part a repair uses: reserved and issued just before the case is resolved."""

    part: str
    location: str
    quantity: int
    actor: str
    reserve_at: dt.datetime
    issue_at: dt.datetime
    kind: str


@dataclass
class PartsDemo:
    """What the spare-parts demo wrote, for the seed's summary and the walkthrough."""

    parts: int = 0
    suppliers: int = 0
    locations: int = 0
    history_rows: int = 0
    issues: int = 0
    issues_skipped: int = 0
    open_reservations: int = 0
    backorders: int = 0
    scarce_part: str = ""
    draft_orders: int = 0
    suggested_transfers: int = 0
    seconds: float = 0.0  # spent in the parts demo itself (wall clock)
    cpu_seconds: float = 0.0  # the same, in processor time
    classes: dict[str, int] = field(default_factory=dict)


def _month_add(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth; the rates here are small)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _money(value: int | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _local(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _ends_open(plan: CasePlan) -> bool:
    """Whether the plan leaves its case open (no resolution or cancellation after its last
    reopening)."""
    open_ = True
    for step in plan.steps:
        if step.action != "transition":
            continue
        action = step.params.get("action")
        if action in ("resolve", "cancel", "close"):
            open_ = False
        elif action == "reopen":
            open_ = True
    return open_


def _resolve_step(plan: CasePlan) -> Step | None:
    """The plan's first resolution when it is a hardware repair of a registered unit."""
    if plan.unit is None:
        return None
    for step in plan.steps:
        if step.action == "classify" and step.params.get("nature") != Nature.HARDWARE:
            return None
        if step.action == "open" and step.params.get("nature") not in ("", Nature.HARDWARE):
            return None
        if step.action == "transition" and step.params.get("action") == "resolve":
            return step if step.params.get("solution_type") in REPAIRS else None
    return None


class _Stock:
    """Simulated balances and the last movement time per part and location, so the plan
    knows what the services will find when the uses are replayed."""

    def __init__(self) -> None:
        self.on_hand: dict[tuple[str, str, str], int] = defaultdict(int)
        self.opening: dict[tuple[str, str, str], int] = defaultdict(int)
        self.last: dict[tuple[str, str], dt.datetime] = {}

    def open_with(self, part: str, location: str, kind: str, quantity: int) -> None:
        self.opening[(part, location, kind)] += quantity
        self.on_hand[(part, location, kind)] += quantity

    def kind_for(self, part: str, location: str, tier: str, quantity: int) -> str | None:
        return next(
            (
                k
                for k in KIND_PREFERENCE[Tier(tier)]
                if self.on_hand[(part, location, k)] >= quantity
            ),
            None,
        )

    def free_after(self, part: str, location: str) -> dt.datetime | None:
        return self.last.get((part, location))

    def take(self, part: str, location: str, kind: str, quantity: int, at: dt.datetime) -> None:
        self.on_hand[(part, location, kind)] -= quantity
        self.last[(part, location)] = at

    def touch(self, part: str, location: str, at: dt.datetime) -> None:
        self.last[(part, location)] = max(at, self.last.get((part, location), at))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _bar(*, desc: str, total: int, show: bool, unit: str) -> tqdm[Any]:
    return tqdm(desc=desc.ljust(15), total=total, unit=unit, disable=not show, leave=True)


class PartsDemoSeeder:
    """The spare-parts demo: see the module docstring for its three steps."""

    def __init__(
        self,
        *,
        users: Mapping[str, User],
        teams: Mapping[str, Team],
        models: Mapping[str, ProductModel],
        plans: Sequence[CasePlan],
        now: dt.datetime,
        show: bool,
        seed: int | str = 826,
    ) -> None:
        self.users = dict(users)
        self.teams = dict(teams)
        self.models = dict(models)
        self.plans = list(plans)
        self.now = now
        self.show = show
        self.rng = random.Random(f"{seed}:parts")  # nosec B311  # reproducible demo data
        self.warehouse = self._warehouse_user()
        today = timezone.localdate(now)
        # Go-live: the first day of the first whole month of the two months of cases.
        self.go_live = _month_add(timezone.localdate(now - dt.timedelta(days=61)).replace(day=1), 1)
        if self.go_live > today.replace(day=1):
            self.go_live = today.replace(day=1)
        self.months = [_month_add(self.go_live, -HISTORY_MONTHS + i) for i in range(HISTORY_MONTHS)]
        self.go_live_at = _local(self.go_live, 0)
        self.stock = _Stock()
        self.defs: dict[str, PartDef] = {}
        self.parts: dict[str, Part] = {}
        self.suppliers: dict[str, Supplier] = {}
        self.locations: dict[str, Location] = {}
        self.uses: dict[tuple[int, dt.datetime], list[Use]] = {}
        self.issued: list[tuple[Use, int]] = []  # (use, case id)
        self.customer_location: dict[int, str] = {}
        self.van_of: dict[str, str] = {}
        self.scarce = ""
        self.queued_cases: set[int] = set()
        self.result = PartsDemo()

    # -- helpers ---------------------------------------------------------------------------

    def _warehouse_user(self) -> User:
        user = self.users.get("warehouse")
        if user is None:
            user = User.objects.filter(groups__name=Role.WAREHOUSE.value, is_active=True).first()
        if user is None:
            raise ValueError("the parts demo needs a warehouse user")
        return user

    def _actor(self, username: str) -> User:
        user = self.users.get(username)
        if user is not None and user.has_perm("parts.reserve_part"):
            return user
        return self.warehouse

    def _home(self, customer_desk: str, city: str) -> str:
        if city in SOUTH_WEST_CITIES:
            return "WH-CD"
        return DESK_WAREHOUSE.get(customer_desk, CENTRAL)

    # -- 1. before the cases ---------------------------------------------------------------

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        """Count the time spent inside in the result (the seed reports it)."""
        wall, cpu = time.monotonic(), time.process_time()
        try:
            yield
        finally:
            self.result.seconds += time.monotonic() - wall
            self.result.cpu_seconds += time.process_time() - cpu

    def prepare(self) -> None:
        """Decide everything, then write suppliers, locations, parts, history and stock."""
        with self._timed():
            self._prepare()

    def _prepare(self) -> None:
        for plan in self.plans:
            self.customer_location[plan.customer.pk] = self._home(
                plan.customer.desk, plan.customer.city
            )
        self._define_parts()
        self._plan_uses_and_stock()
        bar = _bar(desc="parts", total=len(self.defs) + len(LOCATIONS), show=self.show, unit="row")
        with clock.frozen_at(self.go_live_at - dt.timedelta(days=3)), transaction.atomic():
            self._write_suppliers()
            self._write_locations()
            bar.update(len(LOCATIONS))
            self._write_parts(bar)
        bar.close()
        self._write_history()
        self._write_opening_stock()

    def _installed(self) -> dict[str, int]:
        counts = Counter(
            Unit.objects.filter(model__code__in=list(MODEL_KEY)).values_list(
                "model__code", flat=True
            )
        )
        # A small prior, so a model without registered units still has some demand.
        return {code: counts.get(code, 0) + 5 for code in MODEL_KEY}

    def _family_models(self, family: FamilySpec) -> list[str]:
        if family.models and family.models[0].startswith("@"):
            lines = {m[1:] for m in family.models}
            return [m for m, line in MODEL_LINE.items() if line in lines]
        if family.models:
            return list(family.models)
        return [m for m, line in MODEL_LINE.items() if line == family.line]

    def _define_parts(self) -> None:
        rng = self.rng
        installed = self._installed()
        launched = {code: m.launched_on for code, m in self.models.items()}
        raw: dict[str, PartDef] = {}
        for family in FAMILIES:
            prefix = LINE_PREFIX[family.line]
            models = self._family_models(family)
            groups = [[m] for m in models] if family.per_model else [models]
            for group in groups:
                key = f"-{MODEL_KEY[group[0]]}" if family.per_model else ""
                cost = dict(family.costs).get(group[0], family.cost)
                batch, batch_size = self._batches(cost)
                variants = family.variants or (("", "", ""),)
                for suffix, colour_zh, colour_en in variants:
                    number = f"{prefix}-{family.code}{key}" + (f"-{suffix}" if suffix else "")
                    model_label = f" {MODEL_KEY[group[0]]}" if family.per_model else ""
                    name_zh = family.name_zh + (f" {colour_zh}" if colour_zh else "")
                    name_en = family.name_en + (f", {colour_en}" if colour_en else "")
                    raw[number] = PartDef(
                        number=number,
                        name_zh=f"{name_zh}{model_label}",
                        name_en=f"{name_en}{model_label}",
                        cost=cost,
                        family=family,
                        models=tuple(group),
                        rates=self._shape(family, group, installed, launched, cost, len(variants)),
                        batch=min(0.8, batch * rng.uniform(0.3, 1.7)),
                        batch_size=batch_size,
                        per_location=rng.random() < 0.67,
                    )
        # The new strap of the launch: no history, a launch event instead.
        number, names, cost = LAUNCH_PART
        strap = next(f for f in FAMILIES if f.line == "watch" and f.code == "STR")
        zh, en = (s.strip() for s in names.split("/", 1))
        raw[number] = PartDef(
            number=number,
            name_zh=f"{zh} W5P",
            name_en=f"{en} W5P",
            cost=cost,
            family=strap,
            models=("W5-PRO",),
            rates=[0.0] * HISTORY_MONTHS,
            created_days_ago=20,
        )
        # Calibrate: the history's level matches the repairs of the two months.
        level = sum(d.rate for d in raw.values())
        target = max(MIN_MONTHLY_UNITS, self._replayed_monthly_units())
        scale = target / level if level else 1.0
        for d in raw.values():
            d.rates = [r * scale for r in d.rates]
            if d.rate and d.rate < MIN_PART_RATE:
                d.rates = [r * MIN_PART_RATE / d.rate for r in d.rates]
        # Supersessions: the old part carries the history until the switch.
        for number, months_ago, why in SUPERSESSIONS:
            new = raw[number]
            why_zh, why_en = (w.strip() for w in why.split("/", 1))
            old = PartDef(
                number=f"{number}-V1",
                name_zh=f"{new.name_zh}（旧款，{why_zh}）",
                name_en=f"{new.name_en} (old version, {why_en})",
                cost=max(3, round(new.cost * 0.9)),
                family=new.family,
                models=new.models,
                rates=list(new.rates),
                batch=new.batch,
                batch_size=new.batch_size,
                per_location=new.per_location,
            )
            new.old_number = old.number
            new.switch = HISTORY_MONTHS - months_ago
            raw[old.number] = old
        self.defs = dict(sorted(raw.items()))

    def _replayed_monthly_units(self) -> float:
        """Units a month the replayed repairs will use (about, before stock decides)."""
        days = (timezone.localdate(self.now) - self.go_live).days
        repairs = sum(
            1
            for plan in self.plans
            if (step := _resolve_step(plan)) is not None
            and timezone.localdate(step.at) >= self.go_live
        )
        if days < 10:
            return 0.0
        return repairs * (1 + SECOND_LINE_SHARE) * 30.44 / days

    @staticmethod
    def _batches(cost: int) -> tuple[float, float]:
        """How often a demand is several units (an outlet restocking, a batch failure) and
        how many: cheap parts go out by the handful, dear ones one at a time."""
        if cost <= 20:
            return 0.35, 4.0
        if cost <= 60:
            return 0.25, 2.5
        if cost <= 200:
            return 0.12, 1.5
        return 0.04, 1.0

    def _shape(
        self,
        family: FamilySpec,
        models: Sequence[str],
        installed: Mapping[str, int],
        launched: Mapping[str, dt.date | None],
        cost: int,
        variants: int,
    ) -> list[float]:
        """Unscaled expected demand per history month: installed base, launch ramp, trend,
        season; cheap parts fail (and are replaced on suspicion) more often."""
        season = SEASON.get(family.line, {})
        cheapness = math.sqrt(60 / (cost + 20))
        rates = []
        for i, month in enumerate(self.months):
            total = 0.0
            for code in models:
                start = launched.get(code)
                ramp = 1.0
                if start is not None:
                    age = (month.year - start.year) * 12 + month.month - start.month
                    ramp = 0.0 if age < 0 else min(1.0, (age + 1) / 12)
                year = start.year if start else OLD_MODEL_YEAR + 1
                if year >= NEW_MODEL_YEAR:
                    trend = 0.8 + 0.25 * i / HISTORY_MONTHS
                elif year <= OLD_MODEL_YEAR:
                    trend = 1.1 - 0.15 * i / HISTORY_MONTHS
                else:
                    trend = 1.0
                total += installed[code] * ramp * trend
            rates.append(
                family.weight
                * cheapness
                * family.usage
                * total
                * season.get(month.month, 0.95)
                / variants
            )
        return rates

    def _series(self, d: PartDef) -> list[int]:
        """Monthly demand drawn from the part's rates: occurrences times order sizes."""
        rng = self.rng
        mean_size = 1 + d.batch * (d.batch_size + 0.5)
        out = []
        for rate in d.rates:
            total = 0
            for _ in range(_poisson(rng, rate / mean_size)):
                total += 1
                if rng.random() < d.batch:
                    total += int(rng.expovariate(1 / d.batch_size)) + 1
            out.append(total)
        return out

    # -- uses and opening stock ------------------------------------------------------------

    def _candidates(self, model: str, keyword: str) -> list[PartDef]:
        active = [
            d
            for d in self.defs.values()
            if model in d.models
            and not d.number.endswith("-V1")
            and not d.created_days_ago
            and d.family.line != "generic"
        ]
        matching = [d for d in active if keyword and d.family.keyword == keyword]
        return matching or active

    def _small_parts(self, model: str, exclude: str) -> list[PartDef]:
        return [
            d
            for d in self.defs.values()
            if model in d.models
            and d.cost <= 60
            and d.number != exclude
            and not d.number.endswith("-V1")
            and not d.created_days_ago
        ]

    def _plan_uses_and_stock(self) -> None:
        """Which parts each repair uses, the opening stock, then where each use is served."""
        rng = self.rng
        self._choose_scarce()
        unit_models = dict(
            Unit.objects.filter(pk__in=[p.unit.pk for p in self.plans if p.unit]).values_list(
                "pk", "model__code"
            )
        )
        tiers = dict(
            Customer.objects.filter(pk__in={p.customer.pk for p in self.plans}).values_list(
                "pk", "tier"
            )
        )
        repairs: list[tuple[CasePlan, Step, list[PartDef]]] = []
        for plan in self.plans:
            step = _resolve_step(plan)
            if step is None or plan.unit is None or timezone.localdate(step.at) < self.go_live:
                continue
            model = unit_models.get(plan.unit.pk)
            if model not in MODEL_KEY:
                continue
            notes = str(step.params.get("solution_notes", ""))
            named = [
                f.keyword
                for f in FAMILIES
                if f.line == MODEL_LINE[model] and f.keyword and f.keyword in notes
            ]
            keyword = max(named, key=len, default="")
            choices = self._candidates(model, keyword)
            first = rng.choices(choices, weights=[d.rate + 0.01 for d in choices])[0]
            lines = [first]
            small = self._small_parts(model, first.number)
            if small and rng.random() < SECOND_LINE_SHARE:
                lines.append(rng.choices(small, weights=[d.rate + 0.01 for d in small])[0])
            repairs.append((plan, step, lines))
        # Each van carries what its technician's repairs need most.
        wanted: dict[str, Counter[str]] = defaultdict(Counter)
        for _plan, step, lines in repairs:
            if step.params.get("solution_type") != SolutionType.DEPOT_REPAIR:
                wanted[step.actor].update(d.number for d in lines if d.number != self.scarce)
        self._opening_stock(wanted)
        refurbished_shown = 0
        for plan, step, lines in repairs:
            tier = tiers.get(plan.customer.pk, Tier.REGULAR)
            opened = plan.opened_at
            key = (plan.customer.pk, step.at)
            for n, d in enumerate(lines):
                quantity = int(d.family.usage)
                only = ""
                if (
                    tier == Tier.LOW
                    and d.family.repairable
                    and refurbished_shown < 2
                    and d.number != self.scarce
                ):
                    # A low-value customer is offered a refurbished part (their first choice),
                    # from the warehouse rather than the technician's van.
                    only = self._places(plan, step)[-1]
                    if self.stock.on_hand[(d.number, only, StockKind.REFURBISHED)] < quantity:
                        self.stock.open_with(d.number, only, StockKind.REFURBISHED, quantity)
                use = self._place(plan, step, d, quantity, tier, opened, n, only=only)
                if use is not None and use.kind == StockKind.REFURBISHED:
                    refurbished_shown += 1
                if use is not None:
                    self.uses.setdefault(key, []).append(use)

    def _places(self, plan: CasePlan, step: Step) -> list[str]:
        """Where a repair's parts may come from, in order: the technician's van, the outlet
        the customer walked into, their warehouse; depot repairs use the repair centre's."""
        if step.params.get("solution_type") == SolutionType.DEPOT_REPAIR:
            return [CENTRAL]
        places = []
        van = self.van_of.get(step.actor)
        if van:
            places.append(van)
        outlet = OUTLET_CITY.get(plan.customer.city)
        if outlet and plan.steps[0].params.get("channel") == "walk_in":
            places.append(outlet)
        places.append(self.customer_location[plan.customer.pk])
        return places

    def _place(
        self,
        plan: CasePlan,
        step: Step,
        d: PartDef,
        quantity: int,
        tier: str,
        opened: dt.datetime,
        n: int,
        only: str = "",
    ) -> Use | None:
        """Where a use is served from (`only` there, if given) and when, keeping each
        stock's ledger in time order."""
        rng = self.rng
        places = [only] if only else self._places(plan, step)
        latest = step.at - dt.timedelta(minutes=2 + n)
        earliest = max(opened + dt.timedelta(minutes=10), latest - dt.timedelta(hours=20))
        for i, place in enumerate(places):
            after = self.stock.free_after(d.number, place)
            start = earliest if after is None else max(earliest, after + dt.timedelta(minutes=1))
            if start >= latest:
                continue
            kind = self.stock.kind_for(d.number, place, tier, quantity)
            last_resort = i == len(places) - 1
            if kind is None and last_resort and d.number != self.scarce:
                # The warehouse had it on the eve of go-live: opening stock covers it.
                self.stock.open_with(d.number, place, StockKind.NEW, quantity)
                kind = self.stock.kind_for(d.number, place, tier, quantity)
            if kind is None:
                continue
            span = (latest - start).total_seconds()
            reserve_at = start + dt.timedelta(seconds=rng.uniform(0.5, 0.9) * span)
            issue_at = reserve_at + dt.timedelta(seconds=min(span * 0.1, 1800))
            self.stock.take(d.number, place, kind, quantity, issue_at)
            return Use(
                part=d.number,
                location=place,
                quantity=quantity,
                actor=step.actor,
                reserve_at=reserve_at,
                issue_at=issue_at,
                kind=kind,
            )
        self.result.issues_skipped += 1
        return None

    def _choose_scarce(self) -> None:
        """The scarce critical part: the candidate most open-ending hardware cases need."""
        unit_models = dict(
            Unit.objects.filter(
                pk__in=[p.unit.pk for p in self.plans if p.unit and _ends_open(p)]
            ).values_list("pk", "model__code")
        )
        score: Counter[str] = Counter()
        for plan in self.plans:
            if plan.unit is None or not _ends_open(plan):
                continue
            model = unit_models.get(plan.unit.pk)
            for number in SCARCE_CANDIDATES:
                d = self.defs.get(number)
                if d is not None and model in d.models:
                    score[number] += 1
        ranked = sorted(SCARCE_CANDIDATES, key=lambda n: (-score[n], SCARCE_CANDIDATES.index(n)))
        self.scarce = ranked[0]

    def _opening_stock(self, wanted: Mapping[str, Counter[str]]) -> None:
        """Stock on the eve of go-live, before the uses top it up where they need it;
        `wanted` counts the parts each technician's repairs will use."""
        rng = self.rng
        active = [
            d for d in self.defs.values() if not d.number.endswith("-V1") and not d.created_days_ago
        ]
        shares = self._location_shares()
        short = {d.number for d in active if rng.random() < 0.15}
        for d in active:
            if d.number == self.scarce:
                continue
            m = d.rate
            lead = max(SUPPLIER_BY_CODE[d.family.supplier].lead) / 30
            if d.number in short:
                central = round(m * rng.uniform(0.0, 0.5))
            else:
                central = math.ceil(m * (lead + 4) * rng.uniform(1.2, 2.0))
                central += 2 + int(d.family.critical)
            if central:
                self.stock.open_with(d.number, CENTRAL, StockKind.NEW, central)
            for code in REGIONALS:
                local = m * shares[code]
                if (local < 0.05 or d.family.line == "generic") and not d.family.critical:
                    continue
                # Mostly a few weeks' worth; now and then a shelf already empty.
                quantity = 0 if rng.random() < 0.12 else max(1, round(local * rng.uniform(2, 4)))
                quantity += int(d.family.critical)
                if quantity:
                    self.stock.open_with(d.number, code, StockKind.NEW, quantity)
            if d.family.repairable and rng.random() < 0.35:
                self.stock.open_with(
                    d.number, rng.choice(REGIONALS), StockKind.REFURBISHED, rng.randint(1, 2)
                )
            if (d.family.line, d.family.code) in LOAN_FAMILIES:
                for code in ("WH-GZ", "WH-BJ"):
                    self.stock.open_with(d.number, code, StockKind.LOAN, rng.randint(1, 2))
        # Superseded parts: what is left of the old version.
        for number, _months, _why in SUPERSESSIONS:
            self.stock.open_with(f"{number}-V1", CENTRAL, StockKind.NEW, rng.randint(1, 2))
        # The scarce part: one unit left in the south, none at the central warehouse.
        self.stock.open_with(self.scarce, "WH-GZ", StockKind.NEW, 1)
        # Forward stock: the fast, small parts on the vans and at the outlets.
        fast = sorted(
            (d for d in active if d.cost <= 150 and d.family.line != "generic"),
            key=lambda d: -d.rate,
        )[:60]
        for van in self._vans():
            usual = [n for n, _c in wanted.get(van.username, Counter()).most_common(5)]
            extra = [d.number for d in fast[:40] if d.number not in usual]
            for number in usual + rng.sample(extra, k=min(len(extra), rng.randint(2, 4))):
                self.stock.open_with(number, van.code, StockKind.NEW, rng.randint(1, 2))
            self.van_of[van.username] = van.code
        for spec in LOCATIONS:
            if spec.kind == LocationKind.OUTLET:
                for d in rng.sample(fast, k=min(len(fast), 10)):
                    self.stock.open_with(d.number, spec.code, StockKind.NEW, rng.randint(1, 4))

    def _location_shares(self) -> dict[str, float]:
        """Each warehouse's share of the customers' repairs (华东 is served by WH-SH)."""
        counts = Counter(self.customer_location[p.customer.pk] for p in self.plans)
        total = sum(counts.values())
        if not total:
            return {CENTRAL: 0.25, "WH-GZ": 0.4, "WH-BJ": 0.25, "WH-CD": 0.1}
        return {code: counts.get(code, 0) / total for code in (CENTRAL, *REGIONALS)}

    @dataclass(frozen=True)
    class _Van:
        code: str
        username: str
        user: User
        team: Team | None
        source: str

    def _vans(self) -> list[PartsDemoSeeder._Van]:
        """One van per field technician, replenished from their region's warehouse."""
        technicians = (
            User.objects.filter(
                pk__in=[u.pk for u in self.users.values()],
                groups__name=Role.TECHNICIAN.value,
                is_active=True,
            )
            .prefetch_related("memberships__team")
            .order_by("username")
        )
        vans = []
        for user in technicians:
            team = next(
                (m.team for m in user.memberships.all() if m.team.kind == Team.Kind.FIELD), None
            )
            source = REGION_WAREHOUSE.get(team.region if team else "", CENTRAL)
            code = "VAN-" + user.username.upper().replace(".", "-")
            vans.append(self._Van(code[:30], user.username, user, team, source))
        return vans

    # -- writes ----------------------------------------------------------------------------

    def _write_suppliers(self) -> None:
        for spec in SUPPLIERS:
            self.suppliers[spec.code] = services.supplier_create(
                actor=self.warehouse,
                code=spec.code,
                name=spec.name,
                email=f"{spec.code.lower()}@suppliers.example.com",
            )
        self.result.suppliers = len(SUPPLIERS)

    def _write_locations(self) -> None:
        for spec in LOCATIONS:
            self.locations[spec.code] = services.location_create(
                actor=self.warehouse,
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                region=spec.region,
                supplied_from=self.locations[spec.supplied_from] if spec.supplied_from else None,
                team=self.teams.get(spec.team) if spec.team else None,
                transfer_days=spec.transfer_days,
            )
        for van in self._vans():
            self.locations[van.code] = services.location_create(
                actor=self.warehouse,
                code=van.code,
                name=f"{van.user.display_name}的服务车 Van of {van.username}",
                kind=LocationKind.VAN,
                region=van.team.region if van.team else "",
                supplied_from=self.locations[van.source],
                team=van.team,
                keeper=van.user,
                transfer_days=1,
            )
        self.result.locations = len(self.locations)

    def _write_parts(self, bar: tqdm[Any]) -> None:
        rng = self.rng
        for number, d in self.defs.items():
            models = [self.models[m] for m in d.models if m in self.models]
            # Catalogued at go-live; the launch's new strap only weeks ago.
            moment = self.now - dt.timedelta(days=d.created_days_ago)
            with clock.frozen_at(moment if d.created_days_ago else clock.now()):
                part = services.part_create(
                    actor=self.warehouse,
                    number=number,
                    name_zh=d.name_zh,
                    name_en=d.name_en,
                    unit_cost=_money(d.cost),
                    is_critical=d.family.critical,
                    is_repairable=d.family.repairable,
                    compatible_models=models,
                    usage_per_repair=Decimal(d.family.usage),
                )
            self.parts[number] = part
            supplier = SUPPLIER_BY_CODE[d.family.supplier]
            moq, multiple = d.family.moq, d.family.multiple
            if not moq:
                moq, multiple = (20, 10) if d.cost < 20 else (5, 5) if d.cost < 100 else (1, 1)
            services.part_source_set(
                actor=self.warehouse,
                part=part,
                supplier=self.suppliers[supplier.code],
                lead_time_days=rng.randint(*supplier.lead),
                min_order_qty=moq,
                order_multiple=multiple or 1,
                unit_price=_money(d.cost),
                is_preferred=True,
            )
            if rng.random() < 0.25:
                # A second, dearer source the buyer can fall back on.
                other = rng.choice([s for s in SUPPLIERS if s.code != supplier.code])
                services.part_source_set(
                    actor=self.warehouse,
                    part=part,
                    supplier=self.suppliers[other.code],
                    lead_time_days=rng.randint(*other.lead),
                    min_order_qty=moq,
                    order_multiple=multiple or 1,
                    unit_price=_money(d.cost * Decimal("1.12")),
                )
            bar.update()
        for number, _months, _why in SUPERSESSIONS:
            services.part_supersede(
                actor=self.warehouse, part=self.parts[f"{number}-V1"], by=self.parts[number]
            )
        self.result.parts = len(self.parts)

    def _write_history(self) -> None:
        """36 months before go-live, as the previous system's export: per warehouse for most
        parts, network-wide for the rest."""
        shares = self._location_shares()
        codes = list(shares)
        weights = [shares[c] for c in codes]
        lines = ["part,month,quantity,location"]
        rng = self.rng
        for number, d in self.defs.items():
            if number.endswith("-V1"):
                continue
            series = self._series(d)
            for i, quantity in enumerate(series):
                if not quantity:
                    continue
                owner = d.old_number if d.old_number and i < d.switch else number
                month = f"{self.months[i]:%Y-%m}"
                if d.per_location:
                    split = Counter(rng.choices(codes, weights=weights, k=quantity))
                    for code, n in sorted(split.items()):
                        lines.append(f"{owner},{month},{n},{code}")
                else:
                    lines.append(f"{owner},{month},{quantity},")
        with clock.frozen_at(self.go_live_at - dt.timedelta(days=2)):
            result = demand_history_import(
                actor=self.warehouse, lines=lines, source="旧系统导出 legacy ERP export"
            )
        self.result.history_rows = result.written

    def _write_opening_stock(self) -> None:
        at = self.go_live_at - dt.timedelta(hours=6)
        items = sorted(self.stock.opening.items())
        bar = _bar(desc="parts stock", total=len(items), show=self.show, unit="row")
        with transaction.atomic():
            for (number, code, kind), quantity in items:
                if quantity <= 0:
                    continue
                part = self.parts[number]
                services.stock_receive(
                    actor=self.warehouse,
                    part=part,
                    location=self.locations[code],
                    quantity=quantity,
                    kind=kind,
                    note="期初库存 opening balance",
                    at=at,
                )
                bar.update()
        bar.close()

    # -- 2. during the case replay ---------------------------------------------------------

    def before_step(self, case: Case, step: Step) -> None:
        """Reserve and issue the parts a repair uses, just before the case is resolved."""
        if step.action != "transition" or step.params.get("action") != "resolve":
            return
        uses = self.uses.pop((case.customer_id, step.at), None)
        if uses:
            with self._timed():
                self._use(case, uses)

    def _use(self, case: Case, uses: list[Use]) -> None:
        for use in uses:
            actor = self._actor(use.actor)
            try:
                reserved = services.stock_reserve(
                    actor=actor,
                    case=case,
                    part=self.parts[use.part],
                    location=self.locations[use.location],
                    quantity=use.quantity,
                    backorder=False,
                    at=use.reserve_at,
                )
                assert reserved.reservation is not None  # backorder=False: a reservation
                services.stock_issue(actor=actor, reservation=reserved.reservation, at=use.issue_at)
            except ApplicationError:
                self.result.issues_skipped += 1
                continue
            self.issued.append((use, case.pk))
            self.result.issues += 1

    # -- 3. after everything ---------------------------------------------------------------

    def finish(self) -> PartsDemo:
        """Open cases' reservations, the scarce part's queue, transfers, a count, defective
        parts, then the planning runs."""
        with self._timed():
            self._finish()
        return self.result

    def _finish(self) -> None:
        bar = _bar(desc="parts planning", total=9, show=self.show, unit="step")
        self._scarce_queue()
        bar.update()
        self._open_reservations()
        bar.update()
        self._transfers()
        bar.update()
        self._cycle_count()
        self._defectives()
        bar.update()
        self._planning(bar)
        bar.close()

    def _at(self, numbers: Iterable[str], code: str, desired: dt.datetime) -> dt.datetime:
        """`desired`, or just after the last movement of these parts there (ledger order)."""
        moment = desired
        for number in numbers:
            last = self.stock.free_after(number, code)
            if last is not None and last >= moment:
                moment = last + dt.timedelta(minutes=1)
        return min(moment, self.now - dt.timedelta(minutes=1))

    def _open_cases(self) -> list[Case]:
        return list(
            Case.objects.filter(
                kind=CaseKind.SERVICE,
                status__in=OPEN_STATUSES,
                unit__isnull=False,
                nature=Nature.HARDWARE,
            )
            .select_related("customer", "unit__model__line", "assignee")
            .order_by("created_at", "pk")
        )

    def _scarce_queue(self) -> None:
        """Three open cases waiting for the scarce part at the central warehouse, requested
        low tier first, then regular, then VIP: the queue still serves the VIP first."""
        part = self.parts[self.scarce]
        models = set(self.defs[self.scarce].models)
        line = MODEL_LINE[next(iter(models))]
        cases = self._open_cases()
        fallback = list(
            Case.objects.filter(kind=CaseKind.SERVICE, status__in=OPEN_STATUSES)
            .select_related("customer", "unit__model__line", "assignee")
            .order_by("created_at", "pk")
        )
        chosen: list[Case] = []
        for tier in (Tier.LOW, Tier.REGULAR, Tier.VIP):
            pools = (
                [c for c in cases if c.unit is not None and c.unit.model.code in models],
                [c for c in cases if c.unit is not None and c.unit.model.line.code == line],
                cases,
                fallback,
            )
            found = next(
                (c for pool in pools for c in pool if c.customer.tier == tier and c not in chosen),
                None,
            )
            if found is not None:
                chosen.append(found)
        central = self.locations[CENTRAL]
        start = self.now - dt.timedelta(hours=30)
        for i, case in enumerate(chosen):
            at = self._at([self.scarce], CENTRAL, start + dt.timedelta(hours=6 * i))
            result = services.stock_reserve(
                actor=self._actor(case.assignee.username if case.assignee else ""),
                case=case,
                part=part,
                location=central,
                quantity=1,
                at=at,
            )
            self.stock.touch(self.scarce, CENTRAL, at)
            if result.backorder is not None:
                self.result.backorders += 1
        self.result.scarce_part = self.scarce
        self.queued_cases = {c.pk for c in chosen}

    def _open_reservations(self) -> None:
        """Parts held for open repairs at the customer's warehouse (none of them expired)."""
        rng = self.rng
        cases = [c for c in self._open_cases() if c.pk not in self.queued_cases]
        rng.shuffle(cases)
        for case in cases:
            if self.result.open_reservations >= OPEN_RESERVATIONS:
                break
            assert case.unit is not None
            choices = [
                x for x in self._candidates(case.unit.model.code, "") if x.number != self.scarce
            ]
            kinds = KIND_PREFERENCE[Tier(case.customer.tier)]
            home = self.customer_location.get(case.customer_id, CENTRAL)
            stocked: list[PartDef] = []
            for code in dict.fromkeys((home, CENTRAL)):
                free = self._available([x.number for x in choices], code, kinds)
                stocked = [x for x in choices if free.get(x.number, 0) >= x.family.usage]
                if stocked:
                    break
            if not stocked:
                continue
            d = rng.choices(stocked, weights=[x.rate + 0.01 for x in stocked])[0]
            at = self._at([d.number], code, self.now - dt.timedelta(hours=rng.uniform(2, 30)))
            try:
                services.stock_reserve(
                    actor=self._actor(case.assignee.username if case.assignee else ""),
                    case=case,
                    part=self.parts[d.number],
                    location=self.locations[code],
                    quantity=int(d.family.usage),
                    backorder=False,
                    at=at,
                )
            except ApplicationError:
                continue
            self.stock.touch(d.number, code, at)
            self.result.open_reservations += 1

    def _available(
        self, numbers: Sequence[str], code: str, kinds: Sequence[str] = (StockKind.NEW,)
    ) -> dict[str, int]:
        """Available stock of these parts at a location, best of the given kinds."""
        free: dict[str, int] = {}
        for balance in StockBalance.objects.filter(
            part__in=[self.parts[n] for n in numbers],
            location=self.locations[code],
            kind__in=list(kinds),
        ).select_related("part"):
            number = balance.part.number
            free[number] = max(free.get(number, 0), balance.available)
        return free

    def _transfers(self) -> None:
        """A transfer received last week and one on its way from the central warehouse."""
        rng = self.rng
        spare = [
            n
            for n, d in self.defs.items()
            if not n.endswith("-V1") and n != self.scarce and d.cost <= 400
        ]
        rng.shuffle(spare)
        plans = (("WH-BJ", 7, True), ("WH-GZ", 1, False))
        for destination, days_ago, receive in plans:
            lines: list[tuple[Part, str, int]] = []
            for number in spare:
                if len(lines) == 4:
                    break
                if self._available([number], CENTRAL).get(number, 0) >= 4:
                    lines.append((self.parts[number], str(StockKind.NEW), 2))
            spare = [n for n in spare if n not in {p.number for p, _k, _q in lines}]
            if not lines:
                continue
            numbers = [p.number for p, _k, _q in lines]
            shipped = self._at(numbers, CENTRAL, self.now - dt.timedelta(days=days_ago))
            shipped = self._at(numbers, destination, shipped)
            with clock.frozen_at(shipped):
                transfer = services.transfer_create(
                    actor=self.warehouse,
                    source=self.locations[CENTRAL],
                    destination=self.locations[destination],
                    lines=lines,
                    note="常规补货 routine replenishment",
                )
            for number in numbers:
                self.stock.touch(number, CENTRAL, shipped)
                self.stock.touch(number, destination, shipped)
            if receive:
                arrived = shipped + dt.timedelta(days=2, hours=3)
                with clock.frozen_at(min(arrived, self.now)):
                    services.transfer_receive(actor=self.warehouse, transfer=transfer)
                for number in numbers:
                    self.stock.touch(number, destination, arrived)

    def _cycle_count(self) -> None:
        """A count at the North China warehouse, two thirds of its lines counted so far."""
        location = self.locations["WH-BJ"]
        numbers = sorted(
            n
            for (n, code, kind), q in self.stock.on_hand.items()
            if code == "WH-BJ" and kind == StockKind.NEW and q > 0
        )[:9]
        if not numbers:
            return
        with clock.frozen_at(self.now - dt.timedelta(hours=3)):
            count = services.count_open(
                actor=self.warehouse,
                location=location,
                parts=[self.parts[n] for n in numbers],
            )
        for i, line in enumerate(count.lines.order_by("pk")):
            if i % 3 == 2:
                continue
            # One shelf is a unit short: the count finds it.
            counted = line.expected - 1 if i == 3 and line.expected > 0 else line.expected
            with clock.frozen_at(self.now - dt.timedelta(hours=2, minutes=50 - i)):
                services.count_record(actor=self.warehouse, line=line, counted=counted)

    def _defectives(self) -> None:
        """Repairable parts taken back from repairs at the warehouse the stock came from; one
        returned to its supplier, one refurbished into stock."""
        taken: list[tuple[Use, int, str]] = []
        for use, case_id in self.issued:
            if not self.defs[use.part].family.repairable or use.part == self.scarce:
                continue
            # Vans and outlets hand old parts in at the warehouse that supplies them.
            place = self.locations[use.location]
            while place.kind not in (LocationKind.CENTRAL, LocationKind.REGIONAL):
                assert place.supplied_from is not None  # outlets and vans have a warehouse
                place = place.supplied_from
            taken.append((use, case_id, place.code))
            if len(taken) == 5:
                break
        cases = Case.objects.in_bulk([c for _u, c, _l in taken])
        for i, (use, case_id, code) in enumerate(taken):
            part, location = self.parts[use.part], self.locations[code]
            at = self._at([use.part], code, use.issue_at + dt.timedelta(days=2))
            services.stock_defective_in(
                actor=self.warehouse,
                part=part,
                location=location,
                quantity=use.quantity,
                case=cases[case_id],
                at=at,
            )
            self.stock.touch(use.part, code, at)
            later = self._at([use.part], code, at + dt.timedelta(days=5))
            if i == 0:
                services.stock_defective_return(
                    actor=self.warehouse,
                    part=part,
                    location=location,
                    quantity=use.quantity,
                    supplier=self.suppliers[self.defs[use.part].family.supplier],
                    at=later,
                )
            elif i == 1:
                services.stock_refurbish(
                    actor=self.warehouse,
                    part=part,
                    location=location,
                    quantity=use.quantity,
                    at=later,
                )
            self.stock.touch(use.part, code, later)

    def _planning(self, bar: tqdm[Any]) -> None:
        """Policies, events, an override, then the nightly runs."""
        today = timezone.localdate(self.now)
        month = today.replace(day=1)
        with clock.frozen_at(self.now - dt.timedelta(hours=1)):
            parts_defaults_ensure()
            planning.demand_event_create(
                actor=self.warehouse,
                name="BCD-405WLHTD 冷藏门封条召回 / fridge door seal recall",
                kind=DemandEvent.Kind.RECALL,
                part=self.parts[RECALL_PART],
                starts_on=_month_add(month, 1),
                ends_on=_month_add(month, 4) - dt.timedelta(days=1),
                factor=Decimal("1.8"),
            )
            planning.demand_event_create(
                actor=self.warehouse,
                name="W5 Pro 橙色表带上市 / W5 Pro orange strap launch",
                kind=DemandEvent.Kind.LAUNCH,
                part=self.parts[LAUNCH_PART[0]],
                starts_on=month,
                ends_on=_month_add(month, 3) - dt.timedelta(days=1),
                extra_units=Decimal(6),
            )
            rate = self.defs[OVERRIDE_PART].rate
            planning.forecast_override_create(
                actor=self.warehouse,
                part=self.parts[OVERRIDE_PART],
                starts_on=_month_add(month, 1),
                ends_on=_month_add(month, 2),
                quantity=Decimal(max(2, round(rate * 2))),
                reason="双十二扫地机促销，耗材需求预计翻倍 / Double-12 robot promotion",
                expires_at=self.now + dt.timedelta(days=60),
            )
        bar.update()
        with clock.frozen_at(self.now):
            planning.classification_run()
            bar.update()
            planning.forecast_run()
            bar.update()
            replenishment.targets_compute()
            bar.update()
            replenishment.replenishment_suggest()
            bar.update()
        self.result.classes = dict(
            Counter(
                Part.objects.filter(superseded_by__isnull=True).values_list("sbc_class", flat=True)
            )
        )
        self.result.draft_orders = PurchaseOrder.objects.filter(
            status=PurchaseOrder.Status.DRAFT
        ).count()
        self.result.suggested_transfers = Transfer.objects.filter(
            status=Transfer.Status.SUGGESTED
        ).count()
        self.result.backorders = Backorder.objects.filter(status=Backorder.Status.WAITING).count()


def parts_demo_prepare(
    *,
    users: Mapping[str, User],
    teams: Mapping[str, Team],
    models: Mapping[str, ProductModel],
    plans: Sequence[CasePlan],
    now: dt.datetime,
    show: bool,
    seed: int | str = 826,
) -> PartsDemoSeeder:
    """Step 1 of the parts demo (see the module docstring); pass the returned seeder's
    `before_step` to the case replay and call its `finish` at the end."""
    seeder = PartsDemoSeeder(
        users=users, teams=teams, models=models, plans=plans, now=now, show=show, seed=seed
    )
    seeder.prepare()
    return seeder
