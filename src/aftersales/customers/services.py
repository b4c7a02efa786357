"""Writes to the customer file (客户服务档案): create, update, contacts, tiers, reveal, merge.

Every function here is one transaction, takes keyword-only arguments with the acting user as
`actor`, checks the actor's permission itself (so no caller can skip it), runs `full_clean()`
before saving and leaves an audit row for anything sensitive. `actor=None` means the system
(a channel gateway or an import) and is accepted only where no human decision is involved.
"""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import OPEN_STATUSES, Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record, number_allocate

from . import tiers
from .contacts import contact_normalize
from .models import (
    Address,
    Channel,
    ContactPoint,
    Customer,
    Tier,
    TierChange,
    TierOverride,
    TierPolicy,
    TierRun,
    TierScore,
)
from .selectors import tier_activities

NUMBER_PREFIX = "C"
ADDRESS_FIELDS = ("province", "city", "district", "street", "postal_code")
# A manager's tier override lasts at most this long; it can be renewed.
MAX_OVERRIDE_DAYS = 730
# Customers scored and written per transaction by a tier computation.
TIER_CHUNK = 1000
_CENT = Decimal("0.01")


class CustomerChanges(TypedDict, total=False):
    """The fields `customer_update` may change; the tier has its own audited service."""

    name: str
    company_name: str
    preferred_channel: str
    preferred_language: str
    consent_contact: bool
    notes: str


UPDATABLE_FIELDS = frozenset(CustomerChanges.__annotations__)

# What `_check_choice` says about a value that is not one of the choices, per field.
CHOICE_ERRORS = {
    "kind": gettext_lazy("%(value)r is not a valid kind."),
    "preferred_channel": gettext_lazy("%(value)r is not a valid preferred channel."),
    "tier": gettext_lazy("%(value)r is not a valid tier."),
}


@dataclass(frozen=True)
class ContactReveal:
    """Plain contact details handed out by `contact_reveal`: (record, clear value) pairs."""

    contacts: list[tuple[ContactPoint, str]]
    addresses: list[tuple[Address, str]]


def customer_require_live(customer: Customer) -> None:
    """Refuse changes to a record that was merged away: they belong on the surviving one."""
    if customer.is_merged:
        raise Conflict(
            "customer_merged",
            _("This customer record was merged into another one; use the surviving record."),
            details={"merged_into": customer.merged_into_id},
        )


def _check_choice(field: str, value: str, choices: Iterable[str]) -> None:
    allowed = list(choices)
    if value not in allowed:
        message = CHOICE_ERRORS.get(field) or gettext_lazy("%(value)r is not a valid choice.")
        raise ApplicationError(
            f"invalid_{field}",
            str(message) % {"value": value},
            details={field: value, "allowed": allowed},
            status=422,
        )


def _contact_build(
    *, customer: Customer, kind: str, raw: str, label: str, is_primary: bool
) -> ContactPoint:
    value, lookup_hash = contact_normalize(kind=kind, raw=raw)
    if customer.contacts.filter(kind=kind, lookup_hash=lookup_hash).exists():
        raise Conflict(
            "duplicate_contact",
            _("This customer already has that contact."),
            details={"kind": kind},
        )
    contact = ContactPoint(
        customer=customer,
        kind=kind,
        value=value,
        lookup_hash=lookup_hash,
        label=label,
        is_primary=is_primary,
        created_at=clock.now(),
    )
    contact.full_clean()
    contact.save()
    return contact


def _address_build(*, customer: Customer, fields: Mapping[str, str], is_default: bool) -> Address:
    unknown = set(fields) - set(ADDRESS_FIELDS)
    if unknown:
        raise ApplicationError(
            "invalid_address",
            _("Unknown address fields."),
            details={"fields": sorted(unknown)},
            status=422,
        )
    address = Address(
        customer=customer,
        is_default=is_default,
        **{k: (fields.get(k) or "").strip() for k in ADDRESS_FIELDS},
    )
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def customer_create(
    *,
    actor: User | None,
    name: str,
    kind: str = Customer.Kind.PERSON,
    company_name: str = "",
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    addresses: Iterable[Mapping[str, str]] = (),
    preferred_channel: str = Channel.PHONE,
    preferred_language: str = "zh-hans",
    consent_contact: bool = True,
    notes: str = "",
    tier: str = Tier.REGULAR,
) -> Customer:
    """Open a customer's file with a new `C...` number and encrypted contacts (建档).

    The first phone (and first e-mail) becomes primary, the first address the default. The same
    number or address given twice is refused as `duplicate_contact`. Starting a customer on a tier
    other than regular is a tier decision and needs `customers.set_tier`.
    """
    require_perm(actor, "customers.add_customer", system_allowed=True)
    _check_choice("kind", kind, Customer.Kind.values)
    _check_choice("preferred_channel", preferred_channel, Channel.values)
    _check_choice("tier", tier, Tier.values)
    if tier != Tier.REGULAR:
        require_perm(actor, "customers.set_tier", system_allowed=True)
    customer = Customer(
        number=number_allocate(prefix=NUMBER_PREFIX),
        kind=kind,
        name=name.strip(),
        company_name=company_name.strip(),
        preferred_channel=preferred_channel,
        preferred_language=preferred_language,
        consent_contact=consent_contact,
        notes=notes,
        tier=tier,
        created_at=clock.now(),
        created_by=actor,
    )
    customer.full_clean()
    customer.save()
    for kind_, raws in ((ContactPoint.Kind.PHONE, phones), (ContactPoint.Kind.EMAIL, emails)):
        for i, raw in enumerate(raws):
            _contact_build(customer=customer, kind=kind_, raw=raw, label="", is_primary=i == 0)
    for i, fields in enumerate(addresses):
        _address_build(customer=customer, fields=fields, is_default=i == 0)
    audit_record(
        actor=actor,
        action="customer.created",
        entity="customer",
        entity_id=customer.pk,
        data={"number": customer.number, "tier": customer.tier},
    )
    if tier != Tier.REGULAR:
        TierChange.objects.create(
            customer=customer,
            before="",
            after=tier,
            source=TierChange.Source.MANUAL_INITIAL,
            reason_code="initial",
            actor=actor,
            occurred_at=customer.created_at,
        )
    return customer


@transaction.atomic
def customer_update(
    *, actor: User | None, customer: Customer, **changes: Unpack[CustomerChanges]
) -> Customer:
    """Change a customer's own details; the tier is refused here (see `customer_set_tier`).

    The audit row names the changed fields only, never their values (they are personal data),
    except the consent flag, whose before/after is what data-protection questions ask about.
    """
    require_perm(actor, "customers.change_customer", system_allowed=True)
    not_allowed = set(changes) - UPDATABLE_FIELDS
    if not_allowed:
        raise ApplicationError(
            "field_not_updatable",
            _("These fields cannot be changed here."),
            details={"fields": sorted(not_allowed)},
            status=422,
        )
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_require_live(customer)
    if "preferred_channel" in changes:
        _check_choice("preferred_channel", changes["preferred_channel"], Channel.values)
    before_consent = customer.consent_contact
    changed: list[str] = []
    for field, value in changes.items():
        if isinstance(value, str) and field != "notes":
            value = value.strip()
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    if not changed:
        return customer
    customer.full_clean()
    customer.save(update_fields=changed)
    data: dict[str, Any] = {"fields": sorted(changed)}
    if "consent_contact" in changed:
        data["consent_contact"] = {"before": before_consent, "after": customer.consent_contact}
    audit_record(
        actor=actor, action="customer.updated", entity="customer", entity_id=customer.pk, data=data
    )
    if "consent_contact" in changed:
        # The consent history is the record; the box is its summary (see privacy.services).
        from aftersales.privacy.services import consent_contact_box_changed

        consent_contact_box_changed(actor=actor, customer=customer)
    return customer


@transaction.atomic
def contact_add(
    *,
    actor: User | None,
    customer: Customer,
    kind: str,
    value: str,
    label: str = "",
    is_primary: bool = False,
) -> ContactPoint:
    """Add a phone number or e-mail address; `is_primary` takes the primary flag from the old one.

    The first contact of its kind is always primary, so every customer with a phone has a
    primary phone to call back on.
    """
    require_perm(actor, "customers.change_customer", system_allowed=True)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_require_live(customer)
    _check_choice("kind", kind, ContactPoint.Kind.values)
    has_primary = customer.contacts.filter(kind=kind, is_primary=True).exists()
    if is_primary and has_primary:
        # Cleared first: the partial unique index allows one primary per kind at any moment.
        customer.contacts.filter(kind=kind, is_primary=True).update(is_primary=False)
    contact = _contact_build(
        customer=customer,
        kind=kind,
        raw=value,
        label=label.strip(),
        is_primary=is_primary or not has_primary,
    )
    audit_record(
        actor=actor,
        action="customer.contact_added",
        entity="customer",
        entity_id=customer.pk,
        data={"contact_id": contact.pk, "kind": kind, "primary": contact.is_primary},
    )
    return contact


@transaction.atomic
def contact_remove(*, actor: User | None, contact: ContactPoint) -> None:
    """Remove a contact; if it was primary, the oldest remaining one of its kind takes over."""
    require_perm(actor, "customers.change_customer", system_allowed=True)
    customer = Customer.objects.select_for_update().get(pk=contact.customer_id)
    customer_require_live(customer)
    contact = ContactPoint.objects.get(pk=contact.pk, customer=customer)
    was_primary = contact.is_primary
    kind = contact.kind
    contact_id = contact.pk
    contact.delete()
    if was_primary:
        successor = customer.contacts.filter(kind=kind).order_by("id").first()
        if successor is not None:
            successor.is_primary = True
            successor.save(update_fields=["is_primary"])
    audit_record(
        actor=actor,
        action="customer.contact_removed",
        entity="customer",
        entity_id=customer.pk,
        data={"contact_id": contact_id, "kind": kind, "was_primary": was_primary},
    )


@transaction.atomic
def address_add(
    *,
    actor: User | None,
    customer: Customer,
    province: str,
    city: str,
    district: str = "",
    street: str = "",
    postal_code: str = "",
    is_default: bool = False,
) -> Address:
    """Add a postal address (street encrypted); the first address is always the default."""
    require_perm(actor, "customers.change_customer", system_allowed=True)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_require_live(customer)
    has_default = customer.addresses.filter(is_default=True).exists()
    if is_default and has_default:
        customer.addresses.filter(is_default=True).update(is_default=False)
    address = _address_build(
        customer=customer,
        fields={
            "province": province,
            "city": city,
            "district": district,
            "street": street,
            "postal_code": postal_code,
        },
        is_default=is_default or not has_default,
    )
    audit_record(
        actor=actor,
        action="customer.address_added",
        entity="customer",
        entity_id=customer.pk,
        data={"address_id": address.pk, "region": address.region},
    )
    return address


@transaction.atomic
def customer_set_tier(
    *, actor: User, customer: Customer, tier: str, reason: str, expires_at: dt.datetime
) -> Customer:
    """Override the computed value tier (客户价值分层) by hand, with a reason, until `expires_at`.

    The override beats every computation until it expires (then the next computation moves the
    customer back to the computed tier, as `override_expired`) or a newer override replaces it.
    Needs `customers.set_tier`. A reason is required and the expiry must lie in the future,
    within `MAX_OVERRIDE_DAYS`. Audited with before and after; a change of tier is also a
    `TierChange` (source `override`) and re-prioritises the customer's open cases at once.
    """
    require_perm(actor, "customers.set_tier")
    _check_choice("tier", tier, Tier.values)
    reason = reason.strip()
    if not reason:
        raise ApplicationError(
            "reason_required", _("Say why the tier changes."), details={"reason": ""}, status=422
        )
    now = clock.now()
    _override_expiry_check(expires_at, now=now)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_require_live(customer)
    TierOverride.objects.filter(customer=customer, ended_at__isnull=True).update(
        ended_at=now, end_reason=TierOverride.EndReason.REPLACED
    )
    override = TierOverride(
        customer=customer,
        tier=tier,
        reason=reason,
        expires_at=expires_at,
        set_by=actor,
        created_at=now,
    )
    override.full_clean()
    override.save()
    before = customer.tier
    audit_record(
        actor=actor,
        action="customer.tier_changed" if before != tier else "customer.tier_override_set",
        entity="customer",
        entity_id=customer.pk,
        data={
            "before": before,
            "after": tier,
            "reason": reason,
            "expires_at": expires_at.isoformat(),
            "override_id": override.pk,
        },
    )
    if before == tier:
        return customer
    customer.tier = tier
    customer.full_clean()
    customer.save(update_fields=["tier"])
    TierChange.objects.create(
        customer=customer,
        before=before,
        after=tier,
        source=TierChange.Source.OVERRIDE,
        reason=reason,
        reason_code="override",
        params={"override_id": override.pk, "expires_at": expires_at.isoformat()},
        actor=actor,
        occurred_at=now,
    )
    # Priority is derived from tier: the customer's open cases follow at once.
    from aftersales.cases.services import case_priorities_refresh

    case_priorities_refresh(actor=actor, customer=customer)
    return customer


def _override_expiry_check(expires_at: dt.datetime | None, *, now: dt.datetime) -> None:
    if expires_at is None or timezone.is_naive(expires_at):
        raise ApplicationError(
            "expiry_required",
            _("Say until when the tier holds (a date and time with its time zone)."),
            details={"expires_at": None if expires_at is None else expires_at.isoformat()},
            status=422,
        )
    if expires_at <= now:
        raise ApplicationError(
            "expiry_in_past",
            _("The override must end in the future."),
            details={"expires_at": expires_at.isoformat(), "now": now.isoformat()},
            status=422,
        )
    if expires_at > now + dt.timedelta(days=MAX_OVERRIDE_DAYS):
        raise ApplicationError(
            "expiry_too_far",
            _("An override can last at most %(days)d days; renew it when it ends.")
            % {"days": MAX_OVERRIDE_DAYS},
            details={"expires_at": expires_at.isoformat(), "max_days": MAX_OVERRIDE_DAYS},
            status=422,
        )


@transaction.atomic
def contact_reveal(*, actor: User, customer: Customer) -> ContactReveal:
    """Hand out a customer's full phone numbers, e-mails and streets, and record who looked.

    The audit row counts what was shown; it never holds the clear values themselves.
    """
    require_perm(actor, "customers.reveal_contact")
    contacts = list(customer.contacts.order_by("-is_primary", "kind", "id"))
    addresses = list(customer.addresses.order_by("-is_default", "id"))
    audit_record(
        actor=actor,
        action="customer.contact_revealed",
        entity="customer",
        entity_id=customer.pk,
        data={
            "contact_ids": [c.pk for c in contacts],
            "address_ids": [a.pk for a in addresses],
        },
    )
    return ContactReveal(
        contacts=[(c, c.value) for c in contacts],
        addresses=[(a, a.street) for a in addresses],
    )


@transaction.atomic
def customer_merge(
    *, actor: User, survivor: Customer, duplicate: Customer, reason: str = ""
) -> Customer:
    """Fold a duplicate record into the survivor (合并客户), keeping every piece of history.

    Contacts the survivor lacks, addresses, registered units and cases move to the survivor;
    each moved case gets a `merged` event; the duplicate stays as a record pointing at the
    survivor (`merged_into`), so old numbers and links still resolve. Records that were merged
    into the duplicate earlier are re-pointed too, so `merged_into` is always one hop to a live
    record.
    """
    require_perm(actor, "customers.merge_customer")
    if survivor.pk == duplicate.pk:
        raise ApplicationError(
            "merge_same_customer", _("A customer cannot be merged into itself."), status=422
        )
    # Both rows locked in pk order so two merges of the same pair cannot deadlock.
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, duplicate.pk])
        .order_by("pk")
    }
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    if survivor.is_merged:
        raise Conflict(
            "survivor_merged",
            _("The surviving record was itself merged into another customer."),
            details={"survivor": survivor.number, "merged_into": survivor.merged_into_id},
        )
    if duplicate.is_merged:
        raise Conflict(
            "duplicate_already_merged",
            _("That record was already merged into another customer."),
            details={"duplicate": duplicate.number, "merged_into": duplicate.merged_into_id},
        )
    now = clock.now()

    existing = set(survivor.contacts.values_list("kind", "lookup_hash"))
    moved_contacts = [
        c.pk for c in duplicate.contacts.all() if (c.kind, c.lookup_hash) not in existing
    ]
    # Moved contacts and addresses arrive without their flags: the survivor's stay in charge,
    # and only where the survivor had none does the oldest arrival take over.
    ContactPoint.objects.filter(pk__in=moved_contacts).update(customer=survivor, is_primary=False)
    moved_addresses = duplicate.addresses.update(customer=survivor, is_default=False)
    for kind in ContactPoint.Kind.values:
        kind_contacts = survivor.contacts.filter(kind=kind)
        if not kind_contacts.filter(is_primary=True).exists():
            kind_contacts.filter(pk=kind_contacts.order_by("id").values("pk")[:1]).update(
                is_primary=True
            )
    if not survivor.addresses.filter(is_default=True).exists():
        survivor.addresses.filter(pk=survivor.addresses.order_by("id").values("pk")[:1]).update(
            is_default=True
        )
    moved_units = Unit.objects.filter(customer=duplicate).update(customer=survivor)

    cases = list(Case.objects.select_for_update().filter(customer=duplicate).order_by("pk"))
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(customer=survivor)
    event_data = {
        "from_customer": duplicate.number,
        "from_customer_id": duplicate.pk,
        "to_customer": survivor.number,
        "to_customer_id": survivor.pk,
    }
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case=case,
                kind=CaseEvent.Kind.MERGED,
                occurred_at=now,
                actor=actor,
                data=event_data,
            )
            for case in cases
        ]
    )
    repointed = Customer.objects.filter(merged_into=duplicate).update(merged_into=survivor)

    duplicate.merged_into = survivor
    duplicate.full_clean()
    duplicate.save(update_fields=["merged_into"])

    counts = {
        "contacts": len(moved_contacts),
        "contacts_skipped": duplicate.contacts.count(),
        "addresses": moved_addresses,
        "units": moved_units,
        "cases": len(cases),
        "repointed_merges": repointed,
    }
    audit_record(
        actor=actor,
        action="customer.merged",
        entity="customer",
        entity_id=survivor.pk,
        data={
            "survivor": survivor.number,
            "duplicate": duplicate.number,
            "duplicate_id": duplicate.pk,
            "reason": reason.strip(),
            "counts": counts,
        },
    )
    return survivor


# --- value tiers (客户分类管理) -------------------------------------------------------------------

Progress = Callable[[int, int], None]


def _policy_weights(policy: TierPolicy) -> tiers.Weights:
    return tiers.Weights(
        purchase=policy.weight_purchase,
        usage=policy.weight_usage,
        feedback=policy.weight_feedback,
    )


def tier_policy_get() -> TierPolicy:
    """The active tier policy, created with the defaults if there is none."""
    policy, _created = TierPolicy.objects.get_or_create(
        is_active=True, defaults={"updated_at": clock.now()}
    )
    return policy


@dataclass
class _Applied:
    changed: int = 0
    kept_by_override: int = 0
    overrides_expired: int = 0


def _tiers_apply(
    *,
    scored: Mapping[int, tiers.Scored],
    activities: Mapping[int, tiers.Activity],
    cutoffs: tiers.Cutoffs,
    now: dt.datetime,
    actor: User | None,
    run: TierRun | None,
) -> _Applied:
    """Store scores and move customers to their computed tier; call inside a transaction.

    The customers' rows and their active overrides are locked (pk order) and read again, so
    the decision uses the current tier and override even when someone changed them meanwhile.
    A customer with an override in force keeps it; an override found expired is ended and the
    customer moves to the computed tier. Every move is a `TierChange` with the score and the
    cut-off, and the customer's open cases are re-prioritised in the same transaction.
    """
    applied = _Applied()
    ids = sorted(scored)
    # Only the tier is needed per customer; rows locked in pk order.
    tiers_now = dict(
        Customer.objects.select_for_update()
        .filter(pk__in=ids, merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", "tier")
    )
    overrides = {
        o.customer_id: o
        for o in TierOverride.objects.select_for_update()
        .filter(customer_id__in=ids, ended_at__isnull=True)
        .order_by("pk")
    }
    _scores_upsert(
        [(pk, activities[pk], scored[pk]) for pk in ids if pk in tiers_now], computed_at=now
    )
    expired = [o for o in overrides.values() if o.expires_at <= now]
    if expired:
        TierOverride.objects.filter(pk__in=[o.pk for o in expired]).update(
            ended_at=now, end_reason=TierOverride.EndReason.EXPIRED
        )
        applied.overrides_expired = len(expired)
    cut = {
        "vip_cutoff": None if cutoffs.vip is None else str(cutoffs.vip),
        "low_cutoff": None if cutoffs.low is None else str(cutoffs.low),
    }
    changes: list[TierChange] = []
    moved: dict[str, list[int]] = defaultdict(list)
    for pk, current in tiers_now.items():
        result = scored[pk]
        override = overrides.get(pk)
        if override is not None and override.expires_at > now:
            applied.kept_by_override += 1
            continue
        if current == result.tier:
            continue
        crossed = tiers.crossed_cutoff(result.tier, cutoffs)
        params: dict[str, Any] = {
            "score": str(result.score),
            "cutoff": None if crossed is None else str(crossed),
            **cut,
        }
        if override is not None:
            params |= {"override_id": override.pk, "expired_at": override.expires_at.isoformat()}
        changes.append(
            TierChange(
                customer_id=pk,
                before=current,
                after=result.tier,
                source=TierChange.Source.OVERRIDE_EXPIRED
                if override is not None
                else TierChange.Source.COMPUTED,
                reason_code="override_expired" if override is not None else "score",
                params=params,
                actor=actor,
                run=run,
                occurred_at=now,
            )
        )
        moved[result.tier].append(pk)
    for tier, pks in moved.items():
        Customer.objects.filter(pk__in=pks).update(tier=tier)
    TierChange.objects.bulk_create(changes)
    applied.changed = len(changes)
    # Open cases follow the new tier (priority and what derives from it). A customer without
    # open cases has nothing to re-prioritise, so the per-customer call is skipped for them.
    from aftersales.cases.services import case_priorities_refresh

    with_open = Customer.objects.filter(
        pk__in=Case.objects.filter(
            customer_id__in=[c.customer_id for c in changes], status__in=OPEN_STATUSES
        ).values("customer_id")
    ).order_by("pk")
    specs: dict[int, Any] = {}  # one calendar spec per calendar for the whole run
    for customer in with_open:
        case_priorities_refresh(actor=actor, customer=customer, specs=specs)
    return applied


_SCORE_COLUMNS = (
    "customer_id",
    "purchase_amount",
    "usage_count",
    "feedback_count",
    "purchase_score",
    "usage_score",
    "feedback_score",
    "score",
    "tier",
    "computed_at",
)


def _scores_upsert(
    rows: Sequence[tuple[int, tiers.Activity, tiers.Scored]], *, computed_at: dt.datetime
) -> None:
    """Insert or update the customers' `TierScore` rows in one statement per chunk.

    Plain SQL (`INSERT ... ON CONFLICT DO UPDATE`, the same on SQLite and PostgreSQL): building
    model instances and preparing every value through its field costs more than the whole
    computation when all customers are scored.
    """
    if not rows:
        return
    table = connection.ops.quote_name(TierScore._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _SCORE_COLUMNS)
    updates = ", ".join(
        f"{connection.ops.quote_name(c)} = excluded.{connection.ops.quote_name(c)}"
        for c in _SCORE_COLUMNS[1:]
    )
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_SCORE_COLUMNS))}) "  # nosec B608  # identifiers quoted, values bound
        f"ON CONFLICT ({connection.ops.quote_name('customer_id')}) DO UPDATE SET {updates}"
    )
    at = connection.ops.adapt_datetimefield_value(computed_at)
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    pk,
                    activity.purchase.quantize(_CENT),
                    activity.usage,
                    activity.feedback,
                    *result.ranks,
                    result.score,
                    result.tier,
                    at,
                )
                for pk, activity, result in rows
            ],
        )


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def tiers_recompute(*, actor: User | None = None, progress: Progress | None = None) -> TierRun:
    """Compute every live customer's value tier (客户分类) under the active policy.

    Reads the three dimensions for all customers in a few grouped queries, ranks and scores them
    (`customers.tiers`), sets the cut-offs (percentile shares or thresholds), then writes in
    chunks of `TIER_CHUNK` customers, one transaction each: scores, tier moves with their
    `TierChange` (reason "score" with the score and cut-off), ended overrides, re-prioritised
    open cases. Customers with an override in force keep their tier. Finally the policy keeps the
    cut-offs and rank tables, so single customers can be re-scored until the next run
    (`customer_tier_recompute`). `progress(done, total)` is called after every chunk. Safe to
    run twice at once: each chunk decides on freshly locked rows. Returns the finished run.
    """
    require_perm(actor, "customers.set_tier", system_allowed=True)
    now = clock.now()
    policy = tier_policy_get()
    activities = tier_activities(policy=policy, now=now)
    percentile = policy.cutoff_mode == TierPolicy.CutoffMode.PERCENTILE
    population = tiers.score_population(
        activities,
        weights=_policy_weights(policy),
        percentile=percentile,
        vip_share=policy.vip_share,
        low_share=policy.low_share,
        thresholds=None
        if percentile
        else tiers.Cutoffs(vip=policy.vip_threshold, low=policy.low_threshold),
    )
    cutoffs = population.cutoffs
    run = TierRun.objects.create(
        started_at=now,
        actor=actor,
        cutoff_mode=policy.cutoff_mode,
        weights=_policy_weights(policy).as_dict(),
        vip_cutoff=cutoffs.vip,
        low_cutoff=cutoffs.low,
        customers=len(activities),
    )
    ids = list(population.scored)
    total, done = len(ids), 0
    applied = _Applied()
    if progress is not None:
        progress(0, total)
    for chunk in _chunks(ids, TIER_CHUNK):
        with transaction.atomic():
            result = _tiers_apply(
                scored={pk: population.scored[pk] for pk in chunk},
                activities=activities,
                cutoffs=cutoffs,
                now=now,
                actor=actor,
                run=run,
            )
        applied.changed += result.changed
        applied.kept_by_override += result.kept_by_override
        applied.overrides_expired += result.overrides_expired
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    counts = Counter(s.tier for s in population.scored.values())
    with transaction.atomic():
        policy = TierPolicy.objects.select_for_update().get(pk=policy.pk)
        policy.vip_cutoff, policy.low_cutoff = cutoffs.vip, cutoffs.low
        policy.rank_tables = {d: t.as_json() for d, t in population.tables.items()}
        policy.scored_at = now
        policy.save(update_fields=["vip_cutoff", "low_cutoff", "rank_tables", "scored_at"])
        run.finished_at = clock.now()
        run.vip, run.regular, run.low = (counts[t] for t in (Tier.VIP, Tier.REGULAR, Tier.LOW))
        run.changed = applied.changed
        run.kept_by_override = applied.kept_by_override
        run.overrides_expired = applied.overrides_expired
        run.save()
        audit_record(
            actor=actor,
            action="customer.tiers_recomputed",
            entity="tier_run",
            entity_id=run.pk,
            data={
                "customers": run.customers,
                "vip": run.vip,
                "regular": run.regular,
                "low": run.low,
                "changed": run.changed,
                "vip_cutoff": None if cutoffs.vip is None else str(cutoffs.vip),
                "low_cutoff": None if cutoffs.low is None else str(cutoffs.low),
            },
        )
    return run


def customers_tier_recompute(*, customer_ids: Iterable[int]) -> int:
    """Re-score some customers between full runs (e.g. after an import); returns moves made.

    Uses the last full run's rank tables and cut-offs, so the customers land on the same scale
    as everybody else; a dimension whose value did not change keeps its rank. Before the first
    full run there is no scale yet and nothing happens. Overrides in force are kept, expired
    ones ended, as in the full run.
    """
    policy = TierPolicy.objects.filter(is_active=True).first()
    if policy is None or policy.scored_at is None or not policy.rank_tables:
        return 0
    tables = {d: tiers.RankTable.from_json(policy.rank_tables.get(d, {})) for d in tiers.DIMENSIONS}
    cutoffs = tiers.Cutoffs(vip=policy.vip_cutoff, low=policy.low_cutoff)
    weights = _policy_weights(policy)
    now = clock.now()
    changed = 0
    for chunk in _chunks(sorted(set(customer_ids)), TIER_CHUNK):
        with transaction.atomic():
            activities = tier_activities(policy=policy, now=now, customer_ids=chunk)
            previous = {
                s.customer_id: (
                    tiers.Activity(
                        purchase=s.purchase_amount, usage=s.usage_count, feedback=s.feedback_count
                    ),
                    (s.purchase_score, s.usage_score, s.feedback_score),
                )
                for s in TierScore.objects.filter(customer_id__in=list(activities))
            }
            scored = {
                pk: tiers.score_one(
                    activity,
                    weights=weights,
                    tables=tables,
                    cutoffs=cutoffs,
                    previous=previous.get(pk),
                )
                for pk, activity in activities.items()
            }
            changed += _tiers_apply(
                scored=scored,
                activities=activities,
                cutoffs=cutoffs,
                now=now,
                actor=None,
                run=None,
            ).changed
    return changed


def customer_tier_recompute(*, customer: Customer) -> TierScore | None:
    """Re-score one customer with the stored cut-offs (called after a purchase is registered).

    Returns the customer's new score, or None before the first full run or for a merged record.
    """
    customers_tier_recompute(customer_ids=[customer.pk])
    return TierScore.objects.filter(customer_id=customer.pk).first()
