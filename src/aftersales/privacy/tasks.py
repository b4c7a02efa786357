"""Celery entry points of the privacy app: thin wrappers around the services."""

from typing import Any

from celery import shared_task

from .services import retention_apply as retention_apply_service


@shared_task(name="privacy.retention_apply", acks_late=True)
def retention_apply() -> list[dict[str, Any]]:
    """Apply the retention rules (nightly); returns what each rule did."""
    return [
        {
            "kind": o.rule.kind,
            "due": o.due,
            "done": o.done,
            "skipped": o.skipped,
            "failed": o.failed,
        }
        for o in retention_apply_service()
    ]
