"""JSON API of the data-subject rights, mounted at /api/v1/privacy.

Consents: read with `customers.view_customer`, recorded with `customers.change_customer`.
The export (`privacy.export_subject`) downloads one JSON file; erasure needs
`privacy.erase_subject`. A customer outside the caller's scope is a 404 everywhere.
"""

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import ConfigDict, StringConstraints

from aftersales.accounts.permissions import request_user
from aftersales.core import clock
from aftersales.customers.selectors import customer_get_for

from . import selectors, services
from .models import Consent, ConsentSource, ErasureReason, ErasureRecord, Purpose

router = Router(tags=["privacy"])

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ConsentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    granted: bool
    source: ConsentSource
    note: Note = ""


class ConsentOut(Schema):
    id: int
    purpose: str
    granted: bool
    source: str
    recorded_by: str | None
    recorded_at: dt.datetime
    note: str


class ConsentStateOut(Schema):
    purpose: str
    label: str
    granted: bool
    # False: nothing was recorded for the purpose and the default applies.
    recorded: bool
    recorded_at: dt.datetime | None


class ConsentsOut(Schema):
    in_force: list[ConsentStateOut]
    history: list[ConsentOut]


class ErasureIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: ErasureReason


class ErasureOut(Schema):
    id: int
    customer_id: int
    erased_at: dt.datetime
    reason: str
    record_ids: list[int]
    counts: dict[str, int]


def _consent_out(c: Consent) -> dict[str, Any]:
    return {
        "id": c.pk,
        "purpose": c.purpose,
        "granted": c.granted,
        "source": c.source,
        "recorded_by": c.recorded_by.username if c.recorded_by else None,
        "recorded_at": c.recorded_at,
        "note": c.note,
    }


@router.get(
    "/customers/{int:customer_id}/consents",
    response=ConsentsOut,
    operation_id="privacy_consents_get",
    summary="A customer's consents in force and their history",
)
def consents_get(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    """Each purpose with the value in force (defaults where nothing was recorded), and every
    record newest first."""
    customer = customer_get_for(request_user(request), pk=customer_id)
    return {
        "in_force": [
            {
                "purpose": s.purpose,
                "label": s.label,
                "granted": s.granted,
                "recorded": s.record is not None,
                "recorded_at": s.record.recorded_at if s.record else None,
            }
            for s in selectors.consent_states(customer)
        ],
        "history": [_consent_out(c) for c in selectors.consent_history(customer)],
    }


@router.post(
    "/customers/{int:customer_id}/consents",
    response={201: ConsentOut},
    operation_id="privacy_consents_record",
    summary="Record a consent or its withdrawal",
)
def consents_record(
    request: HttpRequest, customer_id: int, payload: ConsentIn
) -> Status[dict[str, Any]]:
    """Append a consent record, in force from now on (`already_erased` 409 on a stub)."""
    user = request_user(request)
    customer = customer_get_for(user, pk=customer_id)
    consent = services.consent_record(
        actor=user,
        customer=customer,
        purpose=payload.purpose.value,
        granted=payload.granted,
        source=payload.source.value,
        note=payload.note,
    )
    return Status(201, _consent_out(consent))


def export_filename(number: str) -> str:
    """The download's file name: the customer number and the local date."""
    return f"customer-{number}-{timezone.localdate(clock.now()):%Y%m%d}.json"


def export_response(body: bytes, *, number: str) -> HttpResponse:
    """A data-subject export as a JSON file download."""
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(number)}"'
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "/customers/{int:customer_id}/export",
    operation_id="privacy_subject_export",
    summary="Download everything held about a customer (JSON, audited)",
)
def subject_export(request: HttpRequest, customer_id: int) -> HttpResponse:
    """One JSON document with the customer's data in the clear; the export is audited."""
    user = request_user(request)
    body = services.subject_export(actor=user, customer_id=customer_id)
    number = customer_get_for(user, pk=customer_id).number
    return export_response(body, number=number)


@router.post(
    "/customers/{int:customer_id}/erase",
    response={201: ErasureOut},
    operation_id="privacy_subject_erase",
    summary="Erase a customer's personal data, keeping an anonymised stub",
)
def subject_erase(
    request: HttpRequest, customer_id: int, payload: ErasureIn
) -> Status[ErasureRecord]:
    """`open_cases` (409) while a case is open, `already_erased` (409) the second time."""
    erasure = services.subject_erase(
        actor=request_user(request), customer_id=customer_id, reason=payload.reason.value
    )
    return Status(201, erasure)
