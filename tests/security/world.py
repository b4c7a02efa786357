"""A small world for access tests: a member of staff of one role, and records outside their reach.

The reader works in Guangdong (广东): their home team, a second team of the same region, and the
technical team are there. The foreign records belong to a Beijing (北京) team: a customer, their
unit, an open case assigned to a Beijing agent, that agent's absence. Every foreign record
carries a marker string that must never appear in a response to a reader who may not see it.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from aftersales.accounts.models import Absence, Team, User
from aftersales.accounts.roles import ROLE_PERMISSIONS, ROLE_SCOPES, Role, Scope
from aftersales.accounts.services import staff_create, team_create
from aftersales.callbacks.models import ReturnVisit
from aftersales.cases.models import Case
from aftersales.catalog import services as catalog_services
from aftersales.catalog.models import ProductModel, Unit, UnitImport
from aftersales.complaints.models import Complaint
from aftersales.core import clock
from aftersales.customers.models import Customer
from aftersales.customers.services import customer_create
from tests import factories

PASSWORD = "Demo-pass-2026"
FOREIGN_PHONE = "13911112222"
FOREIGN_NAME = "MARKER-cust-外域客户"
FOREIGN_SUBJECT = "MARKER-case-北京冰箱漏水"
FOREIGN_SERIAL = "MARKERSN000001"
FOREIGN_ABSENCE_NOTE = "MARKER-absence-探亲"

ALL_ROLES = list(Role)


@dataclass
class World:
    role: Role
    user: User
    home: Team
    sibling: Team  # another team of the reader's region
    foreign_team: Team
    foreign_agent: User
    customer: Customer  # the foreign customer
    duplicate: Customer  # a second foreign customer (merge target)
    unit: Unit
    case: Case
    absence: Absence
    model: ProductModel
    visit: ReturnVisit  # a return visit of the foreign case, due now
    complaint: Complaint  # the foreign customer's complaint (its own case, same subject marker)
    _batch: UnitImport | None = None
    _attachment: int | None = None

    @property
    def batch(self) -> UnitImport:
        """An import report (made on first use: most endpoints need none)."""
        if self._batch is None:
            self._batch = catalog_services.units_import_csv(
                actor=None, filename="marker.csv", content=_import_csv()
            )
        return self._batch

    @property
    def attachment_id(self) -> int:
        """A file attached to the foreign case by its agent (made on first use)."""
        if self._attachment is None:
            from django.core.files.uploadedfile import SimpleUploadedFile

            from aftersales.cases.attachments import attachment_add

            upload = SimpleUploadedFile("notes.txt", b"MARKER-file", content_type="text/plain")
            self._attachment = attachment_add(
                actor=self.foreign_agent, case=self.case, upload=upload
            ).pk
        return self._attachment

    def markers(self, kind: str) -> list[str]:
        """The strings by which a response would give away a foreign record of `kind`."""
        return {
            "customer": [FOREIGN_NAME, self.customer.number],
            "customer_name": [FOREIGN_NAME],
            "customer_number": [self.customer.number],
            "case": [FOREIGN_SUBJECT, self.case.number],
            "case_number": [self.case.number],
            "unit": [FOREIGN_SERIAL],
            "absence": [FOREIGN_ABSENCE_NOTE],
            "import": [],  # catalog records: the same for every reader who may see them
            "model": [],
        }[kind]


def grants(role: Role, perm: str) -> bool:
    """Whether the role's declared permissions include `perm`."""
    return perm in ROLE_PERMISSIONS[role]


def sees(role: Role, kind: str) -> bool:
    """Whether a reader of `role` (not assigned to the foreign case) may see the foreign `kind`.

    Cases and absences of another region: only the ALL scope. The foreign customer: desk
    roles see every customer (an agent must recognise any caller), technicians only those of
    their own cases, warehouse staff none. Units: anyone who works with units. Imports and
    product models are catalog records, not scoped: the endpoint's permission decides. A case's
    reservations and backorders ("casestock"): those who see the case, and warehouse staff,
    who serve every case.
    """
    kind = kind.split("_")[0]  # "customer_name" is part of "customer"
    scope = ROLE_SCOPES[role]
    if kind == "casestock":  # the foreign case's reservations and backorders
        return scope == Scope.ALL or grants(role, "parts.move_stock")
    if kind in ("case", "absence"):
        return scope == Scope.ALL
    if kind == "customer":
        return grants(role, "customers.view_customer") and scope not in (Scope.OWN, Scope.NONE)
    if kind == "unit":
        return grants(role, "catalog.view_unit")
    if kind in ("import", "model"):
        return True  # not scoped: the endpoint's permission decides
    raise KeyError(kind)


def _import_csv() -> bytes:
    return (
        b"serial_number,model_code,purchase_date,amount,sales_channel\r\n"
        b"MXIMPORT000001,MX-100,2026-01-15,1999.00,online\r\n"
    )


def build_world(role: Role) -> World:
    """The reader of `role` and the foreign records (a few dozen rows, no routing, no mail)."""
    home = team_create(code="gd-desk", name="Desk Guangzhou", kind="frontline", region="广东")
    sibling = team_create(code="gd-desk2", name="Desk Shenzhen", kind="frontline", region="广东")
    tech = team_create(code="gd-tech", name="Tech Guangdong", kind="tech_support", region="广东")
    foreign_team = team_create(code="bj-desk", name="Desk Beijing", kind="frontline", region="北京")
    teams: list[Team] = []
    leads: list[Team] = []
    if role == Role.TECHNICIAN:
        teams = [tech]
    elif role == Role.SUPERVISOR:
        leads = [home]
    elif role not in (Role.WAREHOUSE, Role.MANAGER, Role.ADMINISTRATOR):
        teams = [home]
    user = staff_create(
        username=f"reader-{role.value}",
        password=PASSWORD,
        display_name=f"Reader {role.value}",
        roles=[role],
        teams=teams,
        leads=leads,
    )
    foreign_agent = staff_create(
        username="bj-agent",
        password=PASSWORD,
        display_name="Beijing agent",
        roles=[Role.FRONTLINE_AGENT],
        teams=[foreign_team],
    )
    customer = customer_create(actor=None, name=FOREIGN_NAME, phones=[FOREIGN_PHONE])
    duplicate = factories.customer(name="MARKER-cust-dup")
    model = factories.product_model(code="MX-100", name="Marker fridge")
    unit = catalog_services.unit_register(
        actor=None,
        model=model,
        serial_number=FOREIGN_SERIAL,
        customer=customer,
        purchase_date=dt.date(2026, 1, 10),
        purchase_amount=Decimal("8765.43"),
        sales_channel="online",
    )
    case = factories.case(
        customer, team=foreign_team, assignee=foreign_agent, unit=unit, subject=FOREIGN_SUBJECT
    )
    now = clock.now()
    absence = Absence.objects.create(
        user=foreign_agent,
        starts_at=now + dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=2),
        reason=Absence.Reason.LEAVE,
        note=FOREIGN_ABSENCE_NOTE,
        created_at=now,
    )
    visit = ReturnVisit.objects.create(
        kind=ReturnVisit.Kind.FOLLOW_UP,
        reason="sample",
        customer=customer,
        case=case,
        due_at=now,
        next_attempt_at=now,
        created_at=now,
    )
    complaint_case = factories.case(
        customer, team=foreign_team, assignee=foreign_agent, subject=FOREIGN_SUBJECT
    )
    Case.objects.filter(pk=complaint_case.pk).update(kind="complaint")
    complaint = Complaint.objects.create(
        case=complaint_case, nature="slow_response", received_at=now, updated_at=now
    )
    return World(
        role=role,
        user=user,
        home=home,
        sibling=sibling,
        foreign_team=foreign_team,
        foreign_agent=foreign_agent,
        customer=customer,
        duplicate=duplicate,
        unit=unit,
        case=case,
        absence=absence,
        model=model,
        visit=visit,
        complaint=complaint,
    )
