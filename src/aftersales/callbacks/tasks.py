"""Celery entry points of the return visits: thin wrappers around the services."""

from celery import shared_task

from .services import care_calls_schedule as care_calls_schedule_service
from .surveys import survey_link_email_send


@shared_task(name="callbacks.care_calls_schedule", acks_late=True)
def care_calls_schedule() -> int:
    """Schedule the VIP care calls that are due (daily); returns how many were created."""
    return care_calls_schedule_service()


@shared_task(name="callbacks.survey_link_email", acks_late=True)
def survey_link_email(survey_id: int, base_url: str) -> int:
    """E-mail a survey link to the customer (queued on commit by `survey_send_link`)."""
    return survey_link_email_send(survey_id=survey_id, base_url=base_url)
