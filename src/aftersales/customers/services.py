"""Writes to the customer file (客户服务档案): create, update, contacts, tier, reveal, merge.

Every function here is one transaction, takes keyword-only arguments with the acting user as
`actor`, checks the actor's permission itself (so no caller can skip it), runs `full_clean()`
before saving and leaves an audit row for anything sensitive. `actor=None` means the system
(a channel gateway or an import) and is accepted only where no human decision is involved.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.services import audit_record, number_allocate

from .contacts import contact_normalize
from .models import Address, Channel, ContactPoint, Customer, Tier

NUMBER_PREFIX = "C"
ADDRESS_FIELDS = ("province", "city", "district", "street", "postal_code")


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
def customer_set_tier(*, actor: User, customer: Customer, tier: str, reason: str) -> Customer:
    """Set the value tier (客户价值分层) by hand, with a reason; audited with before and after."""
    require_perm(actor, "customers.set_tier")
    _check_choice("tier", tier, Tier.values)
    reason = reason.strip()
    if not reason:
        raise ApplicationError(
            "reason_required", _("Say why the tier changes."), details={"reason": ""}, status=422
        )
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_require_live(customer)
    before = customer.tier
    if before == tier:
        return customer
    customer.tier = tier
    customer.full_clean()
    customer.save(update_fields=["tier"])
    audit_record(
        actor=actor,
        action="customer.tier_changed",
        entity="customer",
        entity_id=customer.pk,
        data={"before": before, "after": tier, "reason": reason},
    )
    # Priority is derived from tier: the customer's open cases follow at once.
    from aftersales.cases.services import case_priorities_refresh

    case_priorities_refresh(actor=actor, customer=customer)
    return customer


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
