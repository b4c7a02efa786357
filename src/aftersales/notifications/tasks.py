"""E-mail copies of notifications, sent by a worker (or in-process when no broker is set)."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from .messages import render
from .models import Notification


@shared_task(name="notifications.email")
def notifications_email(ids: list[int]) -> int:
    """Send each notification to its recipient's e-mail address, in their language."""
    sent = 0
    for note in Notification.objects.filter(pk__in=ids).select_related("recipient"):
        user = note.recipient
        if not user.email or not user.is_active:
            continue
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            text = render(note.code, note.params)
            sent += send_mail(
                subject=_("[Aftersales] %(text)s") % {"text": text[:120]},
                message=text,
                from_email=None,
                recipient_list=[user.email],
            )
    return sent
