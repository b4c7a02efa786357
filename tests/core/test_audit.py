"""The audit log's hash chain (core.models.audit_row_hash, core.services.audit_record) and its
verifier (core.audit.audit_chain_verify, `aftersales audit_verify`), on SQLite and PostgreSQL."""

import datetime as dt
import io
import itertools
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.core.audit import audit_chain_verify
from aftersales.core.models import AUDIT_GENESIS, AuditChainHead, AuditEvent
from aftersales.core.services import audit_bulk_append, audit_record

pytestmark = pytest.mark.django_db


def _append(n: int, actor: User | None = None) -> list[AuditEvent]:
    return [
        audit_record(
            actor=actor, action="test.appended", entity="thing", entity_id=i, data={"i": i}
        )
        for i in range(n)
    ]


def _tamper(sql: str, params: list[Any]) -> None:
    """Change the table behind the application's back, as someone with database access could
    (on PostgreSQL only as a superuser, who can switch the append-only trigger off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def _verify_command() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_each_row_chains_onto_the_one_before(agent: User) -> None:
    before = AuditEvent.objects.count()
    _append(30, actor=agent)
    rows = list(AuditEvent.objects.order_by("id"))
    assert len(rows) == before + 30
    assert rows[0].prev_hash == AUDIT_GENESIS
    for previous, row in itertools.pairwise(rows):
        assert row.prev_hash == previous.row_hash
        assert row.row_hash == row.compute_hash()
    head = AuditChainHead.objects.get()
    assert (head.last_event_id, head.last_hash, head.length) == (
        rows[-1].pk,
        rows[-1].row_hash,
        len(rows),
    )
    report = audit_chain_verify()
    assert report.broken is None
    assert (report.count, report.head_hash) == (len(rows), rows[-1].row_hash)


def test_the_hash_needs_the_key() -> None:
    _append(3)
    with override_settings(AUDIT_HMAC_KEY="someone-elses-key"):
        report = audit_chain_verify()
    assert report.broken is not None
    assert report.broken.reason == "altered"
    assert report.broken.event_id == AuditEvent.objects.order_by("id").first().pk  # type: ignore[union-attr]


def test_rows_hash_the_same_after_the_database_gives_them_back() -> None:
    """JSON and addresses come back from the database in its own spelling (string keys, lists,
    integers for integral floats, compressed IPv6): the hash must not notice."""
    event = audit_record(
        actor=None,
        action="test.shapes",
        entity="thing",
        entity_id=1,
        data={1: ("a", "b"), "big": 1e20, "half": 0.5, "nested": {"中文": [1, None, True]}},
        ip="2001:DB8:0:0:0:0:0:1",
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data == {
        "1": ["a", "b"],
        "big": 1e20,
        "half": 0.5,
        "nested": {"中文": [1, None, True]},
    }
    assert stored.ip == "2001:db8::1"
    assert stored.compute_hash() == stored.row_hash
    assert audit_chain_verify().broken is None


def test_a_row_about_a_customer_names_that_customer() -> None:
    event = audit_record(actor=None, action="customer.updated", entity="customer", entity_id=42)
    assert event.customer_id == 42


def test_the_request_address_is_recorded_from_the_context() -> None:
    from aftersales.core.services import audit_request_ip

    with audit_request_ip("10.1.2.3"):
        inside = audit_record(actor=None, action="test.ip", entity="thing", entity_id=1)
    outside = audit_record(actor=None, action="test.ip", entity="thing", entity_id=2)
    assert (inside.ip, outside.ip) == ("10.1.2.3", None)


def test_bulk_appended_history_continues_the_chain(agent: User) -> None:
    _append(2)
    long_ago = clock.now() - dt.timedelta(days=400)
    count = audit_bulk_append(
        events=(
            AuditEvent(
                occurred_at=long_ago,
                actor_id=agent.pk,
                action="customer.created",
                entity="customer",
                entity_id=i,
                data={"number": f"CT{i}"},
            )
            for i in range(1, 8)
        ),
        batch_size=3,
    )
    _append(2)
    assert count == 7
    assert AuditEvent.objects.filter(action="customer.created", customer_id=3).exists()
    report = audit_chain_verify()
    assert report.broken is None
    assert report.count == AuditEvent.objects.count()


def test_verify_command_prints_the_count_and_the_head_hash() -> None:
    rows = _append(5)
    output = _verify_command()
    total = AuditEvent.objects.count()
    assert f"{total} rows" in output
    assert rows[-1].row_hash in output


def test_verifier_names_the_altered_row() -> None:
    rows = _append(10)
    target = rows[4]
    _tamper("UPDATE core_auditevent SET action = %s WHERE id = %s", ["test.forged", target.pk])

    report = audit_chain_verify()
    assert report.broken is not None
    assert (report.broken.event_id, report.broken.reason) == (target.pk, "altered")
    assert report.count == AuditEvent.objects.filter(id__lt=target.pk).count()
    with pytest.raises(CommandError) as error:
        _verify_command()
    message = str(error.value)
    assert f"row {target.pk} " in message
    assert "test.forged" in message
    assert target.occurred_at.isoformat() in message


def test_a_forged_hash_is_no_cover(agent: User) -> None:
    """Rewriting a row and pasting in the next row's hash still breaks at that row."""
    rows = _append(4, actor=agent)
    _tamper(
        "UPDATE core_auditevent SET entity_id = %s, row_hash = %s WHERE id = %s",
        [99, rows[2].row_hash, rows[1].pk],
    )
    report = audit_chain_verify()
    assert report.broken is not None
    assert report.broken.event_id == rows[1].pk


def test_verifier_notices_a_row_deleted_from_the_middle() -> None:
    rows = _append(10)
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [rows[5].pk])

    report = audit_chain_verify()
    assert report.broken is not None
    assert (report.broken.event_id, report.broken.reason) == (rows[6].pk, "broken_link")
    with pytest.raises(CommandError, match=f"row {rows[6].pk} .*does not follow the row before"):
        _verify_command()


def test_verifier_notices_rows_cut_off_the_end() -> None:
    rows = _append(6)
    _tamper("DELETE FROM core_auditevent WHERE id >= %s", [rows[4].pk])

    report = audit_chain_verify()
    assert report.broken is not None
    assert (report.broken.event_id, report.broken.reason) == (rows[3].pk, "tail_missing")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no roles")
def test_db_grants_refuses_sqlite() -> None:
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("db_grants", role="aftersales_app", stdout=io.StringIO())
