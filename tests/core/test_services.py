import datetime as dt

import pytest

from aftersales.core import clock
from aftersales.core.models import AuditEvent
from aftersales.core.services import audit_record, number_allocate

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_numbers_restart_each_month_in_local_time() -> None:
    # 2026-11-30 17:00 UTC is already December 1st in Shanghai.
    with clock.frozen_at(dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)):
        assert number_allocate(prefix="SR") == "SR2026110000001"
        assert number_allocate(prefix="SR") == "SR2026110000002"
    with clock.frozen_at(dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)):
        assert number_allocate(prefix="SR") == "SR2026120000001"
    assert number_allocate(prefix="C", width=6).startswith("C")


def test_frozen_clock_needs_aware_time() -> None:
    with pytest.raises(ValueError), clock.frozen_at(dt.datetime(2026, 1, 1)):
        pass


def test_audit_row() -> None:
    with clock.frozen_at(dt.datetime(2026, 5, 1, 9, 0, tzinfo=SHANGHAI)):
        row = audit_record(
            actor=None, action="test.done", entity="case", entity_id=7, data={"a": 1}
        )
    stored = AuditEvent.objects.get(pk=row.pk)
    assert (stored.action, stored.entity, stored.entity_id, stored.data) == (
        "test.done",
        "case",
        7,
        {"a": 1},
    )
    assert stored.occurred_at == dt.datetime(2026, 5, 1, 1, 0, tzinfo=dt.UTC)
