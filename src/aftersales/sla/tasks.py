"""Celery entry points of the SLA engine: thin wrappers around the services."""

from celery import shared_task

from aftersales.accounts.models import User

from .services import sla_policy_reapply, sla_sweep


@shared_task(name="sla.sweep", acks_late=True)
def sweep() -> dict[str, int]:
    """One sweep for due warnings, breaches and escalations."""
    result = sla_sweep()
    return {
        "warnings": result.warnings,
        "breaches": result.breaches,
        "escalations": result.escalations,
    }


@shared_task(name="sla.policy_reapply")
def policy_reapply(actor_id: int | None = None) -> int:
    """Recompute the clocks of open cases after an administrator edited the policies; the
    administrator is the actor of every recomputation event."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    return sla_policy_reapply(actor=actor)
