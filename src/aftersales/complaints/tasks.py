"""E-mail of answer letters, sent by a worker (or in-process when no broker is set)."""

from celery import shared_task
from django.core.mail import send_mail

from aftersales.cases.models import CaseEvent
from aftersales.customers.models import ContactPoint


@shared_task(name="complaints.letter_email")
def complaint_letter_email(event_id: int) -> int:
    """Send the answer letter recorded as case event `event_id` to the customer's e-mail
    address (the primary one first); 0 when there is no letter or no address."""
    event = (
        CaseEvent.objects.filter(pk=event_id, kind=CaseEvent.Kind.CONTACT)
        .select_related("case")
        .first()
    )
    if event is None or not (event.data or {}).get("letter"):
        return 0
    contact = (
        ContactPoint.objects.filter(
            customer_id=event.case.customer_id, kind=ContactPoint.Kind.EMAIL
        )
        .order_by("-is_primary", "id")
        .first()
    )
    if contact is None:
        return 0
    subject, _, body = str(event.body).partition("\n\n")
    return send_mail(subject=subject, message=body, from_email=None, recipient_list=[contact.value])
