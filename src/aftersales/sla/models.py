"""Service commitments (服务承诺): SLA policies, the clocks they run on cases, escalation.

A policy matches a case (kind, tier, urgency, channel, product line) and gives each metric a
target on a business calendar. Each case carries one clock per metric; its due time is computed
from the case's own events and stored, so pages and the sweep read it without recomputing.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.models import Team
from aftersales.cases.models import CaseKind, Status, Urgency
from aftersales.customers.models import Channel, Tier


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    PRELIMINARY_SOLUTION = "preliminary_solution", _("Preliminary solution")
    RESOLUTION = "resolution", _("Resolution")


class SlaPolicy(models.Model):
    """Which cases a set of targets applies to; the first active match by rank wins."""

    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveIntegerField(_("rank"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    case_kind = models.CharField(
        _("case type"), max_length=10, choices=CaseKind.choices, blank=True
    )
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, blank=True)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    product_line = models.ForeignKey(
        "catalog.ProductLine",
        verbose_name=_("product line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Case statuses in which the clocks stand still (e.g. waiting for the customer).
    pause_statuses = models.JSONField(_("pause in statuses"), default=list, blank=True)
    # xgettext:no-python-format
    warn_percent = models.PositiveSmallIntegerField(_("warn at % of the time"), default=75)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rank", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        permissions = [("view_sla_report", "Can see SLA performance")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(warn_percent__gte=1, warn_percent__lte=99),
                name="sla_policy_warn_percent",
            )
        ]

    def __str__(self) -> str:
        return self.name


PAUSABLE_STATUSES = [Status.WAITING_CUSTOMER, Status.WAITING_PARTS]


class SlaTarget(models.Model):
    """One metric's target under a policy: an amount of working time on a calendar."""

    class Unit(models.TextChoices):
        MINUTES = "minutes", _("working minutes")
        HOURS = "hours", _("working hours")
        DAYS = "days", _("working days")

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(_("metric"), max_length=24, choices=Metric.choices)
    amount = models.PositiveIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices)
    calendar = models.ForeignKey(
        "core.BusinessCalendar",
        verbose_name=_("calendar"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["policy", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "metric"], name="sla_target_one_per_metric"),
            models.CheckConstraint(condition=models.Q(amount__gte=1), name="sla_target_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.metric} {self.amount} {self.unit}"


class SlaClock(models.Model):
    """One metric's clock on one case.

    `due_at` and `warn_at` are stored whenever the clock starts, pauses, resumes, stops or is
    recomputed; `elapsed` is the working time it had run by the last stop or pause.
    """

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        MET = "met", _("Met")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="clocks")
    metric = models.CharField(max_length=24, choices=Metric.choices)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="clocks")
    calendar = models.ForeignKey(
        "core.BusinessCalendar", on_delete=models.PROTECT, related_name="+"
    )
    budget = models.DurationField()  # working time allowed
    state = models.CharField(max_length=10, choices=State.choices)
    started_at = models.DateTimeField()
    elapsed = models.DurationField()
    due_at = models.DateTimeField(null=True, blank=True)  # null while paused or stopped
    warn_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # When the target passed unmet (the due time), whether found by the sweep or at the stop.
    breached_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)  # when the sweep sent the warning
    breach_noticed_at = models.DateTimeField(null=True, blank=True)  # when the sweep recorded it
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["case", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["case", "metric"], name="sla_clock_one_per_metric"),
        ]
        indexes = [
            # The sweep's two questions, answered from small partial indexes.
            # `include` makes both index-only scans on PostgreSQL (case ids without the heap).
            models.Index(
                fields=["warn_at"],
                condition=models.Q(state="running", warned_at__isnull=True),
                include=["case_id"],
                name="sla_clock_warn_due",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(state="running", breach_noticed_at__isnull=True),
                include=["case_id"],
                name="sla_clock_breach_due",
            ),
            models.Index(fields=["breached_at"], name="sla_clock_breached"),
            models.Index(fields=["state", "due_at"], name="sla_clock_state_due"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.metric} {self.state}"


class EscalationRule(models.Model):
    """What happens when a clock nears or passes its due time; fires once per clock."""

    class Trigger(models.TextChoices):
        WARNING = "warning", _("Warning (before the due time)")
        BREACH = "breach", _("Breach (due time passed)")

    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    metric = models.CharField(_("metric"), max_length=24, choices=Metric.choices, blank=True)
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("policy"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="escalation_rules",
    )
    notify_assignee = models.BooleanField(_("notify the assignee"), default=True)
    notify_supervisor = models.BooleanField(_("notify the team's supervisors"), default=False)
    raise_priority = models.BooleanField(_("raise priority one step"), default=False)
    move_to_team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("move to team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # When the team is not fixed, move to the first active team of this kind (e.g. the VIP or
    # complaints desk) — the demo's teams are created after the rules.
    move_to_team_kind = models.CharField(
        _("move to team kind"), max_length=20, choices=Team.Kind.choices, blank=True
    )

    class Meta:
        ordering = ["trigger", "id"]

    def __str__(self) -> str:
        return self.name


class EscalationFiring(models.Model):
    """A rule that fired on a clock; the unique constraint makes "once per clock" a fact."""

    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="firings")
    fired_at = models.DateTimeField()
    actions = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "clock"], name="sla_firing_once_per_clock")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.clock_id}"


class SweepRun(models.Model):
    """One sweep: when, by whom (worker), what it found; for operations and the benchmark."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    warnings = models.PositiveIntegerField(default=0)
    breaches = models.PositiveIntegerField(default=0)
    escalations = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"sweep {self.started_at:%Y-%m-%d %H:%M}"
