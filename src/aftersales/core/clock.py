"""The one clock of the system; tests move time with `frozen_at`."""

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar

from django.utils import timezone

_frozen: ContextVar[dt.datetime | None] = ContextVar("aftersales_frozen_now", default=None)


def now() -> dt.datetime:
    """The current time, timezone-aware (UTC internally)."""
    return _frozen.get() or timezone.now()


def today() -> dt.date:
    """Today's date in the configured local time zone."""
    return timezone.localdate(now())


@contextlib.contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Make `now()` return `moment` inside the block."""
    if timezone.is_naive(moment):
        raise ValueError("frozen_at needs a timezone-aware datetime")
    token = _frozen.set(moment)
    try:
        yield
    finally:
        _frozen.reset(token)
