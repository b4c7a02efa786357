"""`aftersales calendar_sync`: sync public holidays and make-up days (调休) into calendars."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.core import clock
from aftersales.core.calendars import calendar_get, calendars_for_holiday_sync, holidays_sync
from aftersales.core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Sync public holidays and make-up working days from the holidays library into the "
        "business calendars that follow a country (default: all active ones, this year and "
        "next). Rows entered by hand are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--years", type=int, nargs="+", help="Years to sync (default: this year and next)."
        )
        parser.add_argument("--calendar", help="Code of the one calendar to sync.")

    def handle(self, *args: Any, **options: Any) -> None:
        year = clock.today().year
        years: list[int] = options["years"] or [year, year + 1]
        try:
            calendars = (
                [calendar_get(options["calendar"])]
                if options["calendar"]
                else list(calendars_for_holiday_sync())
            )
            for calendar in calendars:
                counts = holidays_sync(calendar=calendar, years=years)
                self.stdout.write(
                    f"{calendar.code} {','.join(map(str, sorted(set(years))))}: "
                    + ", ".join(f"{name} {value}" for name, value in counts.items())
                )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        if not calendars:
            self.stdout.write("No active calendar follows a country's public holidays.")
