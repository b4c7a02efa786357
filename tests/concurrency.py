"""Real concurrency for the PostgreSQL tests: calls on their own threads and connections."""

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connections

from aftersales.core.errors import ApplicationError

T = TypeVar("T")


def run_together(calls: Sequence[Callable[[], T]], *, workers: int | None = None) -> list[T]:
    """Run the calls on `workers` threads (one each by default), the first wave released at the
    same moment by a barrier, each thread on its own database connection; results in order."""
    workers = workers or len(calls)
    barrier = threading.Barrier(min(len(calls), workers))
    started = iter(range(len(calls)))
    lock = threading.Lock()

    def run(call: Callable[[], T]) -> T:
        with lock:
            first_wave = next(started) < workers
        try:
            if first_wave:
                barrier.wait(timeout=30)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, calls))


def code_of(call: Callable[[], str]) -> Callable[[], str]:
    """The call's result, or the code of the business rule that refused it."""

    def wrapped() -> str:
        try:
            return call()
        except ApplicationError as exc:
            return exc.code

    return wrapped
