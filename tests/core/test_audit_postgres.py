"""The audit log on PostgreSQL: one chain under real concurrent appends, the append-only
trigger, and the application role that may only read and append to it (`db_grants`)."""

import io
import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from aftersales.core.audit import audit_chain_verify
from aftersales.core.models import AuditChainHead, AuditEvent
from aftersales.core.services import audit_record
from aftersales.customers.models import Customer
from tests import factories
from tests.concurrency import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


def _appender(worker: int, n: int) -> list[int]:
    def append_all() -> list[int]:
        ids = []
        for i in range(n):
            # Each append is its own transaction, as when many requests audit at once.
            with transaction.atomic():
                event = audit_record(
                    actor=None,
                    action="test.concurrent",
                    entity="thing",
                    entity_id=worker * 1000 + i,
                    data={"worker": worker, "i": i},
                )
            ids.append(event.pk)
        return ids

    return append_all


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_writers_appending_at_once_keep_one_unbroken_chain() -> None:
    before = AuditEvent.objects.count()
    results = run_together([_appender(1, 50), _appender(2, 50)])

    assert [len(ids) for ids in results] == [50, 50]
    rows = AuditEvent.objects.order_by("id")
    assert rows.count() == before + 100
    # No two rows chained onto the same predecessor.
    assert rows.values("prev_hash").distinct().count() == rows.count()
    report = audit_chain_verify()
    assert report.broken is None
    assert report.count == before + 100
    head = AuditChainHead.objects.get()
    assert (head.length, head.last_event_id) == (before + 100, rows.last().pk)  # type: ignore[union-attr]


@pytest.mark.django_db
def test_the_trigger_refuses_update_and_delete() -> None:
    event = audit_record(actor=None, action="test.kept", entity="thing", entity_id=1)

    with pytest.raises(DatabaseError, match="append-only: UPDATE"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")
    with pytest.raises(DatabaseError, match="append-only: DELETE"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.row_hash) == ("test.kept", event.row_hash)
    assert audit_chain_verify().broken is None


@pytest.fixture
def app_role(db: None) -> Iterator[str]:
    """A throwaway role with the grants `db_grants` gives (gone with the test's transaction)."""
    role = f"test_app_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
    call_command("db_grants", role=role, apply=True, stdout=io.StringIO())
    yield role
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _as_role_refused(role: str, sql: str, params: list[object]) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        cursor.execute(sql, params)
    return str(error.value)


def test_the_application_role_may_append_but_not_rewrite(app_role: str) -> None:
    event = audit_record(actor=None, action="test.kept", entity="thing", entity_id=1)
    customer = factories.customer()

    for sql in (
        "UPDATE core_auditevent SET action = 'test.rewritten' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        assert "permission denied" in _as_role_refused(app_role, sql, [event.pk])
    assert "permission denied" in _as_role_refused(app_role, "TRUNCATE core_auditevent", [])
    assert "permission denied" in _as_role_refused(
        app_role, "TRUNCATE customers_customer CASCADE", []
    )
    assert "must be owner" in _as_role_refused(
        app_role, "ALTER TABLE core_auditevent DISABLE TRIGGER ALL", []
    )
    assert "permission denied" in _as_role_refused(
        app_role, "SET session_replication_role = replica", []
    )

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'SET LOCAL ROLE "{app_role}"')
        appended = audit_record(
            actor=None, action="test.as_app", entity="customer", entity_id=customer.pk
        )
        # Ordinary tables keep full DML for the application.
        Customer.objects.filter(pk=customer.pk).update(notes="")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (app_role,)

    assert AuditEvent.objects.get(pk=appended.pk).prev_hash == event.row_hash
    assert audit_chain_verify().broken is None


@pytest.mark.django_db
def test_db_grants_prints_the_statements() -> None:
    out = io.StringIO()
    call_command("db_grants", role="aftersales_app", stdout=out)
    lines = out.getvalue().splitlines()
    assert 'GRANT SELECT, INSERT ON TABLE "core_auditevent" TO "aftersales_app";' in lines
    assert (
        'GRANT SELECT, INSERT, UPDATE ON TABLE "core_auditchainhead" TO "aftersales_app";' in lines
    )
    assert (
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "customers_customer" TO "aftersales_app";'
        in lines
    )
    assert not any("TRUNCATE" in line for line in lines)


@pytest.mark.django_db
def test_db_grants_refuses_a_role_name_that_is_not_an_identifier() -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="lower-case letters"):
        call_command("db_grants", role='app"; DROP TABLE x; --', stdout=io.StringIO())
