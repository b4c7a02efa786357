"""Data-subject rights (个人信息主体权利) under PIPL and the GDPR: consent, erasure, retention.

- `Consent`: append-only history of what a customer agreed to, per purpose; the latest record
  per (customer, purpose) is in force (see `selectors.consent_in_force`).
- `ErasureRecord`: proof that a customer's personal data was erased: who, when, why (a code)
  and how many values of each registered field; never the data itself.
- `RetentionRule`: how long one kind of record is kept and what happens after (delete or
  anonymise), applied nightly by `services.retention_apply`.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.core.fields import EncryptedTextField


class Purpose(models.TextChoices):
    """What the customer's personal data may be used for (处理目的)."""

    CONTACT_PHONE = "contact_phone", _("Contact by phone")
    CONTACT_EMAIL = "contact_email", _("Contact by e-mail")
    CONTACT_SMS = "contact_sms", _("Contact by SMS")
    SURVEYS = "surveys", _("Satisfaction surveys")
    MARKETING = "marketing", _("Marketing")


# Service contact about the customer's own cases; `Customer.consent_contact` summarises these.
CONTACT_PURPOSES = (Purpose.CONTACT_PHONE, Purpose.CONTACT_EMAIL, Purpose.CONTACT_SMS)


class ConsentSource(models.TextChoices):
    """Where the customer said it."""

    PHONE = "phone", _("Phone call")
    PORTAL = "portal", _("Customer portal")
    OUTLET = "outlet", _("At an outlet")
    EMAIL = "email", _("E-mail")
    WEB = "web", _("Web form")
    # The consent box of the customer file, changed by staff without naming a channel.
    CUSTOMER_FILE = "customer_file", _("Customer file")


class Consent(models.Model):
    """One statement of consent or its withdrawal (同意记录); never edited, only added to."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="consents"
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    # Where the evidence is (e.g. a call recording id): free text that may name the person, so
    # encrypted at rest like the customer's own notes, and emptied by erasure.
    note = EncryptedTextField(_("evidence"), blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["customer", "purpose", "recorded_at"], name="privacy_consent_latest"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose}={'yes' if self.granted else 'no'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Consent records are evidence: they are added, never edited.")
        super().save(*args, **kwargs)


class ErasureReason(models.TextChoices):
    """Why personal data was erased (a code: a free-text reason could itself hold personal
    data, and this record must hold none)."""

    SUBJECT_REQUEST = "subject_request", _("The customer asked for erasure")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn, no other legal basis")
    PURPOSE_FULFILLED = "purpose_fulfilled", _("Purpose fulfilled, no longer needed")
    RETENTION = "retention", _("Retention period ended")
    UNLAWFUL = "unlawful", _("Processed unlawfully")


class ErasureRecord(models.Model):
    """A customer's personal data was erased (删除记录): by whom, when, why, how much."""

    # The anonymised stub that stays behind (cases, units and purchases still point to it).
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="erasure"
    )
    erased_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=20, choices=ErasureReason.choices)
    # Records erased together: the customer and those merged into it (ids only).
    record_ids = models.JSONField(default=list)
    # {"app.Model.field": number of values erased}, plus consents and blind-index entries.
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-erased_at", "-id"]
        permissions = [
            ("export_subject", "Can export all data held about a customer"),
            ("erase_subject", "Can erase a customer's personal data"),
        ]

    def __str__(self) -> str:
        return f"erasure of customer {self.customer_id} at {self.erased_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Erasure records are evidence: they are added, never edited.")
        super().save(*args, **kwargs)


class RetentionKind(models.TextChoices):
    """The kinds of record a retention rule can apply to (保存期限)."""

    NOTIFICATIONS_READ = "notifications_read", _("Read staff notifications")
    SIGN_IN_ATTEMPTS = "sign_in_attempts", _("Sign-in attempts and throttle rows")
    SESSIONS_EXPIRED = "sessions_expired", _("Expired sessions")
    INACTIVE_CUSTOMERS = "inactive_customers", _("Inactive customers (no open cases)")


class RetentionAction(models.TextChoices):
    DELETE = "delete", _("Delete")
    ANONYMISE = "anonymise", _("Anonymise")


# What each kind allows: staff-side rows are deleted; a customer is anonymised, because cases,
# units and purchase amounts are financial and service records that must stay.
ALLOWED_ACTIONS: dict[str, tuple[str, ...]] = {
    RetentionKind.NOTIFICATIONS_READ: (RetentionAction.DELETE,),
    RetentionKind.SIGN_IN_ATTEMPTS: (RetentionAction.DELETE,),
    RetentionKind.SESSIONS_EXPIRED: (RetentionAction.DELETE,),
    RetentionKind.INACTIVE_CUSTOMERS: (RetentionAction.ANONYMISE,),
}


class RetentionRule(models.Model):
    """Keep one kind of record `keep_days` (after it was read, expired or last active), then
    delete or anonymise it. The audit log has no rule: it is append-only evidence."""

    kind = models.CharField(_("kind of record"), max_length=30, choices=RetentionKind.choices)
    keep_days = models.PositiveIntegerField(_("keep (days)"))
    action = models.CharField(_("action"), max_length=10, choices=RetentionAction.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_run_count = models.PositiveIntegerField(_("records at last run"), default=0)

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["kind"], name="privacy_retention_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.keep_days} days"

    def clean(self) -> None:
        allowed = ALLOWED_ACTIONS.get(self.kind, ())
        if self.kind and self.action and self.action not in allowed:
            raise ValidationError(
                {
                    "action": _("This kind of record can only be: %(allowed)s.")
                    % {"allowed": ", ".join(str(RetentionAction(a).label) for a in allowed)}
                }
            )
