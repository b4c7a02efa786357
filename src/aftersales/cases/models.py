"""Service cases (服务工单): one tracked, numbered case for every request, on every channel."""

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.models import Seniority, Team
from aftersales.accounts.roles import ROLE_LABELS
from aftersales.core.fields import EncryptedTextField
from aftersales.customers.models import Channel, Tier

StrOrPromise = str | Promise


class Nature(models.TextChoices):
    """Nature of the problem (问题性质)."""

    HARDWARE = "hardware", _("Hardware fault")
    SOFTWARE = "software", _("Software issue")
    USAGE = "usage", _("Usage question")
    ATTITUDE = "attitude", _("Service attitude")
    RESPONSE = "response", _("Response speed")
    LOGISTICS = "logistics", _("Logistics / delivery")
    BILLING = "billing", _("Billing / refund")
    OTHER = "other", _("Other")


SUBCATEGORIES: dict[str, dict[str, StrOrPromise]] = {
    Nature.HARDWARE: {
        "no_power": _("Does not power on"),
        "noise": _("Noise or vibration"),
        "cooling": _("Cooling / heating failure"),
        "leak": _("Leak"),
        "display": _("Display or screen fault"),
        "battery": _("Battery or charging"),
        "physical_damage": _("Physical damage"),
        "other": _("Other hardware"),
    },
    Nature.SOFTWARE: {
        "firmware": _("Firmware / update failure"),
        "connectivity": _("Wi-Fi / Bluetooth pairing"),
        "app": _("Companion app"),
        "crash": _("Freezes or restarts"),
        "data_sync": _("Data sync"),
        "other": _("Other software"),
    },
    Nature.USAGE: {
        "setup": _("Installation and setup"),
        "operation": _("How to use a function"),
        "maintenance": _("Care and maintenance"),
        "warranty_policy": _("Warranty policy"),
        "other": _("Other question"),
    },
    Nature.ATTITUDE: {
        "agent": _("Agent attitude"),
        "technician": _("Technician attitude"),
        "other": _("Other"),
    },
    Nature.RESPONSE: {
        "slow_reply": _("Slow reply"),
        "missed_appointment": _("Missed appointment"),
        "slow_repair": _("Slow repair"),
        "other": _("Other"),
    },
    Nature.LOGISTICS: {
        "late_delivery": _("Late delivery"),
        "damaged_in_transit": _("Damaged in transit"),
        "installation_delay": _("Installation delay"),
        "other": _("Other"),
    },
    Nature.BILLING: {
        "refund": _("Refund"),
        "invoice": _("Invoice"),
        "charge_dispute": _("Disputed charge"),
        "other": _("Other"),
    },
    Nature.OTHER: {"other": _("Other")},
}


class Urgency(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Status(models.TextChoices):
    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting for customer")
    WAITING_PARTS = "waiting_parts", _("Waiting for parts")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = [
    Status.NEW,
    Status.TRIAGED,
    Status.ASSIGNED,
    Status.IN_PROGRESS,
    Status.WAITING_CUSTOMER,
    Status.WAITING_PARTS,
]


class SolutionType(models.TextChoices):
    KNOWLEDGE = "knowledge", _("Knowledge-base answer")
    REMOTE = "remote", _("Remote guidance")
    SOFTWARE_UPDATE = "software_update", _("Software update")
    PART_REPLACEMENT = "part_replacement", _("Part replacement")
    DEPOT_REPAIR = "depot_repair", _("Depot repair")
    ONSITE_REPAIR = "onsite_repair", _("Onsite repair")
    RETURN = "return", _("Return")
    EXCHANGE = "exchange", _("Exchange")
    REFUND = "refund", _("Refund")
    # Complaints are answered with an explanation or with approved compensation.
    EXPLANATION = "explanation", _("Explanation and apology")
    COMPENSATION = "compensation", _("Compensation")


class CaseKind(models.TextChoices):
    """What the case is: a service request, or a complaint (投诉), which runs on tighter clocks."""

    SERVICE = "service", _("Service request")
    COMPLAINT = "complaint", _("Complaint")


class Case(models.Model):
    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="cases"
    )
    unit = models.ForeignKey(
        "catalog.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    product_line = models.ForeignKey(
        "catalog.ProductLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=CaseKind.choices, default=CaseKind.SERVICE)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=200)
    description = EncryptedTextField(_("description"), blank=True)  # personal data: encrypted
    nature = models.CharField(max_length=12, choices=Nature.choices, blank=True)
    subcategory = models.CharField(max_length=30, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    # 1 (highest) .. 4, derived from urgency and the customer's tier when either changes.
    priority = models.PositiveSmallIntegerField(default=3)
    # Steps of priority added by escalation rules, kept when priority is derived again.
    priority_boost = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
    )
    solution_type = models.CharField(max_length=20, choices=SolutionType.choices, blank=True)
    solution_notes = EncryptedTextField(blank=True)  # personal data: encrypted
    classified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    first_contact_resolution = models.BooleanField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    # Routed to self-service and remote guidance first: a person takes over at this time if
    # the case is still unresolved (see `cases.routing`).
    self_service_until = models.DateTimeField(null=True, blank=True)
    # The customer's report was useful product feedback (one of the value-tier dimensions).
    useful_feedback = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        permissions = [
            ("work_case", "Can work on cases (contacts, progress, resolve)"),
            ("classify_case", "Can classify cases"),
            ("assign_case", "Can assign cases within own teams"),
            ("reassign_case", "Can reassign cases to any team"),
            ("close_case", "Can close resolved cases"),
        ]
        indexes = [
            models.Index(fields=["status", "priority", "created_at"], name="cases_queue"),
            models.Index(fields=["team", "status", "priority", "created_at"], name="cases_team"),
            models.Index(fields=["assignee", "status"], name="cases_assignee"),
            models.Index(fields=["customer", "created_at"], name="cases_customer"),
            models.Index(fields=["created_at"], name="cases_created"),
            models.Index(fields=["nature", "created_at"], name="cases_nature"),
            models.Index(
                fields=["self_service_until"],
                condition=models.Q(self_service_until__isnull=False),
                name="cases_self_service_due",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseEvent(models.Model):
    """The case's history and timeline: lifecycle changes and every contact, append-only.

    KPIs are computed from this stream, so it stores stable codes, never display text.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Case opened")
        STATUS = "status", _("Status changed")
        CLASSIFIED = "classified", _("Classified")
        ASSIGNED = "assigned", _("Assigned")
        CONTACT = "contact", _("Contact")
        NOTE = "note", _("Internal note")
        SOLUTION = "solution", _("Solution recorded")
        MERGED = "merged", _("Customer merged")
        PRIORITY = "priority", _("Priority changed")
        PROPOSAL = "proposal", _("Preliminary solution given")
        ROUTED = "routed", _("Routed")
        SLA = "sla", _("Service clock")
        ESCALATED = "escalated", _("Escalated")
        FEEDBACK = "feedback", _("Marked as useful feedback")
        ATTACHMENT = "attachment", _("Attachment")
        COMPLAINT = "complaint", _("Complaint")
        REVIEW = "review", _("Complaint review")
        COMPENSATION = "compensation", _("Compensation")
        RETURN_VISIT = "return_visit", _("Return visit")
        SURVEY = "survey", _("Survey")
        PARTS = "parts", _("Spare parts")

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    direction = models.CharField(max_length=3, choices=Direction.choices, blank=True)
    body = EncryptedTextField(blank=True)  # what was said or written: encrypted at rest
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["case", "occurred_at"], name="cases_event_case"),
            models.Index(fields=["kind", "occurred_at"], name="cases_event_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    """A file attached to a case (工单附件): a photo of the fault, an invoice, a log.

    The bytes live under `PRIVATE_MEDIA_ROOT` with a random name and are only ever sent through
    the case they belong to (see `cases.attachments`); no URL serves the directory. A deleted
    attachment keeps its row as the record of what was there; its bytes are removed.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(_("file name"), max_length=200)
    stored_name = models.CharField(max_length=64, unique=True)
    # Identified from the file's own bytes, never taken from the uploader's claim.
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="cases_attachment_case")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deleted_at__isnull=True, deleted_by__isnull=True)
                | models.Q(deleted_at__isnull=False),
                name="cases_attachment_deleted_by_needs_deleted_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}/{self.pk} {self.filename}"


class Region(models.TextChoices):
    """The seven geographic regions of mainland China (大区), as teams and routing use them."""

    NORTH = "华北", _("North China (华北)")
    NORTHEAST = "东北", _("Northeast China (东北)")
    EAST = "华东", _("East China (华东)")
    CENTRAL = "华中", _("Central China (华中)")
    SOUTH = "华南", _("South China (华南)")
    SOUTHWEST = "西南", _("Southwest China (西南)")
    NORTHWEST = "西北", _("Northwest China (西北)")


class RoutingRule(models.Model):
    """One routing rule (分派规则): which cases it matches and where it sends them.

    Active rules are tried by ascending rank and the first whose every set criterion matches
    wins; a blank criterion matches anything. The target is a fixed team, or a kind of team,
    preferring the team of that kind in the customer's region. `cases.routing` applies them.
    """

    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveIntegerField(_("rank"), help_text=_("Lower ranks are tried first."))
    is_active = models.BooleanField(_("active"), default=True)
    # Criteria; blank matches any case.
    case_kind = models.CharField(
        _("case kind"), max_length=10, choices=CaseKind.choices, blank=True
    )
    tier = models.CharField(_("customer tier"), max_length=10, choices=Tier.choices, blank=True)
    nature = models.CharField(_("nature"), max_length=12, choices=Nature.choices, blank=True)
    product_line = models.ForeignKey(
        "catalog.ProductLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("product line"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    region = models.CharField(
        _("customer region"),
        max_length=10,
        choices=Region.choices,
        blank=True,
        help_text=_("The region of the province of the customer's default address."),
    )
    # Action.
    target_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("team"),
    )
    target_team_kind = models.CharField(
        _("kind of team"),
        max_length=20,
        choices=Team.Kind.choices,
        blank=True,
        help_text=_(
            "Used when no team is set: the active team of this kind in the customer's region, "
            "else one serving all regions, else the first of its kind."
        ),
    )
    min_seniority = models.CharField(
        _("minimum seniority"), max_length=10, choices=Seniority.choices, blank=True
    )
    required_role = models.CharField(
        _("required role"),
        max_length=30,
        choices=[(role.value, label) for role, label in ROLE_LABELS.items()],
        blank=True,
    )
    self_service_hours = models.PositiveSmallIntegerField(
        _("self-service first (working hours)"),
        null=True,
        blank=True,
        help_text=_(
            "Low-value customers first get self-service and remote guidance for this many "
            "working hours; a person takes over if the case is still open."
        ),
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target_team__isnull=False) | ~models.Q(target_team_kind=""),
                name="cases_routing_rule_has_target",
            ),
            models.CheckConstraint(
                condition=models.Q(self_service_hours__isnull=True)
                | models.Q(self_service_hours__gt=0),
                name="cases_routing_rule_self_service_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rank} {self.name}"
