"""Celery entry points of the customers app: thin wrappers around the services."""

import logging

from celery import shared_task

from .services import tiers_recompute as tiers_recompute_service

logger = logging.getLogger(__name__)


class _ProgressLog:
    """Logs a tier run's progress at every tenth of the customers."""

    def __init__(self) -> None:
        self.tenth = -1

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // total if total else 10
        if tenth != self.tenth:
            self.tenth = tenth
            logger.info("tiers_recompute: %d of %d customers", done, total)


@shared_task(name="customers.tiers_recompute", acks_late=True)
def tiers_recompute() -> dict[str, int]:
    """Compute every live customer's value tier (nightly); returns the run's counts."""
    run = tiers_recompute_service(progress=_ProgressLog())
    return {
        "run_id": run.pk,
        "customers": run.customers,
        "vip": run.vip,
        "regular": run.regular,
        "low": run.low,
        "changed": run.changed,
    }
