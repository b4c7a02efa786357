"""Outgoing webhooks (对外通知): other systems (ERP, IM bots) told about case events.

A webhook is a receiver URL, a signing secret and the event kinds it wants. Each event it wants
becomes a `WebhookDelivery` row in the transaction that wrote the event (an outbox), so a
delivery is never lost to a crash and never sent for a change that rolled back. Payloads carry
ids and codes only, never a customer's personal data.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from aftersales.core.errors import ApplicationError
from aftersales.core.fields import EncryptedTextField
from aftersales.core.outbound import outbound_url_check

MAX_ATTEMPTS = 5


class EventKind(models.TextChoices):
    CASE_OPENED = "case.opened", _("Case opened")
    CASE_RESOLVED = "case.resolved", _("Case resolved")
    CASE_CLOSED = "case.closed", _("Case closed")
    CASE_REOPENED = "case.reopened", _("Case reopened")
    CASE_ESCALATED = "case.escalated", _("Case escalated")
    SLA_BREACHED = "sla.breached", _("Service time breached")


def validate_outbound_url(value: str) -> None:
    """Form validator: a URL the outbound guard refuses cannot even be saved."""
    try:
        outbound_url_check(value)
    except ApplicationError as exc:
        raise ValidationError(exc.message, code=exc.code) from None


class Webhook(models.Model):
    name = models.CharField(_("name"), max_length=100)
    # Encrypted: chat-bot receivers (WeCom, DingTalk, Feishu) carry an access token in the URL.
    # Checked by the outbound guard whenever it is set (services, admin form); not a field
    # validator, so a webhook whose receiver is down can still be edited or switched off.
    url = EncryptedTextField(
        _("URL"),
        help_text=_("https:// address of the receiving system; it must be publicly reachable."),
    )
    # Signs each body (HMAC-SHA256); encrypted at rest like customers' contact data.
    secret = EncryptedTextField(_("signing secret"))
    event_kinds = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook, with its attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    # Sent as X-Aftersales-Delivery: receivers drop a retried delivery they already have.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_kind = models.CharField(_("event"), max_length=30, choices=EventKind.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the next attempt may start; also the lease of an attempt in flight. Null when done.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"))
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(attempts__lte=MAX_ATTEMPTS), name="webhook_delivery_attempts"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_kind} → {self.webhook_id} ({self.status})"
