"""Reads of the product catalog: warranty position (保修状态), units, product models, imports."""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.selectors import case_queryset_for
from aftersales.customers.models import Customer

from .models import ProductLine, ProductModel, Unit, UnitImport, normalize_serial

# An agent is warned while the parts warranty has this many days or fewer left.
EXPIRING_WITHIN_DAYS = 30

WarrantyState = Literal["in_warranty", "expiring", "expired"]


@dataclass(frozen=True)
class WarrantyStatus:
    """Where a unit stands in its warranty on a given day.

    `status` follows the parts warranty (the cover customers ask about); `days_left` counts the
    days of parts cover left after `on` and goes negative once it has run out. Each cover
    includes its end date.
    """

    status: WarrantyState
    parts_end: dt.date
    labour_end: dt.date
    days_left: int
    in_parts_warranty: bool
    in_labour_warranty: bool


def warranty_status(unit: Unit, *, on: dt.date) -> WarrantyStatus:
    """The warranty position of `unit` on day `on` (month ends clamp: Jan 31 + 1 = Feb 28/29)."""
    parts_end, labour_end = unit.parts_warranty_end, unit.labour_warranty_end
    days_left = (parts_end - on).days
    status: WarrantyState
    if days_left < 0:
        status = "expired"
    elif days_left <= EXPIRING_WITHIN_DAYS:
        status = "expiring"
    else:
        status = "in_warranty"
    return WarrantyStatus(
        status=status,
        parts_end=parts_end,
        labour_end=labour_end,
        days_left=days_left,
        in_parts_warranty=on <= parts_end,
        in_labour_warranty=on <= labour_end,
    )


def catalog_visible_to(user: User) -> bool:
    """Whether the user may read product lines and models (anyone who works with units)."""
    return user.has_perm("catalog.view_unit") or user.has_perm("catalog.view_productmodel")


def unit_queryset_for(user: User) -> QuerySet[Unit]:
    """Units the user may see: all of them with `catalog.view_unit`, none without.

    Units are not scoped like cases: a serial number must be found by whoever takes the call or
    ships the part. The owner is not: each unit carries `owner_visible`, true only when its
    customer is in the user's customer scope; callers show the owner (id, number and name, never
    contacts) only then.
    """
    if not user.has_perm("catalog.view_unit"):
        return Unit.objects.none()
    # Imported here: the customer selectors read warranty positions from this module.
    from aftersales.customers.selectors import customer_queryset_for

    visible_owner = customer_queryset_for(user).filter(pk=OuterRef("customer_id"))
    return Unit.objects.select_related("model__line", "customer").annotate(
        owner_visible=Exists(visible_owner)
    )


def unit_get_for(user: User, *, pk: int) -> Unit:
    """One unit the user may see; Http404 otherwise."""
    unit = unit_queryset_for(user).filter(pk=pk).first()
    if unit is None:
        raise Http404("No such unit.")
    return unit


def unit_find(*, serial: str, model_code: str | None = None) -> QuerySet[Unit]:
    """Units with exactly this serial number (in any case), of one model if `model_code` is given.

    The same serial may exist under several models, so this is a queryset, not one unit.
    """
    qs = Unit.objects.select_related("model__line", "customer").filter(
        serial_number=normalize_serial(serial)
    )
    if model_code:
        qs = qs.filter(model__code__iexact=model_code.strip())
    return qs


def unit_list_for(
    user: User,
    *,
    serial: str = "",
    customer_id: int | None = None,
    model_code: str = "",
) -> QuerySet[Unit]:
    """The API's unit list: exact serial, owner and model filters, newest registration first."""
    qs = unit_queryset_for(user)
    if serial:
        qs = qs.filter(serial_number=normalize_serial(serial))
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if model_code:
        qs = qs.filter(model__code__iexact=model_code.strip())
    return qs.order_by("-registered_at", "-id")


def unit_search(user: User, *, q: str) -> QuerySet[Unit]:
    """The staff list: `q` matches part of a serial number, a model code or a model name."""
    qs = unit_queryset_for(user)
    text = q.strip()
    if text:
        qs = qs.filter(
            Q(serial_number__contains=normalize_serial(text))
            | Q(model__code__icontains=text)
            | Q(model__name__icontains=text)
        )
    return qs.order_by("-registered_at", "-id")


def units_of_customer(customer: Customer) -> QuerySet[Unit]:
    """A customer's registered units, most recently bought first."""
    return (
        Unit.objects.select_related("model__line")
        .filter(customer=customer)
        .order_by("-purchase_date", "-id")
    )


def unit_cases_for(*, user: User, unit: Unit) -> QuerySet[Case]:
    """The unit's cases the user may see (their case scope), newest first."""
    return (
        case_queryset_for(user)
        .filter(unit=unit)
        .select_related("assignee", "team")
        .order_by("-created_at", "-id")
    )


def product_lines_list() -> QuerySet[ProductLine]:
    """Every product line, by code."""
    return ProductLine.objects.order_by("code")


def product_models_list(line: str | None = None) -> QuerySet[ProductModel]:
    """Product models with their line, by code; only those of the line with code `line` if given."""
    qs = ProductModel.objects.select_related("line").order_by("code")
    if line:
        qs = qs.filter(line__code=line)
    return qs


def unit_import_get(*, pk: int) -> UnitImport:
    """One import report; Http404 if there is none."""
    found = UnitImport.objects.select_related("created_by").filter(pk=pk).first()
    if found is None:
        raise Http404("No such import.")
    return found


def unit_imports_recent(*, limit: int = 10) -> QuerySet[UnitImport]:
    """The latest imports, newest first."""
    return UnitImport.objects.select_related("created_by").order_by("-created_at", "-id")[:limit]
