"""JSON API of the customer file, mounted at /api/v1/customers.

Endpoints parse, call one selector or service, and serialise. Contacts are always masked in
output; the only way to the clear values is the audited `reveal` endpoint. Value tiers: the
tier report and the history of tier moves need `customers.view_tier_report`; a manager's
override (`POST /{id}/tier`) needs `customers.set_tier`.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StringConstraints, field_validator

from aftersales.accounts.permissions import request_user
from aftersales.accounts.throttle import throttle_lookup
from aftersales.core import clock
from aftersales.core.audit import personal_data_viewed
from aftersales.core.errors import ApplicationError
from aftersales.core.policy import VIEW_CONTACT, VIEW_CUSTOMER_VALUE, visible_to
from aftersales.core.schemas import PageOf100, StrictIn

from . import selectors, services
from .models import (
    Channel,
    ContactPoint,
    Customer,
    Tier,
    TierChange,
    TierOverride,
    TierPolicy,
)

router = Router(tags=["customers"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Notes = Annotated[str, StringConstraints(max_length=5000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-z]{2,4})?$")]
PhoneText = Annotated[str, StringConstraints(min_length=1, max_length=40)]
EmailText = Annotated[str, StringConstraints(min_length=3, max_length=254)]


class AddressIn(StrictIn):
    province: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    district: Annotated[str, StringConstraints(max_length=50)] = ""
    street: Annotated[str, StringConstraints(max_length=300)] = ""
    postal_code: Annotated[str, StringConstraints(max_length=12)] = ""


class CustomerCreateIn(StrictIn):
    name: Name
    kind: Customer.Kind = Customer.Kind.PERSON
    company_name: ShortText = ""
    phones: list[PhoneText] = Field(default_factory=list, max_length=5)
    emails: list[EmailText] = Field(default_factory=list, max_length=5)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=5)
    preferred_channel: Channel = Channel.PHONE
    preferred_language: LanguageCode = "zh-hans"
    consent_contact: bool = True
    notes: Notes = ""


class CustomerUpdateIn(StrictIn):
    """Only the fields sent change; `null` is refused rather than read as 'clear it'."""

    name: Name | None = None
    company_name: ShortText | None = None
    preferred_channel: Channel | None = None
    preferred_language: LanguageCode | None = None
    consent_contact: bool | None = None
    notes: Notes | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value


class ContactIn(StrictIn):
    kind: ContactPoint.Kind
    value: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    label: Annotated[str, StringConstraints(max_length=30)] = ""
    is_primary: bool = False


class SearchIn(StrictIn):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        Field(description="Customer number, full name or surname, company, phone or e-mail")
    )


class LookupIn(StrictIn):
    phone: PhoneText = Field(description="The caller's number in any usual form")


class MergeIn(StrictIn):
    duplicate_id: int = Field(gt=0)
    reason: Reason = ""


class TierIn(StrictIn):
    """A manager's override of the computed tier, with a reason, until `expires_at`."""

    tier: Tier
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    expires_at: dt.datetime = Field(
        description="When the override ends (in the future); without a zone, Asia/Shanghai"
    )


class ContactOut(Schema):
    id: int
    kind: str
    masked: str
    label: str
    is_primary: bool


class AddressOut(Schema):
    """The street is personal data: only the region is shown, plus whether a street exists."""

    id: int
    province: str
    city: str
    district: str
    postal_code: str
    is_default: bool
    has_street: bool

    @staticmethod
    def resolve_has_street(obj: Any) -> bool:
        return bool(obj.street)


class CustomerOut(Schema):
    id: int
    number: str
    kind: str
    name: str
    company_name: str
    preferred_channel: str
    preferred_language: str
    consent_contact: bool
    notes: str
    tier: str
    created_at: dt.datetime
    contacts: list[ContactOut]
    addresses: list[AddressOut]

    @staticmethod
    def resolve_contacts(obj: Customer, context: Any) -> list[ContactPoint]:
        return list(obj.contacts.all()) if visible_to(context, VIEW_CONTACT) else []

    @staticmethod
    def resolve_addresses(obj: Customer, context: Any) -> list[Any]:
        return list(obj.addresses.all()) if visible_to(context, VIEW_CONTACT) else []


class CustomerUnitOut(Schema):
    """A caller's unit and its warranty in a lookup (the catalog's `UnitOut` is the full one)."""

    id: int
    model_code: str
    model_name: str
    serial_number: str
    purchase_date: dt.date
    warranty_status: str = Field(description="in_warranty, expiring or expired (parts cover)")
    parts_warranty_end: dt.date
    labour_warranty_end: dt.date
    warranty_days_left: int = Field(description="Days of parts cover left; negative once expired")


class CustomerMatchOut(Schema):
    id: int
    number: str
    name: str
    company_name: str
    tier: str
    contacts: list[ContactOut] = Field(description="Masked; empty without customers.view_contact")
    units: list[CustomerUnitOut]

    @staticmethod
    def resolve_contacts(obj: dict[str, Any], context: Any) -> list[ContactPoint]:
        return obj["contacts"] if visible_to(context, VIEW_CONTACT) else []


class LookupOut(Schema):
    phone_e164: str
    matches: list[CustomerMatchOut]


class RevealedContactOut(Schema):
    id: int
    kind: str
    value: str
    label: str
    is_primary: bool


class RevealedAddressOut(Schema):
    id: int
    province: str
    city: str
    district: str
    street: str
    postal_code: str
    is_default: bool


class RevealOut(Schema):
    contacts: list[RevealedContactOut]
    addresses: list[RevealedAddressOut]


class TimelineItemOut(Schema):
    time: dt.datetime
    kind: str
    actor: str
    case_number: str
    text: str


def _match_out(customer: Customer) -> dict[str, Any]:
    today = clock.today()
    return {
        "id": customer.pk,
        "number": customer.number,
        "name": customer.name,
        "company_name": customer.company_name,
        "tier": customer.tier,
        "contacts": list(customer.contacts.all()),
        "units": [
            {
                "id": w.unit.pk,
                "model_code": w.unit.model.code,
                "model_name": w.unit.model.name,
                "serial_number": w.unit.serial_number,
                "purchase_date": w.unit.purchase_date,
                "warranty_status": w.warranty.status,
                "parts_warranty_end": w.warranty.parts_end,
                "labour_warranty_end": w.warranty.labour_end,
                "warranty_days_left": w.warranty.days_left,
            }
            for w in selectors.customer_units(customer, on=today)
        ],
    }


@router.get(
    "",
    response=list[CustomerOut],
    operation_id="customers_list",
    summary="List customers, newest first",
)
@paginate(PageOf100)
def customers_list(request: HttpRequest) -> Any:
    """Customers in the caller's scope, newest first. To search, POST `/customers/search`: a
    search term is personal data and does not belong in a URL."""
    if "q" in request.GET:
        # Refused rather than ignored: a client must not take the whole list for its answer.
        raise ApplicationError(
            "search_in_url",
            _("Search with POST /customers/search; a search term does not belong in a URL."),
            status=422,
        )
    return selectors.customer_search(user=request_user(request), q="").prefetch_related("addresses")


@router.post(
    "/search",
    response=list[CustomerOut],
    operation_id="customers_search",
    summary="Search customers by number, name, company, phone or e-mail",
)
@paginate(PageOf100)
def customers_search(request: HttpRequest, payload: SearchIn) -> Any:
    """Customers in the caller's scope matching `q`: a customer number, a full name or a
    surname (exact, names are encrypted), part of a company name, a phone number or an e-mail
    address (exact); by customer number. The term travels in the body, never in the URL."""
    return selectors.customer_search(user=request_user(request), q=payload.q).prefetch_related(
        "addresses"
    )


@router.post(
    "",
    response={201: CustomerOut},
    operation_id="customers_create",
    summary="Create a customer",
)
def customers_create(request: HttpRequest, payload: CustomerCreateIn) -> Status[Customer]:
    """Open a customer file; contacts are normalised, encrypted and indexed."""
    data = payload.model_dump()
    customer = services.customer_create(actor=request_user(request), **data)
    return Status(201, selectors.customer_get_for(request_user(request), pk=customer.pk))


@router.post(
    "/lookup",
    response=LookupOut,
    operation_id="customers_lookup_by_phone",
    summary="Recognise a caller by phone number",
)
def customers_lookup(request: HttpRequest, payload: LookupIn) -> dict[str, Any]:
    """Who is calling: 0, 1 or several customers with their units and warranty positions.

    POST with the number in the JSON body, so it stays out of URLs and access logs."""
    user = request_user(request)
    throttle_lookup(request, user_id=user.pk)
    match = selectors.customers_by_phone(user=user, raw=payload.phone)
    for customer in match.customers:
        personal_data_viewed(
            actor=user,
            customer_id=customer.pk,
            entity="customer",
            entity_id=customer.pk,
            via="caller_lookup.api",
        )
    return {
        "phone_e164": match.phone_e164,
        "matches": [_match_out(c) for c in match.customers],
    }


@router.get(
    "/{int:customer_id}",
    response=CustomerOut,
    operation_id="customers_get",
    summary="Get one customer",
)
def customers_get(request: HttpRequest, customer_id: int) -> Customer:
    """One customer, contacts masked; 404 outside the caller's scope."""
    user = request_user(request)
    customer = selectors.customer_get_for(user, pk=customer_id)
    personal_data_viewed(
        actor=user,
        customer_id=customer.pk,
        entity="customer",
        entity_id=customer.pk,
        via="customer.api",
    )
    return customer


@router.patch(
    "/{int:customer_id}",
    response=CustomerOut,
    operation_id="customers_update",
    summary="Change a customer's details",
)
def customers_update(request: HttpRequest, customer_id: int, payload: CustomerUpdateIn) -> Customer:
    """Change name, company, preferences, consent or notes (the tier has its own endpoint)."""
    user = request_user(request)
    customer = selectors.customer_get_for(user, pk=customer_id)
    services.customer_update(
        actor=user, customer=customer, **payload.model_dump(exclude_unset=True)
    )
    return selectors.customer_get_for(user, pk=customer_id)


@router.post(
    "/{int:customer_id}/contacts",
    response={201: ContactOut},
    operation_id="customers_contact_add",
    summary="Add a phone number or e-mail address",
)
def customers_contact_add(
    request: HttpRequest, customer_id: int, payload: ContactIn
) -> Status[ContactPoint]:
    """Add a contact; `duplicate_contact` (409) if the customer already has it."""
    user = request_user(request)
    customer = selectors.customer_get_for(user, pk=customer_id)
    return Status(201, services.contact_add(actor=user, customer=customer, **payload.model_dump()))


@router.post(
    "/{int:customer_id}/reveal",
    response=RevealOut,
    operation_id="customers_contacts_reveal",
    summary="Reveal full contact details (audited)",
)
def customers_reveal(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    """The clear phone numbers, e-mails and streets; the reveal is recorded in the audit log."""
    user = request_user(request)
    customer = selectors.customer_get_for(user, pk=customer_id)
    revealed = services.contact_reveal(actor=user, customer=customer)
    return {
        "contacts": [
            {
                "id": c.pk,
                "kind": c.kind,
                "value": value,
                "label": c.label,
                "is_primary": c.is_primary,
            }
            for c, value in revealed.contacts
        ],
        "addresses": [
            {
                "id": a.pk,
                "province": a.province,
                "city": a.city,
                "district": a.district,
                "street": street,
                "postal_code": a.postal_code,
                "is_default": a.is_default,
            }
            for a, street in revealed.addresses
        ],
    }


@router.post(
    "/{int:customer_id}/merge",
    response=CustomerOut,
    operation_id="customers_merge",
    summary="Merge a duplicate record into this customer",
)
def customers_merge(request: HttpRequest, customer_id: int, payload: MergeIn) -> Customer:
    """Move the duplicate's contacts, addresses, units and cases here; the duplicate points here."""
    user = request_user(request)
    # Merged records are found here so the service can refuse them with their own codes.
    survivor = selectors.customer_get_for(user, pk=customer_id, include_merged=True)
    duplicate = selectors.customer_get_for(user, pk=payload.duplicate_id, include_merged=True)
    services.customer_merge(
        actor=user, survivor=survivor, duplicate=duplicate, reason=payload.reason
    )
    return selectors.customer_get_for(user, pk=customer_id)


@router.post(
    "/{int:customer_id}/tier",
    response=CustomerOut,
    operation_id="customers_set_tier",
    summary="Override a customer's value tier until a given time",
)
def customers_set_tier(request: HttpRequest, customer_id: int, payload: TierIn) -> Customer:
    """Override the computed tier with a reason until `expires_at` (audited, needs
    `customers.set_tier`); `reason_required`, `expiry_in_past`, `expiry_too_far` as 422."""
    user = request_user(request)
    customer = selectors.customer_get_for(user, pk=customer_id)
    expires_at = payload.expires_at
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at)
    services.customer_set_tier(
        actor=user,
        customer=customer,
        tier=payload.tier,
        reason=payload.reason,
        expires_at=expires_at,
    )
    return selectors.customer_get_for(user, pk=customer_id)


@router.get(
    "/{int:customer_id}/timeline",
    response=list[TimelineItemOut],
    operation_id="customers_timeline",
    summary="A customer's contact timeline",
)
def customers_timeline(request: HttpRequest, customer_id: int) -> list[selectors.TimelineItem]:
    """Case events and the customer's audit trail, oldest first."""
    user = request_user(request)
    customer = selectors.customer_get_for(user, pk=customer_id)
    personal_data_viewed(
        actor=user,
        customer_id=customer.pk,
        entity="customer",
        entity_id=customer.pk,
        via="customer.timeline.api",
    )
    return selectors.customer_timeline(user=user, customer=customer)


# --- value tiers (客户分类管理) -------------------------------------------------------------------


class TierShareOut(Schema):
    tier: str
    label: str
    customers: int
    customer_share: float = Field(description="Share of live customers, 0..1")
    cases: int
    case_share: float = Field(description="Share of the cases opened in the window, 0..1")


class SpreadOut(Schema):
    tier: str
    count: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float
    mean: float


class TierWeightsOut(Schema):
    purchase: Decimal
    usage: Decimal
    feedback: Decimal


class TierPolicyOut(Schema):
    cutoff_mode: str
    weights: TierWeightsOut
    lookback_months: int
    purchase_lookback_months: int
    vip_share: Decimal
    low_share: Decimal
    vip_threshold: Decimal | None
    low_threshold: Decimal | None
    vip_cutoff: Decimal | None = Field(description="VIP score cut-off of the last full run")
    low_cutoff: Decimal | None = Field(description="Low score cut-off of the last full run")
    scored_at: dt.datetime | None

    @staticmethod
    def resolve_weights(obj: TierPolicy) -> dict[str, Decimal]:
        return {
            "purchase": obj.weight_purchase,
            "usage": obj.weight_usage,
            "feedback": obj.weight_feedback,
        }


class TierRunOut(Schema):
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    cutoff_mode: str
    customers: int
    vip: int
    regular: int
    low: int
    changed: int
    kept_by_override: int
    overrides_expired: int
    vip_cutoff: Decimal | None
    low_cutoff: Decimal | None


class TierReportOut(Schema):
    generated_at: dt.datetime
    cases_since: dt.datetime
    customers: int
    cases: int
    shares: list[TierShareOut]
    dimensions: dict[str, list[SpreadOut]] = Field(
        description="purchase, usage, feedback: the spread of the raw values within each tier"
    )
    policy: TierPolicyOut | None
    last_run: TierRunOut | None
    overrides_active: int


class TierChangeOut(Schema):
    id: int
    customer_id: int
    customer_number: str
    customer_name: str
    before: str
    after: str
    source: str
    reason_code: str
    params: dict[str, Any]
    reason: str
    text: str = Field(description="Why, in the reader's language")
    actor: str | None
    occurred_at: dt.datetime

    @staticmethod
    def resolve_customer_number(obj: TierChange) -> str:
        return obj.customer.number

    @staticmethod
    def resolve_customer_name(obj: TierChange) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_text(obj: TierChange) -> str:
        return selectors.tier_change_text(obj)

    @staticmethod
    def resolve_actor(obj: TierChange) -> str | None:
        return obj.actor.label if obj.actor else None


class TierOverrideOut(Schema):
    id: int
    customer_id: int
    customer_number: str
    customer_name: str
    tier: str
    reason: str
    expires_at: dt.datetime
    set_by: str
    created_at: dt.datetime

    @staticmethod
    def resolve_customer_number(obj: TierOverride) -> str:
        return obj.customer.number

    @staticmethod
    def resolve_customer_name(obj: TierOverride) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_set_by(obj: TierOverride) -> str:
        return obj.set_by.label


class TierScoreOut(Schema):
    purchase_amount: Decimal
    usage_count: int
    feedback_count: int
    purchase_score: Decimal
    usage_score: Decimal
    feedback_score: Decimal
    score: Decimal
    tier: str = Field(description="The computed tier (an override may hold another)")
    computed_at: dt.datetime


class CustomerTierOut(Schema):
    customer_id: int
    tier: str
    score: TierScoreOut | None = Field(
        description="The last computed score; null if none yet or without "
        "customers.view_customer_value (purchase figures are revenue)"
    )
    override: TierOverrideOut | None
    changes: list[TierChangeOut]

    @staticmethod
    def resolve_score(obj: dict[str, Any], context: Any) -> Any:
        return obj["score"] if visible_to(context, VIEW_CUSTOMER_VALUE) else None


def _require_tier_report(request: HttpRequest) -> None:
    if not request_user(request).has_perm("customers.view_tier_report"):
        raise PermissionDenied


@router.get(
    "/tiers/report",
    response=TierReportOut,
    operation_id="customers_tier_report",
    summary="Customer value tiers: shares of customers and of demand, dimension spreads",
)
def customers_tier_report(request: HttpRequest) -> dict[str, Any]:
    """Customers and cases of the last 12 months by tier (the 28% / 62% view), the spread of
    each dimension within each tier, the policy and the last full run."""
    _require_tier_report(request)
    report = selectors.tier_report(now=clock.now())
    return {
        "generated_at": report.generated_at,
        "cases_since": report.cases_since,
        "customers": report.customers,
        "cases": report.cases,
        "shares": report.shares,
        "dimensions": report.spreads,
        "policy": report.policy,
        "last_run": report.last_run,
        "overrides_active": report.overrides_active,
    }


@router.get(
    "/tiers/changes",
    response=list[TierChangeOut],
    operation_id="customers_tier_changes",
    summary="Who moved between tiers, newest first",
)
@paginate(PageOf100)
def customers_tier_changes(
    request: HttpRequest,
    source: Annotated[TierChange.Source | None, Query(description="Only this source")] = None,
) -> Any:
    """Tier moves with before and after, source, reason code and parameters."""
    _require_tier_report(request)
    return selectors.tier_changes(source=source or "")


@router.get(
    "/tiers/overrides",
    response=list[TierOverrideOut],
    operation_id="customers_tier_overrides",
    summary="Tier overrides in force, soonest to expire first",
)
@paginate(PageOf100)
def customers_tier_overrides(request: HttpRequest) -> Any:
    """Managers' overrides that currently beat the computed tier."""
    _require_tier_report(request)
    return selectors.tier_overrides_active()


@router.get(
    "/{int:customer_id}/tier",
    response=CustomerTierOut,
    operation_id="customers_tier_get",
    summary="A customer's tier: score, override in force, recent moves",
)
def customers_tier_get(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    """The last computed score with its three dimensions, the override if any, and the ten
    latest tier moves; 404 outside the caller's scope."""
    customer = selectors.customer_get_for(request_user(request), pk=customer_id)
    position = selectors.customer_tier(customer)
    return {
        "customer_id": customer.pk,
        "tier": customer.tier,
        "score": position.score,
        "override": position.override,
        "changes": position.changes,
    }
