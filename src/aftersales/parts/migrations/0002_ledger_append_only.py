"""The stock ledger becomes append-only in the database too (PostgreSQL).

A trigger refuses every UPDATE or DELETE of `parts_stockmovement`, so not even code that goes
around the model (a queryset `update()`, raw SQL) can rewrite stock history. TRUNCATE is left
to privileges, as for the audit log: the test suite empties tables with it. SQLite has no such
trigger; there the model's own `save()`/`delete()` guard is what remains.
"""

from typing import Any

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION parts_stockmovement_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the stock ledger is append-only: % of parts_stockmovement refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS parts_stockmovement_append_only ON parts_stockmovement;
CREATE TRIGGER parts_stockmovement_append_only
    BEFORE UPDATE OR DELETE ON parts_stockmovement
    FOR EACH ROW EXECUTE FUNCTION parts_stockmovement_append_only();
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS parts_stockmovement_append_only ON parts_stockmovement;
DROP FUNCTION IF EXISTS parts_stockmovement_append_only();
"""


def trigger_install(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def trigger_drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("parts", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(trigger_install, trigger_drop),
    ]
