"""`aftersales retention_apply [--dry-run]`: apply the retention rules now, as the nightly
task does, and say what each rule did (or, with --dry-run, would do)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from aftersales.privacy.models import RetentionRule
from aftersales.privacy.services import retention_apply


class Command(BaseCommand):
    help = (
        "Delete or anonymise what the retention rules say is past its keep period: read "
        "notifications, expired sessions, idle sign-in counters, inactive customers. "
        "--dry-run counts what is due and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what is due; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        show = options["verbosity"] > 0
        bars: dict[int, tqdm[Any]] = {}

        def progress(rule: RetentionRule, done: int, total: int) -> None:
            bar = bars.get(rule.pk)
            if bar is None:
                bar = bars[rule.pk] = tqdm(
                    desc=rule.kind, total=total, unit="record", disable=not show, leave=True
                )
            bar.update(done - bar.n)

        try:
            outcomes = retention_apply(dry_run=dry_run, progress=progress)
        finally:
            for bar in bars.values():
                bar.close()
        verb = "due (dry run, nothing changed)" if dry_run else "done"
        for o in outcomes:
            rule = o.rule
            line = f"{rule.kind}: keep {rule.keep_days} days, {rule.action}: "
            if o.skipped:
                line += f"skipped ({o.skipped})"
            else:
                count = o.due if dry_run else o.done
                line += f"{count} {verb}"
                if o.failed:
                    line += f", {len(o.failed)} refused (changed since listed): {o.failed}"
            self.stdout.write(line)
        if not outcomes:
            self.stdout.write("No retention rule is enabled.")
        self.stdout.write(self.style.SUCCESS("Dry run: nothing changed." if dry_run else "Done."))
