"""Staff notifications (站内通知): what a member of staff must look at, e.g. an SLA warning.

A notification stores a stable code and parameters, not display text, so it is shown in the
reader's language; e-mail copies are sent after the transaction commits.
"""

from django.conf import settings
from django.db import models


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    code = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["recipient", "created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notifications_unread",
            ),
            models.Index(fields=["recipient", "created_at"], name="notifications_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.code} → {self.recipient_id}"
