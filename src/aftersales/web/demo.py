"""The demo data set (演示数据) behind `aftersales seed` and `aftersales demo_info`.

At the default scale everything is written through the real services, at realistic past times
(`clock.frozen_at`): teams and staff (`accounts.services`), product lines and models
(`catalog.services`), customers and their registered units (`customers.services`,
`catalog.services.unit_register`), and 826 cases that are opened, classified, assigned, worked,
contacted, resolved, called back, closed, reopened or cancelled by `cases.services`, so every
figure shown later comes from a genuine event stream.

Resolving a case schedules its return visit (回访) by the default callback rules (every VIP
case and complaint, a fifth of the rest); the callback team then records the attempts, the phone
survey (satisfaction as PRODUCT.md reports it: 4.7 / 4.5 / 4.4 of 5 by tier), sometimes a
recommendation, and the visit's outcome with `callbacks.services`, which closes the case, or
reopens it for the rare unsatisfied customer. Cases resolved in the last days keep their visit
due, so the callback worklist has work. VIP care calls go out when the two months begin.
About 60 complaints (usage 45% / attitude 30% / slow response 25%, 15% traced to internal
communication) are raised, evaluated, reviewed where the policy asks, compensated along the
approval chain, answered with the letter and closed by `complaints.services`; the newest are
left open in each state, one of them the VIP company's slow-response complaint waiting for the
manager's approval (see `demo_tour`).

The figures are the department's own (PRODUCT.md §3): 826 cases in two months, hardware 43% /
software 37% / service attitude 20%, high-value (VIP) customers 28% of customers and 62% of the
cases. Counts are exact, not sampled. A customer's `tier` in a specification is their profile
(how much they buy and how often they ask for service); the tiers themselves are computed by
`customers.services.tiers_recompute`, once when the two months begin and once at the end, and
come out at about the same 28% / 62%.

How it works: `customer_specs` and `case_plans` decide everything up front (pure, seeded
`random.Random`), as specifications and lists of timed steps; writers then apply them.

`--scale N` (N > 1) adds (N - 1) times as many customers, units and cases for benchmarks. Those
extra rows are bulk-written, because one service call per row would take hours for 100,000
cases: customers, units and cases with `bulk_create` (their ids are needed), events, contacts,
addresses and audit rows with one `executemany` (SQLite) or `COPY` (PostgreSQL), every value
prepared by its model field (encryption, blind index, JSON, time zones). The bulk writer replays
the same plans and mirrors what the services write: numbers `SR`/`C` + YYYYMM + 7 digits from
the same `core.Sequence` counters, one status event per status change, the solution event,
first response, resolution, closing and first-contact-resolution fields. The tests check that
both writers give identical rows for the same plans. The service-built demo part is the same
at every scale.
"""

import datetime as dt
import hashlib
import itertools
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.hashers import make_password
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import (
    DateField,
    DateTimeField,
    DecimalField,
    F,
    Field,
    JSONField,
    Model,
)
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from tqdm import tqdm

from aftersales.accounts import services as accounts_services
from aftersales.accounts.mfa import mfa_device_install, mfa_is_enrolled, totp_secret
from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import ROLE_LABELS, ROLE_SCOPES, Role
from aftersales.accounts.services import roles_sync, staff_create, team_create
from aftersales.callbacks import selectors as callback_selectors
from aftersales.callbacks import services as callback_services
from aftersales.callbacks.defaults import callbacks_defaults_ensure
from aftersales.callbacks.models import ReturnVisit, Survey
from aftersales.cases import services as case_services
from aftersales.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseKind,
    Nature,
    SolutionType,
    Status,
    Urgency,
)
from aftersales.cases.workflow import priority_for
from aftersales.catalog import services as catalog_services
from aftersales.catalog.models import ProductLine, ProductModel, Unit, add_months
from aftersales.complaints import services as complaint_services
from aftersales.complaints.models import (
    CompensationAction,
    CompensationProposal,
    Complaint,
    ComplaintNature,
    ComplaintReview,
    RootCause,
    Severity,
)
from aftersales.core import clock
from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.core.fields import EncryptedTextField
from aftersales.core.models import AuditEvent, BusinessCalendar
from aftersales.core.models import Sequence as NumberSequence
from aftersales.core.phones import normalize_phone
from aftersales.core.services import audit_bulk_append
from aftersales.customers import services as customer_services
from aftersales.customers.contacts import contact_normalize
from aftersales.customers.models import Address, Channel, ContactPoint, Customer, Tier
from aftersales.parts.demo import PartsDemo, parts_demo_prepare
from aftersales.parts.models import Backorder, Part, PurchaseOrder, Transfer
from aftersales.sla.clocks import LIVE_CHANNELS
from aftersales.sla.services import sla_clocks_rebuild

T = TypeVar("T")

DEMO_PASSWORD = "aftersales-demo"  # nosec B105  # the published password of the demo accounts
# DEMO ONLY. Every seeded staff account gets an authenticator (TOTP) whose secret is derived
# from this constant and the username, so whoever reviews the demo can sign in: `aftersales
# otp_code <username>` prints the current code (DEBUG only), `aftersales demo_info` the secrets.
# Anyone who reads this file can compute these codes: real accounts enrol their own device.
DEMO_TOTP_SALT = "aftersales-demo-only-totp-secret, never for real accounts"
DEFAULT_SEED = 826
BASE_CASES = 826
BASE_CUSTOMERS = 600
WINDOW_DAYS = 61  # "826 cases in two months"
PURCHASE_YEARS = 4

NATURE_SHARES: dict[str, float] = {
    Nature.HARDWARE: 0.43,
    Nature.SOFTWARE: 0.37,
    Nature.ATTITUDE: 0.20,
}
VIP_CUSTOMER_SHARE = 0.28
LOW_CUSTOMER_SHARE = 0.22
VIP_CASE_SHARE = 0.62

DEMO_CALLER_PHONE = "13800138000"
DEMO_COMPANY_PHONE = "0755-8888 6666"
UNKNOWN_CALLER_PHONE = "13912345678"

BULK_BATCH = 2000

# --------------------------------------------------------------------------------------------
# Teams and staff
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamSpec:
    code: str
    name: str
    kind: str
    region: str = ""


TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec("desk-sz", "深圳前台受理组", Team.Kind.FRONTLINE, "华南"),
    TeamSpec("desk-bj", "北京前台受理组", Team.Kind.FRONTLINE, "华北"),
    TeamSpec("desk-sh", "上海前台受理组", Team.Kind.FRONTLINE, "华东"),
    TeamSpec("vip", "VIP 贵宾专席", Team.Kind.VIP),
    TeamSpec("tech", "技术支持组", Team.Kind.TECH_SUPPORT),
    TeamSpec("callback", "回访组", Team.Kind.CALLBACK),
    TeamSpec("complaints", "投诉处理组", Team.Kind.COMPLAINTS),
    TeamSpec("review", "投诉审查组", Team.Kind.REVIEW),
    TeamSpec("field-south", "华南上门服务组", Team.Kind.FIELD, "华南"),
    TeamSpec("field-north", "华北上门服务组", Team.Kind.FIELD, "华北"),
    TeamSpec("field-east", "华东上门服务组", Team.Kind.FIELD, "华东"),
    TeamSpec("warehouse", "中央备件仓", Team.Kind.WAREHOUSE, "华南"),
)

FIELD_TEAM_OF_DESK = {"desk-sz": "field-south", "desk-bj": "field-north", "desk-sh": "field-east"}


@dataclass(frozen=True)
class StaffSpec:
    """One staff account; `sees` explains the login's scope in the demo_info table."""

    username: str
    display_name: str
    role: Role
    teams: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    sees: str = ""
    demo: bool = False  # one of the documented demo logins
    weight: int = 1  # how much more often the planner picks this person (demo logins: more)
    seniority: str = ""  # blank: senior for senior agents, junior otherwise
    calendar: str = ""  # working hours; blank: the default office calendar


STAFF: tuple[StaffSpec, ...] = (
    # The documented demo logins, one per role (plus agent2 for the scope demo).
    StaffSpec(
        "agent",
        "张静",
        Role.FRONTLINE_AGENT,
        teams=("desk-sz",),
        sees="Shenzhen desk cases (team scope); intake, caller look-up, first-line work",
        demo=True,
        weight=4,
    ),
    StaffSpec(
        "agent2",
        "刘洋",
        Role.FRONTLINE_AGENT,
        teams=("desk-bj",),
        sees="Beijing desk cases only: none of agent's Shenzhen cases (scope demo)",
        demo=True,
        weight=3,
    ),
    StaffSpec(
        "senior",
        "陈敏",
        Role.SENIOR_AGENT,
        teams=("vip",),
        sees="VIP desk cases; can merge duplicate customers",
        demo=True,
        weight=3,
        calendar="always-open",
    ),
    StaffSpec(
        "support",
        "黄磊",
        Role.TECH_SUPPORT,
        teams=("tech",),
        sees="Technical-support team cases (escalated diagnosis, depot repair)",
        demo=True,
        weight=2,
        seniority="expert",
    ),
    StaffSpec(
        "tech",
        "吴强",
        Role.TECHNICIAN,
        teams=("field-south",),
        sees="Only the cases assigned to him (own scope): South China onsite repairs",
        demo=True,
        weight=2,
    ),
    StaffSpec(
        "callback",
        "林丽",
        Role.CALLBACK_AGENT,
        teams=("callback",),
        sees="Callback team; calls customers back (回访) and closes resolved cases",
        demo=True,
        weight=2,
    ),
    StaffSpec(
        "reviewer",
        "郑洁",
        Role.COMPLAINT_REVIEWER,
        teams=("review",),
        sees="Complaint review group (投诉审查组): reviews complex complaints, read-only",
        demo=True,
    ),
    StaffSpec(
        "warehouse",
        "马军",
        Role.WAREHOUSE,
        teams=("warehouse",),
        sees="No cases; product models and registered units",
        demo=True,
    ),
    StaffSpec(
        "supervisor",
        "赵婷",
        Role.SUPERVISOR,
        leads=("desk-sz",),
        sees="Leads the Shenzhen desk: its cases; reassigns to any team",
        demo=True,
        weight=2,
    ),
    StaffSpec(
        "regional",
        "梁涛",
        Role.REGIONAL_MANAGER,
        leads=("field-south",),
        sees="South China (华南) region: the Shenzhen desk, field and warehouse teams' cases",
        demo=True,
    ),
    StaffSpec(
        "manager",
        "孙伟",
        Role.MANAGER,
        sees="All cases and customers; sets customer value tiers",
        demo=True,
    ),
    StaffSpec(
        "admin",
        "系统管理员",
        Role.ADMINISTRATOR,
        sees="Everything, plus staff, teams and the Django admin (/admin/)",
        demo=True,
    ),
    # Colleagues, so that queues and assignments look like a real department.
    StaffSpec("sz.liyan", "李艳", Role.FRONTLINE_AGENT, teams=("desk-sz",)),
    StaffSpec("sz.wangpeng", "王鹏", Role.FRONTLINE_AGENT, teams=("desk-sz",)),
    StaffSpec("sz.heli", "何丽", Role.FRONTLINE_AGENT, teams=("desk-sz",)),
    StaffSpec("sz.xujun", "许军", Role.SENIOR_AGENT, teams=("desk-sz",)),
    StaffSpec("bj.zhaoyu", "赵宇", Role.FRONTLINE_AGENT, teams=("desk-bj",)),
    StaffSpec("bj.sunna", "孙娜", Role.FRONTLINE_AGENT, teams=("desk-bj",)),
    StaffSpec("bj.gaojie", "高杰", Role.SENIOR_AGENT, teams=("desk-bj",)),
    StaffSpec("bj.zhouhui", "周辉", Role.SUPERVISOR, leads=("desk-bj",)),
    StaffSpec("sh.wuting", "吴婷", Role.FRONTLINE_AGENT, teams=("desk-sh",)),
    StaffSpec("sh.xuhao", "徐浩", Role.FRONTLINE_AGENT, teams=("desk-sh",)),
    StaffSpec("sh.shenyi", "沈怡", Role.SENIOR_AGENT, teams=("desk-sh",)),
    StaffSpec("sh.luming", "陆明", Role.SUPERVISOR, leads=("desk-sh",)),
    # The VIP hotline is staffed around the clock (7×24).
    StaffSpec("vip.tanglin", "唐琳", Role.SENIOR_AGENT, teams=("vip",), calendar="always-open"),
    StaffSpec("vip.fengkai", "冯凯", Role.SENIOR_AGENT, teams=("vip",), calendar="always-open"),
    StaffSpec("vip.caoying", "曹颖", Role.SUPERVISOR, leads=("vip",)),
    StaffSpec("tech.dengbo", "邓博", Role.TECH_SUPPORT, teams=("tech",), seniority="expert"),
    StaffSpec("tech.xiaoyu", "肖宇", Role.TECH_SUPPORT, teams=("tech",), seniority="expert"),
    StaffSpec("tech.pengtao", "彭涛", Role.SUPERVISOR, leads=("tech",)),
    StaffSpec("fs.luohao", "罗浩", Role.TECHNICIAN, teams=("field-south",)),
    StaffSpec("fs.liangjian", "梁建", Role.TECHNICIAN, teams=("field-south",)),
    StaffSpec("fn.hanlei", "韩磊", Role.TECHNICIAN, teams=("field-north",)),
    StaffSpec("fn.caogang", "曹刚", Role.TECHNICIAN, teams=("field-north",)),
    StaffSpec("fe.jiangtao", "蒋涛", Role.TECHNICIAN, teams=("field-east",)),
    StaffSpec("fe.zhoujie", "周杰", Role.TECHNICIAN, teams=("field-east",)),
    StaffSpec(
        "field.zhongwei",
        "钟伟",
        Role.SUPERVISOR,
        leads=("field-south", "field-north", "field-east"),
    ),
    StaffSpec("cb.yexin", "叶欣", Role.CALLBACK_AGENT, teams=("callback",)),
    StaffSpec("cb.panyue", "潘悦", Role.CALLBACK_AGENT, teams=("callback",)),
    StaffSpec("cp.songhua", "宋华", Role.SENIOR_AGENT, teams=("complaints",)),
    StaffSpec("cp.yaoqian", "姚倩", Role.SENIOR_AGENT, teams=("complaints",)),
    StaffSpec("cp.xiefang", "谢芳", Role.SUPERVISOR, leads=("complaints",)),
    StaffSpec("wh.dujun", "杜军", Role.WAREHOUSE, teams=("warehouse",)),
    # A reviewer who also sits on the VIP desk: refused a review of a complaint about that desk.
    StaffSpec("rv.hanmei", "韩梅", Role.COMPLAINT_REVIEWER, teams=("review", "vip")),
)

# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineSpec:
    code: str
    name_zh: str
    name_en: str
    serial_prefix: str


@dataclass(frozen=True)
class ModelSpec:
    line: str
    code: str
    name: str
    parts_months: int
    labour_months: int
    price: int  # list price in CNY
    launched: dt.date


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# fmt: off
LINES: tuple[LineSpec, ...] = (
    LineSpec("fridge", "冰箱", "Fridge", "FR"),
    LineSpec("aircon", "空调", "Air conditioner", "AC"),
    LineSpec("tv", "电视", "TV", "TV"),
    LineSpec("washer", "洗衣机", "Washing machine", "WM"),
    LineSpec("watch", "智能手表", "Smart watch", "SW"),
    LineSpec("band", "手环", "Fitness band", "BD"),
    LineSpec("purifier", "净化器", "Air purifier", "AP"),
    LineSpec("robot", "扫地机", "Robot vacuum", "RV"),
)
# Warranty terms: parts / labour months (air conditioners: compressor-style 72/36).
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("fridge", "BCD-520WKPZM", "对开门风冷冰箱 520L", 36, 12, 5999, _d("2021-03-01")),
    ModelSpec("fridge", "BCD-405WLHTD", "十字四门变频冰箱 405L", 36, 12, 4599, _d("2022-04-01")),
    ModelSpec("fridge", "BCD-218STPA", "双门节能冰箱 218L", 36, 12, 1899, _d("2020-09-01")),
    ModelSpec("aircon", "KFR-35GW/A1", "挂式变频空调 1.5匹 一级", 72, 36, 2999, _d("2021-02-01")),
    ModelSpec("aircon", "KFR-26GW/Q3", "挂式空调 1匹 新一级", 72, 36, 2399, _d("2022-03-01")),
    ModelSpec("aircon", "KFR-72LW/B5", "立柜式空调 3匹 新风", 72, 36, 7999, _d("2022-05-01")),
    ModelSpec("tv", "65Q8-MAX", "65英寸 量子点4K智慧屏", 36, 12, 5499, _d("2021-08-01")),
    ModelSpec("tv", "55U7", "55英寸 4K超高清电视", 24, 12, 2699, _d("2020-10-01")),
    ModelSpec("tv", "85M9-MINILED", "85英寸 Mini LED 巨幕电视", 36, 12, 12999, _d("2023-09-01")),
    ModelSpec("tv", "43E3", "43英寸 全高清电视", 24, 12, 1399, _d("2020-06-01")),
    ModelSpec("washer", "XQG100-HD12", "10公斤滚筒洗烘一体机", 36, 12, 3299, _d("2021-05-01")),
    ModelSpec("washer", "XQB80-T5", "8公斤全自动波轮洗衣机", 36, 12, 1199, _d("2020-07-01")),
    ModelSpec("watch", "W5-PRO", "智能手表 W5 Pro", 12, 12, 2499, _d("2022-09-01")),
    ModelSpec("watch", "W3-LITE", "智能手表 W3 Lite", 12, 12, 999, _d("2021-06-01")),
    ModelSpec("watch", "K2-KIDS", "儿童电话手表 K2", 12, 12, 699, _d("2022-06-01")),
    ModelSpec("band", "B8", "智能手环 B8", 12, 12, 249, _d("2022-08-01")),
    ModelSpec("band", "B8-NFC", "智能手环 B8 NFC版", 12, 12, 299, _d("2022-08-01")),
    ModelSpec("purifier", "AP-600", "空气净化器 AP600 除甲醛", 24, 12, 1999, _d("2021-10-01")),
    ModelSpec("robot", "RV-X20", "扫拖一体机器人 X20 自清洁", 24, 12, 3599, _d("2023-04-01")),
    ModelSpec("robot", "RV-S10", "扫地机器人 S10", 24, 12, 1799, _d("2021-11-01")),
)
# Which product lines customers of each tier buy, and how many units they own.
LINE_WEIGHTS: dict[str, dict[str, int]] = {
    Tier.VIP: {"fridge": 6, "aircon": 7, "tv": 6, "washer": 4, "watch": 5, "band": 2,
               "purifier": 3, "robot": 4},
    Tier.REGULAR: {"fridge": 4, "aircon": 5, "tv": 5, "washer": 4, "watch": 5, "band": 4,
                   "purifier": 2, "robot": 3},
    Tier.LOW: {"fridge": 1, "aircon": 2, "tv": 2, "washer": 2, "watch": 3, "band": 6,
               "purifier": 1, "robot": 1},
}
COMPANY_SHARE: dict[str, float] = {Tier.VIP: 0.12, Tier.REGULAR: 0.03, Tier.LOW: 0.0}
UNITS_PER_TIER: dict[str, dict[int, int]] = {
    Tier.VIP: {2: 3, 3: 4, 4: 2, 5: 1},
    Tier.REGULAR: {1: 6, 2: 3, 3: 1},
    Tier.LOW: {1: 9, 2: 1},
}
RETAILERS: dict[str, tuple[str, ...]] = {
    "online": ("京东自营", "天猫官方旗舰店", "品牌官方商城", "苏宁易购官方店", "抖音官方旗舰店"),
    "retail": ("苏宁易购门店", "国美电器", "品牌体验店", "五星电器"),
    "dealer": ("{city}家电城", "{city}百货家电专柜", "{city}数码广场"),
    "project": ("企业集采", "工程渠道"),
}
# fmt: on
LINE_BY_CODE = {line.code: line for line in LINES}
MODEL_BY_CODE = {m.code: m for m in MODELS}

# --------------------------------------------------------------------------------------------
# People and places
# --------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words: keeps long reference lists compact."""
    return tuple(text.split())


# "surname:pinyin:relative frequency"
SURNAMES: tuple[tuple[str, str, int], ...] = tuple(
    (h, p, int(w))
    for h, p, w in (
        entry.split(":")
        for entry in _words("""
        王:wang:72 李:li:70 张:zhang:66 刘:liu:54 陈:chen:45 杨:yang:31 黄:huang:23 赵:zhao:22
        吴:wu:21 周:zhou:20 徐:xu:14 孙:sun:13 马:ma:12 朱:zhu:12 胡:hu:11 郭:guo:11 何:he:10
        林:lin:10 罗:luo:9 高:gao:9 郑:zheng:8 梁:liang:8 谢:xie:7 宋:song:7 唐:tang:7 许:xu:6
        韩:han:6 冯:feng:6 邓:deng:6 曹:cao:6 彭:peng:5 曾:zeng:5 肖:xiao:5 田:tian:5 董:dong:5
        潘:pan:4 袁:yuan:4 蔡:cai:4 蒋:jiang:4 余:yu:4 于:yu:4 杜:du:4 叶:ye:4 程:cheng:3 魏:wei:3
        苏:su:3 吕:lv:3 丁:ding:3 任:ren:3 卢:lu:3 姚:yao:3 沈:shen:3 钟:zhong:3 姜:jiang:3
        崔:cui:3 谭:tan:2 陆:lu:2 范:fan:2 汪:wang:2 廖:liao:2 石:shi:2 金:jin:2 韦:wei:2 贾:jia:2
        夏:xia:2 方:fang:2 邹:zou:2 熊:xiong:2 白:bai:2 孟:meng:2 秦:qin:2 邱:qiu:2 侯:hou:2
        薛:xue:1 雷:lei:1 龙:long:1 黎:li:1 陶:tao:1 贺:he:1 顾:gu:1 欧阳:ouyang:1 上官:shangguan:1
        """)
    )
)
# "character:pinyin" for given names of one or two characters.
GIVEN: tuple[tuple[str, str], ...] = tuple(
    (h, p)
    for h, p in (
        entry.split(":")
        for entry in _words("""
        伟:wei 芳:fang 娜:na 敏:min 静:jing 丽:li 强:qiang 磊:lei 军:jun 洋:yang 勇:yong 艳:yan
        杰:jie 娟:juan 涛:tao 明:ming 超:chao 秀:xiu 霞:xia 平:ping 刚:gang 桂:gui 英:ying 华:hua
        建:jian 文:wen 辉:hui 玲:ling 鹏:peng 宇:yu 浩:hao 婷:ting 雪:xue 琳:lin 晨:chen 欣:xin
        怡:yi 佳:jia 子:zi 梓:zi 轩:xuan 涵:han 博:bo 思:si 雨:yu 嘉:jia 俊:jun 志:zhi 海:hai
        红:hong 春:chun 晓:xiao 亮:liang 斌:bin 凯:kai 慧:hui 颖:ying 倩:qian 露:lu 瑶:yao 鑫:xin
        诺:nuo 天:tian 睿:rui 泽:ze 昊:hao 然:ran 萱:xuan 馨:xin 铭:ming 逸:yi 航:hang
        """)
    )
)
COMPANY_BRANDS: tuple[tuple[str, str], ...] = tuple(
    (h, p)
    for h, p in (
        entry.split(":")
        for entry in _words("""
        华信:huaxin 恒通:hengtong 鼎盛:dingsheng 博远:boyuan 瑞丰:ruifeng 中科:zhongke
        新锐:xinrui 宏达:hongda 金桥:jinqiao 联创:lianchuang 嘉禾:jiahe 天成:tiancheng
        远景:yuanjing 明德:mingde 安和:anhe 星海:xinghai
        """)
    )
)
COMPANY_TRADES = _words("科技 贸易 物业管理 酒店管理 餐饮管理 教育科技 医疗器械 电子")
# RFC 2606 reserved domains: a demo database must never hold deliverable addresses.
MAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.cn")


@dataclass(frozen=True)
class CitySpec:
    province: str
    city: str
    districts: tuple[str, ...]
    area_code: str
    postal_prefix: str
    desk: str  # the regional front-line desk that serves the city
    weight: float  # share of customers


def _city(line: str) -> CitySpec:
    """Parse "province city district,district area postal desk weight"."""
    province, city, districts, area, postal, desk, weight = line.split()
    return CitySpec(province, city, tuple(districts.split(",")), area, postal, desk, float(weight))


# fmt: off
CITIES: tuple[CitySpec, ...] = tuple(_city(line) for line in """
广东省 深圳市 南山区,福田区,宝安区,龙岗区,罗湖区,龙华区 0755 518 desk-sz 10
广东省 广州市 天河区,越秀区,海珠区,番禺区,白云区 020 510 desk-sz 8
广东省 东莞市 南城街道,东城街道,松山湖 0769 523 desk-sz 3
广东省 佛山市 禅城区,南海区,顺德区 0757 528 desk-sz 3
广西壮族自治区 南宁市 青秀区,西乡塘区 0771 530 desk-sz 1.5
福建省 厦门市 思明区,湖里区,集美区 0592 361 desk-sz 2
福建省 福州市 鼓楼区,仓山区 0591 350 desk-sz 1.5
湖南省 长沙市 岳麓区,芙蓉区,雨花区 0731 410 desk-sz 2.5
四川省 成都市 武侯区,锦江区,成华区,高新区 028 610 desk-sz 4
重庆市 重庆市 渝中区,江北区,渝北区,南岸区 023 400 desk-sz 3
海南省 海口市 美兰区,龙华区 0898 570 desk-sz 1
云南省 昆明市 五华区,盘龙区 0871 650 desk-sz 1.5
北京市 北京市 朝阳区,海淀区,东城区,西城区,丰台区,通州区 010 100 desk-bj 9
天津市 天津市 和平区,南开区,河西区 022 300 desk-bj 3
河北省 石家庄市 长安区,桥西区 0311 050 desk-bj 1.5
山东省 济南市 历下区,市中区 0531 250 desk-bj 2
山东省 青岛市 市南区,崂山区,黄岛区 0532 266 desk-bj 2.5
辽宁省 沈阳市 和平区,沈河区 024 110 desk-bj 2
辽宁省 大连市 中山区,沙河口区 0411 116 desk-bj 1.5
陕西省 西安市 雁塔区,碑林区,未央区 029 710 desk-bj 3
河南省 郑州市 金水区,二七区,郑东新区 0371 450 desk-bj 2.5
黑龙江省 哈尔滨市 南岗区,道里区 0451 150 desk-bj 1.5
上海市 上海市 浦东新区,徐汇区,静安区,闵行区,杨浦区,长宁区 021 200 desk-sh 9
江苏省 南京市 鼓楼区,玄武区,建邺区 025 210 desk-sh 3.5
江苏省 苏州市 姑苏区,吴中区,工业园区 0512 215 desk-sh 3
浙江省 杭州市 西湖区,滨江区,余杭区,拱墅区 0571 310 desk-sh 5
浙江省 宁波市 鄞州区,海曙区 0574 315 desk-sh 2
安徽省 合肥市 蜀山区,包河区 0551 230 desk-sh 2
湖北省 武汉市 武昌区,洪山区,江汉区 027 430 desk-sh 4
江西省 南昌市 东湖区,红谷滩区 0791 330 desk-sh 1.5
""".strip().splitlines())
ROADS = _words("""
人民路 中山路 解放路 建设路 和平路 长江路 新华路 学府路 滨江大道 科技路 文化路 湖滨路 花园路 青年路
东风路 工业大道 幸福路 友谊路
""")
ESTATES = _words("""
阳光花园 万科城 碧桂园 锦绣华庭 翠湖苑 世纪家园 华润城 保利花园 金色家园 绿地公馆 龙湖天街 书香苑
御景湾 星河湾 紫荆苑 海逸豪庭
""")
MOBILE_PREFIXES = _words("""
130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 175 176 177
178 180 181 182 183 184 185 186 187 188 189 191 195 198 199
""")
CUSTOMER_NOTES = (
    "偏好下午联系", "老人用户，沟通需耐心，可联系其子女", "工作日白天不方便接电话，请先发短信",
    "上门前请提前一小时电话确认", "小区需登记，请提前告知师傅姓名", "曾对上门时间不满，注意守时",
)
# fmt: on

# --------------------------------------------------------------------------------------------
# What customers write (subjects, descriptions) and what staff write (contacts, solutions)
# --------------------------------------------------------------------------------------------

ALL_LINES = frozenset(LINE_BY_CODE)
_BIG = frozenset({"fridge", "aircon", "tv", "washer", "purifier", "robot"})
_WEAR = frozenset({"watch", "band"})


def _lines(text: str) -> frozenset[str]:
    return frozenset(text.split())


# fmt: off
# nature -> subcategory -> (weight, product lines it applies to)
SUBCATEGORY_MIX: dict[str, dict[str, tuple[int, frozenset[str]]]] = {
    Nature.HARDWARE: {
        "no_power": (14, ALL_LINES),
        "noise": (12, _lines("fridge aircon washer purifier robot tv")),
        "cooling": (18, _lines("fridge aircon")),
        "leak": (10, _lines("fridge aircon washer purifier")),
        "display": (14, _lines("tv watch band fridge washer")),
        "battery": (14, _lines("watch band robot")),
        "physical_damage": (8, ALL_LINES),
        "other": (10, ALL_LINES),
    },
    Nature.SOFTWARE: {
        "firmware": (18, ALL_LINES),
        "connectivity": (26, ALL_LINES),
        "app": (20, ALL_LINES),
        "crash": (14, _lines("tv watch fridge robot")),
        "data_sync": (12, _lines("watch band robot purifier")),
        "other": (10, ALL_LINES),
    },
    Nature.ATTITUDE: {
        "agent": (45, ALL_LINES),
        "technician": (40, ALL_LINES),
        "other": (15, ALL_LINES),
    },
}

# (nature, subcategory) -> [(lines, subject templates)]; {product} is the line's Chinese name.
SUBJECTS: dict[tuple[str, str], list[tuple[frozenset[str], tuple[str, ...]]]] = {
    (Nature.HARDWARE, "no_power"): [
        (ALL_LINES, ("{product}无法开机", "{product}通电后没有任何反应",
                     "{product}突然断电后无法启动")),
        (_WEAR, ("{product}黑屏无法开机", "{product}长按电源键无反应")),
    ],
    (Nature.HARDWARE, "noise"): [
        (_BIG - {"tv"}, ("{product}运行时噪音很大", "{product}有异响",
                         "{product}震动明显、声音大")),
        (_lines("tv"), ("电视背板有滋滋的电流声", "电视开机时有啪啪异响")),
    ],
    (Nature.HARDWARE, "cooling"): [
        (_lines("fridge"), ("冰箱冷藏室不制冷", "冰箱冷冻室温度降不下来", "冰箱冷冻室结霜严重")),
        (_lines("aircon"), ("空调不制冷", "空调制热效果差", "空调外机在转但室内不出冷风")),
    ],
    (Nature.HARDWARE, "leak"): [
        (_lines("fridge"), ("冰箱底部漏水", "冰箱冷藏室内积水")),
        (_lines("aircon"), ("空调室内机漏水", "空调出风口滴水")),
        (_lines("washer"), ("洗衣机漏水", "洗衣机排水时底部漏水")),
        (_lines("purifier"), ("净化器加湿模块漏水",)),
    ],
    (Nature.HARDWARE, "display"): [
        (_lines("tv"), ("电视屏幕出现竖线", "电视屏幕闪烁", "电视有声音无图像",
                        "电视屏幕局部发暗")),
        (_WEAR, ("{product}屏幕触控失灵", "{product}屏幕不亮", "{product}屏幕出现坏点")),
        (_lines("fridge washer"), ("{product}显示屏不亮", "{product}显示故障代码{code}")),
    ],
    (Nature.HARDWARE, "battery"): [
        (_WEAR, ("{product}续航明显缩短", "{product}无法充电", "{product}充电时发烫")),
        (_lines("robot"), ("扫地机续航只有二十分钟", "扫地机无法回充")),
    ],
    (Nature.HARDWARE, "physical_damage"): [
        (ALL_LINES, ("{product}到货外观破损", "{product}面板开裂")),
        (_WEAR, ("{product}表带连接处断裂", "{product}磕碰后屏幕碎裂")),
    ],
    (Nature.HARDWARE, "other"): [
        (ALL_LINES, ("{product}按键失灵", "{product}部分功能失效")),
        (_lines("fridge"), ("冰箱门封条脱落", "冰箱门关不严")),
        (_lines("washer"), ("洗衣机门锁打不开", "洗衣机脱水时报错停机")),
        (_lines("aircon tv"), ("{product}遥控器无反应",)),
    ],
    (Nature.SOFTWARE, "firmware"): [
        (ALL_LINES, ("{product}固件升级失败", "{product}升级后功能异常",
                     "{product}提示系统更新失败")),
    ],
    (Nature.SOFTWARE, "connectivity"): [
        (_BIG, ("{product}无法连接Wi-Fi", "{product}在App中显示离线", "{product}配网一直失败")),
        (_WEAR, ("{product}蓝牙无法与手机配对", "{product}频繁断开蓝牙连接")),
    ],
    (Nature.SOFTWARE, "app"): [
        (ALL_LINES, ("App中无法添加{product}", "App远程控制{product}没有响应",
                     "App更新后{product}页面打不开")),
    ],
    (Nature.SOFTWARE, "crash"): [
        (_lines("tv"), ("电视系统卡顿、频繁重启", "电视开机卡在启动画面")),
        (_lines("watch"), ("手表频繁自动重启", "手表卡死无法操作")),
        (_lines("fridge"), ("冰箱智慧屏死机", "冰箱触控面板卡死需断电恢复")),
        (_lines("robot"), ("扫地机建图失败、反复重启",)),
    ],
    (Nature.SOFTWARE, "data_sync"): [
        (_WEAR, ("运动数据无法同步到App", "睡眠和心率数据丢失", "步数与App统计不一致")),
        (_lines("robot purifier"), ("App中{product}的运行记录不更新",)),
    ],
    (Nature.SOFTWARE, "other"): [
        (ALL_LINES, ("语音助手无法唤醒{product}", "{product}预约定时功能失效",
                     "{product}童锁无法解除")),
    ],
    (Nature.ATTITUDE, "agent"): [
        (ALL_LINES, ("对客服处理态度不满", "客服多次推诿，问题无人跟进",
                     "热线客服态度生硬，要求投诉", "在线客服答非所问")),
    ],
    (Nature.ATTITUDE, "technician"): [
        (ALL_LINES, ("上门师傅迟到且态度差", "维修人员不清理现场", "师傅私自加收费用",
                     "师傅没修好就离开了")),
    ],
    (Nature.ATTITUDE, "other"): [
        (ALL_LINES, ("服务网点拒绝受理保修", "网点工作人员态度恶劣", "多次预约都无人上门")),
    ],
}

DETAILS: dict[tuple[str, str], tuple[str, ...]] = {
    (Nature.HARDWARE, "no_power"): ("已检查插座和电源线，其他电器使用正常。",
                                    "指示灯不亮，按开关无任何反应。",
                                    "雷雨天后出现，怀疑电源板损坏。"),
    (Nature.HARDWARE, "noise"): ("夜间声音尤其明显，影响休息。", "像金属摩擦的声音，持续不断。",
                                 "刚买不久就出现，客户很不满意。"),
    (Nature.HARDWARE, "cooling"): ("冷藏室温度一直在12度以上，食物已经变质。",
                                   "设定16度运行两小时室温仍在30度。",
                                   "外机运行正常，室内出风是热风。"),
    (Nature.HARDWARE, "leak"): ("地板已经积了一滩水。", "漏水量不大，但每天都有。",
                                "已经擦干观察两天，仍然漏水。"),
    (Nature.HARDWARE, "display"): ("重启后依旧。", "问题时有时无，最近越来越频繁。",
                                   "已拍摄视频可提供。"),
    (Nature.HARDWARE, "battery"): ("充满电只能用半天。", "换了原装充电器也一样。",
                                   "充电时机身明显发烫。"),
    (Nature.HARDWARE, "physical_damage"): ("快递签收时没有当场验货。",
                                           "外包装完好，开箱发现破损。",
                                           "客户表示是正常使用中出现的。"),
    (Nature.HARDWARE, "other"): ("影响正常使用。", "已按说明书排查，无效。", "问题持续一周左右。"),
    (Nature.SOFTWARE, "firmware"): ("升级进度卡在百分之九十。", "升级后部分功能无法使用。",
                                    "多次重试仍然失败。"),
    (Nature.SOFTWARE, "connectivity"): ("路由器是2.4G和5G双频合一。", "换了手机热点也连不上。",
                                        "家里其他设备联网正常。"),
    (Nature.SOFTWARE, "app"): ("已卸载重装App，问题依旧。", "App版本已是最新。",
                               "家人的手机上也一样。"),
    (Nature.SOFTWARE, "crash"): ("每天会出现两三次。", "需要拔电源才能恢复。",
                                 "最近一次系统更新后开始出现。"),
    (Nature.SOFTWARE, "data_sync"): ("最近一周的数据都没有同步上来。", "手机蓝牙权限已打开。",
                                     "换手机登录后数据丢失。"),
    (Nature.SOFTWARE, "other"): ("已尝试恢复出厂设置。", "说明书上的方法试过了，没有用。",
                                 "不确定是不是设置问题。"),
    (Nature.ATTITUDE, "agent"): ("通话中被多次打断，问题没有得到解答。",
                                 "承诺的回电一直没有收到。",
                                 "前后打了三次电话，每次都要重新说明情况。"),
    (Nature.ATTITUDE, "technician"): ("约好上午十点，师傅下午两点才到。",
                                      "师傅说话不耐烦，还在屋里抽烟。",
                                      "维修后现场留下很多垃圾。", "收费时没有出示收费标准。"),
    (Nature.ATTITUDE, "other"): ("网点说需要购买凭证原件才能受理。", "排队一个多小时无人接待。",
                                 "已经是第三次改约了。"),
}
REQUESTS: dict[str, tuple[str, ...]] = {
    Nature.HARDWARE: ("希望尽快安排上门维修。", "要求换新机。", "询问是否还在保修期内。",
                      "客户较着急，请优先处理。", "希望周末上门。"),
    Nature.SOFTWARE: ("希望远程协助处理。", "请告知解决办法。", "如无法解决要求退货。",
                      "希望尽快回电指导。"),
    Nature.ATTITUDE: ("客户情绪激动，要求给出处理结果并道歉。", "要求主管回电。",
                      "要求退还上门费用。", "要求更换维修人员。"),
}
CHANNEL_LEADS: dict[str, str] = {
    Channel.PHONE: "客户来电反映：",
    Channel.APP: "客户通过App在线客服反映：",
    Channel.WEB: "客户在官网提交服务申请：",
    Channel.EMAIL: "客户来信：",
    Channel.PORTAL: "客户在自助服务平台提交：",
    Channel.WALK_IN: "客户到{city}服务网点反映：",
    Channel.ONSITE: "上门服务时客户提出：",
}
ERROR_CODES = ("E1", "E4", "F2", "E21", "F07", "C3")
PARTS: dict[str, tuple[str, ...]] = {
    "fridge": ("压缩机启动器", "温控板", "风扇电机", "化霜加热丝", "门封条", "主控板"),
    "aircon": ("启动电容", "四通阀", "室外风机", "主控板", "排水管", "温度传感器"),
    "tv": ("电源板", "背光灯条", "主板", "T-CON板", "遥控器"),
    "washer": ("排水泵", "门锁", "电机碳刷", "进水阀", "电脑板"),
    "watch": ("电池", "屏幕总成", "充电触点", "表带"),
    "band": ("电池", "屏幕", "主板", "腕带"),
    "purifier": ("风机", "PM2.5传感器", "主控板", "滤网"),
    "robot": ("电池包", "主刷电机", "激光雷达", "边刷组件", "驱动轮"),
}
SLOTS = ("上午9-12点", "下午2-5点", "晚上6-8点")
REMOTE_ACTIONS = ("断电重启并重新配网", "恢复出厂设置", "调整工作模式设置", "重新绑定设备")
REMOTE_ACTIONS_BY_LINE = {
    "purifier": ("清洁滤网并重置滤网提示",), "aircon": ("清洗滤网并重新设定模式",),
    "watch": ("重新配对蓝牙并同步数据",), "band": ("重新配对蓝牙并同步数据",),
    "tv": ("清除缓存并重置网络设置",), "washer": ("运行筒自洁程序并重新校准",),
    "robot": ("清理滚刷和传感器并重新建图",), "fridge": ("调整温区设置并检查门封",),
}
KB_ARTICLES = ("KB-0102", "KB-0115", "KB-0230", "KB-0318", "KB-0421", "KB-0507")
REOPEN_REASONS = ("客户反馈问题再次出现", "客户来电表示维修后同样故障复发",
                  "客户对处理结果不满意，要求重新处理")
CANCEL_REASONS = ("客户表示问题已自行解决", "重复提交的工单，已在原工单处理",
                  "客户三次回电均未接通，按流程撤单", "客户撤回申请")
ESCALATION_NOTES = ("已督办，要求今日内给客户回复。", "VIP客户，请优先处理。",
                    "客户第二次来电，请加快进度。")
# Return visits (回访) and surveys. The satisfaction figures are the department's (PRODUCT.md):
# CSAT averages 4.7 (VIP), 4.5 (regular) and 4.4 (low value) of 5, and 80% of VIP and 60% of
# regular customers would buy again. Answers are drawn by the customer's profile; the reports
# group them by the computed tier, which mixes profiles (a regular buyer with many cases turns
# VIP), so the profiles' mixes are spread a little wider than the figures they produce. A score
# at or below the callback settings' default threshold reopens the case.
UNSATISFIED_CSAT = 2
CSAT_MIX: dict[str, dict[int, float]] = {
    Tier.VIP: {5: 81, 4: 15, 3: 2.5, 2: 1, 1: 0.5},
    Tier.REGULAR: {5: 52, 4: 32, 3: 10, 2: 4, 1: 2},
    Tier.LOW: {5: 55, 4: 30, 3: 10, 2: 3.5, 1: 1.5},
}
REPURCHASE_YES: dict[str, float] = {Tier.VIP: 0.85, Tier.REGULAR: 0.60, Tier.LOW: 0.50}
RECOMMENDATION_OUTCOMES = {"accepted": 25, "interested": 20, "declined": 40, "offered": 15}
SURVEY_COMMENTS: dict[str, tuple[str, ...]] = {
    "high": ("师傅很专业，处理很及时", "客服态度很好，解释清楚", "问题解决了，谢谢",
             "响应速度快，满意", "上门准时，现场也清理干净了"),
    "mid": ("问题解决了，但等待时间有点长", "希望下次能一次修好", "电话打了好几次才联系上"),
    "low": ("问题还是没有解决", "等了很久也没人处理", "对处理结果不满意"),
}
UNSOLVED_REASONS = ("回访时客户表示问题仍未解决", "客户反馈故障再次出现，要求重新处理")
ATTEMPT_NOTES = {"no_answer": "电话无人接听", "reached": ""}
CARE_CALLS_LATER = 4  # VIP care calls the customer asked to take later today
# fmt: on

# --------------------------------------------------------------------------------------------
# Random helpers
# --------------------------------------------------------------------------------------------


def _pick(rng: random.Random, weighted: Mapping[T, float]) -> T:
    """One key of `weighted`, drawn with its weight."""
    keys = list(weighted)
    return rng.choices(keys, weights=[float(weighted[k]) for k in keys])[0]


def _tz() -> dt.tzinfo:
    return timezone.get_default_timezone()


def _at(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), _tz())


def _exact_counts(total: int, shares: dict[T, float]) -> dict[T, int]:
    """Split `total` by `shares` with rounding, the last key taking the remainder."""
    keys = list(shares)
    counts = {k: round(total * shares[k]) for k in keys[:-1]}
    counts[keys[-1]] = total - sum(counts.values())
    return counts


# --------------------------------------------------------------------------------------------
# Customers and units (pure specifications, written later by services or in bulk)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitSpec:
    model_code: str
    serial: str
    purchase_date: dt.date
    amount: Decimal
    sales_channel: str
    retailer: str
    registered_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    name: str
    kind: str
    company_name: str
    tier: str
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    address: dict[str, str]
    city: str
    desk: str
    preferred_channel: str
    consent_contact: bool
    notes: str
    created_at: dt.datetime
    units: tuple[UnitSpec, ...]
    demo: str = ""  # "caller" / "company" for the documented demo customers


class _People:
    """Makes plausible Chinese customers with unique phone numbers and serial numbers."""

    def __init__(self, rng: random.Random, now: dt.datetime, serial_start: int = 1) -> None:
        self.rng = rng
        self.now = now
        self.today = timezone.localdate(now)
        self.used_phones: set[str] = {
            normalize_phone(p)
            for p in (DEMO_CALLER_PHONE, DEMO_COMPANY_PHONE, UNKNOWN_CALLER_PHONE)
        }
        self.serial = serial_start
        self._surnames = [s for s in SURNAMES]
        self._surname_weights = list(itertools.accumulate(float(s[2]) for s in SURNAMES))
        self._cities = list(CITIES)
        self._city_weights = list(itertools.accumulate(c.weight for c in CITIES))

    # -- names and contacts ---------------------------------------------------------------
    def person_name(self) -> tuple[str, str]:
        """(Chinese name, pinyin handle for an e-mail address)."""
        surname, s_py, _ = self.rng.choices(self._surnames, cum_weights=self._surname_weights)[0]
        given = self.rng.sample(GIVEN, 2 if self.rng.random() < 0.62 else 1)
        name = surname + "".join(g[0] for g in given)
        return name, "".join(g[1] for g in given) + "." + s_py

    def _unique(self, raw: str) -> str | None:
        try:
            e164 = normalize_phone(raw)
        except ApplicationError:
            return None
        if e164 in self.used_phones:
            return None
        self.used_phones.add(e164)
        return raw

    def mobile(self) -> str:
        while True:
            digits = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if self._unique(digits) is None:
                continue
            style = self.rng.random()
            # Numbers arrive in the forms people type them; the service normalises them.
            if style < 0.08:
                return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
            if style < 0.14:
                return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
            return digits

    def landline(self, city: CitySpec) -> str:
        for attempt in range(50):
            length = 8 if attempt < 40 else 7
            local = str(self.rng.randint(2, 8)) + "".join(
                str(self.rng.randrange(10)) for _ in range(length - 1)
            )
            raw = f"{city.area_code}-{local[:4]} {local[4:]}"
            if self._unique(raw) is not None:
                return raw
        return self.mobile()

    def email(self, handle: str) -> str:
        suffix = str(self.rng.randint(1, 99)) if self.rng.random() < 0.5 else ""
        return f"{handle}{suffix}@{self.rng.choice(MAIL_DOMAINS)}"

    def address(self, city: CitySpec) -> dict[str, str]:
        rng = self.rng
        street = (
            f"{rng.choice(ROADS)}{rng.randint(1, 999)}号{rng.choice(ESTATES)}"
            f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元"
            f"{rng.randint(1, 33)}{rng.randint(1, 6):02d}室"
        )
        return {
            "province": city.province,
            "city": city.city,
            "district": rng.choice(city.districts),
            "street": street,
            "postal_code": f"{city.postal_prefix}{rng.randint(0, 99):02d}0",
        }

    def city(self) -> CitySpec:
        return self.rng.choices(self._cities, cum_weights=self._city_weights)[0]

    # -- units ---------------------------------------------------------------------------
    def serial_number(self, line: str, purchase: dt.date) -> str:
        self.serial += 1
        factory = self.rng.choice(("SZ", "HZ", "QD", "CQ"))
        return f"{LINE_BY_CODE[line].serial_prefix}{purchase:%y%m}{factory}{self.serial:07d}"

    def purchase_day(self, model: ModelSpec, *, earliest: dt.date | None = None) -> dt.date:
        start = max(
            model.launched, earliest or self.today - dt.timedelta(days=365 * PURCHASE_YEARS)
        )
        end = self.today - dt.timedelta(days=10)
        if start >= end:
            return end
        return start + dt.timedelta(days=self.rng.randrange((end - start).days))

    def unit(
        self,
        *,
        tier: str,
        city: CitySpec,
        line: str | None = None,
        model_code: str | None = None,
        purchase: dt.date | None = None,
        company: bool = False,
        registered_after: dt.datetime | None = None,
    ) -> UnitSpec:
        rng = self.rng
        if model_code is None:
            line = line or _pick(rng, LINE_WEIGHTS[tier])
            options = [m for m in MODELS if m.line == line]
            # VIP customers lean to the dearer models of a line.
            weights = [m.price ** (0.6 if tier == Tier.VIP else -0.2) for m in options]
            model = rng.choices(options, weights=weights)[0]
        else:
            model = MODEL_BY_CODE[model_code]
        day = purchase or self.purchase_day(model)
        channel = "project" if company else _pick(rng, {"online": 55, "retail": 25, "dealer": 20})
        retailer = rng.choice(RETAILERS[channel]).format(city=city.city.removesuffix("市"))
        discount = rng.uniform(0.78, 0.92) if company else rng.uniform(0.85, 1.0)
        amount = max(Decimal(int(model.price * discount) // 10 * 10 + 9), Decimal("99"))
        registered = _at(day, rng.randint(9, 20), rng.randrange(60)) + dt.timedelta(
            days=rng.choice((0, 0, 0, 1, 2, 5, 12))
        )
        if registered_after is not None and registered <= registered_after:
            registered = registered_after + dt.timedelta(minutes=rng.randint(3, 40))
        registered = min(registered, self.now - dt.timedelta(hours=1))
        return UnitSpec(
            model_code=model.code,
            serial=self.serial_number(model.line, day),
            purchase_date=day,
            amount=amount.quantize(Decimal("0.01")),
            sales_channel=channel,
            retailer=retailer,
            registered_at=registered,
        )

    # -- customers -----------------------------------------------------------------------
    def customer(self, tier: str) -> CustomerSpec:
        rng = self.rng
        city = self.city()
        company = rng.random() < COMPANY_SHARE[tier]
        name, handle = self.person_name()
        phones = [self.mobile()]
        emails: list[str] = []
        company_name = ""
        if company:
            brand, brand_py = rng.choice(COMPANY_BRANDS)
            company_name = f"{city.city}{brand}{rng.choice(COMPANY_TRADES)}有限公司"
            phones.append(self.landline(city))
            emails.append(f"{handle.split('.')[0]}@{brand_py}.example.com")
        else:
            if rng.random() < 0.12:
                phones.append(self.landline(city) if rng.random() < 0.6 else self.mobile())
            if rng.random() < 0.35:
                emails.append(self.email(handle))
        count = rng.randint(4, 10) if company else _pick(rng, UNITS_PER_TIER[tier])
        first = self.unit(tier=tier, city=city, company=company)
        created = first.registered_at - dt.timedelta(minutes=rng.randint(2, 30))
        units = [first]
        if company:
            # Project sales: several units of the same model bought the same week.
            for _ in range(count - 1):
                day = first.purchase_date + dt.timedelta(days=rng.randint(0, 6))
                day = min(day, self.today - dt.timedelta(days=1))
                units.append(
                    self.unit(
                        tier=tier,
                        city=city,
                        model_code=first.model_code,
                        purchase=day,
                        company=True,
                        registered_after=created,
                    )
                )
        else:
            for _ in range(count - 1):
                units.append(self.unit(tier=tier, city=city, registered_after=created))
        # The customer file is opened at the first purchase registration.
        earliest = min(units, key=lambda u: u.registered_at)
        created = min(created, earliest.registered_at - dt.timedelta(minutes=1))
        preferred = _pick(
            rng, {Channel.PHONE: 62, Channel.APP: 16, Channel.WEB: 6, Channel.PORTAL: 6}
        )
        if emails and rng.random() < 0.3:
            preferred = Channel.EMAIL
        return CustomerSpec(
            name=name,
            kind=Customer.Kind.COMPANY if company else Customer.Kind.PERSON,
            company_name=company_name,
            tier=tier,
            phones=tuple(phones),
            emails=tuple(emails),
            address=self.address(city),
            city=city.city,
            desk=city.desk,
            preferred_channel=preferred,
            consent_contact=rng.random() < 0.93,
            notes=rng.choice(CUSTOMER_NOTES) if rng.random() < 0.08 else "",
            created_at=created,
            units=tuple(sorted(units, key=lambda u: u.registered_at)),
        )

    def demo_caller(self) -> CustomerSpec:
        """李明, VIP, 13800138000: a fridge in warranty and a watch out of warranty."""
        shenzhen = CITIES[0]
        fridge_day = self.today - dt.timedelta(days=240)
        watch_day = self.today - dt.timedelta(days=610)
        watch = self.unit(tier=Tier.VIP, city=shenzhen, model_code="W5-PRO", purchase=watch_day)
        created = watch.registered_at - dt.timedelta(minutes=10)
        fridge = self.unit(
            tier=Tier.VIP,
            city=shenzhen,
            model_code="BCD-520WKPZM",
            purchase=fridge_day,
            registered_after=created,
        )
        tv = self.unit(
            tier=Tier.VIP,
            city=shenzhen,
            model_code="65Q8-MAX",
            purchase=self.today - dt.timedelta(days=420),
            registered_after=created,
        )
        return CustomerSpec(
            name="李明",
            kind=Customer.Kind.PERSON,
            company_name="",
            tier=Tier.VIP,
            phones=(DEMO_CALLER_PHONE,),
            emails=("li.ming@example.com",),
            address={
                "province": "广东省",
                "city": "深圳市",
                "district": "南山区",
                "street": "科技南路18号华润城5栋2单元1801室",
                "postal_code": "518057",
            },
            city="深圳市",
            desk="desk-sz",
            preferred_channel=Channel.PHONE,
            consent_contact=True,
            notes="演示客户：用 13800138000 来电演示客户辨识",
            created_at=created,
            units=tuple(sorted((watch, fridge, tv), key=lambda u: u.registered_at)),
            demo="caller",
        )

    def demo_company(self) -> CustomerSpec:
        """A company account (王芳 at 深圳市华信科技有限公司) known by its office landline."""
        shenzhen = CITIES[0]
        day = self.today - dt.timedelta(days=500)
        first = self.unit(
            tier=Tier.VIP, city=shenzhen, model_code="KFR-72LW/B5", purchase=day, company=True
        )
        created = first.registered_at - dt.timedelta(minutes=15)
        units = [first]
        for _ in range(5):
            units.append(
                self.unit(
                    tier=Tier.VIP,
                    city=shenzhen,
                    model_code="KFR-72LW/B5",
                    purchase=day,
                    company=True,
                    registered_after=created,
                )
            )
        for _ in range(4):
            units.append(
                self.unit(
                    tier=Tier.VIP,
                    city=shenzhen,
                    model_code="85M9-MINILED",
                    purchase=self.today - dt.timedelta(days=200),
                    company=True,
                    registered_after=created,
                )
            )
        return CustomerSpec(
            name="王芳",
            kind=Customer.Kind.COMPANY,
            company_name="深圳市华信科技有限公司",
            tier=Tier.VIP,
            phones=(DEMO_COMPANY_PHONE, self.mobile()),
            emails=("wang.fang@huaxin.example.com",),
            address={
                "province": "广东省",
                "city": "深圳市",
                "district": "福田区",
                "street": "深南大道6008号特区报业大厦12楼",
                "postal_code": "518034",
            },
            city="深圳市",
            desk="desk-sz",
            preferred_channel=Channel.PHONE,
            consent_contact=True,
            notes="企业客户：行政部王芳对接，办公室座机来电",
            created_at=created,
            units=tuple(sorted(units, key=lambda u: u.registered_at)),
            demo="company",
        )


def customer_specs(
    rng: random.Random, now: dt.datetime, count: int, *, with_demo: bool, serial_start: int = 1
) -> tuple[list[CustomerSpec], int]:
    """`count` customers with exact tier counts (28% VIP, 22% low), and the last serial used."""
    people = _People(rng, now, serial_start)
    tiers = _exact_counts(
        count, {Tier.VIP: VIP_CUSTOMER_SHARE, Tier.LOW: LOW_CUSTOMER_SHARE, Tier.REGULAR: 0.0}
    )
    specs: list[CustomerSpec] = []
    if with_demo:
        specs += [people.demo_caller(), people.demo_company()]
        tiers[Tier.VIP] -= 2
    pool = [t for t, n in tiers.items() for _ in range(n)]
    rng.shuffle(pool)
    specs += [people.customer(t) for t in pool]
    specs.sort(key=lambda s: s.created_at)
    return specs, people.serial


# --------------------------------------------------------------------------------------------
# Case plans: what happens to each case and when, as a list of steps
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitRef:
    pk: int
    line: str
    line_id: int
    model_label: str
    serial: str
    purchase_date: dt.date
    parts_end: dt.date


@dataclass(frozen=True, slots=True)
class CustomerRef:
    pk: int
    tier: str
    desk: str
    city: str
    units: tuple[UnitRef, ...]
    demo: str = ""


@dataclass(slots=True)
class Step:
    at: dt.datetime
    action: str  # open, classify, assign, transition, contact, note
    actor: str  # username
    params: dict[str, Any]


@dataclass(slots=True)
class CasePlan:
    customer: CustomerRef
    unit: UnitRef | None
    steps: list[Step] = field(default_factory=list)

    @property
    def opened_at(self) -> dt.datetime:
        return self.steps[0].at


class _Staffing:
    """Who does what, derived from `STAFF`: openers, workers, leads per team."""

    def __init__(self) -> None:
        self.members: dict[str, list[StaffSpec]] = defaultdict(list)
        self.leads: dict[str, str] = {}
        for s in STAFF:
            for code in s.teams:
                self.members[code].append(s)
            for code in s.leads:
                self.leads.setdefault(code, s.username)

    def pick(self, rng: random.Random, team: str, roles: Iterable[Role]) -> str:
        wanted = set(roles)
        people = [s for s in self.members[team] if s.role in wanted]
        return rng.choices(people, weights=[s.weight for s in people])[0].username

    def lead(self, team: str) -> str:
        return self.leads[team]


DESK_ROLES = (Role.FRONTLINE_AGENT, Role.SENIOR_AGENT)
# Where a case is worked after intake, by nature: on the desk, by the regional field team,
# by technical support, or by the complaints desk.
ROUTE_MIX: dict[str, dict[str, int]] = {
    Nature.HARDWARE: {"field": 35, "tech": 15, "desk": 50},
    Nature.SOFTWARE: {"tech": 20, "desk": 80},
    Nature.ATTITUDE: {"complaints": 70, "desk": 30},
}


class CasePlanner:
    """Plans realistic case histories ending no later than `now`."""

    CHANNELS = {
        Channel.PHONE: 42,
        Channel.APP: 18,
        Channel.WEB: 11,
        Channel.EMAIL: 8,
        Channel.WALK_IN: 9,
        Channel.PORTAL: 8,
        Channel.ONSITE: 4,
    }

    def __init__(
        self, rng: random.Random, now: dt.datetime, window_days: int = WINDOW_DAYS
    ) -> None:
        self.rng = rng
        self.now = now
        self.today = timezone.localdate(now)
        self.window_days = window_days
        self.staff = _Staffing()

    # -- time ---------------------------------------------------------------------------
    def _work(self, moment: dt.datetime) -> dt.datetime:
        """The same moment if the department is working (08:30-21:30), else the next morning."""
        local = timezone.localtime(moment, _tz())
        minutes = local.hour * 60 + local.minute
        if 510 <= minutes <= 1290:
            return moment
        day = local.date() if minutes < 510 else local.date() + dt.timedelta(days=1)
        return _at(day, 8, 30) + dt.timedelta(minutes=self.rng.randint(0, 50))

    def _after(self, moment: dt.datetime, lo_minutes: float, hi_minutes: float) -> dt.datetime:
        delta = dt.timedelta(minutes=self.rng.uniform(lo_minutes, hi_minutes))
        return self._work(moment + max(delta, dt.timedelta(minutes=1)))

    def _opened_at(self, channel: str) -> dt.datetime:
        rng = self.rng
        if channel in (Channel.PHONE, Channel.WALK_IN, Channel.ONSITE):
            hours = {
                8: 2,
                9: 6,
                10: 9,
                11: 9,
                12: 6,
                13: 6,
                14: 8,
                15: 9,
                16: 8,
                17: 6,
                18: 4,
                19: 4,
                20: 3,
            }
            if channel != Channel.PHONE:
                hours = {h: w for h, w in hours.items() if 9 <= h <= 17}
        else:
            hours = (
                {h: 1 for h in range(24)}
                | {h: 5 for h in (9, 10, 11, 14, 15, 16, 20, 21, 22)}
                | {h: 3 for h in (8, 12, 13, 17, 18, 19, 23)}
            )
        while True:
            day = self.today - dt.timedelta(days=rng.randrange(self.window_days))
            if day.weekday() >= 5 and rng.random() < 0.3:
                continue
            hour = _pick(rng, hours)
            moment = _at(day, hour, rng.randrange(60)) + dt.timedelta(seconds=rng.randrange(60))
            if moment < self.now - dt.timedelta(minutes=20):
                return moment

    # -- texts --------------------------------------------------------------------------
    def _subcategory(self, nature: str, line: str | None) -> str:
        mix = SUBCATEGORY_MIX[nature]
        options = {k: w for k, (w, lines) in mix.items() if line is None or line in lines}
        return _pick(self.rng, options)

    def _subject(self, nature: str, sub: str, line: str | None) -> str:
        product = LINE_BY_CODE[line].name_zh if line else "产品"
        candidates: list[str] = []
        for lines, templates in SUBJECTS[(nature, sub)]:
            if line is None or line in lines:
                candidates.extend(templates)
        template = self.rng.choice(candidates)
        return template.format(product=product, code=self.rng.choice(ERROR_CODES))

    def _description(
        self,
        *,
        nature: str,
        sub: str,
        subject: str,
        channel: str,
        customer: CustomerRef,
        unit: UnitRef | None,
    ) -> str:
        rng = self.rng
        parts = [CHANNEL_LEADS[channel].format(city=customer.city.removesuffix("市"))]
        if unit is not None:
            parts.append(
                f"{unit.model_label}（序列号 {unit.serial}，{unit.purchase_date.year}年"
                f"{unit.purchase_date.month}月购买）"
            )
        parts.append(subject + "。")
        parts.append(rng.choice(DETAILS[(nature, sub)]))
        parts.append(rng.choice(REQUESTS[nature]))
        return "".join(parts)

    def _solution(
        self,
        *,
        nature: str,
        route: str,
        unit: UnitRef | None,
        opened: dt.datetime,
        quick: bool = False,
    ) -> tuple[str, str]:
        """(solution type, notes) that fit the nature and who handled the case.

        `quick` is a first-contact resolution during the call: guidance, not a repair.
        """
        rng = self.rng
        line = unit.line if unit else "fridge"
        part = rng.choice(PARTS[line])
        in_warranty = unit is not None and timezone.localdate(opened) <= unit.parts_end
        cover = "保内免费" if in_warranty else "已过保修期，按保外价格收费，客户同意"
        options: dict[SolutionType, int]
        if quick:
            options = {SolutionType.REMOTE: 70, SolutionType.KNOWLEDGE: 30}
        elif nature == Nature.HARDWARE:
            options = {
                "field": {SolutionType.ONSITE_REPAIR: 65, SolutionType.PART_REPLACEMENT: 35},
                "tech": {
                    SolutionType.DEPOT_REPAIR: 60,
                    SolutionType.PART_REPLACEMENT: 25,
                    SolutionType.EXCHANGE: 15,
                },
                "desk": {
                    SolutionType.EXCHANGE: 22,
                    SolutionType.RETURN: 12,
                    SolutionType.REFUND: 8,
                    SolutionType.PART_REPLACEMENT: 28,
                    SolutionType.REMOTE: 30,
                },
            }[route]
        elif nature == Nature.SOFTWARE:
            options = {
                "tech": {
                    SolutionType.SOFTWARE_UPDATE: 50,
                    SolutionType.REMOTE: 40,
                    SolutionType.DEPOT_REPAIR: 10,
                },
                "desk": {
                    SolutionType.REMOTE: 45,
                    SolutionType.SOFTWARE_UPDATE: 30,
                    SolutionType.KNOWLEDGE: 25,
                },
            }[route]
        else:
            options = {
                SolutionType.KNOWLEDGE: 45,
                SolutionType.REMOTE: 20,
                SolutionType.ONSITE_REPAIR: 20,
                SolutionType.REFUND: 15,
            }
        kind = _pick(rng, options)
        version = f"V{rng.randint(2, 5)}.{rng.randint(0, 9)}.{rng.randint(10, 99)}"
        notes = {
            SolutionType.ONSITE_REPAIR: (
                f"上门检测为{part}故障，现场更换后试机正常，{cover}。"
                if nature == Nature.HARDWARE
                else "安排另一位师傅重新上门处理并致歉，客户认可。"
            ),
            SolutionType.PART_REPLACEMENT: f"更换{part}，{cover}，试机正常。",
            SolutionType.DEPOT_REPAIR: (
                f"寄修至维修中心，检测为{part}故障，修复后顺丰寄回，{cover}。"
            ),
            SolutionType.EXCHANGE: "检测确认为性能故障，符合三包换货条件，已为客户换新机。",
            SolutionType.RETURN: "客户要求退货，符合三包退货政策，已办理退货退款。",
            SolutionType.REFUND: (
                "按三包政策办理退款。"
                if nature == Nature.HARDWARE
                else f"向客户致歉，退还上门服务费{rng.choice((50, 80, 100))}元并赠送一年延保。"
            ),
            SolutionType.REMOTE: (
                f"远程指导客户{rng.choice(REMOTE_ACTIONS + REMOTE_ACTIONS_BY_LINE[line])}，"
                "问题已解决。"
                if nature != Nature.ATTITUDE
                else "主管回电向客户致歉，说明改进措施，客户表示接受。"
            ),
            SolutionType.SOFTWARE_UPDATE: f"推送固件 {version}，客户升级后恢复正常。",
            SolutionType.KNOWLEDGE: (
                f"按知识库 {rng.choice(KB_ARTICLES)} 指导客户操作，已解决。"
                if nature != Nature.ATTITUDE
                else "已向客户致歉并说明服务规范，相关人员已批评教育，客户接受。"
            ),
        }[kind]
        return str(kind), notes

    # -- the plan -----------------------------------------------------------------------
    def plan(
        self, *, customer: CustomerRef, nature: str, fixed: dict[str, Any] | None = None
    ) -> CasePlan:
        """One case's history for `customer` with final nature `nature`.

        `fixed` pins some choices (unit, subcategory, channel, opened_at, route, stop_after) for
        the documented demo customers.
        """
        rng = self.rng
        fixed = fixed or {}
        staff = self.staff
        unit: UnitRef | None
        if "unit" in fixed:
            unit = fixed["unit"]
        elif nature == Nature.ATTITUDE and rng.random() < 0.3:
            unit = None
        else:
            unit = rng.choice(customer.units)
        line = unit.line if unit else None
        sub = fixed.get("subcategory") or self._subcategory(nature, line)
        channel = fixed.get("channel") or _pick(rng, self.CHANNELS)
        if (
            customer.tier == Tier.VIP
            and channel in (Channel.WEB, Channel.PORTAL)
            and rng.random() < 0.4
        ):
            channel = Channel.PHONE
        urgency_mix = (
            {Urgency.LOW: 4, Urgency.NORMAL: 50, Urgency.HIGH: 40, Urgency.CRITICAL: 6}
            if nature == Nature.ATTITUDE
            else {Urgency.LOW: 12, Urgency.NORMAL: 60, Urgency.HIGH: 22, Urgency.CRITICAL: 6}
        )
        urgency = fixed.get("urgency") or _pick(rng, urgency_mix)
        opened = fixed.get("opened_at") or self._opened_at(channel)
        subject = self._subject(nature, sub, line)
        description = self._description(
            nature=nature, sub=sub, subject=subject, channel=channel, customer=customer, unit=unit
        )

        intake = "vip" if customer.tier == Tier.VIP and rng.random() < 0.55 else customer.desk
        if channel in (Channel.WALK_IN, Channel.ONSITE):
            intake = customer.desk
        intake = fixed.get("intake", intake)
        opener = fixed.get("opener") or staff.pick(rng, intake, DESK_ROLES)
        route = fixed.get("route") or _pick(rng, ROUTE_MIX[nature])
        if "desk_handler" in fixed:
            desk_handler = fixed["desk_handler"]
        elif nature == Nature.ATTITUDE and route == "desk":
            desk_handler = staff.pick(rng, intake, (Role.SENIOR_AGENT,))
        elif rng.random() < 0.55:
            desk_handler = opener
        else:
            desk_handler = staff.pick(rng, intake, DESK_ROLES)
        field_team = FIELD_TEAM_OF_DESK[customer.desk]
        route_team = {
            "field": field_team,
            "tech": "tech",
            "complaints": "complaints",
            "desk": intake,
        }[route]
        handler_roles = {
            "field": (Role.TECHNICIAN,),
            "tech": (Role.TECH_SUPPORT,),
            "complaints": (Role.SENIOR_AGENT,),
            "desk": DESK_ROLES,
        }[route]
        handler = desk_handler if route == "desk" else staff.pick(rng, route_team, handler_roles)
        slow = rng.uniform(3, 7) if rng.random() < 0.07 else 1.0
        reply_channel = (
            channel
            if channel in (Channel.EMAIL, Channel.APP) and rng.random() < 0.5
            else Channel.PHONE
        )

        steps: list[Step] = []

        def add(at: dt.datetime, step: str, actor: str, /, **params: Any) -> dt.datetime:
            steps.append(Step(at, step, actor, params))
            return at

        # Intake (受理): classified during the call most of the time, later for written channels.
        classify_now = (
            channel in (Channel.PHONE, Channel.WALK_IN, Channel.ONSITE) and rng.random() < 0.8
        )
        initial_nature, initial_sub = "", ""
        if classify_now:
            initial_nature, initial_sub = nature, sub
            if nature != Nature.ATTITUDE and rng.random() < 0.08:
                # A first guess the classifier or a colleague later corrects (training data).
                initial_nature = Nature.SOFTWARE if nature == Nature.HARDWARE else Nature.HARDWARE
                initial_sub = self._subcategory(initial_nature, line)
        t = add(
            opened,
            "open",
            opener,
            channel=channel,
            subject=subject,
            description=description,
            nature=initial_nature,
            subcategory=initial_sub,
            urgency=urgency,
            team=intake,
        )
        if (initial_nature, initial_sub) != (nature, sub):
            lo, hi = (2, 30) if classify_now else (5, 360)
            classifier = staff.pick(rng, intake, DESK_ROLES)
            t = add(
                self._after(t, lo, hi),
                "classify",
                classifier,
                nature=nature,
                subcategory=sub,
                urgency=urgency,
            )
        if fixed.get("cancel", rng.random() < 0.012):
            add(
                self._after(t, 20, 600),
                "transition",
                opener,
                action="cancel",
                reason=rng.choice(CANCEL_REASONS),
            )
            return self._finish(customer, unit, steps, fixed)
        t = add(
            self._after(t, 1, 20), "assign", opener, team=intake, assignee=desk_handler, reason=""
        )
        if rng.random() < 0.02:
            add(
                self._after(t, 30, 900),
                "transition",
                opener,
                action="cancel",
                reason=rng.choice(CANCEL_REASONS),
            )
            return self._finish(customer, unit, steps, fixed)
        start_delay = {
            Urgency.CRITICAL: (2, 15),
            Urgency.HIGH: (5, 60),
            Urgency.NORMAL: (10, 180),
            Urgency.LOW: (30, 900),
        }[urgency]
        t = add(self._after(t, *start_delay), "transition", desk_handler, action="start")

        fcr = (
            route == "desk"
            and nature != Nature.ATTITUDE
            and channel in (Channel.PHONE, Channel.WALK_IN)
            and rng.random() < 0.4
            and not fixed.get("no_fcr")
        )
        if fcr:
            kind, notes = self._solution(
                nature=nature, route=route, unit=unit, opened=opened, quick=True
            )
            t = add(
                self._after(t, 5, 40),
                "transition",
                desk_handler,
                action="resolve",
                solution_type=kind,
                solution_notes=notes,
            )
        else:
            t = add(
                self._after(t, 5, 90 * slow),
                "contact",
                desk_handler,
                direction="out",
                channel=reply_channel,
                body=self._first_response(nature, subject, reply_channel),
            )
            if route != "desk":
                lead = staff.lead(intake)
                if rng.random() < 0.15 or (customer.tier == Tier.VIP and rng.random() < 0.2):
                    t = add(
                        self._after(t, 10, 120), "note", lead, body=rng.choice(ESCALATION_NOTES)
                    )
                reason = {
                    "field": f"需上门检修，转{self._team_name(route_team)}",
                    "tech": "需进一步检测，转技术支持组",
                    "complaints": "涉及服务态度投诉，转投诉处理组",
                }[route]
                t = add(
                    self._after(t, 20, 480 * slow),
                    "assign",
                    lead,
                    team=route_team,
                    assignee=handler,
                    reason=reason,
                )
                t = add(self._after(t, 10, 900), "transition", handler, action="start")
                t = add(
                    self._after(t, 5, 90),
                    "contact",
                    handler,
                    direction="out",
                    channel=Channel.PHONE,
                    body=self._handler_contact(route, t, nature),
                )
            if fixed.get("stop_after") == "work":
                return self._finish(customer, unit, steps, fixed)
            waits = rng.random()
            if nature == Nature.HARDWARE and route in ("field", "tech") and waits < 0.35:
                t = add(
                    self._after(t, 30, 240), "transition", handler, action="wait_parts", reason=""
                )
                t = add(
                    self._after(t, 1440, 1440 * 6 * slow),
                    "transition",
                    handler,
                    action="resume",
                    reason="",
                )
            elif waits < 0.12:
                t = add(
                    self._after(t, 30, 360),
                    "transition",
                    handler,
                    action="wait_customer",
                    reason="",
                )
                t = add(
                    self._after(t, 120, 2880 * slow),
                    "contact",
                    handler,
                    direction="in",
                    channel=rng.choice((Channel.PHONE, Channel.APP, Channel.EMAIL)),
                    body=rng.choice(
                        (
                            "客户回电提供了购买发票照片和故障视频。",
                            "客户回复已按指导操作，问题依旧。",
                            "客户确认上门时间。",
                        )
                    ),
                )
                t = add(self._after(t, 5, 60), "transition", handler, action="resume", reason="")
            if rng.random() < 0.2:
                t = add(
                    self._after(t, 120, 1440),
                    "contact",
                    staff.pick(rng, intake, DESK_ROLES),
                    direction="in",
                    channel=Channel.PHONE,
                    body="客户来电询问处理进度，已告知预计完成时间。",
                )
            handling = {
                ("hardware", "field"): (1440, 1440 * 4),
                ("hardware", "tech"): (1440, 1440 * 5),
                ("hardware", "desk"): (240, 1440 * 4),
                ("software", "tech"): (120, 1440 * 2),
                ("software", "desk"): (20, 1440),
                ("attitude", "complaints"): (120, 1440 * 3),
                ("attitude", "desk"): (60, 1440 * 2),
            }[(str(nature), route)]
            kind, notes = self._solution(nature=nature, route=route, unit=unit, opened=opened)
            t = add(
                self._after(t, handling[0], handling[1] * slow),
                "transition",
                handler,
                action="resolve",
                solution_type=kind,
                solution_notes=notes,
            )
        if fixed.get("stop_after") == "resolve":
            return self._finish(customer, unit, steps, fixed)
        # Return visit (回访) by the callback team, then closing; an unsatisfied customer
        # (a low score) has the case reopened and worked again.
        t, outcome = self.callback(t, add, customer)
        if outcome == "reopened":
            t = add(
                self._after(t, 10, 180),
                "contact",
                handler,
                direction="out",
                channel=Channel.PHONE,
                body="回访反馈问题未解决，已重新联系客户，约定再次处理。",
            )
            kind, notes = self._solution(nature=nature, route=route, unit=unit, opened=opened)
            t = add(
                self._after(t, 240, 1440 * 3),
                "transition",
                handler,
                action="resolve",
                solution_type=kind,
                solution_notes=notes,
            )
            t, outcome = self.callback(t, add, customer, unhappy=False)
        if outcome == "closed" and rng.random() < 0.045:
            t = add(
                self._after(t, 1440, 1440 * 10),
                "transition",
                opener,
                action="reopen",
                reason=rng.choice(REOPEN_REASONS),
            )
            t = add(
                self._after(t, 10, 180),
                "contact",
                handler,
                direction="out",
                channel=Channel.PHONE,
                body="已重新联系客户，约定再次处理。",
            )
            kind, notes = self._solution(nature=nature, route=route, unit=unit, opened=opened)
            t = add(
                self._after(t, 240, 1440 * 3),
                "transition",
                handler,
                action="resolve",
                solution_type=kind,
                solution_notes=notes,
            )
            self.callback(t, add, customer, unhappy=False)
        return self._finish(customer, unit, steps, fixed)

    def callback(
        self,
        t: dt.datetime,
        add: Callable[..., dt.datetime],
        customer: CustomerRef,
        *,
        unhappy: bool = True,
    ) -> tuple[dt.datetime, str]:
        """Plan the return visit (回访) after a resolution at `t`: one "callback" step.

        The step holds the call attempts, the survey answers and maybe a recommendation; it is
        replayed through the return-visit services where the rules scheduled a visit, else as
        the contacts and the closing they stand for (`callback_substeps`). Returns the step's
        last moment and its outcome: "closed", "reopened" (a score of 2 or less, only when
        `unhappy`) or "unreachable" (nobody answered three calls; the case stays resolved).
        """
        rng = self.rng
        agent = self.staff.pick(rng, "callback", (Role.CALLBACK_AGENT,))
        # The default rules make visits due a day after the resolution for VIP customers (and
        # complaints), two days for the sample of the rest; the team calls once they are due.
        if customer.tier == Tier.VIP:
            t = self._after(t, 1440, 1440 * 3)
        else:
            t = self._after(t, 2880, 1440 * 4)
        if rng.random() > 0.96:
            attempts = [(t, "no_answer")]
            for _ in range(2):
                t = self._after(t, 300, 1500)
                attempts.append((t, "no_answer"))
            add(t, "callback", agent, attempts=attempts, outcome="unreachable")
            return t, "unreachable"
        attempts = []
        if rng.random() < 0.1:
            attempts.append((t, "no_answer"))
            t = self._after(t, 1440, 1500)
        attempts.append((t, "reached"))
        answers = survey_answers(rng, customer.tier, unhappy=unhappy)
        outcome = "reopened" if answers["csat"] <= UNSATISFIED_CSAT else "closed"
        recommend = None
        if outcome == "closed" and rng.random() < 0.3:
            recommend = _pick(rng, RECOMMENDATION_OUTCOMES)
        end = self._after(t, 3, 12)
        add(
            end,
            "callback",
            agent,
            attempts=attempts,
            outcome=outcome,
            answers=answers,
            recommend=recommend,
            reason=rng.choice(UNSOLVED_REASONS) if outcome == "reopened" else "",
        )
        return end, outcome

    def _finish(
        self, customer: CustomerRef, unit: UnitRef | None, steps: list[Step], fixed: dict[str, Any]
    ) -> CasePlan:
        # History cannot be in the future: what would happen later has not happened yet.
        cutoff = self.now - dt.timedelta(minutes=1)
        kept = [s for s in steps if s.at <= cutoff]
        # Every case carries its final nature (the reference shares are exact): a recent case
        # whose classification would come later is classified before now instead.
        planned, got = _steps_nature(steps), _steps_nature(kept)
        if planned != got:
            classify = next(s for s in reversed(steps) if s.action == "classify")
            moment = kept[-1].at + (cutoff - kept[-1].at) / 2
            kept.append(Step(moment, "classify", classify.actor, classify.params))
        return CasePlan(customer=customer, unit=unit, steps=kept)

    def _first_response(self, nature: str, subject: str, channel: str) -> str:
        rng = self.rng
        if channel != Channel.PHONE:
            written: dict[str, tuple[str, ...]] = {
                Nature.HARDWARE: (
                    "已回复客户，请提供购买凭证和故障照片或视频，以便安排维修。",
                    f"已回复客户确认故障（{subject}），说明保修政策和报修流程。",
                ),
                Nature.SOFTWARE: (
                    "已回复客户排查步骤：更新App、重启设备、重新配网，请客户反馈结果。",
                    "已回复客户，请提供App版本号和手机型号，正在排查。",
                ),
                Nature.ATTITUDE: (
                    "已回复客户致歉，说明将在24小时内给出处理方案。",
                    "已回复客户，投诉已受理，专人跟进。",
                ),
            }
            return rng.choice(written[nature])
        if nature == Nature.HARDWARE:
            return rng.choice(
                (
                    f"已联系客户确认故障现象（{subject}），指导断电重启无效，已登记报修。",
                    "已致电客户核对购买信息和保修状态，请客户提供故障照片。",
                )
            )
        if nature == Nature.SOFTWARE:
            return rng.choice(
                (
                    "已联系客户，远程查看设备状态，指导重新配网后观察。",
                    "已回复客户，收集App版本和设备日志，正在排查。",
                )
            )
        return rng.choice(
            (
                "已致电客户致歉，了解事情经过，承诺24小时内给出处理方案。",
                "已联系客户安抚情绪，记录投诉要点并上报。",
            )
        )

    def _handler_contact(self, route: str, at: dt.datetime, nature: str) -> str:
        rng = self.rng
        if route == "field":
            day = timezone.localdate(at) + dt.timedelta(days=rng.randint(0, 2))
            return f"已与客户预约{day.month}月{day.day}日{rng.choice(SLOTS)}上门检修。"
        if route == "tech" and nature == Nature.SOFTWARE:
            return rng.choice(
                (
                    "已与客户远程连线，收集设备日志和App日志，正在分析。",
                    "已电话联系客户复现问题，准备推送测试版固件。",
                )
            )
        if route == "tech":
            return rng.choice(
                (
                    f"已联系客户寄修，提供顺丰寄修单号 SF{rng.randrange(10**11, 10**12)}。",
                    "已远程收集设备日志，正在分析。",
                )
            )
        return "已回电客户，核实投诉经过，调取通话录音和上门记录。"

    @staticmethod
    def _team_name(code: str) -> str:
        return next(t.name for t in TEAMS if t.code == code)


def survey_answers(rng: random.Random, tier: str, *, unhappy: bool = True) -> dict[str, Any]:
    """A phone survey's answers from a customer of `tier` (`CSAT_MIX`, `REPURCHASE_YES`);
    never unsatisfied (a score of 2 or less) unless `unhappy`."""
    mix = CSAT_MIX[tier]
    if not unhappy:
        mix = {k: w for k, w in mix.items() if k > UNSATISFIED_CSAT}
    csat = _pick(rng, mix)
    if csat == 5:
        nps = rng.choices((7, 8, 9, 10), weights=(3, 10, 30, 57))[0]
    elif csat == 4:
        nps = rng.randint(6, 9)
    elif csat == 3:
        nps = rng.randint(4, 7)
    else:
        nps = rng.randint(0, 4)
    # Only satisfied customers would buy again: scaled so the tier's share comes out right.
    high = sum(w for k, w in CSAT_MIX[tier].items() if k >= 4) / sum(CSAT_MIX[tier].values())
    if csat >= 4 and rng.random() < REPURCHASE_YES[tier] / high:
        repurchase = "yes"
    else:
        repurchase = "maybe" if rng.random() < (0.7 if csat >= 3 else 0.3) else "no"
    effective = rng.random() < {5: 0.96, 4: 0.9, 3: 0.6}.get(csat, 0.2)
    attitude = max(2, min(5, csat + rng.choice((0, 0, 0, 1) if csat < 5 else (0, 0, 0, -1))))
    comment = ""
    if rng.random() < 0.35:
        band = "high" if csat >= 4 else "mid" if csat == 3 else "low"
        comment = rng.choice(SURVEY_COMMENTS[band])
    return {
        "csat": csat,
        "nps": nps,
        "repurchase": repurchase,
        "communication_effective": effective,
        "attitude": attitude,
        "comment": comment,
    }


def callback_substeps(step: Step) -> list[Step]:
    """What a "callback" step is where no return visit was scheduled: the agent's calls as
    contacts, then closing the case (or reopening it for an unsatisfied customer)."""
    p = step.params
    if p["outcome"] == "unreachable":
        return []
    csat = p["answers"]["csat"]
    subs = []
    for at, result in p["attempts"]:
        if result == "no_answer":
            body = "回访未接通，次日再次回访。"
        elif p["outcome"] == "closed":
            body = f"回访：客户确认问题已解决，满意度{csat}分。"
        else:
            body = f"回访：客户反馈问题仍未解决，满意度{csat}分。"
        params = {"direction": "out", "channel": Channel.PHONE, "body": body}
        subs.append(Step(at, "contact", step.actor, params))
    action = "close" if p["outcome"] == "closed" else "reopen"
    subs.append(Step(step.at, "transition", step.actor, {"action": action, "reason": p["reason"]}))
    return subs


def case_plans(
    rng: random.Random,
    now: dt.datetime,
    customers: Sequence[CustomerRef],
    count: int,
    *,
    window_days: int = WINDOW_DAYS,
) -> list[CasePlan]:
    """`count` case plans with exact nature and VIP shares, oldest first.

    VIP customers get 62% of the cases; within a tier some customers call much more often than
    others (a heavy-tailed weight per customer). The documented demo customers get fixed cases.
    """
    planner = CasePlanner(rng, now, window_days)
    natures = _exact_counts(count, NATURE_SHARES)
    vip_cases = round(count * VIP_CASE_SHARE)
    plans: list[CasePlan] = []
    demo = {c.demo: c for c in customers if c.demo}
    if "caller" in demo and count >= 20:
        plans += _demo_caller_cases(planner, demo["caller"], now)
    if "company" in demo and count >= 20:
        plans += _demo_company_cases(planner, demo["company"], now)
    for p in plans:
        natures[_plan_nature(p)] -= 1
    vip_cases -= sum(1 for p in plans if p.customer.tier == Tier.VIP)
    nature_pool = [n for n, k in natures.items() for _ in range(k)]
    rng.shuffle(nature_pool)
    tier_pool = [True] * vip_cases + [False] * (len(nature_pool) - vip_cases)
    rng.shuffle(tier_pool)
    vips = [c for c in customers if c.tier == Tier.VIP and not c.demo]
    others = [c for c in customers if c.tier != Tier.VIP and not c.demo]
    # Cumulative weights: one draw is a bisection, not a pass over 70,000 customers. Heavy
    # buyers nearly all use the service (a lighter tail among VIPs leaves few of them without a
    # case), so the computed tiers find the same 28% / 62% split the department reports.
    vip_weights = list(itertools.accumulate(rng.paretovariate(3.0) for _ in vips))
    other_weights = list(
        itertools.accumulate(
            rng.paretovariate(2.2) * (0.6 if c.tier == Tier.LOW else 1.0) for c in others
        )
    )
    for nature, is_vip in zip(nature_pool, tier_pool, strict=True):
        pool, weights = (vips, vip_weights) if is_vip else (others, other_weights)
        customer = rng.choices(pool, cum_weights=weights)[0]
        plans.append(planner.plan(customer=customer, nature=nature))
    plans.sort(key=lambda p: p.opened_at)
    return plans


def _steps_nature(steps: Iterable[Step]) -> tuple[str, str]:
    """The (nature, subcategory) a case has after `steps`."""
    found = ("", "")
    for step in steps:
        if step.action in ("open", "classify") and step.params.get("nature"):
            found = (step.params["nature"], step.params["subcategory"])
    return found


def _plan_nature(plan: CasePlan) -> str:
    return _steps_nature(plan.steps)[0]


def _demo_caller_cases(
    planner: CasePlanner, caller: CustomerRef, now: dt.datetime
) -> list[CasePlan]:
    """李明's history: a closed watch repair out of warranty, a fixed fridge app problem, and
    a fridge that stopped cooling this morning, open in agent's queue."""
    watch = next(u for u in caller.units if u.line == "watch")
    fridge = next(u for u in caller.units if u.line == "fridge")
    today = timezone.localdate(now)
    # This morning if the desk has been open a while, else yesterday afternoon.
    recent = _at(today, 9, 12)
    if recent > now - dt.timedelta(hours=3):
        recent = _at(today - dt.timedelta(days=1), 15, 38)
    return [
        planner.plan(
            customer=caller,
            nature=Nature.HARDWARE,
            fixed={
                "unit": watch,
                "subcategory": "battery",
                "channel": Channel.PHONE,
                "opened_at": _at(today - dt.timedelta(days=45), 10, 24),
                "route": "tech",
                "intake": "desk-sz",
                "urgency": Urgency.NORMAL,
                "cancel": False,
            },
        ),
        planner.plan(
            customer=caller,
            nature=Nature.SOFTWARE,
            fixed={
                "unit": fridge,
                "subcategory": "connectivity",
                "channel": Channel.APP,
                "opened_at": _at(today - dt.timedelta(days=12), 20, 41),
                "route": "desk",
                "intake": "desk-sz",
                "urgency": Urgency.NORMAL,
                "cancel": False,
                "stop_after": "resolve",
            },
        ),
        planner.plan(
            customer=caller,
            nature=Nature.HARDWARE,
            fixed={
                "unit": fridge,
                "subcategory": "cooling",
                "channel": Channel.PHONE,
                "opened_at": recent,
                "route": "desk",
                "opener": "agent",
                "desk_handler": "agent",
                "intake": "desk-sz",
                "urgency": Urgency.HIGH,
                "cancel": False,
                "no_fcr": True,
                "stop_after": "work",
            },
        ),
    ]


def _demo_company_cases(
    planner: CasePlanner, company: CustomerRef, now: dt.datetime
) -> list[CasePlan]:
    """The company account's air conditioners: one repaired last month, one waiting for a visit."""
    today = timezone.localdate(now)
    ac = [u for u in company.units if u.line == "aircon"]
    return [
        planner.plan(
            customer=company,
            nature=Nature.HARDWARE,
            fixed={
                "unit": ac[0],
                "subcategory": "cooling",
                "channel": Channel.PHONE,
                "opened_at": _at(today - dt.timedelta(days=33), 14, 5),
                "route": "field",
                "intake": "desk-sz",
                "urgency": Urgency.HIGH,
                "cancel": False,
            },
        ),
        planner.plan(
            customer=company,
            nature=Nature.HARDWARE,
            fixed={
                "unit": ac[1],
                "subcategory": "leak",
                "channel": Channel.EMAIL,
                "opened_at": _at(today - dt.timedelta(days=2), 16, 47),
                "route": "field",
                "intake": "desk-sz",
                "urgency": Urgency.NORMAL,
                "cancel": False,
                "stop_after": "work",
            },
        ),
    ]


# --------------------------------------------------------------------------------------------
# Complaint plans (投诉): raised, evaluated, reviewed, compensated, answered, closed
# --------------------------------------------------------------------------------------------

# "2,000+ complaints in half a year": product usage 45%, service attitude 30%, slow response 25%;
# 15% of the errors came from poor internal communication (PRODUCT.md). The demo keeps about
# 60 in its two months, so every page has something to show without drowning the cases.
BASE_COMPLAINTS = 60
COMPLAINT_SHARES: dict[str, float] = {
    ComplaintNature.PRODUCT_USAGE: 0.45,
    ComplaintNature.SERVICE_ATTITUDE: 0.30,
    ComplaintNature.SLOW_RESPONSE: 0.25,
}
COMMUNICATION_ERROR_SHARE = 0.15
VIP_COMPLAINT_SHARE = 0.25
# The complaints still open at the end, newest first (the rest are closed).
OPEN_FATES = (
    "received",
    "awaiting_review",
    "in_review",
    "answered",
    "handling",
    "answered",
    "replacement_open",
    "answered",
    "reopened",
)
# How many days ago the open ones came in, by what they wait for.
OPEN_RECEIVED_DAYS_AGO: dict[str, tuple[float, float]] = {
    "received": (0.02, 0.04),
    "awaiting_review": (0.8, 1.5),
    "in_review": (1, 2),
    "handling": (1.5, 2.5),
    "answered": (3, 6),
    "replacement_open": (4, 5),
    "reopened": (8, 12),
}
# fmt: off
COMPLAINT_SUBJECTS: dict[str, tuple[str, ...]] = {
    ComplaintNature.PRODUCT_USAGE: (
        "{product}实际功能与宣传不符", "{product}操作复杂，多次咨询仍无法正常使用",
        "说明书不清导致{product}使用中损坏", "{product}智能功能无法按说明使用",
    ),
    ComplaintNature.SERVICE_ATTITUDE: (
        "投诉客服态度恶劣、多次推诿", "投诉上门师傅态度差、服务不规范",
        "投诉网点人员拒绝受理且态度生硬", "投诉客服承诺回电却无人跟进",
    ),
    ComplaintNature.SLOW_RESPONSE: (
        "报修多日仍无人上门", "{product}维修进度缓慢，多次催促无果",
        "等待配件时间过长，无人告知进度", "承诺的处理时限已过仍无结果",
    ),
}
COMPLAINT_DETAILS: dict[str, tuple[str, ...]] = {
    ComplaintNature.PRODUCT_USAGE: (
        "客户按说明书操作仍无法使用，认为产品宣传误导，要求给说法。",
        "客户多次来电咨询，每次得到的答复不一致，情绪激动。",
        "客户表示因说明不清误操作导致故障，要求免费维修。",
    ),
    ComplaintNature.SERVICE_ATTITUDE: (
        "客户反映通话中被多次打断，对方语气不耐烦，要求道歉。",
        "客户反映上门人员迟到且态度差，未清理现场，要求处理相关人员。",
        "客户反映多次转接无人负责，要求主管回电。",
    ),
    ComplaintNature.SLOW_RESPONSE: (
        "客户报修后等待多日，期间无人联系，要求尽快处理并给予补偿。",
        "客户反映配件一直未到，多次催促均称在途，要求明确时间。",
        "客户表示承诺的回电和上门时间均未兑现，要求升级处理。",
    ),
}
COMPLAINT_REPLIES = (
    "已致电客户致歉，记录投诉要点，承诺24小时内给出处理方案。",
    "已联系客户安抚情绪，说明投诉已受理，由专人跟进。",
)
PRELIMINARY_SOLUTIONS: dict[str, tuple[str, ...]] = {
    ComplaintNature.PRODUCT_USAGE: (
        "安排技术专员电话一对一指导使用，并寄送图文操作指引。",
        "安排工程师上门检测并现场演示正确使用方法。",
    ),
    ComplaintNature.SERVICE_ATTITUDE: (
        "由组长向客户致歉，涉事人员停岗培训，改派资深人员跟进。",
        "主管回电致歉，核实通话录音后给出处理结果。",
    ),
    ComplaintNature.SLOW_RESPONSE: (
        "已加急调配配件，安排48小时内上门处理，每日告知进度。",
        "改派就近网点师傅优先上门，专人跟进直至解决。",
    ),
}
ANSWER_MESSAGES: dict[str, tuple[str, ...]] = {
    ComplaintNature.PRODUCT_USAGE: (
        "经核实，我们已安排专人为您指导使用，并将完善产品说明。",
        "经检测，产品功能正常，我们已为您详细说明使用方法，并补充了操作指引。",
    ),
    ComplaintNature.SERVICE_ATTITUDE: (
        "经调查核实，相关人员的服务确有不当，已进行批评教育和培训，再次向您致歉。",
        "我们已调取录音核实情况，对服务不周向您诚挚致歉，并已加强服务规范培训。",
    ),
    ComplaintNature.SLOW_RESPONSE: (
        "因配件调度延误造成等待过久，我们深表歉意，已优化配件调拨流程。",
        "经核实，工单派发环节衔接不畅导致响应延迟，已整改并向您致歉。",
    ),
}
REVIEW_FINDINGS: dict[str, tuple[str, ...]] = {
    ComplaintNature.PRODUCT_USAGE: (
        "调阅通话记录与说明书，产品说明存在歧义，客户误操作有合理原因。",
        "检测报告显示产品正常，问题源于使用说明不够清晰。",
    ),
    ComplaintNature.SERVICE_ATTITUDE: (
        "调取录音核实，服务人员用语不规范，存在推诿情况。",
        "核实上门记录，服务人员迟到且未按规范清理现场。",
    ),
    ComplaintNature.SLOW_RESPONSE: (
        "工单在转派环节停留超过48小时，部门间交接信息缺失。",
        "配件调拨延误，且未按规定向客户同步进度。",
    ),
}
REVIEW_RECOMMENDATIONS = (
    "向客户书面致歉，给予适当补偿，并对流程进行整改。",
    "维持一线处理意见，补充对客户的解释说明。",
    "对相关人员进行培训，优化交接流程，按补偿标准处理。",
)
RESPONSIBILITY: dict[str, dict[str, int]] = {
    ComplaintNature.PRODUCT_USAGE: {"product": 45, "customer": 35, "service": 20},
    ComplaintNature.SERVICE_ATTITUDE: {"service": 85, "third_party": 15},
    ComplaintNature.SLOW_RESPONSE: {"service": 60, "third_party": 25, "product": 15},
}
ROOT_CAUSES: dict[str, dict[str, int]] = {
    ComplaintNature.PRODUCT_USAGE: {
        RootCause.DESIGN_OR_DOCUMENTATION: 35, RootCause.CUSTOMER_EXPECTATION: 35,
        RootCause.PRODUCT_DEFECT: 20, RootCause.OTHER: 10,
    },
    ComplaintNature.SERVICE_ATTITUDE: {
        RootCause.STAFF_CONDUCT: 60, RootCause.SERVICE_PROCESS: 30,
        RootCause.CUSTOMER_EXPECTATION: 10,
    },
    ComplaintNature.SLOW_RESPONSE: {
        RootCause.SERVICE_PROCESS: 45, RootCause.LOGISTICS: 35, RootCause.THIRD_PARTY: 20,
    },
}
COMPLAINT_REOPEN_REASONS = ("客户不认可答复，认为处理不到位，要求重新处理",
                            "客户表示问题仍未解决，对答复不满意")
SEVERITY_MIX = {Severity.MINOR: 25, Severity.MODERATE: 52, Severity.MAJOR: 20,
                Severity.CRITICAL: 3}
# fmt: on
COMPLAINT_CHANNELS = {Channel.PHONE: 60, Channel.WALK_IN: 8, Channel.APP: 17, Channel.EMAIL: 15}
# Who handles a complaint: the VIP desk keeps its customers', the complaints desk the others'.
VIP_HANDLERS = ("senior", "vip.tanglin", "vip.fengkai")
DESK_HANDLERS = ("cp.songhua", "cp.yaoqian")


@dataclass(slots=True)
class ComplaintPlan:
    """One complaint's history. Step actors are usernames, or "@handler" (whoever holds the
    complaint's case), "@colleague" (another agent of its team) and "@lead" (the team's lead),
    which only the replay can name: a complaint that arrives in writing is routed."""

    customer: CustomerRef
    unit: UnitRef | None
    related: int | None  # index of the case plan it is raised from
    fate: (
        str  # "closed", "reopened_closed", or what it waits for (`OPEN_FATES`, "manager_approval")
    )
    steps: list[Step] = field(default_factory=list)


def _unit_price(unit: UnitRef) -> int:
    return MODEL_BY_CODE[unit.model_label.split()[0]].price


def _cheap_unit(unit: UnitRef) -> bool:
    return _unit_price(unit) <= 1900


def _dear_unit(unit: UnitRef) -> bool:
    return _unit_price(unit) >= 1800


class ComplaintPlanner:
    """Plans complaint histories over the same two months as the cases."""

    def __init__(
        self,
        rng: random.Random,
        now: dt.datetime,
        plans: Sequence[CasePlan],
        customers: Sequence[CustomerRef],
    ) -> None:
        self.rng = rng
        self.now = now
        self.plans = plans
        self.customers = [c for c in customers if not c.demo]
        self.time = CasePlanner(rng, now)  # its clock helpers, on this stream
        self.used: set[int] = set()

    def _after(self, t: dt.datetime, lo: float, hi: float) -> dt.datetime:
        return self.time._after(t, lo, hi)

    def _moment(self, lo_days: float, hi_days: float) -> dt.datetime:
        """A working-hours moment between `hi_days` and `lo_days` ago."""
        ago = dt.timedelta(days=self.rng.uniform(lo_days, hi_days))
        moment = self.time._work(self.now - ago)
        return min(moment, self.now - dt.timedelta(minutes=30))

    def _related(self, vip: bool, nature: str, received: dt.datetime) -> int | None:
        """A case of the right kind opened in the 20 days before `received`, not yet used."""
        wanted: set[str] = (
            {Nature.ATTITUDE}
            if nature == ComplaintNature.SERVICE_ATTITUDE
            else {Nature.HARDWARE, Nature.SOFTWARE}
        )
        earliest = received - dt.timedelta(days=20)
        candidates = [
            i
            for i, p in enumerate(self.plans)
            if i not in self.used
            and not p.customer.demo
            and (p.customer.tier == Tier.VIP) == vip
            and earliest <= p.opened_at <= received - dt.timedelta(hours=2)
            and _plan_nature(p) in wanted
        ]
        return self.rng.choice(candidates) if candidates else None

    def plan(
        self,
        *,
        nature: str,
        fate: str,
        received: dt.datetime,
        communication: bool = False,
        level: str = "",
    ) -> ComplaintPlan:
        """One complaint of `nature` received at `received`, as far as its `fate` goes;
        `communication`: a closed one's root cause involved poor internal communication;
        `level`: compensation approved at that level ("agent", "supervisor", "manager")."""
        rng = self.rng
        vip = fate == "awaiting_review" or rng.random() < VIP_COMPLAINT_SHARE
        related = self._related(vip, nature, received) if rng.random() < 0.55 else None
        concerns_user: str | None = None
        concerns_team: str | None = None
        if related is not None:
            self.used.add(related)
            case_plan = self.plans[related]
            customer, unit = case_plan.customer, case_plan.unit
            assigns = [s for s in case_plan.steps if s.action == "assign"]
            if assigns and nature != ComplaintNature.PRODUCT_USAGE:
                concerns_team = assigns[-1].params["team"]
                if nature == ComplaintNature.SERVICE_ATTITUDE:
                    concerns_user = assigns[-1].params["assignee"]
        else:
            pool = [c for c in self.customers if (c.tier == Tier.VIP) == vip]
            customer = rng.choice(pool or self.customers)
            unit = rng.choice(customer.units) if customer.units else None
            if nature != ComplaintNature.PRODUCT_USAGE:
                concerns_team = FIELD_TEAM_OF_DESK[customer.desk]
        # A replacement the supervisor may approve needs a unit under ¥2,000; one that goes
        # up to the manager, a dearer one.
        fits: Callable[[UnitRef], bool] | None = None
        if fate == "replacement_open":
            fits = _cheap_unit
        elif level == "manager":
            fits = _dear_unit
        if fits is not None and (unit is None or not fits(unit)):
            owners = [
                c for c in self.customers if c.tier != Tier.VIP and any(fits(u) for u in c.units)
            ]
            customer = rng.choice(owners)
            unit = next(u for u in customer.units if fits(u))
            related, concerns_user, concerns_team = None, None, None
        if fate == "awaiting_review":
            # About the VIP desk itself: its reviewer colleague on that desk may not review it.
            concerns_team, concerns_user = "vip", "vip.fengkai"
        is_vip = customer.tier == Tier.VIP
        handlers = [h for h in (VIP_HANDLERS if is_vip else DESK_HANDLERS) if h != concerns_user]
        handler = rng.choice(handlers)
        severity = _pick(rng, SEVERITY_MIX)
        if fate in ("awaiting_review", "in_review"):
            severity = Severity.MAJOR  # reviewed whatever tier the customer has today
        media = rng.random() < 0.03
        product = LINE_BY_CODE[unit.line].name_zh if unit else "产品"
        subject = rng.choice(COMPLAINT_SUBJECTS[nature]).format(product=product)
        channel = _pick(rng, COMPLAINT_CHANNELS)
        if fate == "received":
            channel = Channel.APP  # routed by the rules, waiting for its evaluation
        elif fate == "awaiting_review":
            channel = Channel.PHONE  # taken by the agent on the line, not routed
        # Some customers name what they paid: a refund of the unit's price is what is at stake.
        amount = None
        if unit is not None and nature == ComplaintNature.PRODUCT_USAGE and rng.random() < 0.15:
            amount = f"{_unit_price(unit)}.00"
        plan = ComplaintPlan(customer=customer, unit=unit, related=related, fate=fate)
        add = self._adder(plan)
        raise_params = {
            "channel": channel,
            "subject": subject,
            "description": rng.choice(COMPLAINT_DETAILS[nature]),
            "nature": nature,
            "severity": severity,
            "concerns_user": concerns_user,
            "concerns_team": concerns_team,
            "amount": amount,
            "media": media,
        }
        t = add(received, "raise", handler, **raise_params)
        if fate == "received":
            return plan
        t = add(self._after(t, 5, 40), "evaluate", "@handler", **raise_params)
        t = add(self._after(t, 1, 10), "handle", "@handler")
        late = rng.random() < 0.1
        t = add(
            self._after(t, 60, 180) if late else self._after(t, 3, 45),
            "reply",
            "@handler",
            body=rng.choice(COMPLAINT_REPLIES),
        )
        t = add(
            self._after(t, 1440, 2000) if late else self._after(t, 90, 1200),
            "prelim",
            "@handler",
            body=rng.choice(PRELIMINARY_SOLUTIONS[nature]),
        )
        if fate in ("awaiting_review", "handling"):
            return plan
        # The review group's part, replayed where the review policy asked for one.
        reviewer = "rv.hanmei" if fate == "in_review" or rng.random() < 0.35 else "reviewer"
        t = add(self._after(t, 30, 240), "claim", reviewer)
        if fate == "in_review":
            return plan
        t = add(
            self._after(t, 120, 1440),
            "review",
            reviewer,
            findings=rng.choice(REVIEW_FINDINGS[nature]),
            responsibility=_pick(rng, RESPONSIBILITY[nature]),
            recommendation=rng.choice(REVIEW_RECOMMENDATIONS),
        )
        if fate == "replacement_open":
            level = "supervisor_replacement"
        elif not level and fate == "closed" and rng.random() < 0.25:
            level = _pick(rng, {"agent": 50, "supervisor": 35, "manager": 15})
        if level:
            t = self._compensation(plan, add, t, level)
        solution = "compensation" if level else "explanation"
        t = add(
            self._after(t, 60, 1440),
            "answer",
            "@handler",
            message=rng.choice(ANSWER_MESSAGES[nature]),
            solution_type=solution,
        )
        if fate in ("answered", "replacement_open"):
            return plan
        if fate in ("reopened", "reopened_closed") or (fate == "closed" and rng.random() < 0.04):
            t = add(
                self._after(t, 1440, 1440 * 3),
                "reopen",
                "@handler",
                reason=rng.choice(COMPLAINT_REOPEN_REASONS),
            )
            if fate == "reopened":
                return plan
            # The customer accepts a voucher the second time.
            t = self._compensation(plan, add, t, "agent")
            t = add(
                self._after(t, 60, 1440),
                "answer",
                "@handler",
                message=rng.choice(ANSWER_MESSAGES[nature]),
                solution_type="compensation",
            )
        root = _pick(rng, ROOT_CAUSES[nature])
        if communication and rng.random() < 0.6:
            root = RootCause.INTERNAL_COMMUNICATION
        t = add(
            self._after(t, 600, 2880),
            "close",
            "@handler",
            root_cause=str(root),
            communication_error=communication,
        )
        # Every complaint gets its return visit; by then the customer is rarely unhappy.
        self.time.callback(t, add, customer, unhappy=False)
        return plan

    def _adder(self, plan: ComplaintPlan) -> Callable[..., dt.datetime]:
        def add(at: dt.datetime, action: str, actor: str, /, **params: Any) -> dt.datetime:
            plan.steps.append(Step(at, action, actor, params))
            return at

        return add

    def _compensation(
        self, plan: ComplaintPlan, add: Callable[..., dt.datetime], t: dt.datetime, level: str
    ) -> dt.datetime:
        """Propose, decide along the approval chain, and carry out the follow-up actions."""
        rng = self.rng
        unit = plan.unit
        price = Decimal(_unit_price(unit)) if unit else None
        lines: list[dict[str, Any]]
        if level == "agent" or price is None:
            lines = [{"kind": "voucher", "amount": str(rng.choice((50, 100, 150, 200)))}]
            chain = [("@colleague", "approve")]
        elif level == "supervisor_replacement":
            lines = [{"kind": "replacement", "amount": str(price), "unit": True}]
            chain = [("@lead", "approve")]
        elif level == "supervisor":
            option = _pick(rng, {"refund": 40, "repair": 35, "warranty": 25})
            if option == "refund":
                lines = [{"kind": "refund_partial", "amount": str(rng.randrange(200, 1500, 10))}]
            elif option == "repair":
                lines = [
                    {"kind": "free_repair", "amount": str(rng.randrange(150, 400, 10))},
                    {"kind": "voucher", "amount": "100"},
                ]
            else:
                lines = [
                    {
                        "kind": "extended_warranty",
                        "amount": str(rng.choice((199, 299, 399))),
                        "unit": True,
                        "months": 12,
                    }
                ]
            chain = [("@lead", "approve")]
        else:
            refund = rng.randrange(300, 900, 50)
            lines = [
                {"kind": "replacement", "amount": str(price), "unit": True},
                {"kind": "refund_partial", "amount": str(refund)},
            ]
            if price + refund <= 2000:
                chain = [("@lead", "approve")]
            else:
                chain = [("@lead", "forward"), ("manager", "approve")]
        t = add(
            self._after(t, 30, 600),
            "propose",
            "@handler",
            lines=lines,
            reason="按补偿标准向客户提出补偿方案",
        )
        for approver, decision in chain:
            t = add(
                self._after(t, 30, 1200),
                "decide",
                approver,
                decision=decision,
                note="同意" if decision == "approve" else "超出本级权限，同意并报经理审批",
                pick=rng.randrange(1000),
            )
        if level != "supervisor_replacement":
            t = add(
                self._after(t, 240, 1440 * 4), "actions_done", "@handler", seq=rng.randrange(10**8)
            )
        return t


def complaint_plans(
    rng: random.Random,
    now: dt.datetime,
    plans: Sequence[CasePlan],
    customers: Sequence[CustomerRef],
    count: int,
) -> list[ComplaintPlan]:
    """`count` complaint plans with the department's nature mix, oldest first.

    The newest ones stay open in different states (`OPEN_FATES`); with the demo customers
    present, the company account's slow-response complaint waits for the manager's approval.
    """
    planner = ComplaintPlanner(rng, now, plans, customers)
    natures = _exact_counts(count, COMPLAINT_SHARES)
    result: list[ComplaintPlan] = []
    company = next((c for c in customers if c.demo == "company"), None)
    if company is not None and count >= 20:
        result.append(_manager_approval_complaint(planner, company, plans, now))
        natures[ComplaintNature.SLOW_RESPONSE] -= 1
    pool = [n for n, k in natures.items() for _ in range(k)]
    rng.shuffle(pool)
    open_fates = list(OPEN_FATES[: max(0, len(pool) - 1)]) if count >= 20 else []
    # Exactly 15% of the closed complaints trace back to poor internal communication.
    closed = len(pool) - len(open_fates)
    flags = [i < round(closed * COMMUNICATION_ERROR_SHARE) for i in range(closed)]
    rng.shuffle(flags)
    for i, nature in enumerate(pool):
        if i < len(open_fates):
            fate = open_fates[i]
            received = planner._moment(*OPEN_RECEIVED_DAYS_AGO[fate])
            communication, level = False, ""
        else:
            # The first closed one was reopened once before it closed; the second had a
            # compensation the manager approved.
            first = i == len(open_fates)
            fate = "reopened_closed" if first else "closed"
            received = planner._moment(25 if first else 12, WINDOW_DAYS - 1)
            communication = flags.pop()
            level = "manager" if i == len(open_fates) + 1 else ""
        result.append(
            planner.plan(
                nature=nature,
                fate=fate,
                received=received,
                communication=communication,
                level=level,
            )
        )
    cutoff = now - dt.timedelta(minutes=1)
    for p in result:
        p.steps = [s for s in p.steps if s.at <= cutoff]
    result.sort(key=lambda p: p.steps[0].at)
    return result


def _manager_approval_complaint(
    planner: ComplaintPlanner, company: CustomerRef, plans: Sequence[CasePlan], now: dt.datetime
) -> ComplaintPlan:
    """The issue's must-show: the VIP company's slow-response complaint about its air
    conditioner still waiting for a visit, reviewed, with a replacement plus partial refund
    above the supervisor's limit waiting for the manager (Shenzhen desk: supervisor's scope)."""
    still_open = [
        i
        for i, p in enumerate(plans)
        if p.customer.pk == company.pk
        and not any(s.action == "transition" and s.params["action"] == "resolve" for s in p.steps)
    ]
    related = still_open[-1] if still_open else None
    unit = plans[related].unit if related is not None else company.units[0]
    yesterday = timezone.localdate(now) - dt.timedelta(days=1)
    t0 = _at(yesterday, 10, 5)
    plan = ComplaintPlan(customer=company, unit=unit, related=related, fate="manager_approval")
    add = planner._adder(plan)
    raise_params = {
        "channel": Channel.PHONE,
        "subject": "空调漏水报修两天仍无人上门，投诉响应太慢",
        "description": "企业客户行政部王芳来电投诉：会议室空调漏水，报修两天无人上门处理，"
        "影响正常办公，要求更换新机并给予补偿。",
        "nature": ComplaintNature.SLOW_RESPONSE,
        "severity": Severity.MAJOR,
        "concerns_user": None,
        "concerns_team": "field-south",
        "amount": "8599.00",
        "media": False,
    }
    add(t0, "raise", "agent", **raise_params)
    add(t0 + dt.timedelta(minutes=12), "evaluate", "@handler", **raise_params)
    add(t0 + dt.timedelta(minutes=15), "handle", "@handler")
    add(t0 + dt.timedelta(minutes=31), "reply", "@handler", body=COMPLAINT_REPLIES[0])
    add(
        t0 + dt.timedelta(hours=4, minutes=20),
        "prelim",
        "@handler",
        body="已加急安排华南上门服务组今日上门检修，并申请更换新机及部分退款作为补偿。",
    )
    add(t0 + dt.timedelta(hours=5), "claim", "reviewer")
    add(
        t0 + dt.timedelta(hours=6, minutes=40),
        "review",
        "reviewer",
        findings="工单自邮件受理后在上门服务组排期环节停留超过48小时，期间未与客户同步进度，"
        "属服务响应不及时。",
        responsibility="service",
        recommendation="同意为客户更换同型号新机并部分退款，督促上门服务组整改排期流程。",
    )
    add(
        t0 + dt.timedelta(hours=7, minutes=15),
        "propose",
        "@handler",
        lines=[
            {"kind": "replacement", "amount": "7999.00", "unit": True},
            {"kind": "refund_partial", "amount": "600.00"},
        ],
        reason="VIP企业客户，报修两天无人上门，按审查建议更换新机并部分退款",
    )
    return plan


# --------------------------------------------------------------------------------------------
# Writing: the service path
# --------------------------------------------------------------------------------------------


def _bar(*, desc: str, total: int, show: bool, unit: str) -> "tqdm[Any]":
    return tqdm(desc=desc.ljust(15), total=total, unit=unit, disable=not show, leave=True)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class SeedReport:
    """What `seed_demo` wrote, for the command's summary."""

    teams: int = 0
    staff: int = 0
    product_models: int = 0
    customers: int = 0
    units: int = 0
    cases: int = 0
    case_events: int = 0
    bulk_cases: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    natures: dict[str, int] = field(default_factory=dict)
    complaints: dict[str, int] = field(default_factory=dict)  # by status
    return_visits: dict[str, int] = field(default_factory=dict)  # by status
    surveys: int = 0  # answered
    parts: PartsDemo | None = None


def has_data() -> bool:
    """Whether the database already holds department data or any of the demo accounts."""
    return (
        Team.objects.exists()
        or Customer.objects.exists()
        or Case.objects.exists()
        or User.objects.filter(username__in=[s.username for s in STAFF]).exists()
    )


def _teams_and_staff(now: dt.datetime, show: bool) -> tuple[dict[str, Team], dict[str, User]]:
    roles_sync()
    teams: dict[str, Team] = {}
    users: dict[str, User] = {}
    start = now - dt.timedelta(days=365 * PURCHASE_YEARS + 30)
    with clock.frozen_at(start), transaction.atomic():
        bar = _bar(desc="teams and staff", total=len(TEAMS) + len(STAFF), show=show, unit="row")
        for spec in TEAMS:
            teams[spec.code] = team_create(
                code=spec.code, name=spec.name, kind=spec.kind, region=spec.region
            )
            bar.update()
        # One hash for the shared demo password: hashing is deliberately slow.
        password_hash = make_password(DEMO_PASSWORD)
        calendars = {c.code: c for c in BusinessCalendar.objects.all()}
        for s in STAFF:
            user = staff_create(
                username=s.username,
                password=DEMO_PASSWORD,
                password_hash=password_hash,
                display_name=s.display_name,
                roles=[s.role],
                teams=[teams[c] for c in s.teams],
                leads=[teams[c] for c in s.leads],
                email=f"{s.username}@aftersales.example.com",
                seniority=s.seniority,
                work_calendar=calendars.get(s.calendar) if s.calendar else None,
            )
            if s.role == Role.ADMINISTRATOR:
                # staff_create has no superuser switch; the demo admin also gets the Django admin.
                user.is_superuser = True
                user.save(update_fields=["is_superuser"])
            users[s.username] = user
            bar.update()
        bar.close()
    return teams, users


def _catalog(users: dict[str, User], now: dt.datetime, show: bool) -> dict[str, ProductModel]:
    # Adding product lines is an administrator's job (no role grants `add_productline`).
    manager = users["admin"]
    models: dict[str, ProductModel] = {}
    lines: dict[str, ProductLine] = {}
    with clock.frozen_at(now - dt.timedelta(days=365 * PURCHASE_YEARS + 20)), transaction.atomic():
        for line in LINES:
            lines[line.code] = catalog_services.product_line_create(
                actor=manager, code=line.code, name_zh=line.name_zh, name_en=line.name_en
            )
        bar = _bar(desc="catalog", total=len(MODELS), show=show, unit="model")
        for m in MODELS:
            bar.update()
            models[m.code] = catalog_services.product_model_create(
                actor=manager,
                line=lines[m.line],
                code=m.code,
                name=m.name,
                parts_warranty_months=m.parts_months,
                labour_warranty_months=m.labour_months,
                launched_on=m.launched,
            )
        bar.close()
    return models


def _agent_picker(users: dict[str, User], count: int) -> Callable[[CustomerSpec], User]:
    """The desk agent who opens each customer's file: the same choice on both write paths."""
    staff = _Staffing()
    rng = random.Random(f"agents:{count}")  # nosec B311  # reproducible demo data, not a secret
    return lambda spec: users[staff.pick(rng, spec.desk, DESK_ROLES)]


def _register_customers(
    specs: Sequence[CustomerSpec],
    *,
    users: dict[str, User],
    models: dict[str, ProductModel],
    show: bool,
) -> list[CustomerRef]:
    """Open each customer's file and register their units through the services, in time order.

    Every customer starts on the regular tier; `seed_demo` then computes the tiers."""
    pick_agent = _agent_picker(users, len(specs))
    refs: list[CustomerRef] = []
    bar = _bar(desc="customers", total=len(specs), show=show, unit="customer")
    for batch in _chunks(specs, 50):
        with transaction.atomic():
            for spec in batch:
                agent = pick_agent(spec)
                with clock.frozen_at(spec.created_at):
                    customer = customer_services.customer_create(
                        actor=agent,
                        name=spec.name,
                        kind=spec.kind,
                        company_name=spec.company_name,
                        phones=spec.phones,
                        emails=spec.emails,
                        addresses=[spec.address],
                        preferred_channel=spec.preferred_channel,
                        consent_contact=spec.consent_contact,
                        notes=spec.notes,
                    )
                units: list[UnitRef] = []
                for u in spec.units:
                    model = models[u.model_code]
                    with clock.frozen_at(
                        max(u.registered_at, spec.created_at + dt.timedelta(minutes=1))
                    ):
                        unit = catalog_services.unit_register(
                            actor=agent,
                            model=model,
                            serial_number=u.serial,
                            customer=customer,
                            purchase_date=u.purchase_date,
                            purchase_amount=u.amount,
                            currency="CNY",
                            sales_channel=u.sales_channel,
                            retailer=u.retailer,
                        )
                    units.append(_unit_ref(unit.pk, model, u))
                refs.append(
                    CustomerRef(
                        pk=customer.pk,
                        tier=spec.tier,
                        desk=spec.desk,
                        city=spec.city,
                        units=tuple(units),
                        demo=spec.demo,
                    )
                )
        bar.update(len(batch))
    bar.close()
    return refs


def _unit_ref(pk: int, model: ProductModel, u: UnitSpec) -> UnitRef:
    spec = MODEL_BY_CODE[model.code]
    return UnitRef(
        pk=pk,
        line=spec.line,
        line_id=model.line_id,
        model_label=f"{model.code} {model.name}",
        serial=u.serial,
        purchase_date=u.purchase_date,
        parts_end=add_months(u.purchase_date, spec.parts_months),
    )


def _apply_services(
    plan: CasePlan,
    *,
    users: dict[str, User],
    teams: dict[str, Team],
    customers: dict[int, Customer],
    units: dict[int, Unit],
    until: dt.datetime | None = None,
    on_step: Callable[[Case, Step], None] | None = None,
) -> Case:
    """Replay a plan through the case services, each step at its own past moment.

    Nothing is done after `until` (default: now): a return visit whose call would come later
    stays on the callback worklist. `on_step(case, step)` runs before each step after the
    opening (the parts demo reserves and issues a repair's parts before its resolution)."""
    until = until or clock.now()
    case: Case | None = None
    for step in plan.steps:
        if step.action == "open":
            p = step.params
            with clock.frozen_at(step.at):
                case, _ = case_services.case_open(
                    actor=users[step.actor],
                    customer=customers[plan.customer.pk],
                    channel=p["channel"],
                    subject=p["subject"],
                    description=p["description"],
                    unit=units[plan.unit.pk] if plan.unit else None,
                    nature=p["nature"],
                    subcategory=p["subcategory"],
                    urgency=p["urgency"],
                    team=teams[p["team"]],
                )
            continue
        assert case is not None
        if on_step is not None:
            on_step(case, step)
        if step.action == "callback":
            case = _callback_apply(case, step, users=users, teams=teams, until=until)
        else:
            case = _apply_step(case, step, users=users, teams=teams)
    assert case is not None
    return case


def _apply_step(case: Case, step: Step, *, users: dict[str, User], teams: dict[str, Team]) -> Case:
    """One case step (classify, assign, transition, contact, note) at its moment."""
    actor = users[step.actor]
    p = step.params
    with clock.frozen_at(step.at):
        if step.action == "classify":
            case = case_services.case_classify(
                actor=actor,
                case=case,
                nature=p["nature"],
                subcategory=p["subcategory"],
                urgency=p["urgency"],
            )
        elif step.action == "assign":
            case = case_services.case_assign(
                actor=actor,
                case=case,
                team=teams[p["team"]],
                assignee=users[p["assignee"]],
                reason=p["reason"],
            )
        elif step.action == "transition":
            case = case_services.case_transition(
                actor=actor,
                case=case,
                action=p["action"],
                reason=p.get("reason", ""),
                solution_type=p.get("solution_type", ""),
                solution_notes=p.get("solution_notes", ""),
            )
        elif step.action == "contact":
            case_services.case_contact_log(
                actor=actor,
                case=case,
                direction=p["direction"],
                channel=p["channel"],
                body=p["body"],
            )
        elif step.action == "note":
            case_services.case_note_add(actor=actor, case=case, body=p["body"])
        else:
            raise ValueError(f"unknown step {step.action!r}")
    return case


def _callback_apply(
    case: Case,
    step: Step,
    *,
    users: dict[str, User],
    teams: dict[str, Team],
    until: dt.datetime,
) -> Case:
    """Replay a "callback" step: through the return-visit services where the rules scheduled
    a visit for the case (attempts, phone survey, a recommendation, the visit's outcome), else
    as plain contacts and closing (`callback_substeps`)."""
    p = step.params
    visit = ReturnVisit.objects.filter(case=case, status=ReturnVisit.Status.DUE).first()
    if visit is None:
        if case.status != Status.RESOLVED:
            return case  # e.g. a complaint's case, closed with the complaint
        for sub in callback_substeps(step):
            case = _apply_step(case, sub, users=users, teams=teams)
        return case
    agent = users[step.actor]
    # The calls keep their planned moments (planned after the default rules' due times), so
    # the rest of the case's history stays in order.
    moment = step.at
    for moment, result in p["attempts"]:
        if moment > until:
            return case  # not called yet: the visit stays on the worklist
        with clock.frozen_at(moment):
            callback_services.visit_attempt_record(
                actor=agent, visit=visit, result=result, note=ATTEMPT_NOTES[result]
            )
        visit.refresh_from_db()
        if visit.status != ReturnVisit.Status.DUE:
            return case  # unreachable after the last unanswered call
    if p["outcome"] == "unreachable" or moment + dt.timedelta(minutes=10) > until:
        return case
    with clock.frozen_at(moment + dt.timedelta(minutes=3)):
        # Surveys are opt-in: the agent asks on the call and the customer agrees.
        callback_services.survey_record_phone(
            actor=agent,
            visit=visit,
            answers=callback_services.SurveyAnswers(**p["answers"]),
            consent_given=True,
        )
    if p["recommend"]:
        _recommend(visit, agent=agent, at=moment + dt.timedelta(minutes=5), outcome=p["recommend"])
    visit.refresh_from_db()
    if visit.status == ReturnVisit.Status.DUE:
        # An unsatisfied answer has already reopened the case (and so ended the visit).
        with clock.frozen_at(max(step.at, moment + dt.timedelta(minutes=8))):
            callback_services.visit_complete(
                actor=agent, visit=visit, solved=p["outcome"] == "closed", reason=p["reason"]
            )
    case.refresh_from_db()
    return case


def _open_cases_through_services(
    plans: Sequence[CasePlan],
    *,
    users: dict[str, User],
    teams: dict[str, Team],
    show: bool,
    until: dt.datetime | None = None,
    on_step: Callable[[Case, Step], None] | None = None,
) -> list[Case]:
    """Replay the plans through the services; returns their cases, in plan order."""
    customer_ids = {p.customer.pk for p in plans}
    unit_ids = {p.unit.pk for p in plans if p.unit}
    customers = Customer.objects.in_bulk(customer_ids)
    units = Unit.objects.select_related("model__line").in_bulk(unit_ids)
    bar = _bar(desc="cases", total=len(plans), show=show, unit="case")
    cases: list[Case] = []
    for batch in _chunks(plans, 25):
        with transaction.atomic():
            for plan in batch:
                cases.append(
                    _apply_services(
                        plan,
                        users=users,
                        teams=teams,
                        customers=customers,
                        units=units,
                        until=until,
                        on_step=on_step,
                    )
                )
        bar.update(len(batch))
    bar.close()
    return cases


def _apply_complaint(
    plan: ComplaintPlan,
    *,
    users: dict[str, User],
    teams: dict[str, Team],
    customer: Customer,
    unit: Unit | None,
    related: Case | None,
    until: dt.datetime,
) -> Complaint | None:
    """Replay a complaint plan through the complaint services, each step at its moment."""
    complaint: Complaint | None = None
    handler: User | None = None
    for step in plan.steps:
        p = step.params
        if step.action == "raise":
            with clock.frozen_at(step.at):
                complaint = complaint_services.complaint_raise(
                    actor=users[step.actor],
                    customer=customer,
                    channel=p["channel"],
                    subject=p["subject"],
                    nature=p["nature"],
                    description=p["description"],
                    related_case=related,
                    severity=p["severity"],
                    concerns_user=users[p["concerns_user"]] if p["concerns_user"] else None,
                    concerns_team=teams[p["concerns_team"]] if p["concerns_team"] else None,
                    amount_at_stake=Decimal(p["amount"]) if p["amount"] else None,
                    media_exposure=p["media"],
                    unit=unit,
                )
            # A complaint that arrives in writing is routed; whoever it landed with keeps it.
            handler = complaint.case.assignee or users[step.actor]
            continue
        assert complaint is not None and handler is not None
        if step.action == "callback":
            case = Case.objects.get(pk=complaint.case_id)
            _callback_apply(case, step, users=users, teams=teams, until=until)
            continue
        actor = _complaint_actor(step, complaint, handler=handler, users=users)
        with clock.frozen_at(step.at):
            complaint = _complaint_step(complaint, step, actor=actor, unit=unit)
            if complaint is None:
                return None
    return complaint


def _complaint_actor(
    step: Step, complaint: Complaint, *, handler: User, users: dict[str, User]
) -> User:
    """The member of staff behind a complaint step's actor (see `ComplaintPlan`)."""
    if step.actor == "@handler":
        return handler
    team = complaint.case.team
    if step.actor == "@lead":
        lead = (
            User.objects.filter(memberships__team=team, memberships__is_lead=True)
            .order_by("pk")
            .first()
        )
        return lead or users["manager"]
    if step.actor == "@colleague":
        colleagues = list(
            User.objects.filter(
                memberships__team=team,
                memberships__is_lead=False,
                groups__name__in=[Role.FRONTLINE_AGENT, Role.SENIOR_AGENT],
            )
            .exclude(pk__in=[handler.pk, complaint.concerns_user_id or 0])
            .order_by("pk")
            .distinct()
        )
        if colleagues:
            chosen: User = colleagues[int(step.params["pick"]) % len(colleagues)]
            return chosen
        return users["supervisor"]
    return users[step.actor]


def _complaint_step(
    complaint: Complaint, step: Step, *, actor: User, unit: Unit | None
) -> Complaint | None:
    """One complaint step at the frozen moment; None stops the replay of this complaint."""
    p = step.params
    action = step.action
    if action == "evaluate":
        return complaint_services.complaint_evaluate(
            actor=actor,
            complaint=complaint,
            nature=p["nature"],
            severity=p["severity"],
            concerns_user=complaint.concerns_user,
            concerns_team=complaint.concerns_team,
            amount_at_stake=Decimal(p["amount"]) if p["amount"] else None,
            media_exposure=p["media"],
        )
    if action == "handle":
        return complaint_services.complaint_handle(actor=actor, complaint=complaint)
    if action == "reply":
        case_services.case_contact_log(
            actor=actor,
            case=complaint.case,
            direction="out",
            channel=Channel.PHONE,
            body=p["body"],
        )
    elif action == "prelim":
        case_services.case_preliminary_solution(actor=actor, case=complaint.case, body=p["body"])
    elif action in ("claim", "review"):
        review = complaint.reviews.exclude(status=ComplaintReview.Status.COMPLETED).first()
        if review is None:
            return complaint  # the review policy did not ask for one
        if action == "claim":
            try:
                complaint_services.complaint_review_claim(actor=actor, review=review)
            except ApplicationError as exc:
                if exc.code != "reviewer_not_independent":
                    raise
                # Not independent of this complaint: the other reviewer takes it.
                other = User.objects.get(username="reviewer")
                complaint_services.complaint_review_claim(actor=other, review=review)
        else:
            complaint_services.complaint_review_complete(
                actor=review.reviewer or actor,
                review=review,
                findings=p["findings"],
                responsibility=p["responsibility"],
                recommendation=p["recommendation"],
            )
    elif action == "propose":
        lines = [
            complaint_services.LineIn(
                kind=line["kind"],
                amount=Decimal(line["amount"]),
                unit=unit if line.get("unit") else None,
                months=line.get("months"),
            )
            for line in p["lines"]
        ]
        if any(line.unit is None and line.kind == "extended_warranty" for line in lines):
            return None
        complaint_services.compensation_propose(
            actor=actor, complaint=complaint, lines=lines, reason=p["reason"]
        )
    elif action == "decide":
        proposal = complaint.proposals.get(status=CompensationProposal.Status.PENDING)
        complaint_services.compensation_decide(
            actor=actor, proposal=proposal, decision=p["decision"], note=p["note"]
        )
    elif action == "actions_done":
        for i, comp_action in enumerate(
            complaint.actions.filter(status=CompensationAction.Status.OPEN).order_by("pk")
        ):
            complaint_services.compensation_action_complete(
                actor=actor,
                action=comp_action,
                reference=_action_reference(comp_action.kind, p["seq"] + i, complaint),
            )
    elif action == "answer":
        complaint_services.complaint_answer(
            actor=actor,
            complaint=complaint,
            message=p["message"],
            solution_type=p["solution_type"],
        )
    elif action == "reopen":
        return complaint_services.complaint_reopen(
            actor=actor, complaint=complaint, reason=p["reason"]
        )
    elif action == "close":
        return complaint_services.complaint_close(
            actor=actor,
            complaint=complaint,
            root_cause=p["root_cause"],
            communication_error=p["communication_error"],
        )
    else:
        raise ValueError(f"unknown complaint step {action!r}")
    complaint.refresh_from_db()
    return complaint


def _care_calls(
    users: dict[str, User], *, rng: random.Random, now: dt.datetime, show: bool
) -> None:
    """VIP care calls (关怀回访): scheduled for today's VIP customers when the two months
    began, made by the callback team over the weeks since (a few unanswered at first, some with
    a recommendation); the last few customers asked to be called back later today, so the
    calls stay on the worklist. Every VIP then has a recent care call: the daily sweep of the
    running system schedules none until their interval has passed."""
    start = now - dt.timedelta(days=WINDOW_DAYS)
    with clock.frozen_at(start):
        callback_services.care_calls_schedule(at=start)
    staff = _Staffing()
    planner = CasePlanner(rng, now)
    visits = list(
        ReturnVisit.objects.filter(kind=ReturnVisit.Kind.CARE, status=ReturnVisit.Status.DUE)
        .select_related("customer")
        .order_by("pk")
    )
    calls = sorted(
        (
            (planner._work(start + dt.timedelta(days=rng.uniform(0.2, WINDOW_DAYS - 0.5))), v)
            for v in visits
        ),
        key=lambda call: (call[0], call[1].pk),
    )
    later = {v.pk for _, v in calls[-CARE_CALLS_LATER:]}
    bar = _bar(desc="care calls", total=len(calls), show=show, unit="call")
    for batch in _chunks(calls, 50):
        with transaction.atomic():
            for at, visit in batch:
                agent = users[staff.pick(rng, "callback", (Role.CALLBACK_AGENT,))]
                at = min(at, now - dt.timedelta(hours=2))
                if visit.pk in later:
                    with clock.frozen_at(at):
                        callback_services.visit_attempt_record(
                            actor=agent,
                            visit=visit,
                            result="call_back_later",
                            note="客户正在开会，请稍后回电",
                            callback_at=now + dt.timedelta(minutes=rng.randint(30, 300)),
                        )
                    continue
                results = ["no_answer", "reached"] if rng.random() < 0.12 else ["reached"]
                recommend = _pick(rng, RECOMMENDATION_OUTCOMES) if rng.random() < 0.35 else None
                for result in results:
                    with clock.frozen_at(at):
                        callback_services.visit_attempt_record(
                            actor=agent, visit=visit, result=result, note=ATTEMPT_NOTES[result]
                        )
                    if result == "no_answer":
                        at = min(planner._after(at, 300, 1500), now - dt.timedelta(minutes=20))
                if recommend:
                    _recommend(visit, agent=agent, at=at, outcome=recommend)
                with clock.frozen_at(at + dt.timedelta(minutes=6)):
                    callback_services.visit_complete(actor=agent, visit=visit, solved=True)
        bar.update(len(batch))
    bar.close()


def _recommend(visit: ReturnVisit, *, agent: User, at: dt.datetime, outcome: str) -> None:
    """Offer the first suggestion for the visit (if any) and record the customer's answer."""
    with clock.frozen_at(at):
        suggestions = callback_selectors.recommendations_for(visit=visit, on=timezone.localdate(at))
        if not suggestions:
            return
        offer = suggestions[0]
        # Offers are marketing, opt-in: the customer agreed to hear one on the call.
        callback_services.recommendation_record(
            actor=agent,
            visit=visit,
            kind=offer.kind,
            offer=offer.offer,
            unit=offer.unit,
            outcome=outcome,
            consent_given=True,
        )


def _action_reference(kind: str, seq: int, complaint: Complaint) -> str:
    """A plausible reference for a completed follow-up action (payment, order, code...)."""
    day = timezone.localtime(clock.now()).strftime("%Y%m%d")
    references: dict[str, str] = {
        CompensationAction.Kind.REFUND: f"TK{day}{seq % 10**6:06d}",
        CompensationAction.Kind.REPLACEMENT: f"SF{1_000_000_000_000 + seq % 10**11}",
        CompensationAction.Kind.VOUCHER: f"VC{seq % 10**8:08d}",
        CompensationAction.Kind.REPAIR: complaint.case.number,
    }
    return references.get(kind, f"YB{day}{seq % 10**4:04d}")


def _complaints_through_services(
    plans: Sequence[ComplaintPlan],
    *,
    cases: Sequence[Case],
    users: dict[str, User],
    teams: dict[str, Team],
    show: bool,
    until: dt.datetime,
) -> None:
    customers = Customer.objects.in_bulk({p.customer.pk for p in plans})
    units = Unit.objects.select_related("model__line").in_bulk({p.unit.pk for p in plans if p.unit})
    bar = _bar(desc="complaints", total=len(plans), show=show, unit="complaint")
    for batch in _chunks(plans, 10):
        with transaction.atomic():
            for plan in batch:
                _apply_complaint(
                    plan,
                    users=users,
                    teams=teams,
                    customer=customers[plan.customer.pk],
                    unit=units[plan.unit.pk] if plan.unit else None,
                    related=cases[plan.related] if plan.related is not None else None,
                    until=until,
                )
        bar.update(len(batch))
    bar.close()


# --------------------------------------------------------------------------------------------
# Writing: the bulk path for --scale > 1
# --------------------------------------------------------------------------------------------


def _reserve_numbers(prefix: str, period: str, count: int) -> int:
    """Take `count` consecutive values of a number sequence at once; returns the first.

    The same counter row `core.services.number_allocate` bumps, bumped by `count` in one locked
    UPDATE, so numbers stay unique with anything allocated one by one before or after.
    """
    with transaction.atomic():
        NumberSequence.objects.bulk_create(
            [NumberSequence(name=prefix, period=period, last_value=0)], ignore_conflicts=True
        )
        NumberSequence.objects.filter(name=prefix, period=period).update(
            last_value=F("last_value") + count
        )
        last = NumberSequence.objects.values_list("last_value", flat=True).get(
            name=prefix, period=period
        )
    return int(last) - count + 1


def _period(moment: dt.datetime) -> str:
    return timezone.localtime(moment, _tz()).strftime("%Y%m")


def _numbers(prefix: str, moments: Sequence[dt.datetime]) -> list[str]:
    """Numbers like `number_allocate` gives, for rows created at `moments` (in this order)."""
    per_period = Counter(_period(m) for m in moments)
    next_value = {p: _reserve_numbers(prefix, p, n) for p, n in sorted(per_period.items())}
    numbers = []
    for m in moments:
        p = _period(m)
        numbers.append(f"{prefix}{p}{next_value[p]:07d}")
        next_value[p] += 1
    return numbers


def _bulk_customers(
    specs: Sequence[CustomerSpec],
    *,
    users: dict[str, User],
    models: dict[str, ProductModel],
    show: bool,
) -> list[CustomerRef]:
    """Insert customers, contacts, addresses, audit rows and units as the services would."""
    pick_agent = _agent_picker(users, len(specs))
    refs: list[CustomerRef] = []
    bar = _bar(desc="customers (bulk)", total=len(specs), show=show, unit="customer")
    for batch in _chunks(specs, BULK_BATCH):
        numbers = _numbers("C", [s.created_at for s in batch])
        agents = [pick_agent(s) for s in batch]
        with transaction.atomic():
            rows = [
                Customer(
                    number=number,
                    kind=s.kind,
                    name=s.name,
                    company_name=s.company_name,
                    preferred_channel=s.preferred_channel,
                    preferred_language="zh-hans",
                    consent_contact=s.consent_contact,
                    notes=s.notes,
                    # Tiers are computed once customers are written, as for service-built ones.
                    tier=Tier.REGULAR,
                    created_at=s.created_at,
                    created_by=agent,
                )
                for s, number, agent in zip(batch, numbers, agents, strict=True)
            ]
            Customer.objects.bulk_create(rows)
            contacts: list[tuple[Any, ...]] = []
            addresses: list[tuple[Any, ...]] = []
            audits: list[tuple[Any, ...]] = []
            units: list[Unit] = []
            for spec, row, agent in zip(batch, rows, agents, strict=True):
                for kind, raws in (
                    (ContactPoint.Kind.PHONE, spec.phones),
                    (ContactPoint.Kind.EMAIL, spec.emails),
                ):
                    for i, raw in enumerate(raws):
                        value, digest = contact_normalize(kind=kind, raw=raw)
                        contacts.append((row.pk, kind, value, digest, "", i == 0, spec.created_at))
                a = spec.address
                addresses.append(
                    (row.pk, a["province"], a["city"], a["district"], a["street"],
                     a["postal_code"], True)
                )  # fmt: skip
                audits.append(
                    (spec.created_at, agent.pk, "customer.created", "customer", row.pk,
                     {"number": row.number, "tier": row.tier})
                )  # fmt: skip
                for u in spec.units:
                    units.append(
                        Unit(
                            model=models[u.model_code],
                            serial_number=u.serial,
                            customer=row,
                            purchase_date=u.purchase_date,
                            purchase_amount=u.amount,
                            currency="CNY",
                            sales_channel=u.sales_channel,
                            retailer=u.retailer,
                            registered_at=max(
                                u.registered_at, spec.created_at + dt.timedelta(minutes=1)
                            ),
                        )
                    )
            _insert(ContactPoint, CONTACT_COLUMNS, contacts)
            _insert(Address, ADDRESS_COLUMNS, addresses)
            Unit.objects.bulk_create(units, batch_size=1000)
            unit_agent = {row.pk: agent.pk for row, agent in zip(rows, agents, strict=True)}
            audits += [
                (unit.registered_at, unit_agent[unit.customer_id or 0], "unit.registered", "unit",
                 unit.pk, {"model_code": unit.model.code, "serial_number": unit.serial_number,
                           "customer_id": unit.customer_id})
                for unit in units
            ]  # fmt: skip
            audit_bulk_append(
                events=(
                    AuditEvent(occurred_at=at, actor_id=actor_id, action=action, entity=entity,
                               entity_id=entity_id, data=data)
                    for at, actor_id, action, entity, entity_id, data in audits
                )
            )  # fmt: skip
        by_customer: dict[int, list[UnitRef]] = defaultdict(list)
        specs_by_serial = {u.serial: u for s in batch for u in s.units}
        for unit in units:
            model = models[specs_by_serial[unit.serial_number].model_code]
            by_customer[unit.customer_id or 0].append(
                _unit_ref(unit.pk, model, specs_by_serial[unit.serial_number])
            )
        for spec, row in zip(batch, rows, strict=True):
            refs.append(
                CustomerRef(
                    pk=row.pk,
                    tier=spec.tier,
                    desk=spec.desk,
                    city=spec.city,
                    units=tuple(by_customer[row.pk]),
                )
            )
        bar.update(len(batch))
    bar.close()
    return refs


CONTACT_COLUMNS = ("customer", "kind", "value", "lookup_hash", "label", "is_primary", "created_at")
ADDRESS_COLUMNS = (
    "customer",
    "province",
    "city",
    "district",
    "street",
    "postal_code",
    "is_default",
)
EVENT_COLUMNS = (
    "case",
    "kind",
    "occurred_at",
    "actor",
    "from_status",
    "to_status",
    "channel",
    "direction",
    "body",
    "data",
)


def _insert(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT rows whose ids nobody needs back (events, contacts, audit rows) in one go.

    `bulk_create` builds a model instance per row and, on SQLite, one statement per ~90 rows;
    this prepares each value exactly as the field would (encryption, JSON, time zones) and
    hands all rows to `executemany` (SQLite) or `COPY` (PostgreSQL). Foreign keys are ids.
    """
    if not rows:
        return
    fields: list[Field[Any, Any]] = []
    for name in columns:
        found = model._meta.get_field(name)
        assert isinstance(found, Field)
        fields.append(found)
    prepare: list[Callable[..., Any] | None] = [
        f.get_db_prep_save if isinstance(f, _PREPARED_FIELDS) else None for f in fields
    ]
    conn = connections[DEFAULT_DB_ALIAS]  # the object itself, not the thread-local proxy
    qn = conn.ops.quote_name
    names = ", ".join(qn(str(f.column)) for f in fields)
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({names}) "  # nosec B608  # identifiers quoted, values bound
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    prepared = [
        tuple(v if p is None else p(v, conn) for p, v in zip(prepare, row, strict=True))
        for row in rows
    ]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            # COPY is PostgreSQL's bulk path: one stream instead of a statement per row.
            copy_sql = f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in prepared:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, prepared)


_PREPARED_FIELDS = (DateTimeField, DateField, DecimalField, JSONField, EncryptedTextField)


class _BulkCase:
    """Mirrors `cases.services` for one plan: the final case row and every event it would write."""

    def __init__(
        self, plan: CasePlan, number: str, *, user_ids: dict[str, int], team_ids: dict[str, int]
    ) -> None:
        self.plan = plan
        self.user_ids = user_ids
        self.team_ids = team_ids
        # Event rows in `EVENT_COLUMNS` order, without the case id (known after the insert).
        self.events: list[tuple[Any, ...]] = []
        self.case = Case(number=number)
        self.has_contact = False
        self.has_wait = False
        for step in plan.steps:
            getattr(self, "_" + step.action)(step)

    def _event(
        self,
        step: Step,
        kind: str,
        *,
        from_status: str = "",
        to_status: str = "",
        channel: str = "",
        direction: str = "",
        body: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        actor = self.user_ids[step.actor]
        self.events.append(
            (kind, step.at, actor, from_status, to_status, channel, direction, body, data or {})
        )

    def _status(self, step: Step, to: str, action: str, reason: str = "") -> None:
        before = self.case.status
        self.case.status = to
        self.case.updated_at = step.at
        self._event(
            step,
            CaseEvent.Kind.STATUS,
            from_status=before,
            to_status=to,
            body=reason,
            data={"action": action},
        )

    def _open(self, step: Step) -> None:
        p, c = step.params, self.case
        c.customer_id = self.plan.customer.pk
        c.unit_id = self.plan.unit.pk if self.plan.unit else None
        c.product_line_id = self.plan.unit.line_id if self.plan.unit else None
        c.channel, c.subject, c.description = p["channel"], p["subject"], p["description"]
        c.urgency = p["urgency"]
        c.priority = priority_for(urgency=p["urgency"], tier=self.plan.customer.tier)
        c.status = Status.NEW
        c.team_id = self.team_ids[p["team"]]
        c.created_at = c.updated_at = step.at
        c.created_by_id = self.user_ids[step.actor]
        # As `case_open`: on a live channel the conversation at intake is the first response.
        c.first_response_at = step.at if p["channel"] in LIVE_CHANNELS else None
        self._event(
            step,
            CaseEvent.Kind.CREATED,
            to_status=Status.NEW,
            channel=p["channel"],
            direction=CaseEvent.Direction.INBOUND,
            body=p["description"],
            data={
                "subject": p["subject"],
                "urgency": p["urgency"],
                "team": c.team_id,
                "kind": CaseKind.SERVICE,
            },
        )
        if p["nature"]:
            self._classify(step)

    def _classify(self, step: Step) -> None:
        p, c = step.params, self.case
        before = {"nature": c.nature, "subcategory": c.subcategory, "urgency": c.urgency}
        after = {"nature": p["nature"], "subcategory": p["subcategory"], "urgency": p["urgency"]}
        correction = bool(c.nature) and before != after
        c.nature, c.subcategory, c.urgency = p["nature"], p["subcategory"], p["urgency"]
        c.priority = priority_for(urgency=c.urgency, tier=self.plan.customer.tier)
        c.classified_by_id = self.user_ids[step.actor]
        c.updated_at = step.at
        self._event(
            step,
            CaseEvent.Kind.CLASSIFIED,
            data={"before": before, "after": after, "correction": correction, "source": "human"},
        )
        if c.status == Status.NEW:
            self._status(step, Status.TRIAGED, "triage")

    def _assign(self, step: Step) -> None:
        p, c = step.params, self.case
        team_id, assignee_id = self.team_ids[p["team"]], self.user_ids[p["assignee"]]
        data = {
            "from_team": c.team_id,
            "to_team": team_id,
            "from_assignee": c.assignee_id,
            "to_assignee": assignee_id,
        }
        c.team_id, c.assignee_id, c.updated_at = team_id, assignee_id, step.at
        self._event(step, CaseEvent.Kind.ASSIGNED, body=p["reason"], data=data)
        if (
            c.status not in (Status.WAITING_CUSTOMER, Status.WAITING_PARTS)
            and c.status != Status.ASSIGNED
        ):
            self._status(step, Status.ASSIGNED, "assign")

    def _transition(self, step: Step) -> None:
        p, c = step.params, self.case
        action = p["action"]
        target = {
            "start": Status.IN_PROGRESS,
            "wait_customer": Status.WAITING_CUSTOMER,
            "wait_parts": Status.WAITING_PARTS,
            "resume": Status.IN_PROGRESS,
            "resolve": Status.RESOLVED,
            "close": Status.CLOSED,
            "reopen": Status.IN_PROGRESS,
            "cancel": Status.CANCELLED,
        }[action]
        if action == "resolve":
            c.solution_type, c.solution_notes = p["solution_type"], p["solution_notes"].strip()
            self._event(
                step,
                CaseEvent.Kind.SOLUTION,
                body=c.solution_notes,
                data={"solution_type": p["solution_type"]},
            )
        if action in ("wait_customer", "wait_parts"):
            self.has_wait = True
        self._status(step, target, action, p.get("reason", "").strip())
        if action == "resolve":
            c.resolved_at = step.at
            c.first_contact_resolution = (
                not c.reopen_count and not self.has_contact and not self.has_wait
            )
        elif action == "close":
            c.closed_at = step.at
        elif action == "reopen":
            c.reopen_count += 1
            c.resolved_at = None
            c.closed_at = None
            c.first_contact_resolution = False

    def _contact(self, step: Step) -> None:
        p, c = step.params, self.case
        self.has_contact = True
        self._event(
            step,
            CaseEvent.Kind.CONTACT,
            channel=p["channel"],
            direction=p["direction"],
            body=p["body"].strip(),
        )
        if p["direction"] == CaseEvent.Direction.OUTBOUND and c.first_response_at is None:
            c.first_response_at = step.at
        c.updated_at = step.at

    def _note(self, step: Step) -> None:
        self.case.updated_at = step.at
        self._event(step, CaseEvent.Kind.NOTE, body=step.params["body"].strip())

    def _callback(self, step: Step) -> None:
        # Return visits are not bulk-written: the calls are the contacts and closing they
        # stand for where no visit was scheduled.
        for sub in callback_substeps(step):
            getattr(self, "_" + sub.action)(sub)


def _tick(bar: Any) -> None:
    bar.update(1)


def _bulk_cases(
    plans: Sequence[CasePlan], *, users: dict[str, User], teams: dict[str, Team], show: bool
) -> int:
    """Insert cases and their events in batches; returns the number of events written."""
    user_ids = {name: u.pk for name, u in users.items()}
    team_ids = {code: t.pk for code, t in teams.items()}
    events = 0
    written: list[int] = []
    bar = _bar(desc="cases (bulk)", total=len(plans), show=show, unit="case")
    for batch in _chunks(plans, BULK_BATCH):
        numbers = _numbers("SR", [p.opened_at for p in batch])
        built = [
            _BulkCase(p, n, user_ids=user_ids, team_ids=team_ids)
            for p, n in zip(batch, numbers, strict=True)
        ]
        with transaction.atomic():
            Case.objects.bulk_create([b.case for b in built], batch_size=500)
            rows = [(b.case.pk, *e) for b in built for e in b.events]
            _insert(CaseEvent, EVENT_COLUMNS, rows)
        written.extend(b.case.pk for b in built if b.case.pk is not None)
        events += len(rows)
        bar.update(len(batch))
    bar.close()
    # The SLA clocks are derived from the events just written, as the services would have.
    clocks_bar = _bar(desc="SLA clocks", total=len(written), show=show, unit="case")
    sla_clocks_rebuild(case_ids=written, progress=lambda done, total: _tick(clocks_bar))
    clocks_bar.close()
    return events


# --------------------------------------------------------------------------------------------
# The whole seed
# --------------------------------------------------------------------------------------------


def customer_refs(customers: Iterable[Customer]) -> list[CustomerRef]:
    """Planning references for customers already in the database (their desk from their city)."""
    desks = {c.city: c.desk for c in CITIES}
    refs = []
    for customer in customers:
        address = customer.addresses.filter(is_default=True).first()
        city = address.city if address else "深圳市"
        units = Unit.objects.select_related("model__line").filter(customer=customer).order_by("id")
        refs.append(
            CustomerRef(
                pk=customer.pk,
                tier=customer.tier,
                desk=desks.get(city, "desk-sz"),
                city=city,
                units=tuple(
                    UnitRef(
                        pk=u.pk,
                        line=u.model.line.code,
                        line_id=u.model.line_id,
                        model_label=f"{u.model.code} {u.model.name}",
                        serial=u.serial_number,
                        purchase_date=u.purchase_date,
                        parts_end=u.parts_warranty_end,
                    )
                    for u in units
                ),
            )
        )
    return refs


def _seeded_staff() -> tuple[dict[str, User], dict[str, Team]]:
    users = {u.username: u for u in User.objects.filter(username__in=[s.username for s in STAFF])}
    teams = {t.code: t for t in Team.objects.filter(code__in=[t.code for t in TEAMS])}
    return users, teams


def write_customers(specs: Sequence[CustomerSpec], *, bulk: bool) -> list[CustomerRef]:
    """Write customer specs into a seeded database, through the services or in bulk."""
    users, _ = _seeded_staff()
    models = {m.code: m for m in ProductModel.objects.filter(code__in=list(MODEL_BY_CODE))}
    if bulk:
        return _bulk_customers(specs, users=users, models=models, show=False)
    return _register_customers(specs, users=users, models=models, show=False)


def write_cases(plans: Sequence[CasePlan], *, bulk: bool, show_progress: bool = False) -> None:
    """Write planned cases into a seeded database, through the services or in bulk."""
    users, teams = _seeded_staff()
    if bulk:
        _bulk_cases(plans, users=users, teams=teams, show=show_progress)
    else:
        _open_cases_through_services(plans, users=users, teams=teams, show=show_progress)


def _useful_feedback(
    plans: Sequence[CasePlan], *, users: dict[str, User], now: dt.datetime
) -> None:
    """Mark some resolved hardware and software reports as useful product feedback (about one
    in twelve), the third dimension of the value tiers."""
    numbers = [
        c.number
        for c in Case.objects.filter(
            status__in=[Status.RESOLVED, Status.CLOSED], nature__in=["hardware", "software"]
        ).order_by("pk")
    ]
    with clock.frozen_at(now):
        for number in numbers[::12]:
            case = Case.objects.get(number=number)
            case_services.case_mark_useful_feedback(
                actor=users["supervisor"]
                if case.team and case.team.code == "desk-sz"
                else users["manager"],
                case=case,
                useful=True,
                reason="故障描述详细，已转研发质量分析",
            )


def _availability(users: dict[str, User], *, now: dt.datetime) -> None:
    """Make the routing's availability rules visible: one agent on training this week, one
    who has set herself away."""
    with clock.frozen_at(now):
        accounts_services.absence_record(
            actor=users["supervisor"],
            user=users["sz.heli"],
            starts_at=now - dt.timedelta(days=1),
            ends_at=now + dt.timedelta(days=6),
            reason="training",
            note="新产品线培训",
        )
        accounts_services.availability_set(actor=users["sz.liyan"], accepting=False)


def demo_totp_key(username: str) -> str:
    """The hex key of `username`'s demo authenticator (20 bytes, the same on every machine)."""
    return hashlib.sha256(f"{DEMO_TOTP_SALT}\x00{username}".encode()).digest()[:20].hex()


def demo_mfa_ensure() -> int:
    """Give each seeded staff account that has no authenticator its demo one; returns how many.

    Idempotent, and leaves alone an account whose owner has set up a device of their own.
    """
    added = 0
    for user in User.objects.filter(username__in=[s.username for s in STAFF]).order_by("pk"):
        if not mfa_is_enrolled(user):
            mfa_device_install(user=user, key_hex=demo_totp_key(user.username), source="demo")
            added += 1
    return added


def seed_demo(
    *,
    seed: int = DEFAULT_SEED,
    scale: int = 1,
    cases: int = BASE_CASES,
    customers: int = BASE_CUSTOMERS,
    show_progress: bool = True,
    now: dt.datetime | None = None,
) -> SeedReport:
    """Build the demo data set into an empty database; deterministic for a given `seed` and day.

    `cases` and `customers` are the scale-1 figures; `scale` multiplies both, the extra part
    being bulk-written (see the module docstring).
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if cases < 1 or customers < 2:
        raise ValueError("need at least one case and two customers")
    started = time.monotonic()
    now = now or clock.now()
    report = SeedReport()
    teams, users = _teams_and_staff(now, show_progress)
    demo_mfa_ensure()
    models = _catalog(users, now, show_progress)
    # The callback team's offers per product line wait for the lines to exist.
    callbacks_defaults_ensure()
    customers_rng = random.Random(f"{seed}:customers")  # nosec B311  # reproducible demo data, not a secret
    specs, last_serial = customer_specs(customers_rng, now, customers, with_demo=True)
    refs = _register_customers(specs, users=users, models=models, show=show_progress)
    # Tiers as computed when the two months of cases begin (purchases only: no cases yet),
    # so cases open with the priority their customer's tier gives.
    with clock.frozen_at(now - dt.timedelta(days=WINDOW_DAYS)):
        customer_services.tiers_recompute()
    plans = case_plans(random.Random(f"{seed}:cases"), now, refs, cases)  # nosec B311  # reproducible demo data, not a secret
    # Spare parts before the cases: a repair's parts are reserved while its case is open.
    parts = parts_demo_prepare(
        users=users, teams=teams, models=models, plans=plans, now=now, show=show_progress, seed=seed
    )
    written = _open_cases_through_services(
        plans,
        users=users,
        teams=teams,
        show=show_progress,
        until=now,
        on_step=parts.before_step,
    )
    complaints_rng = random.Random(f"{seed}:complaints")  # nosec B311  # reproducible demo data, not a secret
    complaint_count = round(cases * BASE_COMPLAINTS / BASE_CASES)
    complaints = complaint_plans(complaints_rng, now, plans, refs, complaint_count)
    _complaints_through_services(
        complaints, cases=written, users=users, teams=teams, show=show_progress, until=now
    )
    if scale > 1:
        extra_specs, _ = customer_specs(
            random.Random(f"{seed}:customers:{scale}"),  # nosec B311  # reproducible demo data, not a secret
            now,
            customers * (scale - 1),
            with_demo=False,
            serial_start=last_serial,
        )
        extra_refs = _bulk_customers(extra_specs, users=users, models=models, show=show_progress)
        extra_rng = random.Random(f"{seed}:cases:{scale}")  # nosec B311  # reproducible demo data, not a secret
        extra_plans = case_plans(extra_rng, now, extra_refs, cases * (scale - 1))
        _bulk_cases(extra_plans, users=users, teams=teams, show=show_progress)
        report.bulk_cases = len(extra_plans)
    _useful_feedback(plans, users=users, now=now)
    _availability(users, now=now)
    # Today's tiers, from purchases, the cases and contacts of the two months, and feedback.
    with clock.frozen_at(now):
        customer_services.tiers_recompute()
    care_rng = random.Random(f"{seed}:care")  # nosec B311  # reproducible demo data, not a secret
    _care_calls(users, rng=care_rng, now=now, show=show_progress)
    report.parts = parts.finish()
    report.teams = Team.objects.count()
    report.staff = User.objects.count()
    report.product_models = ProductModel.objects.count()
    report.customers = Customer.objects.count()
    report.units = Unit.objects.count()
    service_cases = Case.objects.filter(kind=CaseKind.SERVICE)
    report.cases = service_cases.count()
    report.case_events = CaseEvent.objects.count()
    report.statuses = dict(Counter(service_cases.values_list("status", flat=True)))
    report.natures = dict(Counter(service_cases.values_list("nature", flat=True)))
    report.complaints = dict(Counter(Complaint.objects.values_list("status", flat=True)))
    report.return_visits = dict(Counter(ReturnVisit.objects.values_list("status", flat=True)))
    report.surveys = Survey.objects.filter(status=Survey.Status.ANSWERED).count()
    report.seconds = time.monotonic() - started
    return report


# --------------------------------------------------------------------------------------------
# What demo_info shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    scope: str
    teams: str
    sees: str
    exists: bool


@dataclass(frozen=True)
class DemoCaller:
    phone: str
    who: str
    details: tuple[str, ...]


def demo_logins() -> list[DemoLogin]:
    """The documented logins with their role, teams and scope, marked if missing in the database."""
    existing = set(
        User.objects.filter(username__in=[s.username for s in STAFF if s.demo]).values_list(
            "username", flat=True
        )
    )
    team_names = {t.code: t.name for t in TEAMS}
    rows = []
    for s in STAFF:
        if not s.demo:
            continue
        teams = [team_names[c] for c in s.teams] + [f"{team_names[c]} (lead)" for c in s.leads]
        rows.append(
            DemoLogin(
                username=s.username,
                password=DEMO_PASSWORD,
                role=f"{s.role.value} ({ROLE_LABELS[s.role]})",
                scope=ROLE_SCOPES[s.role].value,
                teams=", ".join(teams) or "-",
                sees=s.sees,
                exists=s.username in existing,
            )
        )
    return rows


@dataclass(frozen=True)
class DemoAuthenticator:
    username: str
    secret: str  # base32, as authenticator apps take it; "" if the account has no demo device
    otpauth_uri: str


def demo_authenticators() -> list[DemoAuthenticator]:
    """The demo logins' authenticator secrets, where the account still has its demo device."""
    rows = []
    for s in STAFF:
        if not s.demo:
            continue
        device = (
            TOTPDevice.objects.select_related("user")
            .filter(user__username=s.username, confirmed=True, key=demo_totp_key(s.username))
            .first()
        )
        rows.append(
            DemoAuthenticator(
                username=s.username,
                secret=totp_secret(device) if device else "",
                otpauth_uri=device.config_url if device else "",
            )
        )
    return rows


def demo_callers() -> list[DemoCaller]:
    """Phone numbers to try in caller recognition, with what the system should find."""
    today = clock.today()
    callers = []
    for phone in (DEMO_CALLER_PHONE, DEMO_COMPANY_PHONE):
        found = _customer_by_phone(phone)
        if found is None:
            callers.append(DemoCaller(phone, "not in this database", ("run `aftersales seed`",)))
            continue
        who = f"{found.name} ({found.number}, {found.tier})"
        if found.company_name:
            who = f"{found.name} @ {found.company_name} ({found.number}, {found.tier})"
        units = Unit.objects.select_related("model__line").filter(customer=found)
        details = []
        for unit in units.order_by("model__line__code", "purchase_date", "id")[:4]:
            state = "in warranty" if today <= unit.parts_warranty_end else "OUT of warranty"
            details.append(
                f"{unit.model.line.name_en} {unit.model.code}, serial {unit.serial_number}, "
                f"bought {unit.purchase_date}: {state} (parts until {unit.parts_warranty_end})"
            )
        if units.count() > 4:
            details.append(f"... {units.count()} units in all")
        open_cases = Case.objects.filter(customer=found, status__in=OPEN_STATUSES).count()
        details.append(f"{Case.objects.filter(customer=found).count()} cases, {open_cases} open")
        callers.append(DemoCaller(phone, who, tuple(details)))
    callers.append(
        DemoCaller(UNKNOWN_CALLER_PHONE, "nobody", ("an unknown caller: open a new customer file",))
    )
    return callers


@dataclass(frozen=True)
class DemoTourStop:
    path: str  # relative to the site's address
    login: str
    what: str


def demo_tour() -> list[DemoTourStop]:
    """Where the complaints, return visits and spare parts of this database are worth a look,
    and as whom."""
    stops = []
    proposal = (
        CompensationProposal.objects.filter(
            status=CompensationProposal.Status.PENDING, required_level__limit__isnull=True
        )
        .select_related("complaint__case")
        .order_by("pk")
        .first()
    )
    if proposal is not None:
        stops.append(
            DemoTourStop(
                f"complaints/{proposal.complaint.case.number}/",
                "supervisor, then manager",
                f"VIP slow-response complaint, reviewed: replacement + partial refund "
                f"(¥{proposal.total}) above the supervisor's limit. The supervisor cannot approve "
                "it (may forward), the manager can; then complete the follow-up actions.",
            )
        )
    review = (
        ComplaintReview.objects.filter(
            status=ComplaintReview.Status.PENDING, complaint__concerns_team__code="vip"
        )
        .select_related("complaint__case")
        .order_by("pk")
        .first()
    )
    if review is not None:
        stops.append(
            DemoTourStop(
                "complaints/reviews/",
                "reviewer (or rv.hanmei)",
                f"{review.complaint.case.number} is about the VIP desk: rv.hanmei sits on that "
                "desk and is refused the review; reviewer may claim it.",
            )
        )
    statuses = Counter(Complaint.objects.values_list("status", flat=True))
    if statuses:
        summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        stops.append(
            DemoTourStop(
                "complaints/", "manager", f"complaints ({summary}); figures at complaints/report/"
            )
        )
    due = ReturnVisit.objects.filter(status=ReturnVisit.Status.DUE).count()
    stops.append(
        DemoTourStop(
            "callbacks/",
            "callback",
            f"{due} return visits due: call attempts, the phone survey, recommendations; "
            "satisfaction figures at callbacks/report/",
        )
    )
    return stops + _parts_tour()


def _parts_tour() -> list[DemoTourStop]:
    """The spare-parts stops: the scarce part's queue, replenishment, classification, curve."""
    if not Part.objects.exists():
        return []
    stops = []
    waiting = Backorder.objects.filter(status=Backorder.Status.WAITING).select_related(
        "part", "case", "location"
    )
    scarce = waiting.values_list("part_id", flat=True).first()
    if scarce is not None:
        queue = list(waiting.filter(part_id=scarce))  # in the order they are served
        part = queue[0].part
        order = ", then ".join(f"{b.tier} {b.case.number}" for b in queue)
        asked_last = len(queue) > 1 and queue[0].created_at == max(b.created_at for b in queue)
        stops.append(
            DemoTourStop(
                f"parts/{part.number}/",
                "warehouse",
                f"Scarce critical part {part.number} ({part.name_en}): none free at "
                f"{queue[0].location.code}; the queue serves {order}"
                + (" (first, though it asked last)" if asked_last else "")
                + ". Receive stock here and the first in the queue gets it.",
            )
        )
    drafts = PurchaseOrder.objects.filter(status=PurchaseOrder.Status.DRAFT).count()
    suggested = Transfer.objects.filter(status=Transfer.Status.SUGGESTED).count()
    stops += [
        DemoTourStop(
            "parts/replenishment/",
            "warehouse",
            f"{drafts} draft purchase orders and {suggested} suggested transfers from the "
            "replenishment run, each line with its position, reorder point and order-up-to "
            "level: approve a purchase order.",
        ),
        DemoTourStop(
            "parts/classification/",
            "warehouse (or manager)",
            "ABC x XYZ and demand patterns (smooth / erratic / intermittent / lumpy) of every "
            "part, with the moves of the latest classification run.",
        ),
        DemoTourStop(
            "parts/service-curve/",
            "warehouse (or manager)",
            "Service level against stock cost: what each extra point of fill rate costs.",
        ),
    ]
    return stops


def _customer_by_phone(raw: str) -> Customer | None:
    digest = blind_index(normalize_phone(raw), purpose="phone")
    contact = (
        ContactPoint.objects.select_related("customer")
        .filter(kind=ContactPoint.Kind.PHONE, lookup_hash=digest)
        .first()
    )
    return contact.customer if contact else None
