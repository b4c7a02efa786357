"""Celery entry points of spare parts: thin wrappers around the stock, planning and
replenishment services."""

from celery import shared_task

from .planning import classification_run, forecast_run
from .replenishment import replenishment_suggest, targets_compute
from .services import reservations_expire


@shared_task(name="parts.reservations_expire", acks_late=True)
def parts_reservations_expire_task() -> int:
    """Release reservations past their expiry and serve the backorders waiting (every 15 min)."""
    return reservations_expire()


@shared_task(name="parts.classify", acks_late=True)
def parts_classify_task() -> int:
    """Classify every part (ABC / XYZ / demand pattern; monthly); returns the parts that moved."""
    return classification_run().changed


@shared_task(name="parts.forecast", acks_late=True)
def parts_forecast_task() -> int:
    """Forecast every part's monthly demand (monthly, after classification); returns the run id."""
    return forecast_run().pk


@shared_task(name="parts.targets", acks_late=True)
def parts_targets_task() -> int:
    """Recompute reorder points and order-up-to levels from the latest forecast (monthly)."""
    return targets_compute()


@shared_task(name="parts.replenishment_suggest", acks_late=True)
def parts_replenishment_task() -> int:
    """Draft purchase orders and suggest transfers for what is at or below its reorder point
    (daily); returns the number of documents drafted or updated."""
    result = replenishment_suggest()
    return len(result.orders) + len(result.transfers)
