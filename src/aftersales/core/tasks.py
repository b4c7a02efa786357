"""Celery entry points of the shared kernel: thin wrappers around the services."""

import logging

from celery import shared_task

from . import clock
from .calendars import SyncCounts, calendars_for_holiday_sync, holidays_sync
from .errors import ApplicationError

log = logging.getLogger(__name__)


@shared_task(name="core.calendars_sync_holidays", acks_late=True)
def calendars_sync_holidays() -> dict[str, SyncCounts]:
    """Sync this year's and next year's public holidays into every calendar that follows a
    country, so next year's make-up days are in place as soon as the library has them.

    One calendar that cannot be synced (e.g. a country the library dropped) is logged and
    skipped; the others still sync. Returns the counts by calendar code.
    """
    year = clock.today().year
    results: dict[str, SyncCounts] = {}
    for calendar in calendars_for_holiday_sync():
        try:
            results[calendar.code] = holidays_sync(calendar=calendar, years=[year, year + 1])
        except ApplicationError as error:
            log.warning("holiday sync of calendar %s failed: %s", calendar.code, error.message)
    return results
