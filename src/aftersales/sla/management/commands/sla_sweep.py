"""`aftersales sla_sweep`: one sweep for due warnings, breaches and escalations, now.

The same service the scheduled task runs; useful after downtime, or from cron where no Celery
beat runs. Safe to run while workers sweep too.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from aftersales.sla.services import BATCH_SIZE, SweepResult, sla_sweep


class Command(BaseCommand):
    help = "Record due SLA warnings and breaches and fire their escalation rules (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(result: SweepResult) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(
                    f"batch {result.batches}: {len(result.cases)} cases, "
                    f"{result.warnings} warnings, {result.breaches} breaches"
                )

        result = sla_sweep(batch_size=options["batch_size"], after_batch=progress)
        self.stdout.write(
            f"{result.warnings} warnings, {result.breaches} breaches, "
            f"{result.escalations} escalations over {len(result.cases)} cases "
            f"({result.skipped_locked} held by another worker)"
        )
