"""Complaints and disputes (投诉/纠纷).

A complaint is carried by a case of kind "complaint": the case gives it a number, the customer,
the channel, the 1-hour reply and 24-hour preliminary-solution clocks (SLA policies for that
kind), the assignee and the timeline. The `Complaint` row adds what only a complaint has: its
own lifecycle, nature and severity, whom it concerns, the independent review, compensation
with approvals, and the root cause the KPIs count.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.core.fields import EncryptedTextField


class ComplaintNature(models.TextChoices):
    """What the complaint is about (投诉性质)."""

    PRODUCT_USAGE = "product_usage", _("Product usage")
    PRODUCT_QUALITY = "product_quality", _("Product quality")
    SERVICE_ATTITUDE = "service_attitude", _("Service attitude")
    SLOW_RESPONSE = "slow_response", _("Slow response")
    REPAIR_QUALITY = "repair_quality", _("Repair quality")
    PRICE_BILLING = "price_billing", _("Price / billing")
    OTHER = "other", _("Other")


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MODERATE = "moderate", _("Moderate")
    MAJOR = "major", _("Major")
    CRITICAL = "critical", _("Critical")


SEVERITY_RANK = {Severity.MINOR: 1, Severity.MODERATE: 2, Severity.MAJOR: 3, Severity.CRITICAL: 4}


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    EVALUATED = "evaluated", _("Classified and evaluated")
    HANDLING = "handling", _("Being handled")
    ANSWERED = "answered", _("Answered to the customer")
    CLOSED = "closed", _("Closed")


class Responsibility(models.TextChoices):
    """Who was responsible, as the review finds it (责任认定)."""

    PRODUCT = "product", _("Product")
    SERVICE = "service", _("Service")
    CUSTOMER = "customer", _("Customer")
    THIRD_PARTY = "third_party", _("Third party")


class RootCause(models.TextChoices):
    """Root cause (根本原因), counted by the KPIs."""

    PRODUCT_DEFECT = "product_defect", _("Product defect")
    DESIGN_OR_DOCUMENTATION = "design_docs", _("Design or documentation")
    SERVICE_PROCESS = "service_process", _("Service process")
    STAFF_CONDUCT = "staff_conduct", _("Staff conduct")
    INTERNAL_COMMUNICATION = "communication", _("Internal communication")
    LOGISTICS = "logistics", _("Logistics")
    PRICING_POLICY = "pricing_policy", _("Pricing or policy")
    CUSTOMER_EXPECTATION = "expectation", _("Customer expectation")
    THIRD_PARTY = "third_party", _("Third party")
    OTHER = "other", _("Other")


class Complaint(models.Model):
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="complaint")
    # The service case the complaint was raised from, if any.
    related_case = models.ForeignKey(
        "cases.Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints_raised",
    )
    status = models.CharField(
        max_length=12, choices=ComplaintStatus.choices, default=ComplaintStatus.RECEIVED
    )
    nature = models.CharField(_("nature"), max_length=20, choices=ComplaintNature.choices)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MODERATE
    )
    # Whom the complaint is about: a member of staff, a team, or both.
    concerns_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints_about",
        verbose_name=_("concerns staff member"),
    )
    concerns_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints_about",
        verbose_name=_("concerns team"),
    )
    amount_at_stake = models.DecimalField(
        _("amount at stake"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    media_exposure = models.BooleanField(_("media exposure"), default=False)
    # Earlier complaints of the same customer within the review policy's window, at evaluation.
    earlier_complaints = models.PositiveSmallIntegerField(default=0)
    review_required = models.BooleanField(default=False)
    review_reasons = models.JSONField(default=list, blank=True)
    root_cause = models.CharField(
        _("root cause"), max_length=20, choices=RootCause.choices, blank=True
    )
    # 15% of errors came from poor internal communication: recorded so the KPIs can count it.
    communication_error = models.BooleanField(_("internal communication error"), null=True)
    received_at = models.DateTimeField()
    evaluated_at = models.DateTimeField(null=True, blank=True)
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        permissions = [
            ("handle_complaint", "Can evaluate, handle and answer complaints"),
            ("review_complaint", "Can review complaints (independent review group)"),
            ("propose_compensation", "Can propose compensation"),
            ("approve_compensation", "Can decide on compensation within an approval limit"),
            ("view_complaint_report", "Can see complaint figures"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="complaints_status"),
            models.Index(fields=["nature", "received_at"], name="complaints_nature"),
            models.Index(fields=["root_cause"], name="complaints_root_cause"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_at_stake__isnull=True) | models.Q(amount_at_stake__gte=0),
                name="complaints_amount_at_stake_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.nature}"


class ReviewPolicy(models.Model):
    """When a complaint is complex enough for the independent review group (one row).

    Any rule that holds sends it to review: severity at or above `min_severity`, an amount at
    stake at or above `amount_threshold`, at least `repeat_threshold` earlier complaints of the
    customer within `repeat_window_days`, a VIP customer, media exposure.
    """

    min_severity = models.CharField(
        _("minimum severity"), max_length=10, choices=Severity.choices, default=Severity.MAJOR
    )
    amount_threshold = models.DecimalField(
        _("amount at stake from"), max_digits=12, decimal_places=2, default=Decimal("1000")
    )
    repeat_window_days = models.PositiveSmallIntegerField(_("repeat window (days)"), default=90)
    repeat_threshold = models.PositiveSmallIntegerField(
        _("earlier complaints in the window"), default=1
    )
    vip = models.BooleanField(_("every VIP customer's complaint"), default=True)
    media = models.BooleanField(_("every complaint with media exposure"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("review policy")
        verbose_name_plural = _("review policy")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_threshold__gte=0), name="complaints_policy_amount"
            ),
            models.CheckConstraint(
                condition=models.Q(repeat_threshold__gte=1), name="complaints_policy_repeat"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Review policy"))


class ComplaintReview(models.Model):
    """The independent complaint review group's review (独立投诉审查) of one complaint."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a reviewer")
        IN_REVIEW = "in_review", _("In review")
        COMPLETED = "completed", _("Completed")

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reasons = models.JSONField(default=list, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaint_reviews",
    )
    requested_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    findings = EncryptedTextField(_("findings"), blank=True)
    responsibility = models.CharField(
        _("responsibility"), max_length=12, choices=Responsibility.choices, blank=True
    )
    recommendation = EncryptedTextField(_("recommendation"), blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["complaint"],
                condition=~models.Q(status="completed"),
                name="complaints_one_open_review",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="completed")
                | (models.Q(reviewer__isnull=False) & ~models.Q(responsibility="")),
                name="complaints_review_completed_has_findings",
            ),
        ]

    def __str__(self) -> str:
        return f"review {self.pk} of {self.complaint_id}"


class ApprovalLevel(models.Model):
    """One step of the compensation approval chain: the roles at it and the most they approve.

    An approver's limit is the highest of the levels their roles are on; a blank limit is
    unlimited. Defaults: agents ¥200, supervisors ¥2,000, the after-sales manager above that.
    """

    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    name = models.CharField(_("name"), max_length=60)
    roles = models.JSONField(_("roles"), default=list)
    limit = models.DecimalField(
        _("approves up to"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(limit__isnull=True) | models.Q(limit__gte=0),
                name="complaints_level_limit_nonneg",
            )
        ]

    def __str__(self) -> str:
        return self.name


class CompensationKind(models.TextChoices):
    REFUND_FULL = "refund_full", _("Full refund")
    REFUND_PARTIAL = "refund_partial", _("Partial refund")
    REPLACEMENT = "replacement", _("Replacement")
    FREE_REPAIR = "free_repair", _("Free repair")
    VOUCHER = "voucher", _("Voucher")
    EXTENDED_WARRANTY = "extended_warranty", _("Extended warranty")


class CompensationProposal(models.Model):
    """A proposed compensation (补偿方案) of one or more lines, decided along the approval chain."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="proposals")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    reason = EncryptedTextField(_("reason"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField()
    # The lowest level whose limit covers the total; where the chain currently waits.
    required_level = models.ForeignKey(ApprovalLevel, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["proposed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="complaints_proposal_total_nonneg"
            ),
            models.UniqueConstraint(
                fields=["complaint"],
                condition=models.Q(status="pending"),
                name="complaints_one_pending_proposal",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(decided_at__isnull=False)),
                name="complaints_proposal_decided_at",
            ),
        ]

    def __str__(self) -> str:
        return f"proposal {self.pk} ({self.total} {self.currency})"


class CompensationLine(models.Model):
    proposal = models.ForeignKey(
        CompensationProposal, on_delete=models.CASCADE, related_name="lines"
    )
    kind = models.CharField(max_length=20, choices=CompensationKind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    unit = models.ForeignKey(
        "catalog.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    months = models.PositiveSmallIntegerField(null=True, blank=True)  # extended warranty
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="complaints_line_amount_nonneg"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="extended_warranty") | models.Q(months__gte=1),
                name="complaints_line_warranty_months",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class ApprovalDecision(models.Model):
    """One decision in a proposal's approval chain, with who made it at which level."""

    class Decision(models.TextChoices):
        APPROVE = "approve", _("Approved")
        REJECT = "reject", _("Rejected")
        FORWARD = "forward", _("Endorsed and forwarded")

    proposal = models.ForeignKey(
        CompensationProposal, on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    level = models.ForeignKey(
        ApprovalLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            # Decisive answers are given once: the row lock is the guard, this is the proof.
            models.UniqueConstraint(
                fields=["proposal"],
                condition=models.Q(decision__in=["approve", "reject"]),
                name="complaints_one_final_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.proposal_id} by {self.approver_id}"


class CompensationAction(models.Model):
    """A follow-up action an approved proposal creates (refund record, replacement order, ...),
    tracked until it is done; the complaint cannot close while one is open."""

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        REPLACEMENT = "replacement", _("Replacement order")
        REPAIR = "repair", _("Free repair")
        VOUCHER = "voucher", _("Voucher")
        EXTENDED_WARRANTY = "extended_warranty", _("Warranty extension")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="actions")
    line = models.OneToOneField(CompensationLine, on_delete=models.PROTECT, related_name="action")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    # Payment reference, replacement order / tracking number, voucher code, repair case number.
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="complaints_action_open")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="complaints_action_amount_nonneg"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="done") | models.Q(completed_at__isnull=False),
                name="complaints_action_done_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.complaint_id}: {self.status}"


class LetterTemplate(models.Model):
    """A templated letter to the customer (答复函) in one language.

    Placeholders in `$name` form (see `complaints.letters.PLACEHOLDERS`); the answer is sent in
    the customer's preferred language, falling back to Chinese.
    """

    code = models.SlugField(_("code"), max_length=40)
    language = models.CharField(_("language"), max_length=10)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code", "language"]
        constraints = [
            models.UniqueConstraint(fields=["code", "language"], name="complaints_letter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.language})"
