"""A dump of the database after `aftersales seed` holds no customer's phone number, e-mail
address, name or street in the clear: what leaves in a backup or a stolen dump is ciphertext.

SQLite is dumped with `iterdump()`; PostgreSQL with `pg_dump` when it is installed, else every
column of every table is read back as text. The seed is small but built the way the full one
is (services and the bulk path both), so every table the seed writes to is covered.
"""

import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from aftersales.customers.models import Address, ContactPoint, Customer

pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # pg_dump: committed data


def _dump() -> str:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return "\n".join(connection.connection.iterdump())
    settings = connection.settings_dict
    if connection.vendor == "postgresql" and shutil.which("pg_dump"):
        command = ["pg_dump", "--no-owner", "--data-only", "--dbname", settings["NAME"]]
        for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
            if settings.get(key):
                command += [option, str(settings[key])]
        env = {"PGPASSWORD": str(settings.get("PASSWORD") or "")}
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=300, env=env, check=True
        )
        return result.stdout
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines += [f"{table}: {row!r}" for row in cursor.fetchall()]
    return "\n".join(lines)


def _phone_forms(e164: str) -> set[str]:
    """The ways a stored number could appear: E.164, and national with common separators."""
    forms = {e164, e164.lstrip("+")}
    if e164.startswith("+86"):
        national = e164[3:]
        if national.startswith("1") and len(national) == 11:  # mobile
            forms |= {national, f"{national[:3]} {national[3:7]} {national[7:]}"}
            forms.add(f"{national[:3]}-{national[3:7]}-{national[7:]}")
        else:  # landline: the trunk 0 in front of the area code
            forms.add("0" + national)
    return forms


def test_a_seeded_database_dump_holds_no_personal_data_in_the_clear() -> None:
    call_command("seed", customers=30, cases=40, stdout=StringIO(), stderr=StringIO(), verbosity=0)
    needles: dict[str, str] = {}
    for c in Customer.objects.all():
        needles[c.name] = f"name of {c.number}"
    for contact in ContactPoint.objects.select_related("customer"):
        kind = f"{contact.kind} of {contact.customer.number}"
        forms = _phone_forms(contact.value) if contact.kind == "phone" else {contact.value}
        needles.update(dict.fromkeys(forms, kind))
    for address in Address.objects.select_related("customer").exclude(street=""):
        needles[address.street] = f"street of {address.customer.number}"
    assert len(needles) > 100  # the seed did write customers with contacts and addresses
    assert "+8613800138000" in needles  # the demo caller of the guided tour is among them

    dump = _dump()

    assert "INSERT" in dump or "COPY" in dump or ": (" in dump
    # The customers' rows are in the dump (their numbers are not personal data)...
    numbers = list(Customer.objects.values_list("number", flat=True))
    assert numbers and all(number in dump for number in numbers)
    # ...and none of what identifies them as people is.
    leaks = sorted({what for needle, what in needles.items() if needle in dump})
    assert leaks == []
