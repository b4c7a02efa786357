"""Shared kernel tables: number sequences and the audit log."""

from django.conf import settings
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
    # The customer whose personal data the row concerns (a plain id, not a foreign key: the
    # audit trail outlives an erased customer and is never rewritten).
    customer_id = models.BigIntegerField(null=True, blank=True)
    # Address the request came from (blank for the system's own work).
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

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
