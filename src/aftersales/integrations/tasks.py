"""Celery entry points of the integrations app: thin wrappers around the services."""

from celery import shared_task

from aftersales.core import clock

from .selectors import webhook_deliveries_due
from .services import webhook_deliver


@shared_task(name="integrations.webhooks_deliver", acks_late=True)
def webhooks_deliver(ids: list[int]) -> int:
    """One attempt at each due delivery; returns how many were delivered."""
    done = [webhook_deliver(delivery_id=pk) for pk in ids]
    return sum(1 for d in done if d is not None and d.status == d.Status.DELIVERED)


@shared_task(name="integrations.webhooks_retry", acks_late=True)
def webhooks_retry() -> int:
    """Hand each delivery that is due again to its own task; returns how many."""
    ids = webhook_deliveries_due(now=clock.now())
    for pk in ids:
        webhooks_deliver.delay([pk])
    return len(ids)
