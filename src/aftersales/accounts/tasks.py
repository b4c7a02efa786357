"""Celery entry points of the accounts app: thin wrappers around the services."""

from celery import shared_task

from .services import password_reset_mail_send
from .throttle import throttle_prune as throttle_prune_service


@shared_task(name="accounts.throttle_prune", acks_late=True)
def throttle_prune() -> int:
    """Delete old sign-in throttling counters (hourly); returns how many went."""
    return throttle_prune_service()


@shared_task(name="accounts.password_reset_mail")
def password_reset_mail(user_id: int, base_url: str) -> int:
    """Send one password-reset link (queued after the request commits)."""
    return password_reset_mail_send(user_id=user_id, base_url=base_url)
