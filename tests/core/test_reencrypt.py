"""`aftersales reencrypt` (aftersales.core.rotation): key rotation of the encrypted fields and
of the blind indexes, on the real tables, with the real keys swapped through settings."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_open
from aftersales.core import crypto, rotation
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Address, ContactPoint, Customer
from aftersales.customers.selectors import customer_search, customers_by_phone
from aftersales.customers.services import customer_create

pytestmark = pytest.mark.django_db

DEV = "dev1:ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZCE="  # the test settings' key
NEW = "k2:" + "b" * 43 + "="
GONE = "gone:" + "c" * 43 + "="


@pytest.fixture
def data(agent: User) -> dict[str, Any]:
    """Two customers with every kind of encrypted value, a case with events, under `dev1`."""
    li = customer_create(
        actor=agent,
        name="李伟",
        phones=["13800138000"],
        emails=["li.wei@example.com"],
        addresses=[{"province": "广东", "city": "深圳", "street": "南山区科技园路 1 号"}],
        notes="晚上 8 点后勿扰",
    )
    wang = customer_create(actor=agent, name="王芳", phones=["13900139000"])
    case, _ = case_open(
        actor=agent,
        customer=li,
        channel="phone",
        subject="冰箱不制冷",
        description="客户李伟来电，冷藏室 15 度，回电 13800138000",
    )
    return {"li": li, "wang": wang, "case": case}


def _stored(model: Any, field: str) -> list[str]:
    """The raw column values, as the database holds them."""
    table, column = model._meta.db_table, model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" <> \'\'')
        return [row[0] for row in cursor.fetchall()]


def _everything() -> dict[str, list[Any]]:
    """Every encrypted value of every model, decrypted with the keys configured now."""
    return {
        column.label: sorted(column.model._base_manager.values_list(column.field.name, flat=True))
        for column in rotation.encrypted_columns()
    }


def test_rotation_rewrites_every_value_under_the_new_key(data: dict[str, Any]) -> None:
    before = _everything()
    assert crypto.key_id_of(_stored(Customer, "name")[0]) == "dev1"

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, DEV]):
        out = StringIO()
        call_command("reencrypt", stdout=out, verbosity=0)

    assert "re-encrypted under key k2" in out.getvalue()
    # The old key can go: everything opens with the new key alone, unchanged.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert _everything() == before
        for model, field in [
            (Customer, "name"),
            (Customer, "notes"),
            (ContactPoint, "value"),
            (Address, "street"),
            (Case, "description"),
            (CaseEvent, "body"),
        ]:
            stored = _stored(model, field)
            assert stored and all(crypto.key_id_of(v) == "k2" for v in stored), (model, field)
        assert Customer.objects.get(pk=data["li"].pk).name == "李伟"
    audit = AuditEvent.objects.get(action="crypto.reencrypted")
    assert audit.data["primary_key_id"] == "k2" and audit.data["complete"] is True
    assert audit.data["rewritten"]["customers.Customer.name"] == 2
    assert "李伟" not in str(audit.data)


def test_dry_run_counts_values_per_key_and_changes_nothing(data: dict[str, Any]) -> None:
    stored = _stored(Customer, "name")
    out = StringIO()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, DEV]):
        call_command("reencrypt", "--dry-run", stdout=out)

    lines = out.getvalue().splitlines()
    assert "primary key id: k2" in lines
    assert "customers.Customer.name: dev1 2" in lines
    assert "customers.ContactPoint.value: dev1 3" in lines
    assert _stored(Customer, "name") == stored
    assert not AuditEvent.objects.filter(action="crypto.reencrypted").exists()


def test_an_interrupted_run_is_finished_by_the_next(data: dict[str, Any]) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, DEV]):
        first = StringIO()
        call_command("reencrypt", "--limit", "3", "--batch-size", "2", stdout=first, verbosity=0)
        census = {c.label: rotation.key_census(c) for c in rotation.encrypted_columns()}
        assert sum(c["k2"] for c in census.values()) == 3  # stopped after three values
        assert sum(c["dev1"] for c in census.values()) > 0
        assert "stopped at --limit" in first.getvalue()

        second = StringIO()
        call_command("reencrypt", "--batch-size", "2", stdout=second, verbosity=0)

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        _everything()  # nothing is left under the old key
    assert "stopped" not in second.getvalue()
    runs = AuditEvent.objects.filter(action="crypto.reencrypted").order_by("id")
    assert [r.data["complete"] for r in runs] == [False, True]


def test_a_value_still_in_the_clear_is_encrypted(data: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "customers_customer" SET "notes" = %s WHERE "id" = %s',
            ["written before encryption", data["wang"].pk],
        )

    call_command("reencrypt", stdout=StringIO(), verbosity=0)

    assert "written before encryption" not in _stored(Customer, "notes")
    assert Customer.objects.get(pk=data["wang"].pk).notes == "written before encryption"


def test_a_value_no_key_opens_is_reported_and_left_alone(data: dict[str, Any]) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[GONE]):
        lost = crypto.encrypt("under a key since lost")
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "customers_customer" SET "notes" = %s WHERE "id" = %s',
            [lost, data["wang"].pk],
        )

    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW, DEV]),
        pytest.raises(CommandError, match=r"customers\.Customer\.notes 1"),
    ):
        call_command("reencrypt", stdout=StringIO(), verbosity=0)

    assert lost in _stored(Customer, "notes")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert Customer.objects.get(pk=data["li"].pk).name == "李伟"  # the rest was done


def test_a_value_changed_since_it_was_read_is_not_overwritten(data: dict[str, Any]) -> None:
    column = next(c for c in rotation.encrypted_columns() if c.label == "customers.Customer.name")
    [(pk, raw)] = column.stored().filter(pk=data["wang"].pk).values_list("pk", "raw")
    Customer.objects.filter(pk=pk).update(name="王芳芳")  # an agent's edit meanwhile

    assert column.rewrite(pk, raw, "王芳") is False
    assert Customer.objects.get(pk=pk).name == "王芳芳"


def test_blind_index_rebuild_keeps_caller_recognition_with_a_new_key(
    data: dict[str, Any], agent: User
) -> None:
    li = data["li"]
    with override_settings(BLIND_INDEX_KEY="a-new-blind-index-key"):
        # Indexes written under the old key find nothing under the new one...
        assert customers_by_phone(user=agent, raw="138 0013 8000").customers == []

        out = StringIO()
        call_command("reencrypt", "--rebuild-blind-index", stdout=out, verbosity=0)

        # ...until they are rebuilt: phone, e-mail, full name and surname all match again.
        assert customers_by_phone(user=agent, raw="138 0013 8000").customers == [li]
        assert list(customer_search(user=agent, q="LI.WEI@example.com")) == [li]
        assert list(customer_search(user=agent, q="李伟")) == [li]
        assert list(customer_search(user=agent, q="王")) == [data["wang"]]
        assert "customers.ContactPoint: 3 blind indexes rebuilt" in out.getvalue()
        # A second run finds nothing left to do.
        again = StringIO()
        call_command("reencrypt", "--rebuild-blind-index", stdout=again, verbosity=0)
        assert "total: 0 blind indexes rebuilt" in again.getvalue()
    assert customers_by_phone(user=agent, raw="13800138000").customers == []  # old key gone
    assert AuditEvent.objects.filter(action="crypto.blind_index_rebuilt").count() == 1


def test_bad_options_are_refused() -> None:
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("reencrypt", "--batch-size", "0", stdout=StringIO())
