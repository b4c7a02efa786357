"""Encrypt customers' names and notes in place and index the names (reversible: backwards
decrypts them with the configured keys, so run it before those keys are dropped)."""

from typing import Any

from django.db import migrations

import aftersales.core.fields
from aftersales.core.crypto import blind_index
from aftersales.core.encryption_migrations import (
    decrypt_columns,
    decrypted,
    encrypted,
    rewrite_rows,
)
from aftersales.core.names import leading_key, name_key


def _index(value: str, purpose: str) -> str:
    return blind_index(value, purpose=purpose) if value else ""


def encrypt_and_index(apps: Any, schema_editor: Any) -> None:
    def transform(row: dict[str, Any]) -> dict[str, Any]:
        plain = decrypted(row["name"]) or ""
        new = {
            "name": encrypted(row["name"]),
            "notes": encrypted(row["notes"]),
            "name_index": _index(name_key(plain), "name"),
            "name_leading_index": _index(leading_key(plain), "name_leading"),
        }
        return {c: v for c, v in new.items() if v != row[c]}

    rewrite_rows(
        schema_editor,
        table="customers_customer",
        columns=["name", "notes", "name_index", "name_leading_index"],
        transform=transform,
    )


def decrypt(apps: Any, schema_editor: Any) -> None:
    decrypt_columns(schema_editor, table="customers_customer", columns=["name", "notes"])


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_default_tier_policy"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="name_index",
            field=aftersales.core.fields.BlindIndexField(
                db_index=True, purpose="name", source="name"
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="name_leading_index",
            field=aftersales.core.fields.BlindIndexField(
                db_index=True, purpose="name_leading", source="name"
            ),
        ),
        migrations.AlterField(
            model_name="contactpoint",
            name="lookup_hash",
            field=aftersales.core.fields.BlindIndexField(
                db_index=True, purpose_field="kind", source="value"
            ),
        ),
        migrations.AlterField(
            model_name="customer",
            name="name",
            field=aftersales.core.fields.EncryptedTextField(max_length=200, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="notes",
            field=aftersales.core.fields.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(encrypt_and_index, decrypt),
    ]
