"""Reads of the integrations app."""

import datetime as dt

from .models import WebhookDelivery


def webhook_deliveries_due(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Ids of deliveries waiting for an attempt (a retry, or a first attempt whose task was
    lost), oldest due first; read from the partial index on pending rows."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
