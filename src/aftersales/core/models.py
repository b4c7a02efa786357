"""Shared kernel tables: number sequences and the audit log."""

from django.conf import settings
from django.db import models


class Sequence(models.Model):
    """Counter behind human-readable numbers, one row per (name, period)."""

    name = models.CharField(max_length=32)
    period = models.CharField(max_length=16)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "period"], name="core_sequence_name_period")
        ]

    def __str__(self) -> str:
        return f"{self.name}/{self.period}={self.last_value}"


class AuditEvent(models.Model):
    """Who did or saw what, to which record, when: one append-only table for every domain.

    Domain event tables (e.g. case events) carry their own lifecycle history; this table holds
    everything else that must be accountable: reveals of personal data, merges, imports, logins.
    """

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64)
    entity = models.CharField(max_length=32)
    entity_id = models.BigIntegerField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["entity", "entity_id", "occurred_at"], name="core_audit_entity"),
            models.Index(fields=["action", "occurred_at"], name="core_audit_action"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.entity}#{self.entity_id}"
