"""Writing staff notifications; e-mail copies leave only after the transaction commits."""

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.core import clock

from .models import Notification


def notify(
    *,
    recipients: Sequence[User],
    code: str,
    params: dict[str, Any],
    case: Case | None = None,
) -> list[Notification]:
    """Put a notification in each recipient's inbox and queue its e-mail copy on commit."""
    now = clock.now()
    rows = Notification.objects.bulk_create(
        [
            Notification(recipient=user, code=code, params=params, case=case, created_at=now)
            for user in recipients
        ]
    )
    ids = [n.pk for n in rows if n.pk is not None]
    if ids:
        from .tasks import notifications_email  # the task module imports this one

        # robust: a mail server that is down must never undo or interrupt the write itself.
        transaction.on_commit(lambda: notifications_email.delay(ids), robust=True)
    return rows


def notifications_mark_read(*, user: User, ids: Sequence[int] | None = None) -> int:
    """Mark the user's own notifications read (all unread ones when `ids` is None)."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())
