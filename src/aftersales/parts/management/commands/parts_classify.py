"""`aftersales parts_classify`: classify every part (ABC / XYZ / demand pattern) now."""

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from aftersales.parts.planning import classification_run


class Command(BaseCommand):
    help = (
        "Classify every active part by usage value (ABC), demand variation (XYZ) and demand "
        "pattern (smooth / erratic / intermittent / lumpy), as the monthly task does."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        show = options["verbosity"] > 0
        with tqdm(desc="parts", unit="part", disable=not show) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            run = classification_run(progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"{run.parts} parts classified, {run.changed} changed class.")
        )
