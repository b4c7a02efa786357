"""Return visits follow the case lifecycle: a resolution schedules one, a reopening cancels it."""

from typing import Any

from django.dispatch import receiver

from aftersales.cases.signals import case_reopened, case_resolved


@receiver(case_resolved, dispatch_uid="callbacks_case_resolved")
def _on_resolved(sender: Any, *, case: Any, actor: Any, at: Any, **kwargs: Any) -> None:
    from .services import visit_schedule_for_case

    visit_schedule_for_case(case=case, at=at)


@receiver(case_reopened, dispatch_uid="callbacks_case_reopened")
def _on_reopened(sender: Any, *, case: Any, actor: Any, at: Any, **kwargs: Any) -> None:
    from .services import visits_cancel_for_case

    visits_cancel_for_case(case=case, actor=actor, at=at)
