"""Writes of the data-subject rights (个人信息主体权利): consent, export, erasure, retention.

Every function checks the actor's permission itself, runs in one transaction (retention: one
per rule and one per customer it anonymises) and leaves an audit row naming the customer.
Which fields hold personal data, and what erasure does to each, comes from the one registry
`aftersales.core.pii`; nothing here lists them again.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.callbacks.models import Recommendation, ReturnVisit, Survey
from aftersales.cases.attachments import attachments_erase_for_customers
from aftersales.cases.models import OPEN_STATUSES, Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.complaints.models import Complaint
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.fields import blind_index_fields
from aftersales.core.models import AuditEvent
from aftersales.core.pii import PII_FIELDS, Erasure, PiiField
from aftersales.core.services import audit_record
from aftersales.customers.models import (
    Address,
    ContactPoint,
    Customer,
    TierChange,
    TierOverride,
    TierScore,
)
from aftersales.customers.selectors import customer_get_for
from aftersales.customers.services import customer_require_live
from aftersales.notifications.models import Notification

from .models import (
    CONTACT_PURPOSES,
    Consent,
    ConsentSource,
    ErasureReason,
    ErasureRecord,
    Purpose,
    RetentionKind,
    RetentionRule,
)
from .selectors import consent_in_force, customer_record_ids, open_case_numbers

# What a replaced value becomes: neutral, the same in every language, plainly not a person.
ERASED = "[erased]"
EXPORT_FORMAT = "aftersales.subject-export/1"


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    allowed = list(choices)
    if value not in allowed:
        raise ApplicationError(
            f"invalid_{name}",
            _("%(value)r is not a valid %(name)s.") % {"value": value, "name": name},
            details={name: value, "allowed": allowed},
            status=422,
        )


def _require_not_erased(customer: Customer) -> None:
    erasure = ErasureRecord.objects.filter(customer=customer).first()
    if erasure is not None:
        raise Conflict(
            "already_erased",
            _("This customer's personal data was already erased."),
            details={"erasure_id": erasure.pk, "erased_at": erasure.erased_at.isoformat()},
        )


# --- consent (同意管理) ---------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    actor: User | None,
    customer: Customer,
    purpose: str,
    granted: bool,
    source: str,
    note: str = "",
) -> Consent:
    """Record that the customer granted or withdrew consent for one purpose (记录同意/撤回).

    The new record is in force from now on; older ones stay as history. `actor=None` is the
    system (e.g. the customer portal). For the contact purposes the customer file's consent box
    (`Customer.consent_contact`) is kept in step: it says whether the customer may be contacted
    on any channel. The first channel-specific record first writes the box's value, as it was
    given when the file was opened, for the other contact channels, so that turning the box
    does not silently change channels nobody spoke about.
    """
    require_perm(actor, "customers.change_customer", system_allowed=True)
    return _consent_write(
        actor=actor, customer=customer, purpose=purpose, granted=granted, source=source, note=note
    )


@transaction.atomic
def consent_record_on_call(
    *, actor: User, customer: Customer, purpose: str, note: str = ""
) -> Consent:
    """Record the consent a customer gave on a call that asked for it (e.g. a return visit
    asking "may we survey you?"): granted, by phone, by the agent on the call. The callback
    team may record this without the right to change the customer file."""
    require_perm(actor, "privacy.add_consent")
    return _consent_write(
        actor=actor,
        customer=customer,
        purpose=purpose,
        granted=True,
        source=ConsentSource.PHONE,
        note=note,
    )


def _consent_write(
    *,
    actor: User | None,
    customer: Customer,
    purpose: str,
    granted: bool,
    source: str,
    note: str,
) -> Consent:
    _check_choice("purpose", purpose, Purpose.values)
    _check_choice("source", source, ConsentSource.values)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_require_live(customer)
    _require_not_erased(customer)
    now = clock.now()
    if purpose in CONTACT_PURPOSES:
        _contact_baseline_write(customer, skip=purpose)
    consent = Consent(
        customer=customer,
        purpose=purpose,
        granted=granted,
        source=source,
        recorded_by=actor,
        recorded_at=now,
        note=note.strip(),
    )
    consent.full_clean()
    consent.save()
    data: dict[str, Any] = {
        "consent_id": consent.pk,
        "purpose": purpose,
        "granted": granted,
        "source": source,
    }
    if purpose in CONTACT_PURPOSES:
        summary = any(consent_in_force(customer, p) for p in CONTACT_PURPOSES)
        if summary != customer.consent_contact:
            Customer.objects.filter(pk=customer.pk).update(consent_contact=summary)
            data["consent_contact"] = {"before": customer.consent_contact, "after": summary}
            customer.consent_contact = summary
    audit_record(
        actor=actor,
        action="privacy.consent_recorded",
        entity="customer",
        entity_id=customer.pk,
        customer_id=customer.pk,
        data=data,
    )
    return consent


def _contact_baseline_write(customer: Customer, *, skip: str) -> None:
    """Before a customer's first contact-channel record: the file's consent box, as recorded
    when the file was opened, becomes the record of the other contact channels."""
    if Consent.objects.filter(customer=customer, purpose__in=CONTACT_PURPOSES).exists():
        return
    Consent.objects.bulk_create(
        Consent(
            customer=customer,
            purpose=p,
            granted=customer.consent_contact,
            source=ConsentSource.CUSTOMER_FILE,
            recorded_by=customer.created_by,
            recorded_at=customer.created_at,
        )
        for p in CONTACT_PURPOSES
        if p != skip
    )


@transaction.atomic
def consent_contact_box_changed(*, actor: User | None, customer: Customer) -> list[Consent]:
    """The customer file's consent box was turned (by `customers.services.customer_update`):
    record its new value for every contact channel, so the history and the box agree."""
    require_perm(actor, "customers.change_customer", system_allowed=True)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    now = clock.now()
    consents = []
    for purpose in CONTACT_PURPOSES:
        consent = Consent(
            customer=customer,
            purpose=purpose,
            granted=customer.consent_contact,
            source=ConsentSource.CUSTOMER_FILE,
            recorded_by=actor,
            recorded_at=now,
        )
        consent.full_clean()
        consent.save()
        consents.append(consent)
    audit_record(
        actor=actor,
        action="privacy.consent_recorded",
        entity="customer",
        entity_id=customer.pk,
        customer_id=customer.pk,
        data={
            "consent_ids": [c.pk for c in consents],
            "purposes": [str(p) for p in CONTACT_PURPOSES],
            "granted": customer.consent_contact,
            "source": ConsentSource.CUSTOMER_FILE,
        },
    )
    return consents


# --- export (查阅、复制 / right of access and portability) ----------------------------------


def _row(obj: models.Model, *, omit: Iterable[str] = ()) -> dict[str, Any]:
    """Every stored column of a row (foreign keys as ids), personal fields decrypted; blind
    indexes left out (keyed hashes for look-ups, nothing the customer told us)."""
    skip = {f.name for f in blind_index_fields(type(obj))} | set(omit)
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.name not in skip and f.attname not in skip
    }


def _export_document(customer: Customer, *, now: dt.datetime) -> dict[str, Any]:
    ids = customer_record_ids(customer)
    records = Customer.objects.filter(pk__in=ids).order_by("pk")
    cases = (
        Case.objects.filter(customer_id__in=ids)
        .prefetch_related("events")
        .order_by("created_at", "id")
    )
    units = Unit.objects.filter(customer_id__in=ids).select_related("model").order_by("id")
    audits = AuditEvent.objects.filter(
        Q(customer_id__in=ids) | Q(entity="customer", entity_id__in=ids)
    ).order_by("occurred_at", "id")
    return {
        "format": EXPORT_FORMAT,
        "generated_at": now,
        "customer_id": customer.pk,
        # The record asked for first, then any duplicates merged into it.
        "customers": [_row(c) for c in records],
        "contacts": [_row(c) for c in ContactPoint.objects.filter(customer_id__in=ids)],
        "addresses": [_row(a) for a in Address.objects.filter(customer_id__in=ids)],
        "units": [
            {**_row(u), "model_code": u.model.code, "model_name": u.model.name} for u in units
        ],
        "cases": [{**_row(c), "events": [_row(e) for e in c.events.all()]} for c in cases],
        "consents": [
            _row(c) for c in Consent.objects.filter(customer_id__in=ids).order_by("recorded_at")
        ],
        "tier_history": [
            _row(t) for t in TierChange.objects.filter(customer_id__in=ids).order_by("occurred_at")
        ],
        "tier_overrides": [
            _row(t) for t in TierOverride.objects.filter(customer_id__in=ids).order_by("created_at")
        ],
        "tier_scores": [_row(t) for t in TierScore.objects.filter(customer_id__in=ids)],
        "complaints": [
            {
                **_row(c),
                "reviews": [_row(r) for r in c.reviews.all()],
                "proposals": [
                    {
                        **_row(p),
                        "lines": [_row(line) for line in p.lines.all()],
                        "decisions": [_row(d) for d in p.decisions.all()],
                    }
                    for p in c.proposals.all()
                ],
                "actions": [_row(a) for a in c.actions.all()],
            }
            for c in Complaint.objects.filter(case__customer_id__in=ids)
            .prefetch_related("reviews", "proposals__lines", "proposals__decisions", "actions")
            .order_by("received_at", "id")
        ],
        "return_visits": [
            {**_row(v), "attempts": [_row(a) for a in v.attempt_log.all()]}
            for v in ReturnVisit.objects.filter(customer_id__in=ids)
            .prefetch_related("attempt_log")
            .order_by("created_at", "id")
        ],
        # The link's nonce is a credential, not something the customer told us.
        "surveys": [
            _row(s, omit=("nonce",))
            for s in Survey.objects.filter(customer_id__in=ids).order_by("created_at", "id")
        ],
        "recommendations": [
            _row(r)
            for r in Recommendation.objects.filter(customer_id__in=ids).order_by("offered_at", "id")
        ],
        "erasure": [_row(e) for e in ErasureRecord.objects.filter(customer_id__in=ids)],
        # Staff addresses and the chain's hashes say nothing about the customer.
        "audit": [_row(a, omit=("ip", "prev_hash", "row_hash")) for a in audits],
    }


@transaction.atomic
def subject_export(*, actor: User, customer_id: int) -> bytes:
    """Everything held about a customer as one JSON document (个人信息副本), audited.

    The customer record (and records merged into it), contacts and street addresses in the
    clear, units, cases with their events, complaints, return visits, surveys and
    recommendations, consents, tier history and the audit rows about
    the customer. A customer outside the actor's scope is not found (404).
    """
    require_perm(actor, "privacy.export_subject")
    customer = customer_get_for(actor, pk=customer_id)
    now = clock.now()
    document = _export_document(customer, now=now)
    audit_record(
        actor=actor,
        action="privacy.export",
        entity="customer",
        entity_id=customer.pk,
        customer_id=customer.pk,
        data={
            "format": EXPORT_FORMAT,
            "records": [c["id"] for c in document["customers"]],
            "counts": {
                k: len(v) for k, v in document.items() if isinstance(v, list) and k != "customers"
            },
        },
    )
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


# --- erasure (删除 / right to erasure) ---------------------------------------------------------


def _field_queryset(f: PiiField, ids: list[int]) -> QuerySet[Any]:
    model: type[models.Model] = apps.get_model(f.model)
    lookup = f"{f.customer_path}__in" if f.customer_path else "pk__in"
    qs: QuerySet[Any] = model._default_manager.filter(**{lookup: ids})
    return qs


def _erase_field(f: PiiField, ids: list[int]) -> dict[str, int]:
    """Apply the registry's erasure to one field of every row of the customer; the number of
    values erased, and of blind-index entries removed with them, by "app.Model.field"."""
    qs = _field_queryset(f, ids)
    indexes = [i for i in blind_index_fields(qs.model) if i.source == f.field]
    if f.erasure == Erasure.DELETE_ROW:
        count = qs.count()
        qs.delete()
        return {f"{f.model}.{name}": count for name in [f.field, *(i.name for i in indexes)]}
    new = ERASED if f.erasure == Erasure.REPLACE else ""
    # Read in Python: encrypted columns cannot be compared in SQL.
    pks = [pk for pk, value in qs.values_list("pk", f.field) if value and value != new]
    if pks:
        # A plain UPDATE: append-only tables (e.g. case events) guard save(), and erasure is
        # the one change they must accept. It also skips recomputing the blind indexes: they
        # are emptied, so the placeholder is not findable and the old value's entry is gone.
        qs.model._default_manager.filter(pk__in=pks).update(
            **{f.field: new, **{i.attname: "" for i in indexes}}
        )
    return {f"{f.model}.{name}": len(pks) for name in [f.field, *(i.name for i in indexes)]}


@transaction.atomic
def subject_erase(*, actor: User | None, customer_id: int, reason: str) -> ErasureRecord:
    """Erase a customer's personal data (删除个人信息), keeping an anonymised stub.

    Every registered personal-data field of the customer's rows gets its erasure (rows deleted
    with their blind indexes, values replaced by a placeholder or emptied), for the customer
    and any records merged into it. The customer record stays as a stub under its number, so
    cases, units and purchase amounts (service and financial records) stay whole; consents stay
    as evidence with their free-text notes emptied. Refused while a case is open
    (`open_cases`, 409) and when already erased (`already_erased`, 409). `actor=None` is the
    retention sweep. The `ErasureRecord` and the audit row hold codes and counts only.
    """
    require_perm(actor, "privacy.erase_subject", system_allowed=True)
    _check_choice("reason", reason, ErasureReason.values)
    if actor is not None:
        customer_get_for(actor, pk=customer_id)  # 404 outside the actor's scope
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise ApplicationError("not_found", _("No such customer."), status=404)
    customer_require_live(customer)
    _require_not_erased(customer)
    ids = customer_record_ids(customer)
    open_cases = open_case_numbers(customer)
    if open_cases:
        raise Conflict(
            "open_cases",
            _("Close or cancel the customer's open cases before erasing their data."),
            details={"cases": open_cases},
        )
    counts: dict[str, int] = {}
    for f in PII_FIELDS:
        counts.update(_erase_field(f, ids))
    counts["cases.Attachment.file"] = attachments_erase_for_customers(customer_ids=ids)
    # Consents are this app's own evidence: kept, with the free-text note emptied (added to
    # the registry's count, should the registry come to list the field too).
    counts["privacy.Consent.note"] = counts.get("privacy.Consent.note", 0) + (
        Consent.objects.filter(customer_id__in=ids).exclude(note="").update(note="")
    )
    # Nobody is left to contact; the stub must not look contactable.
    Customer.objects.filter(pk__in=ids).update(consent_contact=False)
    erasure = ErasureRecord(
        customer=customer,
        erased_at=clock.now(),
        actor=actor,
        reason=reason,
        record_ids=ids,
        counts=counts,
    )
    erasure.full_clean()
    erasure.save()
    audit_record(
        actor=actor,
        action="privacy.erased",
        entity="customer",
        entity_id=customer.pk,
        customer_id=customer.pk,
        data={"erasure_id": erasure.pk, "reason": reason, "records": ids, "counts": counts},
    )
    return erasure


# --- retention (保存期限) ------------------------------------------------------------------------


@dataclass
class RetentionOutcome:
    """What one rule found due and did (nothing when `dry_run`)."""

    rule: RetentionRule
    due: int = 0
    done: int = 0
    skipped: str = ""  # why the rule did nothing, e.g. the table does not exist
    failed: list[int] = field(default_factory=list)  # customers that could not be erased


Progress = Callable[[RetentionRule, int, int], None]


def _throttle_model() -> type[models.Model] | None:
    try:
        return apps.get_model("accounts", "ThrottleCounter")
    except LookupError:
        return None


def _due_rows(rule: RetentionRule, *, now: dt.datetime) -> QuerySet[Any] | None:
    """The rows a deleting rule would remove now; None when the kind has no table here."""
    cutoff = now - dt.timedelta(days=rule.keep_days)
    if rule.kind == RetentionKind.NOTIFICATIONS_READ:
        return Notification.objects.filter(read_at__lt=cutoff)
    if rule.kind == RetentionKind.SESSIONS_EXPIRED:
        return Session.objects.filter(expire_date__lt=cutoff)
    if rule.kind == RetentionKind.SIGN_IN_ATTEMPTS:
        model = _throttle_model()
        if model is None:
            return None
        # A counter still holding a lock is in use, however old its last failure.
        return model._default_manager.filter(touched_at__lt=cutoff).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        )
    return None


def inactive_customers_due(*, keep_days: int, now: dt.datetime) -> list[int]:
    """Live, not yet erased customers with no open case and nothing new for `keep_days`:
    no case opened, changed or with an event, no unit registered or bought, no consent
    recorded, and the file itself older than that."""
    cutoff = now - dt.timedelta(days=keep_days)
    cutoff_day = timezone.localdate(now) - dt.timedelta(days=keep_days)
    mine = OuterRef("pk")
    # One EXISTS per kind of activity: each uses its own index, none multiplies the others.
    signs_of_life = [
        Case.objects.filter(customer=mine, status__in=OPEN_STATUSES),
        Case.objects.filter(customer=mine).filter(
            Q(created_at__gte=cutoff) | Q(updated_at__gte=cutoff)
        ),
        CaseEvent.objects.filter(case__customer=mine, occurred_at__gte=cutoff),
        Unit.objects.filter(customer=mine).filter(
            Q(registered_at__gte=cutoff) | Q(purchase_date__gte=cutoff_day)
        ),
        Consent.objects.filter(customer=mine, recorded_at__gte=cutoff),
        ErasureRecord.objects.filter(customer=mine),
    ]
    qs = Customer.objects.filter(merged_into__isnull=True, created_at__lt=cutoff)
    for sign in signs_of_life:
        qs = qs.exclude(Exists(sign))
    return list(qs.order_by("pk").values_list("pk", flat=True))


def _apply_rule(
    rule: RetentionRule, *, now: dt.datetime, dry_run: bool, progress: Progress | None
) -> RetentionOutcome:
    outcome = RetentionOutcome(rule=rule)
    if rule.kind == RetentionKind.INACTIVE_CUSTOMERS:
        due = inactive_customers_due(keep_days=rule.keep_days, now=now)
        outcome.due = len(due)
        if progress:
            progress(rule, 0, outcome.due)
        for i, pk in enumerate(due, 1):
            if not dry_run:
                try:
                    subject_erase(actor=None, customer_id=pk, reason=ErasureReason.RETENTION)
                    outcome.done += 1
                except ApplicationError:
                    # Changed since it was listed (a case reopened, a merge): next run decides.
                    outcome.failed.append(pk)
            if progress:
                progress(rule, i, outcome.due)
        return outcome
    rows = _due_rows(rule, now=now)
    if rows is None:
        outcome.skipped = "no_table"
        return outcome
    outcome.due = rows.count()
    if progress:
        progress(rule, 0, outcome.due)
    if not dry_run and outcome.due:
        with transaction.atomic():
            # Counted again inside the transaction: rows deleted, not rows seen a moment ago.
            deleted, _per_model = rows.delete()
            outcome.done = deleted
    if progress:
        progress(rule, outcome.due, outcome.due)
    return outcome


def retention_apply(
    *, now: dt.datetime | None = None, dry_run: bool = False, progress: Progress | None = None
) -> list[RetentionOutcome]:
    """Apply every enabled retention rule (按保存期限删除或匿名化) as of `now`.

    Read notifications, expired sessions and idle throttle counters past their keep period are
    deleted; customers inactive for the period are anonymised through `subject_erase` (as the
    system). The audit log is never touched: it is append-only evidence of who did what, its
    rows hold ids and codes rather than personal data, and deleting from it would break its
    hash chain. With `dry_run` nothing is written: the outcomes say what is due. Each rule runs
    in its own transaction (each customer in its own), so one failure keeps the others' work.
    """
    now = now or clock.now()
    outcomes = []
    for rule in RetentionRule.objects.filter(enabled=True).order_by("kind"):
        outcome = _apply_rule(rule, now=now, dry_run=dry_run, progress=progress)
        outcomes.append(outcome)
        if dry_run:
            continue
        with transaction.atomic():
            RetentionRule.objects.filter(pk=rule.pk).update(
                last_run_at=now, last_run_count=outcome.done
            )
            audit_record(
                actor=None,
                action="privacy.retention_applied",
                entity="retention_rule",
                entity_id=rule.pk,
                data={
                    "kind": rule.kind,
                    "action": rule.action,
                    "keep_days": rule.keep_days,
                    "due": outcome.due,
                    "done": outcome.done,
                    "skipped": outcome.skipped,
                    "failed": outcome.failed,
                },
            )
    return outcomes


@transaction.atomic
def retention_rule_update(
    *, actor: User, rule: RetentionRule, keep_days: int, action: str, enabled: bool
) -> RetentionRule:
    """Change how long a kind of record is kept (the admin form's save); audited with the
    before and after values, since a shorter period deletes data at the next run."""
    require_perm(actor, "privacy.change_retentionrule")
    locked = RetentionRule.objects.select_for_update().get(pk=rule.pk)
    before = {"keep_days": locked.keep_days, "action": locked.action, "enabled": locked.enabled}
    locked.keep_days, locked.action, locked.enabled = keep_days, action, enabled
    locked.full_clean()
    locked.save(update_fields=["keep_days", "action", "enabled"])
    after = {"keep_days": keep_days, "action": action, "enabled": enabled}
    if before != after:
        audit_record(
            actor=actor,
            action="privacy.retention_rule_changed",
            entity="retention_rule",
            entity_id=locked.pk,
            data={"kind": locked.kind, "before": before, "after": after},
        )
    return locked
