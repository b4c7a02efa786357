"""Return visits (回访), satisfaction surveys and recommendations.

Rules decide which resolved cases get a visit and when; VIP customers also get periodic care
calls without a case. The callback team works a list of due visits, records each attempt, asks
the survey (or sends a one-time signed link to the portal), offers recommendations and confirms
the problem is solved or reopens the case. An unsatisfied answer opens a follow-up.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.cases.models import CaseKind
from aftersales.core.fields import EncryptedTextField
from aftersales.customers.models import Tier


class CallbackRule(models.Model):
    """Which resolved cases get a return visit and when; the first active match by rank wins.

    `sample_percent` of the matching cases get a visit (100 = every one); the choice is a
    stable function of the case number, so a re-run decides the same way.
    """

    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveIntegerField(_("rank"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    case_kind = models.CharField(
        _("case type"), max_length=10, choices=CaseKind.choices, blank=True
    )
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, blank=True)
    sample_percent = models.PositiveSmallIntegerField(_("sample (%)"), default=100)
    delay_hours = models.PositiveSmallIntegerField(
        _("visit after (hours)"), default=24, help_text=_("Hours after the case is resolved.")
    )
    reason = models.CharField(_("reason code"), max_length=20, default="sample")

    class Meta:
        ordering = ["rank", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sample_percent__lte=100), name="callbacks_rule_sample"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CallbackSettings(models.Model):
    """The callback team's settings (one row): retries, care calls, surveys, thresholds."""

    retry_after_hours = models.PositiveSmallIntegerField(
        _("retry an unanswered call after (hours)"), default=4
    )
    max_attempts = models.PositiveSmallIntegerField(_("attempts before unreachable"), default=3)
    care_interval_days = models.PositiveSmallIntegerField(
        _("VIP care call every (days)"), default=90
    )
    survey_link_days = models.PositiveSmallIntegerField(_("survey link valid (days)"), default=7)
    # An answer at or below a threshold is unsatisfied and opens a follow-up.
    unsatisfied_csat = models.PositiveSmallIntegerField(
        _("unsatisfied at CSAT of at most"), default=2
    )
    unsatisfied_attitude = models.PositiveSmallIntegerField(
        _("complaint at attitude score of at most"), default=1
    )
    warranty_offer_days = models.PositiveSmallIntegerField(
        _("offer extended warranty within (days) of its end"), default=60
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("callback settings")
        verbose_name_plural = _("callback settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="callbacks_settings_attempts"
            ),
            models.CheckConstraint(
                condition=models.Q(unsatisfied_csat__lte=5, unsatisfied_attitude__lte=5),
                name="callbacks_settings_thresholds",
            ),
            models.CheckConstraint(
                condition=models.Q(survey_link_days__gte=1), name="callbacks_settings_link_days"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Callback settings"))


# Why a visit was made: the reason codes of the default rules and care calls. A rule may use
# its own code, shown as it is.
VISIT_REASONS = {
    "vip": _("VIP customer"),
    "complaint": _("Complaint"),
    "sample": _("Sample"),
    "care": _("Care call"),
}


class ReturnVisit(models.Model):
    """One return visit (回访): after a resolved case, or a periodic care call to a VIP."""

    class Kind(models.TextChoices):
        FOLLOW_UP = "follow_up", _("Follow-up of a case")
        CARE = "care", _("Care call")

    class Status(models.TextChoices):
        DUE = "due", _("Due")
        COMPLETED = "completed", _("Completed")
        UNREACHABLE = "unreachable", _("Unreachable")
        CANCELLED = "cancelled", _("Cancelled")

    class Outcome(models.TextChoices):
        SOLVED = "solved", _("Problem solved")
        NOT_SOLVED = "not_solved", _("Not solved: case reopened")
        CARE_DONE = "care_done", _("Care call done")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=20)  # vip, complaint, sample, care, ...
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="return_visits"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="return_visits"
    )
    rule = models.ForeignKey(
        CallbackRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DUE)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="return_visits",
    )
    due_at = models.DateTimeField()
    # When to try next: the due time, moved by "no answer" and "call back later".
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["next_attempt_at", "id"]
        permissions = [
            ("work_return_visit", "Can make return visits and record surveys"),
            ("view_callback_report", "Can see satisfaction and conversion figures"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="due"),
                name="callbacks_visit_worklist",
            ),
            models.Index(fields=["customer", "kind", "created_at"], name="callbacks_visit_cust"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(status="due", case__isnull=False),
                name="callbacks_one_due_visit_per_case",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(status="due", kind="care"),
                name="callbacks_one_due_care_call",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="care") | models.Q(case__isnull=False),
                name="callbacks_follow_up_has_case",
            ),
        ]

    def __str__(self) -> str:
        return f"visit {self.pk} ({self.kind}, {self.status})"

    @property
    def reason_label(self) -> str:
        return str(VISIT_REASONS.get(self.reason, self.reason))


class VisitAttempt(models.Model):
    class Result(models.TextChoices):
        REACHED = "reached", _("Reached the customer")
        NO_ANSWER = "no_answer", _("No answer")
        CALL_BACK_LATER = "call_back_later", _("Call back later")
        WRONG_NUMBER = "wrong_number", _("Wrong number")

    visit = models.ForeignKey(ReturnVisit, on_delete=models.CASCADE, related_name="attempt_log")
    result = models.CharField(max_length=16, choices=Result.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    callback_at = models.DateTimeField(null=True, blank=True)
    note = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.visit_id} {self.result}"


class Repurchase(models.TextChoices):
    YES = "yes", _("Would buy again")
    MAYBE = "maybe", _("Not sure")
    NO = "no", _("Would not buy again")


class Survey(models.Model):
    """A satisfaction survey: asked on the phone, or answered once through a signed link."""

    class Method(models.TextChoices):
        PHONE = "phone", _("By phone")
        LINK = "link", _("Through a link")

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for the answer")
        ANSWERED = "answered", _("Answered")
        CANCELLED = "cancelled", _("Cancelled")

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="surveys"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="surveys"
    )
    visit = models.ForeignKey(
        ReturnVisit, null=True, blank=True, on_delete=models.PROTECT, related_name="surveys"
    )
    method = models.CharField(max_length=5, choices=Method.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The random part of the link's signed token; the link names the survey by it alone.
    nonce = models.CharField(max_length=32, unique=True, null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    csat = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    nps = models.PositiveSmallIntegerField(_("likely to recommend (0–10)"), null=True, blank=True)
    repurchase = models.CharField(
        _("repurchase intention"), max_length=5, choices=Repurchase.choices, blank=True
    )
    communication_effective = models.BooleanField(_("communication was effective"), null=True)
    attitude = models.PositiveSmallIntegerField(_("service attitude (1–5)"), null=True, blank=True)
    comment = EncryptedTextField(_("comment"), blank=True)
    # What the answer set off: {"action": "reopened"|"complaint", ...}.
    follow_up = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["answered_at"], name="callbacks_survey_answered")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(csat__isnull=True) | models.Q(csat__gte=1, csat__lte=5),
                name="callbacks_survey_csat_range",
            ),
            models.CheckConstraint(
                condition=models.Q(nps__isnull=True) | models.Q(nps__lte=10),
                name="callbacks_survey_nps_range",
            ),
            models.CheckConstraint(
                condition=models.Q(attitude__isnull=True)
                | models.Q(attitude__gte=1, attitude__lte=5),
                name="callbacks_survey_attitude_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="answered")
                | models.Q(csat__isnull=False, answered_at__isnull=False),
                name="callbacks_survey_answered_has_csat",
            ),
            models.CheckConstraint(
                condition=~models.Q(method="link")
                | models.Q(nonce__isnull=False, expires_at__isnull=False),
                name="callbacks_survey_link_has_token",
            ),
        ]

    def __str__(self) -> str:
        return f"survey {self.pk} ({self.status})"


class Offer(models.Model):
    """Something a callback agent may recommend (个性化推荐): an accessory or a maintenance tip
    for a product line; extended-warranty offers come from the customer's own units."""

    class Kind(models.TextChoices):
        EXTENDED_WARRANTY = "extended_warranty", _("Extended warranty")
        ACCESSORY = "accessory", _("Accessory")
        MAINTENANCE_TIP = "maintenance_tip", _("Maintenance tip")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    product_line = models.ForeignKey(
        "catalog.ProductLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("product line"),
    )
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__isnull=True) | models.Q(price__gte=0),
                name="callbacks_offer_price_nonneg",
            )
        ]

    def __str__(self) -> str:
        return self.code


class Recommendation(models.Model):
    """A recommendation offered on a visit, with the customer's answer (for conversion)."""

    class Outcome(models.TextChoices):
        OFFERED = "offered", _("Offered")
        INTERESTED = "interested", _("Interested")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    visit = models.ForeignKey(ReturnVisit, on_delete=models.PROTECT, related_name="recommendations")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="recommendations"
    )
    kind = models.CharField(max_length=20, choices=Offer.Kind.choices)
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="recommendations"
    )
    unit = models.ForeignKey(
        "catalog.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OFFERED)
    value = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    offered_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["offered_at", "id"]
        indexes = [models.Index(fields=["kind", "offered_at"], name="callbacks_reco_kind")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value__gte=0), name="callbacks_reco_value_nonneg"
            ),
            models.UniqueConstraint(
                fields=["visit", "kind", "offer", "unit"], name="callbacks_reco_once_per_visit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on visit {self.visit_id}: {self.outcome}"
