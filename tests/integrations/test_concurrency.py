"""Two workers holding the same delivery (a retry sweep and the first task) send it once."""

from typing import Any

import pytest
from django.db import connection

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.integrations.models import WebhookDelivery
from aftersales.integrations.services import webhook_create, webhook_deliver
from tests.concurrency import run_together
from tests.integrations.receiver import Receiver

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


def test_a_due_delivery_is_sent_once_by_racing_workers(
    administrator: User, receiver: Receiver
) -> None:
    receiver.delay = 0.3  # the first attempt is still in flight when the others look
    webhook, _ = webhook_create(
        actor=administrator,
        name="ERP",
        url=f"http://127.0.0.1:{receiver.port}/hook",
        event_kinds=["case.opened"],
    )
    now = clock.now()
    # Written directly, as a lost first task would leave it: due, nothing sent yet.
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        event_kind="case.opened",
        payload={"case": {"id": 1}},
        created_at=now,
        next_attempt_at=now,
    )
    results: list[Any] = run_together([lambda: webhook_deliver(delivery_id=delivery.pk)] * 4)
    assert sum(1 for r in results if r is not None) == 1
    assert len(receiver.hits) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
