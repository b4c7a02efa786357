"""`aftersales parts_forecast [--horizon N]`: forecast every part's monthly demand now."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from aftersales.core.errors import ApplicationError
from aftersales.parts.planning import forecast_run


class Command(BaseCommand):
    help = (
        "Forecast every active part's monthly demand (automatic method choice, events, "
        "overrides, installed base), as the monthly task does, and score earlier forecasts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--horizon", type=int, default=None, help="Months to forecast (default: settings)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        show = options["verbosity"] > 0
        with tqdm(desc="parts", unit="part", disable=not show) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                run = forecast_run(horizon=options["horizon"], progress=progress)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Forecast from {run.origin:%Y-%m} for {run.horizon} months: {run.done} parts."
            )
        )
