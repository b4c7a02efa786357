"""`aftersales audit_verify`: check the audit log's hash chain from its first row to its head."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from aftersales.core.audit import audit_chain_verify
from aftersales.core.models import AuditEvent

REASONS = {
    "altered": "its fields do not give its stored hash (the row was changed)",
    "broken_link": "it does not follow the row before it (rows before it are missing or altered)",
    "tail_missing": "the chain head names later rows that are gone",
}


class Command(BaseCommand):
    help = (
        "Walk the audit log in id order, recompute every row's HMAC and check every link. "
        "Prints the row count and the head hash (record it elsewhere to notice a rewound "
        "chain); exits non-zero naming the first broken row."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(
            total=AuditEvent.objects.count(), unit="rows", disable=None, desc="audit chain"
        ) as bar:

            def progress(rows: int) -> None:
                bar.update(rows)

            report = audit_chain_verify(progress=progress)
        if report.broken is not None:
            b = report.broken
            when = b.occurred_at.isoformat() if b.occurred_at else "-"
            raise CommandError(
                f"audit chain broken at row {b.event_id} ({when}, {b.action or '-'}): "
                f"{REASONS[b.reason]}; {report.count} rows before it verified"
            )
        self.stdout.write(f"audit chain intact: {report.count} rows, head {report.head_hash}")
