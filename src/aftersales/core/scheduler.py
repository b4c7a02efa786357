"""The beat schedule run in-process, for the embedded default that has no broker or beat.

`aftersales serve` starts one daemon thread that calls the same Celery tasks as `celery beat`
would, synchronously, when their schedule says they are due. With a broker configured
(production), beat and workers do this instead and the thread is not started.
"""

import datetime as dt
import logging
import threading
from typing import Any

from celery import current_app
from celery.schedules import schedule as celery_schedule
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import autodiscover_modules

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0


def _as_schedule(value: Any) -> Any:
    if isinstance(value, int | float):
        return celery_schedule(dt.timedelta(seconds=value))
    if isinstance(value, dt.timedelta):
        return celery_schedule(value)
    return value


class EmbeddedScheduler(threading.Thread):
    """Runs every entry of `CELERY_BEAT_SCHEDULE` when due, one after another."""

    def __init__(self, tick: float = TICK_SECONDS) -> None:
        super().__init__(name="aftersales-scheduler", daemon=True)
        # Celery registers tasks when their modules are imported (a worker does it on start).
        autodiscover_modules("tasks")
        self.tick = tick
        self.stopping = threading.Event()
        self.entries = {
            name: (entry["task"], _as_schedule(entry["schedule"]))
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        # Interval tasks are due at once (a restart catches up); crontab ones wait for their time.
        started = dt.datetime.now(dt.UTC)
        self.last_run: dict[str, dt.datetime] = {
            name: started - sched.run_every if isinstance(sched, celery_schedule) else started
            for name, (_task, sched) in self.entries.items()
        }

    def run(self) -> None:
        while not self.stopping.wait(self.tick):
            self.run_due()

    def run_due(self) -> list[str]:
        """Run the entries that are due now; returns their names."""
        ran = []
        for name, (task_name, sched) in self.entries.items():
            due, _next = sched.is_due(self.last_run[name])
            if not due:
                continue
            self.last_run[name] = dt.datetime.now(dt.UTC)
            self._tidy_connections()
            try:
                current_app.tasks[task_name].apply(throw=True)
            except Exception:  # one failing task must not stop the others
                log.exception("scheduled task %s failed", task_name)
            finally:
                self._tidy_connections()
            ran.append(name)
        return ran

    @staticmethod
    def _tidy_connections() -> None:
        # As around a request: drop a broken or expired connection, never one in a transaction
        # (a caller's, e.g. a test running the schedule inside its own transaction).
        if not connection.in_atomic_block:
            close_old_connections()

    def stop(self) -> None:
        self.stopping.set()
