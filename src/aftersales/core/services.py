"""Shared-kernel writes: number allocation and audit records."""

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import clock
from .models import (
    AUDIT_GENESIS,
    AuditChainHead,
    AuditEvent,
    Sequence,
    audit_data_normalise,
    audit_ip_normalise,
)

# Address of the request being served, set by `core.audit_middleware`, so rows written deep in
# a service still say where the request came from.
_request_ip: ContextVar[str | None] = ContextVar("aftersales_request_ip", default=None)


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


@contextlib.contextmanager
def audit_request_ip(ip: str | None) -> Iterator[None]:
    """Inside the block, audit rows without an explicit `ip` carry this one."""
    token = _request_ip.set(ip)
    try:
        yield
    finally:
        _request_ip.reset(token)


def _chain_head_lock() -> AuditChainHead:
    """The chain head, created if missing (ignoring a concurrent creator), locked to commit."""
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(pk=AuditChainHead.SINGLETON, last_hash=AUDIT_GENESIS)],
        ignore_conflicts=True,
    )
    return AuditChainHead.objects.select_for_update().get(pk=AuditChainHead.SINGLETON)


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
    """Append one row to the hash-chained audit log, inside the caller's transaction.

    `data` holds ids, codes and before/after values, never personal data in the clear;
    `customer_id` names the customer whose data the row concerns, for the audit search (a row
    about a customer names that customer by default). `ip` defaults to the current request's.

    The chain head is locked until the caller's transaction ends, so appends are serialised:
    take the transaction's other row locks first and audit last, or two transactions can each
    hold what the other waits for.
    """
    if customer_id is None and entity == "customer":
        customer_id = entity_id
    with transaction.atomic():
        head = _chain_head_lock()
        event = AuditEvent(
            occurred_at=clock.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            action=action,
            entity=entity,
            entity_id=entity_id,
            customer_id=customer_id,
            ip=audit_ip_normalise(ip or _request_ip.get()),
            data=audit_data_normalise(data),
            prev_hash=head.last_hash,
        )
        event.row_hash = event.compute_hash()
        event.save(force_insert=True)
        head.last_event_id, head.last_hash, head.length = event.pk, event.row_hash, head.length + 1
        head.save(update_fields=["last_event_id", "last_hash", "length"])
    return event


def audit_bulk_append(*, events: Iterable[AuditEvent], batch_size: int = 1000) -> int:
    """Append prepared, unsaved rows to the chain in the given order; returns how many.

    For history loaded in bulk (the demo data set): each row keeps its own `occurred_at`,
    `actor_id` and `ip`; the chain fields are filled in here, one insert per batch.
    """
    count = 0
    with transaction.atomic():
        head = _chain_head_lock()
        batch: list[AuditEvent] = []
        for event in events:
            if event.customer_id is None and event.entity == "customer":
                event.customer_id = event.entity_id
            event.ip = audit_ip_normalise(event.ip)
            event.data = audit_data_normalise(event.data)
            event.prev_hash = head.last_hash
            event.row_hash = event.compute_hash()
            head.last_hash = event.row_hash
            batch.append(event)
            if len(batch) >= batch_size:
                count += _insert_batch(batch, head)
                batch = []
        count += _insert_batch(batch, head)
        head.save(update_fields=["last_event_id", "last_hash", "length"])
    return count


def _insert_batch(batch: list[AuditEvent], head: AuditChainHead) -> int:
    if not batch:
        return 0
    # One multi-row INSERT takes its ids in row order, so id order stays chain order.
    created = AuditEvent.objects.bulk_create(batch)
    head.last_event_id = created[-1].pk
    head.length += len(created)
    return len(created)
