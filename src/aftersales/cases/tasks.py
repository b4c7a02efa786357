"""Celery entry points of the cases app: thin wrappers around the services."""

from celery import shared_task

from .routing import routing_sweep


@shared_task(name="cases.routing_sweep", acks_late=True)
def route_waiting() -> int:
    """Hand self-service cases over to a person when their time is up, and assign cases that
    found nobody on shift earlier."""
    return routing_sweep()
