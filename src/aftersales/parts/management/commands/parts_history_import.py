"""`aftersales parts_history_import FILE.csv`: bring monthly demand history over from the
previous system (columns part, month, quantity and optionally location)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from aftersales.core.errors import ApplicationError
from aftersales.parts.imports import demand_history_import


class Command(BaseCommand):
    help = (
        "Import monthly spare-part demand history (CSV: part, month YYYY-MM, quantity[, location])."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", default="", help="Where the history comes from.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        total = max(sum(1 for _ in path.open(encoding="utf-8-sig")) - 1, 0)
        show = options["verbosity"] > 0

        def progress(done: int) -> None:
            bar.update(done - bar.n)

        with (
            path.open(encoding="utf-8-sig", newline="") as lines,
            tqdm(total=total, desc="rows", unit="row", disable=not show) as bar,
        ):
            try:
                result = demand_history_import(
                    actor=None,
                    lines=lines,
                    source=options["source"] or path.name,
                    progress=progress,
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        for rejected in result.rejected[:20]:
            self.stderr.write(f"line {rejected['line']}: {rejected['reason']} {rejected['part']}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.rows} rows read, {result.written} part-months written, "
                f"{len(result.rejected)} rejected."
            )
        )
