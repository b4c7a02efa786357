"""Two erasures of the same customer at the same moment on PostgreSQL: one erases, the other
is told it was already done; one record, one audit row."""

import pytest
from django.db import connection

from aftersales.accounts.models import User
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Customer
from aftersales.privacy.models import ErasureRecord
from aftersales.privacy.services import subject_erase
from tests.concurrency import code_of, run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (make test-pg)"
    ),
]


def test_two_erasures_at_once_erase_once(manager: User, customer: Customer) -> None:
    def erase() -> str:
        subject_erase(actor=manager, customer_id=customer.pk, reason="subject_request")
        return "erased"

    results = run_together([code_of(erase), code_of(erase)])

    assert sorted(results) == ["already_erased", "erased"]
    assert ErasureRecord.objects.filter(customer=customer).count() == 1
    assert AuditEvent.objects.filter(action="privacy.erased", customer_id=customer.pk).count() == 1
