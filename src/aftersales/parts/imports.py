"""Demand history brought over from the previous system (上线前的历史需求), so forecasting and
classification have years of history from the first day.

The file is CSV with a header: `part,month,quantity` and optionally `location`; `month` is
`YYYY-MM`, `quantity` a whole number >= 0. Rows that cannot be used are reported with their
line number and reason and nothing of them is written; the good rows are upserted (importing the
same file twice changes nothing).
"""

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.services import audit_record

from .models import DemandHistory, Location, Part

REQUIRED_COLUMNS = ("part", "month", "quantity")
BATCH = 2000


@dataclass
class HistoryImportResult:
    rows: int = 0
    written: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)


def _month(value: str) -> dt.date:
    year, _sep, month = value.strip().partition("-")
    return dt.date(int(year), int(month), 1)


def demand_history_import(
    *,
    actor: User | None,
    lines: Iterable[str],
    source: str = "",
    progress: Callable[[int], None] | None = None,
) -> HistoryImportResult:
    """Upsert monthly demand history from CSV text lines; one transaction for the whole file.

    A missing required column refuses the file (400 `bad_header`); unusable rows are listed in
    the result (line, reason) and skipped. `progress(rows_read)` is called every batch.
    """
    require_perm(actor, "parts.plan_parts", system_allowed=True)
    reader = csv.DictReader(lines)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ApplicationError(
            "bad_header",
            _("The file needs the columns part, month and quantity; missing: %(missing)s.")
            % {"missing": ", ".join(missing)},
            details={"missing": missing},
        )
    reader.fieldnames = header
    parts = dict(Part.objects.values_list("number", "pk"))
    locations = dict(Location.objects.values_list("code", "pk"))
    today = clock.today()
    result = HistoryImportResult()
    merged: dict[tuple[int, int | None, dt.date], int] = {}
    for line_no, row in enumerate(reader, start=2):
        result.rows += 1
        number = (row.get("part") or "").strip()
        code = (row.get("location") or "").strip()
        reason = ""
        month = None
        quantity = 0
        try:
            month = _month(row.get("month") or "")
        except ValueError:
            reason = "bad_month"
        try:
            quantity = int((row.get("quantity") or "").strip())
        except ValueError:
            reason = reason or "bad_quantity"
        if number not in parts:
            reason = "unknown_part"
        elif code and code not in locations:
            reason = "unknown_location"
        elif not reason and quantity < 0:
            reason = "bad_quantity"
        elif not reason and month is not None and month > today.replace(day=1):
            reason = "future_month"
        if reason or month is None:
            result.rejected.append({"line": line_no, "reason": reason, "part": number})
            continue
        key = (parts[number], locations[code] if code else None, month)
        merged[key] = merged.get(key, 0) + quantity
        if progress and result.rows % BATCH == 0:
            progress(result.rows)
    now = clock.now()
    with transaction.atomic():
        keys = list(merged)
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            # Update the months already there, create the rest (portable: a null location
            # does not take part in SQLite's unique constraint).
            existing = {
                (saved.part_id, saved.location_id, saved.month): saved
                for saved in DemandHistory.objects.filter(
                    part_id__in={k[0] for k in chunk}, month__in={k[2] for k in chunk}
                )
            }
            changed = []
            for key in chunk:
                saved = existing.get(key)
                if saved is not None:
                    saved.quantity, saved.imported_at = merged[key], now
                    saved.source = source[:100]
                    changed.append(saved)
            DemandHistory.objects.bulk_update(changed, ["quantity", "imported_at", "source"])
            DemandHistory.objects.bulk_create(
                [
                    DemandHistory(
                        part_id=key[0],
                        location_id=key[1],
                        month=key[2],
                        quantity=merged[key],
                        imported_at=now,
                        source=source[:100],
                    )
                    for key in chunk
                    if key not in existing
                ]
            )
        result.written = len(keys)
        audit_record(
            actor=actor,
            action="parts.history_imported",
            entity="parts",
            entity_id=0,
            data={
                "source": source[:100],
                "rows": result.rows,
                "written": result.written,
                "rejected": len(result.rejected),
            },
        )
    if progress:
        progress(result.rows)
    return result


def demand_history_import_text(
    *, actor: User | None, text: str, source: str = ""
) -> HistoryImportResult:
    """The same, for an uploaded file's text."""
    return demand_history_import(actor=actor, lines=io.StringIO(text), source=source)
