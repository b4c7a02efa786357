"""Data migrations that encrypt (or, backwards, decrypt) existing columns in place.

They work on raw column values with SQL, because a historical model whose field is already an
`EncryptedTextField` would try to decrypt the plain text it reads. Batches are ordered by primary
key; a value that already decrypts is left as it is, so a migration interrupted half-way can run
again. Going backwards decrypts with the configured keys: the keys must still be there.
"""

from collections.abc import Callable, Sequence
from typing import Any

from . import crypto

BATCH = 1000

RowTransform = Callable[[dict[str, Any]], dict[str, Any]]


def rewrite_rows(
    schema_editor: Any, *, table: str, columns: Sequence[str], transform: RowTransform
) -> int:
    """Apply `transform` (row dict → changed columns) to every row of `table`; rows changed."""
    conn = schema_editor.connection
    qn = conn.ops.quote_name
    select = (
        f"SELECT {qn('id')}, {', '.join(qn(c) for c in columns)} FROM {qn(table)} "  # nosec B608  # identifiers quoted, values bound
        f"WHERE {qn('id')} > %s ORDER BY {qn('id')} LIMIT {BATCH}"
    )
    last, changed = 0, 0
    while True:
        with conn.cursor() as cursor:
            cursor.execute(select, [last])
            rows = cursor.fetchall()
        if not rows:
            return changed
        for row in rows:
            last = row[0]
            updates = transform(dict(zip(columns, row[1:], strict=True)))
            if not updates:
                continue
            sets = ", ".join(f"{qn(c)} = %s" for c in updates)
            with conn.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {qn(table)} SET {sets} WHERE {qn('id')} = %s",  # nosec B608  # identifiers quoted, values bound
                    [*updates.values(), last],
                )
            changed += 1


def encrypted(value: str | None) -> str | None:
    """`value` encrypted under the primary key, unless empty or already encrypted."""
    if not value:
        return value
    if crypto.looks_encrypted(value):
        try:
            crypto.decrypt(value)
        except crypto.DecryptionError:
            pass
        else:
            return value
    return crypto.encrypt(value)


def decrypted(value: str | None) -> str | None:
    """The plain text of an encrypted value (plain values pass through)."""
    if not value or not crypto.looks_encrypted(value):
        return value
    return crypto.decrypt(value)


def encrypt_columns(schema_editor: Any, *, table: str, columns: Sequence[str]) -> int:
    def transform(row: dict[str, Any]) -> dict[str, Any]:
        new = {c: encrypted(v) for c, v in row.items()}
        return {c: v for c, v in new.items() if v != row[c]}

    return rewrite_rows(schema_editor, table=table, columns=columns, transform=transform)


def decrypt_columns(schema_editor: Any, *, table: str, columns: Sequence[str]) -> int:
    def transform(row: dict[str, Any]) -> dict[str, Any]:
        new = {c: decrypted(v) for c, v in row.items()}
        return {c: v for c, v in new.items() if v != row[c]}

    return rewrite_rows(schema_editor, table=table, columns=columns, transform=transform)
