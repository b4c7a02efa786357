"""Encrypt what customers and staff wrote (descriptions, solution notes, event bodies) in place.

Reversible: backwards decrypts them with the configured keys, so run it before those keys are
dropped. Nothing searched or ordered by these columns, so no query changes with them.
"""

from typing import Any

from django.db import migrations

import aftersales.core.fields
from aftersales.core.encryption_migrations import decrypt_columns, encrypt_columns

COLUMNS = {
    "cases_case": ["description", "solution_notes"],
    "cases_caseevent": ["body"],
}


def encrypt(apps: Any, schema_editor: Any) -> None:
    for table, columns in COLUMNS.items():
        encrypt_columns(schema_editor, table=table, columns=columns)


def decrypt(apps: Any, schema_editor: Any) -> None:
    for table, columns in COLUMNS.items():
        decrypt_columns(schema_editor, table=table, columns=columns)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_attachments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="case",
            name="description",
            field=aftersales.core.fields.EncryptedTextField(blank=True, verbose_name="description"),
        ),
        migrations.AlterField(
            model_name="case",
            name="solution_notes",
            field=aftersales.core.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="caseevent",
            name="body",
            field=aftersales.core.fields.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
