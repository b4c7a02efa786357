"""The customer service file (客户服务档案): who the customer is and how to reach them.

Names, notes, phone numbers, e-mail addresses and street addresses are encrypted at rest;
exact-match look-ups go through keyed HMAC blind indexes (`core.fields.BlindIndexField`), so the
database never reveals them: a name by its full normalised form (`name_index`) or its leading
part, the surname (`name_leading_index`; see `core.names` for what that index leaks). The
company name and the region of an address stay plain: they are searched and reported on.

Value tiers (客户分类管理) are computed from purchases, usage and feedback under the active
`TierPolicy` (see `customers.tiers` for the maths); `TierScore` holds each customer's latest
score, `TierChange` the append-only history of tier moves, and `TierOverride` a manager's
time-limited decision that beats the computed tier until it expires.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.core.fields import BlindIndexedModel, BlindIndexField, EncryptedTextField
from aftersales.core.phones import mask_email, mask_phone


class Channel(models.TextChoices):
    """Contact channels, shared by preferences and case intake."""

    PHONE = "phone", _("Phone / call centre")
    EMAIL = "email", _("E-mail")
    WEB = "web", _("Web form")
    PORTAL = "portal", _("Customer portal")
    APP = "app", _("Mobile app / chat")
    WALK_IN = "walk_in", _("Walk-in at an outlet")
    ONSITE = "onsite", _("Onsite visit")


class Tier(models.TextChoices):
    """Customer value tier (客户价值分层)."""

    VIP = "vip", _("VIP (high value)")
    REGULAR = "regular", _("Regular")
    LOW = "low", _("Low value")


class Customer(BlindIndexedModel):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    number = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = EncryptedTextField(_("name"), max_length=200)
    name_index = BlindIndexField(source="name", purpose="name", db_index=True)
    name_leading_index = BlindIndexField(source="name", purpose="name_leading", db_index=True)
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.PHONE
    )
    preferred_language = models.CharField(max_length=10, default="zh-hans")
    consent_contact = models.BooleanField(_("consents to be contacted"), default=True)
    notes = EncryptedTextField(blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.REGULAR)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        permissions = [
            ("reveal_contact", "Can reveal a customer's full contact details"),
            ("merge_customer", "Can merge two customer records"),
            ("set_tier", "Can set a customer's value tier"),
            ("view_tier_report", "Can see the customer value tier report"),
        ]
        indexes = [models.Index(fields=["tier"], name="customers_tier")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(merged_into=models.F("pk")), name="customers_not_merged_self"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class ContactPoint(BlindIndexedModel):
    """A phone number or e-mail address of a customer, encrypted, with its blind index."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = EncryptedTextField()  # E.164 phone or lower-cased e-mail
    lookup_hash = BlindIndexField(source="value", purpose_field="kind", db_index=True)
    label = models.CharField(max_length=30, blank=True)  # mobile, home, office...
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "lookup_hash"], name="customers_contact_unique"
            ),
            # At most one primary phone and one primary e-mail per customer.
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=models.Q(is_primary=True),
                name="customers_contact_one_primary",
            ),
        ]
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.customer_id}"

    @property
    def masked(self) -> str:
        return mask_phone(self.value) if self.kind == self.Kind.PHONE else mask_email(self.value)


class Address(models.Model):
    """A postal address; the region is plain (for routing and reports), the street encrypted."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    province = models.CharField(_("province"), max_length=50)
    city = models.CharField(_("city"), max_length=50)
    district = models.CharField(_("district"), max_length=50, blank=True)
    street = EncryptedTextField(blank=True)
    postal_code = models.CharField(max_length=12, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "id"]
        indexes = [models.Index(fields=["province", "city"], name="customers_addr_region")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(is_default=True),
                name="customers_addr_one_default",
            )
        ]

    def __str__(self) -> str:
        return f"{self.province} {self.city} {self.district}".strip()

    @property
    def region(self) -> str:
        return " ".join(p for p in (self.province, self.city, self.district) if p)


# --- value tiers (客户分类管理) -------------------------------------------------------------------


class TierPolicy(models.Model):
    """How tiers are computed: dimension weights, look-back windows and the cut-off rule.

    One row is active. It also keeps what the last full run found (score cut-offs and each
    dimension's rank table), so a single customer can be re-scored between runs, e.g. right
    after a purchase is registered, on the same scale as everybody else.
    """

    class CutoffMode(models.TextChoices):
        PERCENTILE = "percentile", _("Shares of customers by score")
        THRESHOLD = "threshold", _("Fixed score thresholds")

    is_active = models.BooleanField(default=True)
    weight_purchase = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.500"))
    weight_usage = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.300"))
    weight_feedback = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.200"))
    # Usage and feedback count over this window; purchases over the longer one (durable goods).
    lookback_months = models.PositiveSmallIntegerField(default=12)
    purchase_lookback_months = models.PositiveSmallIntegerField(default=36)
    cutoff_mode = models.CharField(
        max_length=10, choices=CutoffMode.choices, default=CutoffMode.PERCENTILE
    )
    vip_share = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.280"))
    low_share = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.300"))
    vip_threshold = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    low_threshold = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    # What the last full run found; empty until the first run.
    vip_cutoff = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    low_cutoff = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    rank_tables = models.JSONField(default=dict, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "tier policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="customers_tierpolicy_one_active",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    weight_purchase__gte=0,
                    weight_usage__gte=0,
                    weight_feedback__gte=0,
                    vip_share__gte=0,
                    low_share__gte=0,
                    lookback_months__gte=1,
                    purchase_lookback_months__gte=1,
                ),
                name="customers_tierpolicy_ranges",
            ),
            # Weights have three decimals: a sum within half a thousandth of 1 is exactly 1.
            models.CheckConstraint(
                condition=models.Q(
                    models.lookups.GreaterThanOrEqual(
                        models.F("weight_purchase")
                        + models.F("weight_usage")
                        + models.F("weight_feedback"),
                        Decimal("0.9995"),
                    ),
                    models.lookups.LessThanOrEqual(
                        models.F("weight_purchase")
                        + models.F("weight_usage")
                        + models.F("weight_feedback"),
                        Decimal("1.0005"),
                    ),
                ),
                name="customers_tierpolicy_weights_sum_1",
            ),
            models.CheckConstraint(
                condition=models.lookups.LessThanOrEqual(
                    models.F("vip_share") + models.F("low_share"), Decimal("1")
                ),
                name="customers_tierpolicy_shares_fit",
            ),
        ]

    def __str__(self) -> str:
        return f"tier policy {self.pk} ({self.cutoff_mode})"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        weights = [self.weight_purchase, self.weight_usage, self.weight_feedback]
        if all(w is not None for w in weights) and sum(weights) != Decimal("1"):
            errors["weight_feedback"] = _("The three weights must add up to 1.")
        if (
            self.vip_share is not None
            and self.low_share is not None
            and self.vip_share + self.low_share > 1
        ):
            errors["low_share"] = _("The VIP and low shares together cannot exceed 1.")
        if self.cutoff_mode == self.CutoffMode.THRESHOLD:
            if self.vip_threshold is None or self.low_threshold is None:
                errors["vip_threshold"] = _("Threshold mode needs both thresholds.")
            elif not 0 <= self.low_threshold < self.vip_threshold <= 1:
                errors["vip_threshold"] = _(
                    "Thresholds are scores from 0 to 1, the VIP one above the low one."
                )
        if errors:
            raise ValidationError(errors)


class TierRun(models.Model):
    """One full computation of every live customer's tier, with what it found."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cutoff_mode = models.CharField(max_length=10, choices=TierPolicy.CutoffMode.choices)
    weights = models.JSONField(default=dict)
    vip_cutoff = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    low_cutoff = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    customers = models.PositiveIntegerField(default=0)
    vip = models.PositiveIntegerField(default=0)
    regular = models.PositiveIntegerField(default=0)
    low = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    kept_by_override = models.PositiveIntegerField(default=0)
    overrides_expired = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"tier run {self.pk} at {self.started_at:%Y-%m-%d %H:%M}"


class TierScore(models.Model):
    """A customer's latest score: raw dimension values, their 0..1 ranks, total and tier.

    `tier` is the computed tier; the customer's actual tier differs while an override holds.
    """

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="tier_score"
    )
    purchase_amount = models.DecimalField(max_digits=14, decimal_places=2)
    usage_count = models.PositiveIntegerField()
    feedback_count = models.PositiveIntegerField()
    purchase_score = models.DecimalField(max_digits=7, decimal_places=6)
    usage_score = models.DecimalField(max_digits=7, decimal_places=6)
    feedback_score = models.DecimalField(max_digits=7, decimal_places=6)
    score = models.DecimalField(max_digits=7, decimal_places=6)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tier", "score"], name="customers_tierscore_tier")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score} ({self.tier})"


class TierChange(models.Model):
    """One move of a customer between tiers (append-only history, never edited).

    `reason_code` and `params` are stable data (e.g. "score" with the score and the cut-off it
    crossed); `reason` is what a person wrote, for overrides and initial tiers.
    """

    class Source(models.TextChoices):
        COMPUTED = "computed", _("Computed")
        OVERRIDE = "override", _("Manager override")
        OVERRIDE_EXPIRED = "override_expired", _("Override expired")
        MANUAL_INITIAL = "manual_initial", _("Set when the file was opened")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_changes")
    before = models.CharField(max_length=10, choices=Tier.choices, blank=True)
    after = models.CharField(max_length=10, choices=Tier.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    reason = models.TextField(blank=True)
    reason_code = models.CharField(max_length=30)
    params = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run = models.ForeignKey(
        TierRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="customers_tierchange_cust"),
            models.Index(fields=["occurred_at"], name="customers_tierchange_time"),
            models.Index(fields=["source", "occurred_at"], name="customers_tierchange_src"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.before or '-'} -> {self.after} ({self.source})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Tier changes are history: they are added, never edited.")
        super().save(*args, **kwargs)


class TierOverride(models.Model):
    """A manager's tier for a customer, with a reason, until `expires_at` (or a newer override).

    While active (not ended) it beats the computed tier; computations still score the customer.
    """

    class EndReason(models.TextChoices):
        EXPIRED = "expired", _("Expired")
        REPLACED = "replaced", _("Replaced by a newer override")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_overrides")
    tier = models.CharField(max_length=10, choices=Tier.choices)
    reason = models.TextField()
    expires_at = models.DateTimeField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=10, choices=EndReason.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(ended_at__isnull=True),
                name="customers_tieroverride_one_active",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="customers_tieroverride_expires_later",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(ended_at__isnull=True),
                name="customers_tieroverride_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.tier} until {self.expires_at:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
