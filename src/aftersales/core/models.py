"""Shared kernel tables: number sequences and the audit log."""

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _


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


# `prev_hash` of the first row of the chain.
AUDIT_GENESIS = "0" * 64
# Version tag hashed with every row: a later change of the canonical form gets a new tag.
AUDIT_HASH_VERSION = "v1"


def _audit_key() -> bytes:
    key = settings.AUDIT_HMAC_KEY
    if not key:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY is empty")
    return str(key).encode("utf-8")


def _canonical_json(value: Any) -> Any:
    # Integral floats hash as integers: PostgreSQL's jsonb gives 1e20 back as an integer.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_json(v) for v in value]
    return value


def audit_data_normalise(data: dict[str, Any] | None) -> dict[str, Any]:
    """`data` as the database gives it back (string keys, lists, no NaN), so it hashes the
    same before saving and after reading."""
    normalised: dict[str, Any] = json.loads(json.dumps(data or {}, allow_nan=False))
    return normalised


def audit_ip_normalise(ip: str | None) -> str | None:
    """One spelling per address (or None for a missing or unparseable one)."""
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip.strip()).compressed
    except ValueError:
        return None


def audit_row_hash(
    *,
    occurred_at: dt.datetime,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int,
    customer_id: int | None,
    ip: str | None,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    """HMAC-SHA256 (key `AUDIT_HMAC_KEY`) of a row's canonical form and its predecessor's hash.

    The canonical form is sorted-key compact JSON of every field except the id (which the
    database assigns only at insert, and rows are never updated). Chain order is id order,
    because rows are appended under the chain head's lock. Addresses hash as their packed bytes
    and times in UTC with microseconds, so the database's own spelling of either cannot matter.
    """
    packed_ip = ipaddress.ip_address(ip).packed.hex() if ip else None
    canonical = {
        "v": AUDIT_HASH_VERSION,
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "customer_id": customer_id,
        "ip": packed_ip,
        "data": _canonical_json(data),
        "prev_hash": prev_hash,
    }
    message = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(_audit_key(), message.encode("utf-8"), hashlib.sha256).hexdigest()


class AuditEvent(models.Model):
    """Who did or saw what, to which record, when: one append-only table for every domain.

    Domain event tables (e.g. case events) carry their own lifecycle history; this table holds
    everything else that must be accountable: reveals of personal data, merges, imports, logins.
    Rows form a keyed hash chain (`prev_hash` -> `row_hash`, see `audit_row_hash`); on
    PostgreSQL a trigger refuses UPDATE and DELETE, and the application role may only insert.
    """

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64)
    entity = models.CharField(max_length=32)
    entity_id = models.BigIntegerField()
    # The customer whose personal data the row concerns (a plain id, not a foreign key: the
    # audit trail outlives an erased customer and is never rewritten).
    customer_id = models.BigIntegerField(null=True, blank=True)
    # Address the request came from (blank for the system's own work).
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, default="", editable=False)
    row_hash = models.CharField(max_length=64, default="", editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["entity", "entity_id", "occurred_at"], name="core_audit_entity"),
            models.Index(fields=["action", "occurred_at"], name="core_audit_action"),
            models.Index(fields=["customer_id", "occurred_at"], name="core_audit_customer"),
            models.Index(fields=["actor", "occurred_at"], name="core_audit_actor"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.entity}#{self.entity_id}"

    @property
    def data_json(self) -> str:
        """`data` as JSON text, for display."""
        return json.dumps(self.data, ensure_ascii=False, sort_keys=True)

    def compute_hash(self) -> str:
        """The `row_hash` this row's fields and `prev_hash` call for."""
        return audit_row_hash(
            occurred_at=self.occurred_at,
            actor_id=self.actor_id,
            action=self.action,
            entity=self.entity,
            entity_id=self.entity_id,
            customer_id=self.customer_id,
            ip=self.ip,
            data=self.data,
            prev_hash=self.prev_hash,
        )


class AuditChainHead(models.Model):
    """The one row naming the last link of the audit chain (pk 1).

    Every append locks it (`select_for_update`), so two writers never chain onto the same
    predecessor; it also lets the verifier notice rows cut off the end of the chain.
    """

    SINGLETON = 1

    last_event_id = models.BigIntegerField(null=True, blank=True)
    last_hash = models.CharField(max_length=64, default=AUDIT_GENESIS)
    length = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"audit chain: {self.length} rows, head {self.last_hash[:12]}"


class BusinessCalendar(models.Model):
    """A business calendar (工作日历): weekly working hours in a time zone, with public holidays
    and the make-up working days (调休) that move them.

    SLA targets, routing shifts and "N working days" are all measured on one of these; the
    arithmetic lives in `core.business_time`, which works on the `CalendarSpec` built from it.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai")
    # Open around the clock (e.g. the VIP hotline): weekly hours and days are ignored.
    always_open = models.BooleanField(default=False)
    # ISO country code whose public holidays and make-up days are synced from the `holidays`
    # library (blank: maintained by hand only).
    holiday_country = models.CharField(max_length=2, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkingPeriod(models.Model):
    """One stretch of working time on a weekday (0 = Monday); a day may have several."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="core_period_weekday"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="core_period_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}-{self.end:%H:%M}"


class CalendarDay(models.Model):
    """A date that departs from the weekly pattern: a holiday (closed all day) or a make-up
    working day (调休上班), which works the hours of `works_as_weekday`."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday (closed)")
        WORKDAY = "workday", _("Make-up working day (调休)")

    class Source(models.TextChoices):
        LIBRARY = "library", _("Synced from the holiday library")
        MANUAL = "manual", _("Entered by hand")

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    works_as_weekday = models.PositiveSmallIntegerField(default=0)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="core_calendar_day_unique"),
            models.CheckConstraint(
                condition=models.Q(works_as_weekday__lte=6), name="core_calendar_day_weekday"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.kind}"
