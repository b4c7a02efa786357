"""The access matrix: every role against every API endpoint and every staff page.

`API` and `PAGES` declare each endpoint once: the permission it needs, the kind of record its
path addresses (if any), how to build that path with a record *outside* the reader's reach,
and which foreign records a list may show. The expectation of each role follows from that
declaration and the declared roles (`ROLE_PERMISSIONS`, `ROLE_SCOPES`):

- the path addresses a record the role may not see: 403 or 404 ("hidden");
- else the role lacks the permission: 403 ("denied");
- else a read: the success status ("allowed"), showing the records the role may see (a
  positive control: the path really points at the foreign record) and none of the others;
- a write to a record the role may see is left to the app's own tests.

Every answer, whatever the expectation, must be free of the markers of every foreign record
the role may not see (customer name and number, case number and subject, absence note).

The completeness tests fail when the API (its OpenAPI document) or the URL resolver has an
endpoint the matrix does not list, or the matrix lists one that no longer exists: a new
endpoint must be declared here before it ships.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from aftersales.accounts.roles import Role
from aftersales.accounts.services import api_token_create
from aftersales.core.api import api as ninja_api
from tests.auth import sign_in

from .world import ALL_ROLES, FOREIGN_PHONE, World, build_world, grants, sees

# Runs on SQLite only (`make test`): the scope rules are ORM filters that behave alike on both
# engines, and its ~2,200 cases would add minutes to the PostgreSQL run (see the Makefile).
pytestmark = [pytest.mark.django_db, pytest.mark.access_matrix]

KINDS = ("customer", "case", "unit", "absence")
Build = Callable[[World], Any]


@dataclass(frozen=True)
class Endpoint:
    path: Build  # the path (and query) with the foreign record
    obj: str | None = None  # the kind of record the path addresses
    perm: str | None = None  # the permission needed besides the scope
    body: Build | None = None  # JSON body (API) or form data (pages)
    files: bool = False  # multipart upload of a small text/CSV file
    shows: tuple[str, ...] = ()  # foreign records a successful read shows when visible
    ok: int = 200
    discloses: tuple[str, ...] = ()  # out-of-scope records deliberately given to `perm` holders
    follow: bool = False  # pages: follow the redirect after a POST (search terms stay out of URLs)
    public: bool = False  # no sign-in (the token endpoint)


def _future(days: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def _case(suffix: str = "") -> Build:
    return lambda w: f"/cases/{w.case.number}{suffix}"


def _customer(suffix: str = "") -> Build:
    return lambda w: f"/customers/{w.customer.pk}{suffix}"


def _privacy(suffix: str) -> Build:
    return lambda w: f"/privacy/customers/{w.customer.pk}{suffix}"


def _visit(suffix: str = "") -> Build:
    return lambda w: f"/callbacks/{w.visit.pk}{suffix}"


def _complaint(suffix: str = "") -> Build:
    return lambda w: f"/complaints/{w.complaint.case.number}{suffix}"


def _complaint_write(suffix: str, perm: str, body: Any = None) -> Endpoint:
    return Endpoint(_complaint(suffix), obj="case", perm=perm, body=lambda w: body or {})


def _parts_api_records(w: World) -> dict[str, Any]:
    """What the parts API endpoints of the matrix address, on top of `_parts`: a repairable
    part with defective stock, a supplier, transfers, a count, purchase orders and planning
    records; made on first use, the same on every later call in the test."""
    from aftersales.core.services import number_allocate
    from aftersales.parts import models as pm

    p = _parts(w)
    now, central, outlet, part = p["now"], p["central"], p["outlet"], p["part"]
    spare, made = pm.Part.objects.get_or_create(
        number="MX-P-200",
        defaults={
            "name_zh": "主板",
            "name_en": "Board",
            "unit_cost": 20,
            "is_repairable": True,
            "created_at": now,
        },
    )
    if made:
        pm.StockBalance.objects.create(
            part=spare, location=central, kind="defective", on_hand=5, updated_at=now
        )
        supplier = pm.Supplier.objects.create(code="MX-SUP-API", name="Supplier")
        suggested = pm.Transfer.objects.create(
            number="TR-MX-API-1",
            source=central,
            destination=outlet,
            status="suggested",
            created_at=now,
        )
        pm.TransferLine.objects.create(transfer=suggested, part=part, quantity=1)
        shipped = pm.Transfer.objects.create(
            number="TR-MX-API-2",
            source=central,
            destination=outlet,
            status="in_transit",
            created_at=now,
        )
        pm.TransferLine.objects.create(transfer=shipped, part=part, quantity=1)
        pm.StockBalance.objects.create(
            part=part, location=outlet, kind="new", in_transit=1, updated_at=now
        )
        # Count numbers are "CC" + month + sequence: the month's first contains the customer
        # marker ("C" + month + 0000001), so it is used up here.
        number_allocate(prefix="CC")
        count = pm.CycleCount.objects.create(number="CC-MX-API", location=central, created_at=now)
        pm.CycleCountLine.objects.create(count=count, part=part, expected=50, counted=50)
        for number, status in (("PO-MX-API-D", "draft"), ("PO-MX-API-A", "approved")):
            order = pm.PurchaseOrder.objects.create(
                number=number, supplier=supplier, location=central, status=status, created_at=now
            )
            pm.PurchaseOrderLine.objects.create(order=order, part=part, quantity=5, unit_price=9)
        pm.ForecastRun.objects.create(
            started_at=now, origin=dt.date(2026, 11, 1), horizon=12, status="done"
        )
        pm.DemandEvent.objects.create(
            name="launch",
            kind="launch",
            part=part,
            starts_on=dt.date(2027, 1, 1),
            ends_on=dt.date(2027, 1, 31),
            created_at=now,
        )
        pm.ForecastOverride.objects.create(
            part=part,
            starts_on=dt.date(2027, 1, 1),
            ends_on=dt.date(2027, 1, 1),
            quantity=2,
            reason="x",
            author=w.user,
            created_at=now,
            expires_at=now + dt.timedelta(days=30),
        )
    count = pm.CycleCount.objects.get(location=central)
    return {
        **p,
        "spare": spare,
        "count": count,
        "count_line": count.lines.get().pk,
        "draft_line": pm.PurchaseOrderLine.objects.get(order__number="PO-MX-API-D").pk,
        "approved_line": pm.PurchaseOrderLine.objects.get(order__number="PO-MX-API-A").pk,
        "run": pm.ForecastRun.objects.get().pk,
        "event": pm.DemandEvent.objects.get().pk,
        "override": pm.ForecastOverride.objects.get().pk,
    }


def _parts_api(kind: str, suffix: str = "") -> Build:
    """The API path of the parts record of `kind` (see `_parts_api_records`), plus `suffix`."""

    def build(w: World) -> str:
        r = _parts_api_records(w)
        path = {
            "part": f"/parts/{r['part'].number}",
            "location": f"/parts/locations/{r['central'].code}/stock",
            "suggested": "/parts/transfers/TR-MX-API-1",
            "in_transit": "/parts/transfers/TR-MX-API-2",
            "count": f"/parts/counts/{r['count'].number}",
            "count_line": f"/parts/counts/{r['count'].number}/lines/{r['count_line']}",
            "run": f"/parts/forecasts/runs/{r['run']}",
            "event": f"/parts/events/{r['event']}",
            "override": f"/parts/overrides/{r['override']}",
            "draft": "/parts/purchase-orders/PO-MX-API-D",
            "draft_line": f"/parts/purchase-orders/PO-MX-API-D/lines/{r['draft_line']}",
            "approved": "/parts/purchase-orders/PO-MX-API-A",
        }[kind]
        return path + suffix

    return build


def _parts_api_stock(w: World, *, spare: bool = False, **fields: Any) -> dict[str, Any]:
    """A stock request body: one unit of the part (or the repairable spare) at the central
    warehouse, with `fields`."""
    r = _parts_api_records(w)
    part = r["spare"] if spare else r["part"]
    return {"part": part.number, "location": r["central"].code, "quantity": 1, **fields}


NOTE = {"body": "MARKER-note"}

# "METHOD /api/v1/path" as in the OpenAPI document -> its declaration.
API: dict[str, Endpoint] = {
    # auth
    "POST /api/v1/auth/token": Endpoint(lambda w: "/auth/token", public=True),
    "GET /api/v1/auth/me": Endpoint(lambda w: "/auth/me"),
    "GET /api/v1/auth/me/availability": Endpoint(lambda w: "/auth/me/availability"),
    "PUT /api/v1/auth/me/availability": Endpoint(
        lambda w: "/auth/me/availability",
        perm="cases.work_case",
        body=lambda w: {"accepting_cases": True},
    ),
    "GET /api/v1/auth/absences": Endpoint(
        lambda w: "/auth/absences", perm="accounts.view_absence", shows=("absence",)
    ),
    "POST /api/v1/auth/absences": Endpoint(
        lambda w: "/auth/absences",
        obj="absence",  # planning the foreign agent's time
        perm="accounts.plan_staff",
        body=lambda w: {
            "user": w.foreign_agent.pk,
            "starts_at": _future(3),
            "ends_at": _future(4),
            "reason": "leave",
        },
    ),
    "POST /api/v1/auth/absences/{absence_id}/cancel": Endpoint(
        lambda w: f"/auth/absences/{w.absence.pk}/cancel", obj="absence", perm="accounts.plan_staff"
    ),
    # customers
    "GET /api/v1/customers": Endpoint(lambda w: "/customers", shows=("customer",)),
    "POST /api/v1/customers": Endpoint(
        lambda w: "/customers",
        perm="customers.add_customer",
        body=lambda w: {"name": "新客户"},
        ok=201,
    ),
    "POST /api/v1/customers/lookup": Endpoint(
        lambda w: "/customers/lookup", body=lambda w: {"phone": FOREIGN_PHONE}, shows=("customer",)
    ),
    "POST /api/v1/customers/search": Endpoint(
        lambda w: "/customers/search", body=lambda w: {"q": FOREIGN_PHONE}, shows=("customer",)
    ),
    "GET /api/v1/customers/{customer_id}": Endpoint(
        _customer(), obj="customer", perm="customers.view_customer", shows=("customer",)
    ),
    "PATCH /api/v1/customers/{customer_id}": Endpoint(
        _customer(), obj="customer", perm="customers.change_customer", body=lambda w: {"notes": "x"}
    ),
    "POST /api/v1/customers/{customer_id}/contacts": Endpoint(
        _customer("/contacts"),
        obj="customer",
        perm="customers.change_customer",
        body=lambda w: {"kind": "phone", "value": "13700137000"},
    ),
    "POST /api/v1/customers/{customer_id}/reveal": Endpoint(
        _customer("/reveal"), obj="customer", perm="customers.reveal_contact"
    ),
    "POST /api/v1/customers/{customer_id}/merge": Endpoint(
        _customer("/merge"),
        obj="customer",
        perm="customers.merge_customer",
        body=lambda w: {"duplicate_id": w.duplicate.pk},
    ),
    "POST /api/v1/customers/{customer_id}/tier": Endpoint(
        _customer("/tier"),
        obj="customer",
        perm="customers.set_tier",
        body=lambda w: {"tier": "vip", "reason": "x", "expires_at": _future()},
    ),
    "GET /api/v1/customers/{customer_id}/tier": Endpoint(
        _customer("/tier"), obj="customer", perm="customers.view_customer"
    ),
    "GET /api/v1/customers/{customer_id}/timeline": Endpoint(
        _customer("/timeline"),
        obj="customer",
        perm="customers.view_customer",
        shows=("case_number",),
    ),
    "GET /api/v1/customers/tiers/report": Endpoint(
        lambda w: "/customers/tiers/report", perm="customers.view_tier_report"
    ),
    "GET /api/v1/customers/tiers/changes": Endpoint(
        lambda w: "/customers/tiers/changes", perm="customers.view_tier_report"
    ),
    "GET /api/v1/customers/tiers/overrides": Endpoint(
        lambda w: "/customers/tiers/overrides", perm="customers.view_tier_report"
    ),
    # catalog
    "GET /api/v1/catalog/product-lines": Endpoint(lambda w: "/catalog/product-lines"),
    "POST /api/v1/catalog/product-lines": Endpoint(
        lambda w: "/catalog/product-lines",
        perm="catalog.add_productline",
        body=lambda w: {"code": "zz", "name_zh": "测试", "name_en": "Test"},
        ok=201,
    ),
    "GET /api/v1/catalog/product-models": Endpoint(lambda w: "/catalog/product-models"),
    "POST /api/v1/catalog/product-models": Endpoint(
        lambda w: "/catalog/product-models",
        perm="catalog.add_productmodel",
        body=lambda w: {"line_id": w.model.line_id, "code": "MX-200", "name": "New"},
        ok=201,
    ),
    "PATCH /api/v1/catalog/product-models/{model_id}": Endpoint(
        lambda w: f"/catalog/product-models/{w.model.pk}",
        obj="model",
        perm="catalog.change_productmodel",
        body=lambda w: {"name": "Renamed"},
    ),
    "GET /api/v1/catalog/units": Endpoint(
        lambda w: "/catalog/units", perm="catalog.view_unit", shows=("unit", "customer")
    ),
    "POST /api/v1/catalog/units": Endpoint(
        lambda w: "/catalog/units",
        perm="catalog.add_unit",
        body=lambda w: {
            "model_code": "MX-100",
            "serial_number": "MXNEW000001",
            "purchase_date": "2026-01-02",
            "purchase_amount": "10.00",
            "sales_channel": "online",
        },
        ok=201,
    ),
    "GET /api/v1/catalog/units/{unit_id}": Endpoint(
        lambda w: f"/catalog/units/{w.unit.pk}",
        obj="unit",
        perm="catalog.view_unit",
        shows=("unit", "customer"),
    ),
    "POST /api/v1/catalog/units/import": Endpoint(
        lambda w: "/catalog/units/import", perm="catalog.import_units", files=True, ok=201
    ),
    "GET /api/v1/catalog/imports/{import_id}": Endpoint(
        lambda w: f"/catalog/imports/{w.batch.pk}", obj="import", perm="catalog.import_units"
    ),
    # cases
    "GET /api/v1/cases/choices": Endpoint(lambda w: "/cases/choices"),
    "GET /api/v1/cases": Endpoint(lambda w: "/cases", shows=("case",)),
    "POST /api/v1/cases/search": Endpoint(
        lambda w: "/cases/search", body=lambda w: {"q": FOREIGN_PHONE}, shows=("case",)
    ),
    "POST /api/v1/cases": Endpoint(
        lambda w: "/cases",
        perm="cases.add_case",
        body=lambda w: {"customer_id": w.customer.pk, "channel": "phone", "subject": "新报修"},
        ok=201,
    ),
    "GET /api/v1/cases/{number}": Endpoint(
        _case(), obj="case", perm="cases.view_case", shows=("case",)
    ),
    "POST /api/v1/cases/{number}/classify": Endpoint(
        _case("/classify"),
        obj="case",
        perm="cases.classify_case",
        body=lambda w: {"nature": "hardware"},
    ),
    "POST /api/v1/cases/{number}/assign": Endpoint(
        _case("/assign"),
        obj="case",
        perm="cases.assign_case",
        body=lambda w: {"team_id": w.home.pk},
    ),
    "POST /api/v1/cases/{number}/transitions": Endpoint(
        _case("/transitions"),
        obj="case",
        perm="cases.work_case",
        body=lambda w: {"action": "cancel", "reason": "x"},
    ),
    "POST /api/v1/cases/{number}/contacts": Endpoint(
        _case("/contacts"),
        obj="case",
        perm="cases.work_case",
        body=lambda w: {"direction": "out", "channel": "phone", "body": "x"},
    ),
    "POST /api/v1/cases/{number}/notes": Endpoint(
        _case("/notes"), obj="case", perm="cases.work_case", body=lambda w: NOTE
    ),
    "POST /api/v1/cases/{number}/preliminary-solution": Endpoint(
        _case("/preliminary-solution"), obj="case", perm="cases.work_case", body=lambda w: NOTE
    ),
    "POST /api/v1/cases/{number}/feedback": Endpoint(
        _case("/feedback"), obj="case", perm="cases.work_case", body=lambda w: {"useful": True}
    ),
    "GET /api/v1/cases/{number}/events": Endpoint(
        _case("/events"), obj="case", perm="cases.view_case"
    ),
    "GET /api/v1/cases/{number}/attachments": Endpoint(
        _case("/attachments"), obj="case", perm="cases.view_case"
    ),
    "POST /api/v1/cases/{number}/attachments": Endpoint(
        _case("/attachments"), obj="case", perm="cases.work_case", files=True
    ),
    "GET /api/v1/cases/{number}/attachments/{attachment_id}/download": Endpoint(
        lambda w: f"/cases/{w.case.number}/attachments/{w.attachment_id}/download",
        obj="case",
        perm="cases.view_case",
    ),
    "DELETE /api/v1/cases/{number}/attachments/{attachment_id}": Endpoint(
        lambda w: f"/cases/{w.case.number}/attachments/{w.attachment_id}",
        obj="case",
        perm="cases.view_case",
    ),
    # sla
    "GET /api/v1/sla/overview": Endpoint(lambda w: "/sla/overview", perm="cases.view_case"),
    "GET /api/v1/sla/breaches": Endpoint(lambda w: "/sla/breaches", perm="cases.view_case"),
    # audit log
    "GET /api/v1/audit": Endpoint(lambda w: "/audit", perm="core.view_auditevent"),
    # privacy
    "GET /api/v1/privacy/customers/{customer_id}/consents": Endpoint(
        _privacy("/consents"), obj="customer", perm="customers.view_customer"
    ),
    "POST /api/v1/privacy/customers/{customer_id}/consents": Endpoint(
        _privacy("/consents"),
        obj="customer",
        perm="customers.change_customer",
        body=lambda w: {"purpose": "surveys", "granted": False, "source": "phone"},
    ),
    # A data-subject export is the person's whole file by law (PIPL art. 45, GDPR art. 15), so
    # only roles that see every record (manager, administrator) hold privacy.export_subject.
    "GET /api/v1/privacy/customers/{customer_id}/export": Endpoint(
        _privacy("/export"),
        obj="customer",
        perm="privacy.export_subject",
        shows=("customer",),
        discloses=("case",),
    ),
    "POST /api/v1/privacy/customers/{customer_id}/erase": Endpoint(
        _privacy("/erase"),
        obj="customer",
        perm="privacy.erase_subject",
        body=lambda w: {"reason": "subject_request"},
    ),
    # return visits (a visit is seen with its case)
    "GET /api/v1/callbacks": Endpoint(
        lambda w: "/callbacks", perm="callbacks.view_returnvisit", shows=("case",)
    ),
    "GET /api/v1/callbacks/report": Endpoint(
        lambda w: "/callbacks/report", perm="callbacks.view_callback_report"
    ),
    "GET /api/v1/callbacks/{visit_id}": Endpoint(
        _visit(), obj="case", perm="callbacks.view_returnvisit", shows=("case",)
    ),
    "GET /api/v1/callbacks/{visit_id}/suggestions": Endpoint(
        _visit("/suggestions"), obj="case", perm="callbacks.view_returnvisit"
    ),
    "POST /api/v1/callbacks/{visit_id}/attempts": Endpoint(
        _visit("/attempts"),
        obj="case",
        perm="callbacks.work_return_visit",
        body=lambda w: {"result": "no_answer"},
    ),
    "POST /api/v1/callbacks/{visit_id}/survey": Endpoint(
        _visit("/survey"),
        obj="case",
        perm="callbacks.work_return_visit",
        body=lambda w: {"csat": 5},
    ),
    "POST /api/v1/callbacks/{visit_id}/survey-link": Endpoint(
        _visit("/survey-link"), obj="case", perm="callbacks.work_return_visit"
    ),
    "POST /api/v1/callbacks/{visit_id}/recommendations": Endpoint(
        _visit("/recommendations"),
        obj="case",
        perm="callbacks.work_return_visit",
        body=lambda w: {"kind": "maintenance_tip"},
    ),
    "POST /api/v1/callbacks/{visit_id}/recommendations/{recommendation_id}/decide": Endpoint(
        _visit("/recommendations/999999/decide"),
        obj="case",
        perm="callbacks.work_return_visit",
        body=lambda w: {"outcome": "accepted"},
    ),
    "POST /api/v1/callbacks/{visit_id}/complete": Endpoint(
        _visit("/complete"),
        obj="case",
        perm="callbacks.work_return_visit",
        body=lambda w: {"solved": True},
    ),
    # the customer's survey answer: the link's token is the credential
    "POST /api/v1/surveys/answer": Endpoint(lambda w: "/surveys/answer", public=True),
    # complaints (a complaint is seen with its case; the review group sees those in review)
    "GET /api/v1/complaints": Endpoint(lambda w: "/complaints", perm="complaints.view_complaint"),
    "POST /api/v1/complaints": Endpoint(
        lambda w: "/complaints",
        perm="cases.add_case",
        body=lambda w: {
            "customer_id": w.customer.pk,
            "channel": "phone",
            "subject": "新投诉",
            "nature": "other",
        },
        ok=201,
    ),
    "GET /api/v1/complaints/reviews": Endpoint(
        lambda w: "/complaints/reviews", perm="complaints.review_complaint"
    ),
    "GET /api/v1/complaints/approvals": Endpoint(
        lambda w: "/complaints/approvals", perm="complaints.approve_compensation"
    ),
    "GET /api/v1/complaints/{number}": Endpoint(
        _complaint(), obj="case", perm="complaints.view_complaint", shows=("customer",)
    ),
    "POST /api/v1/complaints/{number}/evaluate": _complaint_write(
        "/evaluate", "complaints.handle_complaint", {"nature": "other", "severity": "minor"}
    ),
    "POST /api/v1/complaints/{number}/handle": _complaint_write(
        "/handle", "complaints.handle_complaint"
    ),
    "POST /api/v1/complaints/{number}/answer": _complaint_write(
        "/answer", "complaints.handle_complaint"
    ),
    "POST /api/v1/complaints/{number}/root-cause": _complaint_write(
        "/root-cause",
        "complaints.handle_complaint",
        {"root_cause": "other", "communication_error": False},
    ),
    "POST /api/v1/complaints/{number}/close": _complaint_write(
        "/close", "complaints.handle_complaint"
    ),
    "POST /api/v1/complaints/{number}/reopen": _complaint_write(
        "/reopen", "complaints.handle_complaint", {"reason": "x"}
    ),
    "POST /api/v1/complaints/{number}/proposals": _complaint_write(
        "/proposals",
        "complaints.propose_compensation",
        {"lines": [{"kind": "voucher", "amount": "10"}]},
    ),
    "POST /api/v1/complaints/{number}/proposals/{proposal_id}/decide": _complaint_write(
        "/proposals/999999/decide", "complaints.approve_compensation", {"decision": "approve"}
    ),
    "POST /api/v1/complaints/{number}/proposals/{proposal_id}/withdraw": _complaint_write(
        "/proposals/999999/withdraw", "complaints.propose_compensation"
    ),
    "POST /api/v1/complaints/{number}/actions/{action_id}/complete": _complaint_write(
        "/actions/999999/complete", "complaints.handle_complaint", {"reference": "x"}
    ),
    "POST /api/v1/complaints/{number}/reviews/{review_id}/claim": _complaint_write(
        "/reviews/999999/claim", "complaints.review_complaint"
    ),
    "POST /api/v1/complaints/{number}/reviews/{review_id}/complete": _complaint_write(
        "/reviews/999999/complete",
        "complaints.review_complaint",
        {"findings": "x", "responsibility": "service"},
    ),
    # spare parts: stock and planning records are not scoped (the permission decides); a
    # reservation or backorder belongs to a case, found only within the reader's case scope
    # (by id, warehouse staff reach every case's: tests/parts/test_api.py; here the ids match
    # nothing, so every reader outside the foreign case gets 403 or 404).
    "GET /api/v1/parts": Endpoint(lambda w: "/parts?q=MX", perm="parts.view_part"),
    "POST /api/v1/parts": Endpoint(
        lambda w: "/parts",
        perm="parts.add_part",
        body=lambda w: {"number": "MX-NEW", "name_zh": "新", "name_en": "New", "unit_cost": "1"},
        ok=201,
    ),
    "GET /api/v1/parts/{number}": Endpoint(_parts_api("part"), perm="parts.view_part"),
    "POST /api/v1/parts/{number}/supersede": Endpoint(
        _parts_api("part", "/supersede"),
        perm="parts.change_part",
        body=lambda w: {"by": _parts_api_records(w)["spare"].number},
    ),
    "GET /api/v1/parts/{number}/forecast": Endpoint(
        _parts_api("part", "/forecast"), perm="parts.view_forecast"
    ),
    "GET /api/v1/parts/{number}/demand": Endpoint(
        _parts_api("part", "/demand"), perm="parts.view_forecast"
    ),
    "GET /api/v1/parts/locations": Endpoint(
        lambda w: "/parts/locations", perm="parts.view_location"
    ),
    "GET /api/v1/parts/locations/{code}/stock": Endpoint(
        _parts_api("location"), perm="parts.view_stockbalance"
    ),
    "GET /api/v1/parts/ledger": Endpoint(
        lambda w: "/parts/ledger", perm="parts.view_stockmovement"
    ),
    "POST /api/v1/parts/reservations": Endpoint(
        lambda w: "/parts/reservations",
        obj="case",
        perm="parts.reserve_part",
        body=lambda w: _parts_api_stock(w, case=w.case.number, backorder=False),
    ),
    "GET /api/v1/parts/reservations": Endpoint(
        lambda w: f"/parts/reservations?case={w.case.number}",
        obj="case",
        perm="parts.view_reservation",
    ),
    "POST /api/v1/parts/reservations/{reservation_id}/issue": Endpoint(
        lambda w: "/parts/reservations/999999/issue",
        obj="case",
        perm="parts.reserve_part",
        body=lambda w: {},
    ),
    "POST /api/v1/parts/reservations/{reservation_id}/release": Endpoint(
        lambda w: "/parts/reservations/999999/release", obj="case", perm="parts.reserve_part"
    ),
    "POST /api/v1/parts/reservations/{reservation_id}/return": Endpoint(
        lambda w: "/parts/reservations/999999/return",
        obj="case",
        perm="parts.reserve_part",
        body=lambda w: {"quantity": 1},
    ),
    "GET /api/v1/parts/backorders": Endpoint(
        lambda w: "/parts/backorders", perm="parts.view_backorder"
    ),
    "POST /api/v1/parts/backorders/{backorder_id}/cancel": Endpoint(
        lambda w: "/parts/backorders/999999/cancel", obj="case", perm="parts.reserve_part"
    ),
    "POST /api/v1/parts/receipts": Endpoint(
        lambda w: "/parts/receipts",
        perm="parts.move_stock",
        body=lambda w: _parts_api_stock(w),
        ok=201,
    ),
    "POST /api/v1/parts/adjustments": Endpoint(
        lambda w: "/parts/adjustments",
        perm="parts.move_stock",
        body=lambda w: _parts_api_stock(w, quantity=-1, reason="lost"),
        ok=201,
    ),
    "POST /api/v1/parts/scrap": Endpoint(
        lambda w: "/parts/scrap",
        perm="parts.move_stock",
        body=lambda w: _parts_api_stock(w),
        ok=201,
    ),
    "POST /api/v1/parts/defective": Endpoint(
        lambda w: "/parts/defective",
        perm="parts.move_stock",
        body=lambda w: _parts_api_stock(w),
        ok=201,
    ),
    "POST /api/v1/parts/defective/return": Endpoint(
        lambda w: "/parts/defective/return",
        perm="parts.move_stock",
        body=lambda w: _parts_api_stock(w, spare=True, supplier="MX-SUP-API"),
        ok=201,
    ),
    "POST /api/v1/parts/refurbish": Endpoint(
        lambda w: "/parts/refurbish",
        perm="parts.move_stock",
        body=lambda w: _parts_api_stock(w, spare=True),
        ok=201,
    ),
    "POST /api/v1/parts/transfers": Endpoint(
        lambda w: "/parts/transfers",
        perm="parts.move_stock",
        body=lambda w: {
            "source": _parts_api_records(w)["central"].code,
            "destination": _parts_api_records(w)["outlet"].code,
            "lines": [{"part": _parts_api_records(w)["part"].number, "quantity": 1}],
        },
        ok=201,
    ),
    "GET /api/v1/parts/transfers": Endpoint(
        lambda w: "/parts/transfers", perm="parts.view_transfer"
    ),
    "POST /api/v1/parts/transfers/{number}/ship": Endpoint(
        _parts_api("suggested", "/ship"), perm="parts.move_stock"
    ),
    "POST /api/v1/parts/transfers/{number}/receive": Endpoint(
        _parts_api("in_transit", "/receive"), perm="parts.move_stock", body=lambda w: {}
    ),
    "POST /api/v1/parts/transfers/{number}/cancel": Endpoint(
        _parts_api("suggested", "/cancel"), perm="parts.move_stock"
    ),
    "POST /api/v1/parts/transfers/{number}/approve": Endpoint(
        _parts_api("suggested", "/approve"), perm="parts.approve_replenishment"
    ),
    "POST /api/v1/parts/counts": Endpoint(
        lambda w: "/parts/counts",
        perm="parts.move_stock",
        body=lambda w: {"location": _parts_api_records(w)["central"].code},
        ok=201,
    ),
    "POST /api/v1/parts/counts/{number}/lines/{line_id}": Endpoint(
        _parts_api("count_line"), perm="parts.move_stock", body=lambda w: {"counted": 50}
    ),
    "POST /api/v1/parts/counts/{number}/post": Endpoint(
        _parts_api("count", "/post"), perm="parts.move_stock"
    ),
    "POST /api/v1/parts/classification/run": Endpoint(
        lambda w: "/parts/classification/run", perm="parts.plan_parts", ok=201
    ),
    "GET /api/v1/parts/classification/matrix": Endpoint(
        lambda w: "/parts/classification/matrix", perm="parts.view_stockpolicy"
    ),
    "POST /api/v1/parts/forecasts/run": Endpoint(
        lambda w: "/parts/forecasts/run", perm="parts.plan_parts", ok=201
    ),
    "GET /api/v1/parts/forecasts/runs": Endpoint(
        lambda w: "/parts/forecasts/runs", perm="parts.view_forecast"
    ),
    "GET /api/v1/parts/forecasts/runs/{run_id}": Endpoint(
        _parts_api("run"), perm="parts.view_forecast"
    ),
    "POST /api/v1/parts/events": Endpoint(
        lambda w: "/parts/events",
        perm="parts.plan_parts",
        body=lambda w: {
            "name": "recall",
            "kind": "recall",
            "part": _parts_api_records(w)["part"].number,
            "starts_on": "2027-01-01",
            "ends_on": "2027-02-28",
            "factor": "2",
        },
        ok=201,
    ),
    "DELETE /api/v1/parts/events/{event_id}": Endpoint(
        _parts_api("event"), perm="parts.plan_parts"
    ),
    "POST /api/v1/parts/overrides": Endpoint(
        lambda w: "/parts/overrides",
        perm="parts.plan_parts",
        body=lambda w: {
            "part": _parts_api_records(w)["part"].number,
            "starts_on": "2027-01-01",
            "ends_on": "2027-02-01",
            "quantity": "3",
            "reason": "launch",
            "expires_at": _future(),
        },
        ok=201,
    ),
    "DELETE /api/v1/parts/overrides/{override_id}": Endpoint(
        _parts_api("override"), perm="parts.plan_parts"
    ),
    "GET /api/v1/parts/accuracy": Endpoint(lambda w: "/parts/accuracy", perm="parts.view_forecast"),
    "POST /api/v1/parts/replenishment/suggest": Endpoint(
        lambda w: "/parts/replenishment/suggest", perm="parts.plan_parts", body=lambda w: {}
    ),
    "GET /api/v1/parts/replenishment/pending": Endpoint(
        lambda w: "/parts/replenishment/pending", perm="parts.view_purchaseorder"
    ),
    "POST /api/v1/parts/purchase-orders/{number}/approve": Endpoint(
        _parts_api("draft", "/approve"), perm="parts.approve_replenishment"
    ),
    "POST /api/v1/parts/purchase-orders/{number}/cancel": Endpoint(
        _parts_api("draft", "/cancel"), perm="parts.approve_replenishment"
    ),
    "PATCH /api/v1/parts/purchase-orders/{number}/lines/{line_id}": Endpoint(
        _parts_api("draft_line"), perm="parts.approve_replenishment", body=lambda w: {"quantity": 6}
    ),
    "POST /api/v1/parts/purchase-orders/{number}/receive": Endpoint(
        _parts_api("approved", "/receive"),
        perm="parts.move_stock",
        body=lambda w: {"lines": [{"line": _parts_api_records(w)["approved_line"], "quantity": 1}]},
    ),
    "GET /api/v1/parts/service-curve": Endpoint(
        lambda w: "/parts/service-curve", perm="parts.view_forecast"
    ),
    "GET /api/v1/parts/targets/mode": Endpoint(
        lambda w: "/parts/targets/mode", perm="parts.view_stockpolicy"
    ),
    "PUT /api/v1/parts/targets/mode": Endpoint(
        lambda w: "/parts/targets/mode",
        perm="parts.change_partssettings",
        body=lambda w: {"mode": "class", "recompute": False},
    ),
}


def _parts(w: World) -> dict[str, Any]:
    """Spare-parts records for the parts pages (stock is not scoped: the permission decides);
    made on first use, the same on every later call in the test."""
    from aftersales.core import clock
    from aftersales.parts.models import Location, Part, StockBalance

    now = clock.now()
    central, _ = Location.objects.get_or_create(
        code="MX-WH", defaults={"name": "Central", "kind": "central"}
    )
    outlet, _ = Location.objects.get_or_create(
        code="MX-OUT", defaults={"name": "Outlet", "kind": "outlet", "supplied_from": central}
    )
    part, _ = Part.objects.get_or_create(
        number="MX-P-100",
        defaults={"name_zh": "压缩机", "name_en": "Compressor", "unit_cost": 10, "created_at": now},
    )
    StockBalance.objects.get_or_create(
        part=part, location=central, kind="new", defaults={"on_hand": 50, "updated_at": now}
    )
    return {"part": part, "central": central, "outlet": outlet, "now": now}


def _parts_record(kind: str) -> Build:
    """The path of a parts record of `kind`, made for the test."""

    def build(w: World) -> str:
        from aftersales.parts import models as pm

        p = _parts(w)
        if kind == "transfer":
            t = pm.Transfer.objects.create(
                number="TR-MX-1",
                source=p["central"],
                destination=p["outlet"],
                status="suggested",
                created_at=p["now"],
            )
            pm.TransferLine.objects.create(transfer=t, part=p["part"], quantity=1)
            return f"/parts/transfers/{t.pk}/ship/"
        if kind == "suggested":
            t = pm.Transfer.objects.create(
                number="TR-MX-2",
                source=p["central"],
                destination=p["outlet"],
                status="suggested",
                created_at=p["now"],
            )
            pm.TransferLine.objects.create(transfer=t, part=p["part"], quantity=1)
            return f"/parts/replenishment/transfers/{t.pk}/approve/"
        if kind == "count":
            c = pm.CycleCount.objects.create(
                number="CC-MX-1", location=p["central"], created_at=p["now"]
            )
            return f"/parts/counts/{c.pk}/"
        if kind in ("run", "progress"):
            r = pm.ForecastRun.objects.create(
                started_at=p["now"], origin=dt.date(2026, 11, 1), horizon=12, status="done"
            )
            return f"/parts/forecast/runs/{r.pk}/" + ("progress/" if kind == "progress" else "")
        if kind == "order":
            supplier = pm.Supplier.objects.create(code="MX-SUP", name="Supplier")
            o = pm.PurchaseOrder.objects.create(
                number="PO-MX-1", supplier=supplier, location=p["central"], created_at=p["now"]
            )
            pm.PurchaseOrderLine.objects.create(order=o, part=p["part"], quantity=5, unit_price=9)
            return f"/parts/replenishment/orders/{o.pk}/approve/"
        # A backorder of the foreign case.
        b = pm.Backorder.objects.create(
            part=p["part"],
            location=p["central"],
            case=w.case,
            quantity=1,
            tier="regular",
            tier_rank=1,
            created_at=p["now"],
        )
        return f"/parts/backorders/{b.pk}/cancel/" if kind == "backorder" else "/parts/backorders/"

    return build


# URL name -> its declaration; page paths are absolute.
PAGES: dict[str, Endpoint] = {
    "web:home": Endpoint(lambda w: "/", ok=302),
    "web:customer_search": Endpoint(
        lambda w: "/customers/",
        perm="customers.view_customer",
        body=lambda w: {"q": FOREIGN_PHONE},
        follow=True,
        shows=("customer",),
    ),
    "web:caller_lookup": Endpoint(
        lambda w: "/customers/call/",
        perm="customers.view_customer",
        body=lambda w: {"phone": FOREIGN_PHONE},
        follow=True,
        shows=("customer",),
    ),
    "web:customer_new": Endpoint(lambda w: "/customers/new/", perm="customers.add_customer"),
    "web:customer_tiers": Endpoint(
        lambda w: "/customers/tiers/", perm="customers.view_tier_report"
    ),
    "web:customer_detail": Endpoint(
        lambda w: f"/customers/{w.customer.pk}/",
        obj="customer",
        perm="customers.view_customer",
        shows=("customer",),
    ),
    "web:customer_reveal": Endpoint(
        lambda w: f"/customers/{w.customer.pk}/reveal/",
        obj="customer",
        perm="customers.reveal_contact",
        body=lambda w: {},
    ),
    "web:customer_merge": Endpoint(
        lambda w: f"/customers/{w.customer.pk}/merge/",
        obj="customer",
        perm="customers.merge_customer",
        shows=("customer",),
    ),
    "web:customer_tier_override": Endpoint(
        lambda w: f"/customers/{w.customer.pk}/tier/",
        obj="customer",
        perm="customers.set_tier",
        shows=("customer",),
    ),
    "web:unit_list": Endpoint(
        lambda w: "/units/", perm="catalog.view_unit", shows=("unit", "customer_name")
    ),
    "web:unit_detail": Endpoint(
        lambda w: f"/units/{w.unit.pk}/",
        obj="unit",
        perm="catalog.view_unit",
        shows=("unit", "customer"),
    ),
    "web:unit_import": Endpoint(lambda w: "/units/import/", perm="catalog.import_units"),
    "web:unit_import_report": Endpoint(
        lambda w: f"/units/import/{w.batch.pk}/", obj="import", perm="catalog.import_units"
    ),
    "web:case_queue": Endpoint(
        lambda w: "/cases/",
        perm="cases.view_case",
        body=lambda w: {"q": FOREIGN_PHONE, "status": "all"},
        follow=True,
        shows=("case",),
    ),
    "web:case_new": Endpoint(
        lambda w: f"/cases/new/?customer={w.customer.pk}",
        perm="cases.add_case",
        shows=("customer",),
    ),
    "web:case_detail": Endpoint(
        lambda w: f"/cases/{w.case.number}/", obj="case", perm="cases.view_case", shows=("case",)
    ),
    "web:case_action": Endpoint(
        lambda w: f"/cases/{w.case.number}/note/",
        obj="case",
        perm="cases.work_case",
        body=lambda w: NOTE,
    ),
    "web:case_attachment_download": Endpoint(
        lambda w: f"/cases/{w.case.number}/attachments/{w.attachment_id}/",
        obj="case",
        perm="cases.view_case",
    ),
    "web:sla_breaches": Endpoint(lambda w: "/sla/breaches/", perm="cases.view_case"),
    "web:audit_log": Endpoint(lambda w: "/audit/", perm="core.view_auditevent"),
    "web:notification_list": Endpoint(lambda w: "/notifications/"),
    "web:notification_read_all": Endpoint(
        lambda w: "/notifications/read/", body=lambda w: {}, ok=302
    ),
    "web:privacy_home": Endpoint(lambda w: "/privacy/", perm="privacy.view_erasurerecord"),
    "web:privacy_consent_record": Endpoint(
        lambda w: f"/privacy/customers/{w.customer.pk}/consents/",
        obj="customer",
        perm="customers.change_customer",
        shows=("customer",),
    ),
    "web:privacy_export": Endpoint(
        lambda w: f"/privacy/customers/{w.customer.pk}/export/",
        obj="customer",
        perm="privacy.export_subject",
        body=lambda w: {},
    ),
    "web:privacy_erase": Endpoint(
        lambda w: f"/privacy/customers/{w.customer.pk}/erase/",
        obj="customer",
        perm="privacy.erase_subject",
        shows=("customer_number",),
    ),
    "web:visit_worklist": Endpoint(
        lambda w: "/callbacks/", perm="callbacks.view_returnvisit", shows=("case",)
    ),
    "web:callback_report": Endpoint(
        lambda w: "/callbacks/report/", perm="callbacks.view_callback_report"
    ),
    "web:visit_detail": Endpoint(
        lambda w: f"/callbacks/{w.visit.pk}/",
        obj="case",
        perm="callbacks.view_returnvisit",
        shows=("case",),
    ),
    "web:visit_action": Endpoint(
        lambda w: f"/callbacks/{w.visit.pk}/attempt/",
        obj="case",
        perm="callbacks.work_return_visit",
        body=lambda w: {"result": "no_answer"},
    ),
    # The customers' survey page (no sign-in; tests/callbacks/test_portal.py).
    "survey": Endpoint(lambda w: "/survey/not-a-token/", public=True),
    "web:complaint_list": Endpoint(lambda w: "/complaints/", perm="complaints.view_complaint"),
    "web:complaint_new": Endpoint(
        lambda w: f"/complaints/new/?customer={w.customer.pk}",
        perm="cases.add_case",
        shows=("customer",),
    ),
    "web:complaint_reviews": Endpoint(
        lambda w: "/complaints/reviews/", perm="complaints.review_complaint"
    ),
    "web:complaint_approvals": Endpoint(
        lambda w: "/complaints/approvals/", perm="complaints.approve_compensation"
    ),
    "web:complaint_report": Endpoint(
        lambda w: "/complaints/report/", perm="complaints.view_complaint_report"
    ),
    "web:complaint_detail": Endpoint(
        _complaint("/"), obj="case", perm="complaints.view_complaint", shows=("customer",)
    ),
    "web:complaint_action": Endpoint(
        _complaint("/evaluate/"),
        obj="case",
        perm="complaints.handle_complaint",
        body=lambda w: {"nature": "other", "severity": "minor"},
    ),
    # Spare parts: stock records are not scoped (the permission decides); a backorder belongs
    # to a case, and warehouse staff, who serve every case, see its number.
    "web:part_list": Endpoint(lambda w: "/parts/", perm="parts.view_part"),
    "web:part_detail": Endpoint(
        lambda w: f"/parts/{_parts(w)['part'].number}/", perm="parts.view_part"
    ),
    "web:part_action": Endpoint(
        lambda w: f"/parts/{_parts(w)['part'].number}/receive/",
        perm="parts.move_stock",
        body=lambda w: {"location": _parts(w)["central"].pk, "kind": "new", "quantity": 1},
        ok=302,
    ),
    "web:part_case_reserve": Endpoint(
        lambda w: f"/parts/cases/{w.case.number}/reserve/",
        obj="case",
        perm="parts.reserve_part",
        body=lambda w: {
            "part": _parts(w)["part"].number,
            "location": _parts(w)["central"].pk,
            "quantity": 1,
        },
    ),
    "web:part_backorders": Endpoint(
        _parts_record("backorders"),
        perm="parts.view_backorder",
        shows=("case_number",),
        discloses=("case",),
    ),
    "web:part_backorder_cancel": Endpoint(
        _parts_record("backorder"),
        obj="casestock",
        perm="parts.reserve_part",
        body=lambda w: {},
        ok=302,
    ),
    "web:part_transfers": Endpoint(lambda w: "/parts/transfers/", perm="parts.view_transfer"),
    "web:part_transfer_action": Endpoint(
        _parts_record("transfer"), perm="parts.move_stock", body=lambda w: {}, ok=302
    ),
    "web:part_counts": Endpoint(lambda w: "/parts/counts/", perm="parts.view_cyclecount"),
    "web:part_count": Endpoint(_parts_record("count"), perm="parts.view_cyclecount"),
    "web:part_classification": Endpoint(
        lambda w: "/parts/classification/", perm="parts.view_stockpolicy"
    ),
    "web:part_classification_run": Endpoint(
        lambda w: "/parts/classification/run/", perm="parts.plan_parts", body=lambda w: {}, ok=302
    ),
    "web:part_forecast": Endpoint(lambda w: "/parts/forecast/", perm="parts.view_forecast"),
    "web:part_forecast_start": Endpoint(
        lambda w: "/parts/forecast/run/", perm="parts.plan_parts", body=lambda w: {}, ok=302
    ),
    "web:part_forecast_run": Endpoint(_parts_record("run"), perm="parts.view_forecast"),
    "web:part_forecast_progress": Endpoint(_parts_record("progress"), perm="parts.view_forecast"),
    "web:part_service_curve": Endpoint(
        lambda w: "/parts/service-curve/", perm="parts.view_forecast"
    ),
    "web:part_service_curve_targets": Endpoint(
        lambda w: "/parts/service-curve/targets/",
        perm="parts.change_partssettings",
        body=lambda w: {"mode": "class"},
        ok=302,
    ),
    "web:part_replenishment": Endpoint(
        lambda w: "/parts/replenishment/", perm="parts.view_purchaseorder"
    ),
    "web:part_replenishment_suggest": Endpoint(
        lambda w: "/parts/replenishment/suggest/",
        perm="parts.plan_parts",
        body=lambda w: {},
        ok=302,
    ),
    "web:part_order_action": Endpoint(
        _parts_record("order"), perm="parts.approve_replenishment", body=lambda w: {}, ok=302
    ),
    "web:part_suggested_transfer_approve": Endpoint(
        _parts_record("suggested"),
        perm="parts.approve_replenishment",
        body=lambda w: {},
        ok=302,
    ),
}

# Pages outside the matrix: Django's admin (its own permission system), static files, the
# language switch, and the sign-in, sign-out, second-factor, password and account pages, which
# act on the signed-in account only and have their own tests.
PAGE_EXCLUDED_PREFIXES = (
    "admin/",
    "api/",
    "static/",
    "i18n/",
    "login/",
    "logout/",
    "account/",
    "accounts/",
    "password",
    "mfa",
)


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, route, ns)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name or route}"


def site_pages() -> dict[str, str]:
    """Every page of the site (URL name -> route) the matrix must cover."""
    return {
        name: route
        for route, name in _walk(get_resolver().url_patterns)
        if not route.lstrip("^").startswith(PAGE_EXCLUDED_PREFIXES)
    }


def api_operations() -> set[str]:
    paths = ninja_api.get_openapi_schema()["paths"]
    return {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}


def test_every_api_operation_is_in_the_matrix() -> None:
    operations = api_operations()
    assert sorted(operations - API.keys()) == [], "declare these endpoints in API"
    assert sorted(API.keys() - operations) == [], "these endpoints no longer exist"


def test_every_page_is_in_the_matrix() -> None:
    pages = site_pages()
    assert sorted(pages.keys() - PAGES.keys()) == [], "declare these pages in PAGES"
    assert sorted(PAGES.keys() - pages.keys()) == [], "these pages no longer exist"


def expectation(role: Role, endpoint: Endpoint, method: str) -> str | None:
    """hidden, denied or allowed; None where the matrix does not exercise the pair."""
    if endpoint.public:
        return None
    if endpoint.obj and not sees(role, endpoint.obj):
        return "hidden"
    if endpoint.perm and not grants(role, endpoint.perm):
        return "denied"
    if method != "GET" and endpoint.obj:
        return None  # a write to a record the role may change: the app's own tests
    return "allowed"


def _params(table: dict[str, Endpoint], method_of: Callable[[str, Endpoint], str]) -> list[Any]:
    return [
        pytest.param(role, key, id=f"{role.value}|{key}")
        for key, endpoint in table.items()
        for role in ALL_ROLES
        if expectation(role, endpoint, method_of(key, endpoint))
    ]


def _api_method(key: str, endpoint: Endpoint) -> str:
    return key.split(" ", 1)[0]


def _page_method(key: str, endpoint: Endpoint) -> str:
    return "POST" if endpoint.body is not None else "GET"


def _text(response: Any) -> str:
    """The body as a reader sees it: JSON re-encoded without \\u escapes, files as text."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    raw = response.content.decode("utf-8", "replace")
    if response.get("Content-Type", "").startswith("application/json"):
        try:
            return json.dumps(json.loads(raw), ensure_ascii=False)
        except ValueError:
            return raw
    return raw


def _check(world: World, role: Role, endpoint: Endpoint, expect: str, response: Any) -> None:
    text = _text(response)
    where = f"{role.value}: {response.status_code}\n{text[:2000]}"
    for kind in KINDS:
        if kind in endpoint.discloses and endpoint.perm and grants(role, endpoint.perm):
            continue
        if not sees(role, kind):
            for marker in world.markers(kind):
                assert marker not in text, f"{kind} marker {marker!r} leaked to {where}"
    if expect == "hidden":
        assert response.status_code in (403, 404), where
    elif expect == "denied":
        assert response.status_code == 403, where
    else:
        assert response.status_code == endpoint.ok, where
        for kind in endpoint.shows:
            if sees(role, kind):
                for marker in world.markers(kind):
                    assert marker in text, f"{kind} marker {marker!r} missing for {where}"


def _upload(name: str = "notes.csv") -> SimpleUploadedFile:
    content = (
        "serial_number,model_code,purchase_date,amount,sales_channel\r\n"
        "MXUPLOAD000001,MX-100,2026-02-01,99.00,online\r\n"
    )
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> None:
    settings.PRIVATE_MEDIA_ROOT = tmp_path


@pytest.mark.parametrize(("role", "key"), _params(API, _api_method))
def test_api(role: Role, key: str) -> None:
    world = build_world(role)
    endpoint = API[key]
    method = _api_method(key, endpoint)
    expect = expectation(role, endpoint, method)
    assert expect is not None
    _, token = api_token_create(user=world.user, name="matrix")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = "/api/v1" + endpoint.path(world)
    if endpoint.files:
        response = client.post(url, {"file": _upload()})
    elif method == "GET":
        response = client.get(url)
    else:
        body = endpoint.body(world) if endpoint.body else {}
        response = client.generic(method, url, json.dumps(body), content_type="application/json")
    _check(world, role, endpoint, expect, response)


@pytest.mark.parametrize(("role", "key"), _params(PAGES, _page_method))
def test_page(role: Role, key: str) -> None:
    world = build_world(role)
    endpoint = PAGES[key]
    method = _page_method(key, endpoint)
    expect = expectation(role, endpoint, method)
    assert expect is not None
    client = sign_in(Client(), world.user)
    url = endpoint.path(world)
    if method == "GET":
        response = client.get(url)
    else:
        data = endpoint.body(world) if endpoint.body else {}
        response = client.post(url, data, follow=endpoint.follow)
    _check(world, role, endpoint, expect, response)
