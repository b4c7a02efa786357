"""`aftersales reencrypt`: rotate the field encryption key or the blind-index key.

See `aftersales.core.rotation` for how it works and `aftersales.core.crypto` for the procedure.
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from aftersales.core import crypto, rotation


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value under the first key of FIELD_ENCRYPTION_KEYS, in "
        "batches, resumably (values already under it are skipped). --dry-run counts values per "
        "key id; --rebuild-blind-index recomputes every blind index with BLIND_INDEX_KEY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Change nothing; print how many values each column holds under each key id.",
        )
        parser.add_argument(
            "--rebuild-blind-index",
            action="store_true",
            help="Recompute every blind index (after changing BLIND_INDEX_KEY) instead.",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="Stop after re-encrypting this many values (run again to continue).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1 or (options["limit"] is not None and options["limit"] < 0):
            raise CommandError("--batch-size must be 1 or more and --limit 0 or more.")
        show = options["verbosity"] > 0
        if options["dry_run"]:
            self._census()
        elif options["rebuild_blind_index"]:
            self._rebuild(options["batch_size"], show)
        else:
            self._reencrypt(options["batch_size"], options["limit"], show)

    def _census(self) -> None:
        self.stdout.write(f"primary key id: {crypto.primary_key_id()}")
        for column in rotation.encrypted_columns():
            counts = rotation.key_census(column)
            shown = ", ".join(f"{kid} {n}" for kid, n in counts.items() if n)
            self.stdout.write(f"{column.label}: {shown or 'empty'}")

    def _bar(self, desc: str, total: int, show: bool) -> "tqdm[Any]":
        return tqdm(desc=desc, total=total, unit="row", disable=not show, file=sys.stderr)

    def _reencrypt(self, batch_size: int, limit: int | None, show: bool) -> None:
        result = rotation.RotationResult()
        for column in rotation.encrypted_columns():
            with self._bar(column.label, column.pending().count(), show) as bar:
                rotation.reencrypt_column(
                    column, result, batch_size=batch_size, limit=limit, progress=bar.update
                )
            if result.limited:
                break
        rotation.rotation_record(result=result, blind_index=False)
        self._report(result, f"re-encrypted under key {crypto.primary_key_id()}")

    def _rebuild(self, batch_size: int, show: bool) -> None:
        result = rotation.RotationResult()
        for model, fields in rotation.indexed_models():
            with self._bar(model._meta.label, model._base_manager.count(), show) as bar:
                rotation.rebuild_blind_indexes(
                    model, fields, result, batch_size=batch_size, progress=bar.update
                )
        rotation.rotation_record(result=result, blind_index=True)
        self._report(result, "blind indexes rebuilt")

    def _report(self, result: rotation.RotationResult, what: str) -> None:
        for label, n in result.rewritten.items():
            self.stdout.write(f"{label}: {n} {what}")
        self.stdout.write(f"total: {result.total} {what}")
        if result.limited:
            self.stdout.write("stopped at --limit; run again to continue")
        if result.failed:
            failed = ", ".join(f"{label} {n}" for label, n in result.failed.items())
            raise CommandError(
                f"values no configured key opens (left as they are): {failed}. Add the key "
                "they were written with to FIELD_ENCRYPTION_KEYS and run again."
            )
