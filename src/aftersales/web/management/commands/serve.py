"""`aftersales serve [addr:port]`: the development server plus the embedded task scheduler.

This is what `make run` uses: one process serves the pages and runs the SLA, routing and tier
sweeps on their schedule, so the embedded default needs no Redis, worker or beat.
"""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from aftersales.core.scheduler import EmbeddedScheduler


class Command(BaseCommand):
    help = "Serve the web UI and API, running the periodic sweeps in-process (no broker needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = None
        if settings.EMBEDDED_SCHEDULER:
            scheduler = EmbeddedScheduler()
            scheduler.start()
            self.stdout.write("Background sweeps (SLA, routing, tiers) run in this process.")
        try:
            # The autoreloader would start a second process with a second scheduler.
            call_command("runserver", options["addrport"], use_reloader=False)
        finally:
            if scheduler is not None:
                scheduler.stop()
