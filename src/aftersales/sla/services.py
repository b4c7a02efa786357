"""The SLA sweep (warnings, breaches, escalations) and re-application of edited policies.

The sweep is safe to run from several workers at once and after a crash: it takes the due
cases in small batches, each batch one transaction that locks its case rows (skipping rows
another worker holds, on PostgreSQL), re-reads the clocks under that lock and marks what it
handled in the same transaction. A worker that dies mid-batch leaves nothing half done: its
transaction rolls back and the next sweep takes the batch again. Escalation rules fire at most
once per clock, which a unique constraint guarantees even if the locking were bypassed.
"""

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from aftersales.accounts.models import Team, TeamMembership, User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import OPEN_STATUSES, Case, CaseEvent
from aftersales.cases.services import case_escalate
from aftersales.core import clock as clock_module
from aftersales.integrations.services import webhooks_case_event
from aftersales.notifications.services import notify

from .clocks import SpecCache, clocks_sync
from .models import EscalationFiring, EscalationRule, SlaClock, SlaPolicy, SweepRun

BATCH_SIZE = 100


@dataclass
class SweepResult:
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    batches: int = 0
    skipped_locked: int = 0
    cases: set[int] = field(default_factory=set)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sla_sweep(
    *,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
    after_batch: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Record due warnings and breaches and fire their escalation rules, once each.

    `after_batch` is called after every committed batch (progress for the command).
    """
    now = now or clock_module.now()
    run = SweepRun.objects.create(started_at=clock_module.now(), worker=_worker_name())
    result = SweepResult()
    rules = list(EscalationRule.objects.filter(is_active=True).select_related("move_to_team"))
    # Handled clocks leave both partial indexes; only cases another worker holds stay there,
    # and those are skipped for the rest of this run so they cannot keep it looping.
    held: set[int] = set()
    seen: set[int] = set()
    while True:
        candidates = sorted(set(_due_case_ids(now, held=held, limit=batch_size)) - seen)
        candidates = candidates[:batch_size]
        if not candidates:
            break
        seen.update(candidates)
        with transaction.atomic():
            locked = list(
                Case.objects.select_for_update(skip_locked=True)
                .filter(pk__in=candidates)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            result.skipped_locked += len(candidates) - len(locked)
            held.update(set(candidates) - set(locked))
            for case_id in locked:
                _sweep_case(case_id, now=now, rules=rules, result=result)
        result.batches += 1
        if after_batch is not None:
            after_batch(result)
    run.finished_at = clock_module.now()
    run.warnings, run.breaches, run.escalations = (
        result.warnings,
        result.breaches,
        result.escalations,
    )
    run.save(update_fields=["finished_at", "warnings", "breaches", "escalations"])
    return result


def _due_case_ids(now: dt.datetime, *, held: set[int], limit: int) -> list[int]:
    """Cases with a warning or a breach due, read from the two partial indexes.

    One query per index, each in its index's own order: a single query with OR makes the
    planner misjudge how many rows match (recorded breaches keep their due time) and walk the
    whole clock table instead, which grows with every open case.
    """
    running = SlaClock.objects.filter(state=SlaClock.State.RUNNING).exclude(case_id__in=held)
    warn = running.filter(warned_at__isnull=True, warn_at__lte=now).order_by("warn_at")
    due = running.filter(breach_noticed_at__isnull=True, due_at__lte=now).order_by("due_at")
    return [
        *warn.values_list("case_id", flat=True)[:limit],
        *due.values_list("case_id", flat=True)[:limit],
    ]


def _sweep_case(
    case_id: int, *, now: dt.datetime, rules: list[EscalationRule], result: SweepResult
) -> None:
    """Warnings and breaches of one locked case; clocks re-read under the case lock."""
    case = Case.objects.select_related("customer", "team", "assignee").get(pk=case_id)
    clocks = list(
        SlaClock.objects.filter(case_id=case_id, state=SlaClock.State.RUNNING).order_by("pk")
    )
    for clock in clocks:
        clock.case = case  # one instance, so each rule's changes build on the previous ones
        if clock.warned_at is None and clock.warn_at is not None and clock.warn_at <= now:
            clock.warned_at = now
            clock.save(update_fields=["warned_at"])
            # A warning found only after the due time passed is superseded by the breach.
            if clock.due_at is not None and clock.due_at > now:
                _clock_event(clock, change="warning", at=now, now=now)
                result.warnings += 1
                _fire(clock, EscalationRule.Trigger.WARNING, rules=rules, now=now, result=result)
        if clock.breach_noticed_at is None and clock.due_at is not None and clock.due_at <= now:
            clock.breached_at = clock.due_at
            clock.breach_noticed_at = now
            clock.save(update_fields=["breached_at", "breach_noticed_at"])
            _clock_event(clock, change="breached", at=clock.due_at, now=now)
            result.breaches += 1
            _fire(clock, EscalationRule.Trigger.BREACH, rules=rules, now=now, result=result)
        result.cases.add(case_id)


def _clock_event(clock: SlaClock, *, change: str, at: dt.datetime, now: dt.datetime) -> None:
    event = CaseEvent.objects.create(
        case_id=clock.case_id,
        kind=CaseEvent.Kind.SLA,
        occurred_at=at,
        data={
            "change": change,
            "metric": clock.metric,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "noticed_at": now.isoformat(),
        },
    )
    webhooks_case_event(case=clock.case, event=event)  # sla.breached, sent after the commit


def _applies(rule: EscalationRule, clock: SlaClock, trigger: str) -> bool:
    return (
        rule.trigger == trigger
        and (not rule.metric or rule.metric == clock.metric)
        and (rule.policy_id is None or rule.policy_id == clock.policy_id)
    )


def _fire(
    clock: SlaClock,
    trigger: str,
    *,
    rules: list[EscalationRule],
    now: dt.datetime,
    result: SweepResult,
) -> None:
    for rule in rules:
        if not _applies(rule, clock, trigger):
            continue
        try:
            with transaction.atomic():  # savepoint: a firing that exists already is skipped
                firing = EscalationFiring.objects.create(
                    rule=rule, clock=clock, fired_at=now, actions={}
                )
        except IntegrityError:
            continue
        firing.actions = _escalate(rule, clock, now=now)
        firing.save(update_fields=["actions"])
        result.escalations += 1


def _move_target(rule: EscalationRule) -> Team | None:
    if rule.move_to_team is not None:
        return rule.move_to_team if rule.move_to_team.is_active else None
    if rule.move_to_team_kind:
        return (
            Team.objects.filter(kind=rule.move_to_team_kind, is_active=True).order_by("id").first()
        )
    return None


def _escalate(rule: EscalationRule, clock: SlaClock, *, now: dt.datetime) -> dict[str, object]:
    """Carry out one rule's actions on the (locked) case and say what was done."""
    case = clock.case
    target = _move_target(rule)
    moved = case_escalate(
        case=case,
        now=now,
        rule_name=rule.name,
        data={"rule": rule.pk, "metric": clock.metric, "trigger": rule.trigger},
        raise_priority=rule.raise_priority,
        move_to=target if target is not None and target.pk != case.team_id else None,
    )
    recipients: list[User] = []
    if rule.notify_assignee and case.assignee is not None and case.assignee.is_active:
        recipients.append(case.assignee)
    if rule.notify_supervisor and case.team_id is not None:
        leads = User.objects.filter(
            is_active=True,
            pk__in=TeamMembership.objects.filter(team_id=case.team_id, is_lead=True).values(
                "user_id"
            ),
        ).order_by("pk")
        recipients.extend(u for u in leads if u not in recipients)
    code = "sla_warning" if rule.trigger == EscalationRule.Trigger.WARNING else "sla_breach"
    notify(
        recipients=recipients,
        code=code,
        case=case,
        params={
            "case": case.number,
            "metric": clock.metric,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "rule": rule.name,
        },
    )
    return {
        "notified": [u.pk for u in recipients],
        "raised_priority": rule.raise_priority,
        "moved_to_team": moved.pk if moved else None,
    }


def sla_policy_reapply(
    *,
    actor: User | None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute the clocks of every open case after policies changed; returns cases changed.

    Each case is its own short transaction under its row lock, so intake and agents are not
    held up; a case whose due times moved gets a `recomputed` event naming the reason.
    """
    if actor is not None:
        require_perm(actor, "sla.change_slapolicy")
    ids = list(
        Case.objects.filter(status__in=OPEN_STATUSES).order_by("pk").values_list("pk", flat=True)
    )
    return _resync(ids, actor=actor, reason="policy", progress=progress)


def sla_clocks_rebuild(
    *, case_ids: list[int] | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute clocks from history for the given cases (all when None), e.g. after an import."""
    if case_ids is None:
        case_ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    return _resync(case_ids, actor=None, reason="rebuild", progress=progress)


def _resync(
    ids: list[int],
    *,
    actor: User | None,
    reason: str,
    progress: Callable[[int, int], None] | None,
) -> int:
    specs: SpecCache = {}
    policies = list(SlaPolicy.objects.filter(is_active=True).order_by("rank", "id"))
    changed = 0
    for done, case_id in enumerate(ids, start=1):
        with transaction.atomic():
            case = Case.objects.select_for_update().select_related("customer").get(pk=case_id)
            now = clock_module.now()
            result = clocks_sync(
                case=case, actor=actor, now=now, reason=reason, specs=specs, policies=policies
            )
            if result.changed or result.policy_before != result.policy_after:
                changed += 1
        if progress is not None:
            progress(done, len(ids))
    return changed
