"""Writes of the integrations app: webhooks, their deliveries, and telling them about case events.

Deliveries are an outbox: `webhooks_dispatch` writes them in the caller's transaction and queues
the sending on commit; `webhook_deliver` claims one, sends it through the outbound guard (never
straight to the network), and records the outcome, retrying with back-off.
"""

import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import Case, CaseEvent, Status
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.outbound import OutboundResponse, outbound_post, outbound_url_check
from aftersales.core.services import audit_record

from .models import MAX_ATTEMPTS, EventKind, Webhook, WebhookDelivery

MAX_URL = 500
MIN_SECRET = 16
# Wait before attempt 2, 3, 4 and 5; after the fifth failure the delivery is marked failed.
BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)
# An attempt in flight holds its delivery this much longer than the request may take, so a
# worker that died mid-attempt leaves a delivery that becomes due again, not one stuck forever.
LEASE_MARGIN = dt.timedelta(seconds=60)

SIGNATURE_HEADER = "X-Aftersales-Signature"
TIMESTAMP_HEADER = "X-Aftersales-Timestamp"


def _validated(*, name: str, url: str | None, event_kinds: list[str], secret: str | None) -> str:
    """Check a webhook's fields; returns the name. A new URL (`url` not None) goes through the
    outbound guard (``url_not_allowed``, 422) so an internal address can never be stored."""
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = _("A name is required.")
    elif len(name) > 100:
        errors["name"] = _("At most %(n)d characters.") % {"n": 100}
    unknown = [k for k in event_kinds if k not in EventKind.values]
    if not event_kinds:
        errors["event_kinds"] = _("Choose at least one event.")
    elif unknown:
        errors["event_kinds"] = _("Unknown events: %(kinds)s.") % {"kinds": ", ".join(unknown)}
    if secret is not None and len(secret) < MIN_SECRET:
        errors["secret"] = _("The signing secret needs at least %(n)d characters.") % {
            "n": MIN_SECRET
        }
    if url is not None and len(url) > MAX_URL:
        errors["url"] = _("At most %(n)d characters.") % {"n": MAX_URL}
    if errors:
        raise ApplicationError("invalid_webhook", _("The webhook is not valid."), details=errors)
    if url is not None:
        outbound_url_check(url)
    return name


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def webhook_create(
    *,
    actor: User,
    name: str,
    url: str,
    event_kinds: list[str],
    secret: str = "",
    is_active: bool = True,
) -> tuple[Webhook, str]:
    """Register a receiver of case events (administrators only); returns (webhook, secret).

    A blank `secret` gets a random one, which the caller shows once so the receiving system
    can verify signatures.
    """
    require_perm(actor, "integrations.add_webhook")
    name = _validated(name=name, url=url, event_kinds=event_kinds, secret=secret or None)
    secret = secret or secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        webhook = Webhook(
            name=name,
            url=url,
            secret=secret,
            event_kinds=sorted(set(event_kinds)),
            is_active=is_active,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        webhook.full_clean(exclude=["created_by"])
        webhook.save()
        audit_record(
            actor=actor,
            action="webhook.created",
            entity="webhook",
            entity_id=webhook.pk,
            # The host only: receivers such as chat bots carry an access token in the URL.
            data={"host": _host(url), "event_kinds": webhook.event_kinds, "is_active": is_active},
        )
    return webhook, secret


def webhook_update(
    *,
    actor: User,
    webhook: Webhook,
    name: str | None = None,
    url: str | None = None,
    event_kinds: list[str] | None = None,
    is_active: bool | None = None,
    secret: str | None = None,
) -> Webhook:
    """Change a webhook (administrators only); arguments left as None keep their value.

    Only a changed URL is checked again, so a webhook whose receiver is gone can still be
    switched off; every delivery checks its URL anyway."""
    require_perm(actor, "integrations.change_webhook")
    with transaction.atomic():
        current = Webhook.objects.select_for_update().get(pk=webhook.pk)
        before = {"event_kinds": current.event_kinds, "is_active": current.is_active}
        url_changed = url is not None and url != current.url
        new_name = _validated(
            name=current.name if name is None else name,
            url=url if url_changed else None,
            event_kinds=current.event_kinds if event_kinds is None else event_kinds,
            secret=secret,
        )
        current.name = new_name
        if url is not None and url_changed:
            current.url = url
        if event_kinds is not None:
            current.event_kinds = sorted(set(event_kinds))
        if is_active is not None:
            current.is_active = is_active
        if secret is not None:
            current.secret = secret
        current.updated_at = clock.now()
        current.full_clean(exclude=["created_by"])
        current.save()
        audit_record(
            actor=actor,
            action="webhook.updated",
            entity="webhook",
            entity_id=current.pk,
            data={
                "host": _host(current.url),
                "url_changed": url_changed,
                "secret_changed": secret is not None,
                "before": before,
                "after": {"event_kinds": current.event_kinds, "is_active": current.is_active},
            },
        )
    return current


def webhooks_dispatch(*, event_kind: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue `payload` for every active webhook that wants `event_kind`.

    Call inside the transaction that wrote the event: the deliveries commit (or roll back) with
    it, and sending starts only after the commit. `payload` holds ids and codes, never
    personal data. With no webhooks this costs one small query.
    """
    wanted = [
        hook.pk
        for hook in Webhook.objects.filter(is_active=True).only("pk", "event_kinds")
        if event_kind in hook.event_kinds
    ]
    if not wanted:
        return []
    now = clock.now()
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                webhook_id=pk,
                event_kind=event_kind,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
            for pk in wanted
        ]
    )
    ids = [d.pk for d in rows if d.pk is not None]
    from .tasks import webhooks_deliver  # the task module imports this one

    # robust: a receiver (or broker) that is down must never undo or interrupt the write itself.
    transaction.on_commit(lambda: webhooks_deliver.delay(ids), robust=True)
    return rows


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _case_event_kind(event: CaseEvent) -> str | None:
    if event.kind == CaseEvent.Kind.CREATED:
        return EventKind.CASE_OPENED
    if event.kind == CaseEvent.Kind.ESCALATED:
        return EventKind.CASE_ESCALATED
    if event.kind == CaseEvent.Kind.SLA and (event.data or {}).get("change") == "breached":
        return EventKind.SLA_BREACHED
    if event.kind == CaseEvent.Kind.STATUS:
        if (event.data or {}).get("action") == "reopen":
            return EventKind.CASE_REOPENED
        if event.to_status == Status.RESOLVED:
            return EventKind.CASE_RESOLVED
        if event.to_status == Status.CLOSED:
            return EventKind.CASE_CLOSED
    return None


def case_event_payload(*, case: Case, event: CaseEvent, event_kind: str) -> dict[str, Any]:
    """What a receiver learns about a case event: numbers, codes and times only; no names,
    contact data, subjects or descriptions (those stay in the system)."""
    detail: dict[str, Any] = {"kind": event_kind, "occurred_at": _iso(event.occurred_at)}
    if event.kind == CaseEvent.Kind.STATUS:
        detail |= {"from_status": event.from_status, "to_status": event.to_status}
    if event.kind == CaseEvent.Kind.SLA:
        detail |= {"metric": event.data.get("metric"), "due_at": event.data.get("due_at")}
    return {
        "case": {
            "id": case.pk,
            "number": case.number,
            "kind": case.kind,
            "status": case.status,
            "urgency": case.urgency,
            "priority": case.priority,
            "tier": case.customer.tier,
            "channel": case.channel,
            "team_id": case.team_id,
            "created_at": _iso(case.created_at),
        },
        "event": detail,
    }


def webhooks_case_event(*, case: Case, event: CaseEvent) -> None:
    """Tell the webhooks about a case event they may want (opened, resolved, closed,
    reopened, escalated, SLA breached); other events cost nothing."""
    event_kind = _case_event_kind(event)
    if event_kind is None:
        return
    webhooks_dispatch(
        event_kind=event_kind,
        payload=case_event_payload(case=case, event=event, event_kind=event_kind),
    )


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>``: the timestamp is signed
    too, so a receiver that checks its age also stops replays."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _claim(delivery_id: int, now: dt.datetime) -> WebhookDelivery | None:
    """Take a due delivery for one attempt, or None if it is not due or another worker has it."""
    lease = dt.timedelta(seconds=float(settings.OUTBOUND_TIMEOUT_SECONDS)) + LEASE_MARGIN
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("webhook")
            .filter(
                pk=delivery_id,
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__lte=now,
            )
            .first()
        )
        if delivery is None:
            return None
        if not delivery.webhook.is_active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.error = "webhook_inactive"
            delivery.save(update_fields=["status", "next_attempt_at", "error"])
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + lease
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        return delivery


def _body(delivery: WebhookDelivery) -> bytes:
    document = {
        "id": str(delivery.uid),
        "event": delivery.event_kind,
        "created_at": _iso(delivery.created_at),
        "data": delivery.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _send(delivery: WebhookDelivery, now: dt.datetime) -> OutboundResponse:
    body = _body(delivery)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Aftersales-Event": delivery.event_kind,
        "X-Aftersales-Delivery": str(delivery.uid),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret=delivery.webhook.secret, timestamp=timestamp, body=body),
    }
    try:
        return outbound_post(delivery.webhook.url, body=body, headers=headers)
    except ApplicationError as exc:  # the guard refused: the host now resolves inward
        return OutboundResponse(None, b"", exc.code, str(exc.details.get("reason", "")))


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt at a due delivery and record it: delivered on a 2xx; otherwise due
    again after a back-off, and failed after the fifth attempt. Returns None when the delivery
    was not due (already done, or taken by another worker)."""
    delivery = _claim(delivery_id, clock.now())
    if delivery is None:
        return None
    response = _send(delivery, clock.now())
    now = clock.now()
    delivery.response_code = response.status
    if response.ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at, delivery.next_attempt_at, delivery.error = now, None, ""
    else:
        delivery.error = f"{response.error}: {response.detail}"[:300]
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]
    # Only if this attempt still holds the delivery (a lease that ran out may have been retaken).
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(
        status=delivery.status,
        response_code=delivery.response_code,
        error=delivery.error,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
    )
    return delivery
