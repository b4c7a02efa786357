"""Reads of a member of staff's own notifications (nobody reads another's inbox)."""

from django.db.models import QuerySet

from aftersales.accounts.models import User

from .models import Notification


def notifications_for(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("case")


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
