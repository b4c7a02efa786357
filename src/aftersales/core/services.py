"""Shared-kernel writes: number allocation and audit records."""

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import clock
from .models import AuditEvent, Sequence


def sequence_next(*, name: str, period: str) -> int:
    """Allocate the next value of a counter; safe under concurrent transactions.

    The row is created if missing (ignoring a concurrent creator), then locked and bumped with
    `F()`, so two transactions can never receive the same value.
    """
    with transaction.atomic():
        Sequence.objects.bulk_create(
            [Sequence(name=name, period=period, last_value=0)], ignore_conflicts=True
        )
        # UPDATE takes the row lock and holds it to the end of the caller's transaction.
        Sequence.objects.filter(name=name, period=period).update(last_value=F("last_value") + 1)
        return Sequence.objects.values_list("last_value", flat=True).get(name=name, period=period)


def number_allocate(*, prefix: str, width: int = 7) -> str:
    """A readable number such as `SR2026110000123`: prefix, year and month, monthly sequence."""
    period = timezone.localtime(clock.now()).strftime("%Y%m")
    value = sequence_next(name=prefix, period=period)
    return f"{prefix}{period}{value:0{width}d}"


def audit_record(
    *,
    actor: Any,
    action: str,
    entity: str,
    entity_id: int,
    data: dict[str, Any] | None = None,
    customer_id: int | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit row; call inside the transaction of the change it describes.

    `data` holds ids, codes and before/after values, never personal data in the clear;
    `customer_id` names the customer whose data the row concerns, for the audit search.
    """
    return AuditEvent.objects.create(
        occurred_at=clock.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        entity=entity,
        entity_id=entity_id,
        customer_id=customer_id,
        ip=ip or None,
        data=data or {},
    )
