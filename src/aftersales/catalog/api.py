"""JSON API of the product catalog, mounted at /api/v1/catalog.

Endpoints parse, authorise, call one selector or service, and serialise. A unit's owner is
shown as id, number and name only, and only to readers whose customer scope includes the owner
(never to warehouse staff); the purchase amount needs `catalog.view_purchase_amount` (see
`aftersales.core.policy`).
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import StringConstraints, field_validator

from aftersales.accounts.models import User
from aftersales.accounts.permissions import request_user
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.policy import VIEW_PURCHASE_AMOUNT, visible_to
from aftersales.core.schemas import DB_INT_MAX, PageOf100, StrictIn
from aftersales.customers.models import Customer
from aftersales.customers.selectors import customer_queryset_for

from . import selectors, services
from .models import ProductLine, ProductModel, SalesChannel, Unit, UnitImport

router = Router(tags=["catalog"])

LineCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=30,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]
ModelCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Months = Annotated[int, Field(ge=0, le=services.MAX_WARRANTY_MONTHS)]
Serial = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class ProductLineIn(StrictIn):
    code: LineCode
    name_zh: Label
    name_en: Label


class ProductLineOut(Schema):
    id: int
    code: str
    name_zh: str
    name_en: str


class ProductModelIn(StrictIn):
    line_id: int = Field(gt=0)
    code: ModelCode
    name: ModelName
    parts_warranty_months: Months = 12
    labour_warranty_months: Months = 12
    launched_on: dt.date | None = None
    is_active: bool = True


class ProductModelUpdateIn(StrictIn):
    """Only the fields sent change; `launched_on: null` clears the launch date."""

    line_id: int | None = Field(None, gt=0)
    name: ModelName | None = None
    parts_warranty_months: Months | None = None
    labour_warranty_months: Months | None = None
    launched_on: dt.date | None = None
    is_active: bool | None = None

    @field_validator(
        "line_id",
        "name",
        "parts_warranty_months",
        "labour_warranty_months",
        "is_active",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value


class ProductModelOut(Schema):
    id: int
    line_id: int
    line_code: str
    code: str
    name: str
    parts_warranty_months: int
    labour_warranty_months: int
    launched_on: dt.date | None
    is_active: bool

    @staticmethod
    def resolve_line_code(obj: ProductModel) -> str:
        return obj.line.code


class UnitIn(StrictIn):
    model_code: ModelCode
    serial_number: Serial
    customer_id: int | None = Field(None, gt=0)
    purchase_date: dt.date
    purchase_amount: Amount
    currency: Currency = services.DEFAULT_CURRENCY
    sales_channel: SalesChannel
    retailer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class CustomerRefOut(Schema):
    """The owner, never their contacts (those need the customer file and its audited reveal)."""

    id: int
    number: str
    name: str


class WarrantyOut(Schema):
    status: str
    parts_end: dt.date
    labour_end: dt.date
    days_left: int
    in_parts_warranty: bool
    in_labour_warranty: bool


class UnitOut(Schema):
    id: int
    model_code: str
    model_name: str
    product_line_code: str
    serial_number: str
    purchase_date: dt.date
    purchase_amount: Decimal | None = Field(
        description="What the customer paid; null without catalog.view_purchase_amount"
    )
    currency: str
    sales_channel: str
    retailer: str
    registered_at: dt.datetime
    import_id: int | None
    customer: CustomerRefOut | None = Field(
        description="The owner; null if none or outside the reader's customer scope"
    )
    warranty: WarrantyOut = Field(description="Warranty position today (local calendar day)")

    @staticmethod
    def resolve_purchase_amount(obj: Unit, context: Any) -> Decimal | None:
        return obj.purchase_amount if visible_to(context, VIEW_PURCHASE_AMOUNT) else None

    @staticmethod
    def resolve_customer(obj: Unit) -> Customer | None:
        # `owner_visible` is annotated by `unit_queryset_for` from the reader's customer scope.
        return obj.customer if getattr(obj, "owner_visible", False) else None

    @staticmethod
    def resolve_model_code(obj: Unit) -> str:
        return obj.model.code

    @staticmethod
    def resolve_model_name(obj: Unit) -> str:
        return obj.model.name

    @staticmethod
    def resolve_product_line_code(obj: Unit) -> str:
        return obj.model.line.code

    @staticmethod
    def resolve_import_id(obj: Unit) -> int | None:
        return obj.import_batch_id

    @staticmethod
    def resolve_warranty(obj: Unit) -> selectors.WarrantyStatus:
        return selectors.warranty_status(obj, on=clock.today())


class RowErrorOut(Schema):
    code: str
    message: str


class RejectedRowOut(Schema):
    row: int = Field(description="Spreadsheet row number; the header is row 1")
    serial_number: str
    errors: dict[str, RowErrorOut] = Field(description="Reason per column")


class UnitImportOut(Schema):
    id: int
    filename: str
    sha256: str
    created_at: dt.datetime
    created_by: str | None
    rows_total: int
    rows_created: int
    rows_unchanged: int
    rows_rejected: int
    customers_created: int
    rejected: list[RejectedRowOut]

    @staticmethod
    def resolve_created_by(obj: UnitImport) -> str | None:
        return obj.created_by.label if obj.created_by else None


def _require(user: User, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(_("Your role does not allow this action."))


def _catalog_reader(request: HttpRequest) -> User:
    user = request_user(request)
    if not selectors.catalog_visible_to(user):
        raise PermissionDenied(_("Your role does not allow this action."))
    return user


@router.get(
    "/product-lines",
    response=list[ProductLineOut],
    operation_id="catalog_product_lines_list",
    summary="List product lines",
)
def product_lines_list(request: HttpRequest) -> Any:
    """Every product line (fridges, air conditioners, TVs, ...), by code."""
    _catalog_reader(request)
    return selectors.product_lines_list()


@router.post(
    "/product-lines",
    response={201: ProductLineOut},
    operation_id="catalog_product_lines_create",
    summary="Create a product line",
)
def product_lines_create(request: HttpRequest, payload: ProductLineIn) -> Status[ProductLine]:
    """Add a product line; `duplicate_code` (409) if the code is taken."""
    return Status(
        201, services.product_line_create(actor=request_user(request), **payload.model_dump())
    )


@router.get(
    "/product-models",
    response=list[ProductModelOut],
    operation_id="catalog_product_models_list",
    summary="List product models",
)
def product_models_list(
    request: HttpRequest,
    line: Annotated[str, Query(max_length=30, description="Product line code")] = "",
) -> Any:
    """Product models with their warranty terms, by code; only one line's if `line` is given."""
    _catalog_reader(request)
    return selectors.product_models_list(line=line or None)


def _line(line_id: int) -> ProductLine:
    line = ProductLine.objects.filter(pk=line_id).first()
    if line is None:
        raise ApplicationError(
            "unknown_product_line",
            _("No such product line."),
            details={"line_id": line_id},
            status=422,
        )
    return line


@router.post(
    "/product-models",
    response={201: ProductModelOut},
    operation_id="catalog_product_models_create",
    summary="Create a product model with its warranty terms",
)
def product_models_create(request: HttpRequest, payload: ProductModelIn) -> Status[ProductModel]:
    """Add a model; `duplicate_code` (409) if a model has the code in any case."""
    data = payload.model_dump()
    line = _line(data.pop("line_id"))
    return Status(
        201, services.product_model_create(actor=request_user(request), line=line, **data)
    )


@router.patch(
    "/product-models/{int:model_id}",
    response=ProductModelOut,
    operation_id="catalog_product_models_update",
    summary="Change a product model's name, line or warranty terms",
)
def product_models_update(
    request: HttpRequest, model_id: int, payload: ProductModelUpdateIn
) -> ProductModel:
    """Change the fields sent; new warranty terms apply to every unit of the model."""
    user = request_user(request)
    model = get_object_or_404(ProductModel, pk=model_id)
    changes = payload.model_dump(exclude_unset=True)
    if "line_id" in changes:
        changes["line"] = _line(changes.pop("line_id"))
    return services.product_model_update(actor=user, product_model=model, **changes)


@router.get(
    "/units",
    response=list[UnitOut],
    operation_id="catalog_units_list",
    summary="List or find registered units",
)
@paginate(PageOf100)
def units_list(
    request: HttpRequest,
    serial: Annotated[str, Query(max_length=60, description="Exact serial number")] = "",
    customer_id: Annotated[
        int | None, Query(gt=0, le=DB_INT_MAX, description="Owner's customer id")
    ] = None,
    model_code: Annotated[str, Query(max_length=40, description="Product model code")] = "",
) -> Any:
    """Registered units, newest registration first, each with its warranty position today."""
    user = request_user(request)
    _require(user, "catalog.view_unit")
    return selectors.unit_list_for(
        user, serial=serial, customer_id=customer_id, model_code=model_code
    )


@router.post(
    "/units",
    response={201: UnitOut},
    operation_id="catalog_units_register",
    summary="Register a sold unit",
)
def units_register(request: HttpRequest, payload: UnitIn) -> Status[Unit]:
    """Register a unit by model code and serial; `duplicate_serial` (409) if already there."""
    user = request_user(request)
    model = ProductModel.objects.filter(code__iexact=payload.model_code).first()
    if model is None:
        raise ApplicationError(
            "unknown_model",
            _("No product model %(value)r in the catalog.") % {"value": payload.model_code},
            details={"model_code": payload.model_code},
            status=422,
        )
    customer = None
    if payload.customer_id is not None:
        customer = customer_queryset_for(user).filter(pk=payload.customer_id).first()
        if customer is None:
            raise ApplicationError(
                "unknown_customer",
                _("No such customer."),
                details={"customer_id": payload.customer_id},
                status=422,
            )
    unit = services.unit_register(
        actor=user,
        model=model,
        serial_number=payload.serial_number,
        customer=customer,
        purchase_date=payload.purchase_date,
        purchase_amount=payload.purchase_amount,
        currency=payload.currency,
        sales_channel=payload.sales_channel,
        retailer=payload.retailer,
    )
    return Status(201, selectors.unit_get_for(user, pk=unit.pk))


@router.get(
    "/units/{int:unit_id}",
    response=UnitOut,
    operation_id="catalog_units_get",
    summary="Get one unit with its warranty position",
)
def units_get(request: HttpRequest, unit_id: int) -> Unit:
    """One unit with parts and labour warranty ends and days left, computed for today."""
    return selectors.unit_get_for(request_user(request), pk=unit_id)


@router.post(
    "/units/import",
    response={201: UnitImportOut},
    operation_id="catalog_units_import",
    summary="Import a CSV of sales records",
)
def units_import(request: HttpRequest, file: File[UploadedFile]) -> Status[UnitImport]:
    """Upload a CSV (multipart field `file`) of sales records; returns the import report.

    Columns: serial_number, model_code, purchase_date (YYYY-MM-DD), amount, sales_channel,
    and optionally currency, retailer, customer_name, customer_phone, province, city, district.
    UTF-8 or GB18030, at most 5 MB and 20,000 rows. Valid rows are imported together; rejected
    rows come back with their row number and a reason per column. Importing the same file again
    creates nothing new (the rows count as unchanged).
    """
    user = request_user(request)
    # One byte over the limit is enough for the service to refuse the file: never read it all.
    content = file.read(services.MAX_IMPORT_BYTES + 1)
    batch = services.units_import_csv(actor=user, filename=file.name or "", content=content)
    return Status(201, selectors.unit_import_get(pk=batch.pk))


@router.get(
    "/imports/{int:import_id}",
    response=UnitImportOut,
    operation_id="catalog_imports_get",
    summary="Get an import report",
)
def imports_get(request: HttpRequest, import_id: int) -> UnitImport:
    """The counts and rejected rows of an earlier import."""
    _require(request_user(request), "catalog.import_units")
    return selectors.unit_import_get(pk=import_id)
