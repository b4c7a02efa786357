"""Writes to the product catalog: product lines and models, unit registration, sales imports.

Every function is one transaction, takes keyword-only arguments with the acting user as `actor`,
checks the actor's permission itself (`PermissionDenied`), runs `full_clean()` before saving and
leaves an audit row. `actor=None` means the system (an integration or a scheduled import) and is
accepted only for registering and importing units, where no human decision is involved.

The CSV of sales records (销售记录) read by `units_import_csv`:

- UTF-8 (with or without BOM) or GB18030, which Chinese retailers' exports often are;
  comma-separated, one header row, at most `MAX_IMPORT_BYTES` and `MAX_IMPORT_ROWS` data rows.
- Columns (header names in any case and order): `serial_number`, `model_code`,
  `purchase_date` (YYYY-MM-DD), `amount` (e.g. `3999.00`) and `sales_channel` (online, retail,
  dealer, project, other) are required; `currency` (default CNY), `retailer`, `customer_name`,
  `customer_phone`, `province`, `city` and `district` are optional. Unknown columns refuse the
  file, so a misspelt header never drops data silently.
- Row numbers in the report are the spreadsheet's: the header is row 1. Blank rows are skipped.
- A customer is recognised by phone number (following merged records to the surviving one);
  an unknown number opens a new customer file with the row's name and address. The address of an
  existing customer is not changed by an import.
- A row whose unit is already registered with the same data is "unchanged"; with different data
  it is rejected with the differing columns. An import never changes a registered unit, so
  importing the same file again changes nothing.
"""

import csv
import datetime as dt
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict, TypeVar, Unpack

from django.db import IntegrityError, transaction
from django.db.models.functions import Upper
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.core import clock
from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.phones import normalize_phone
from aftersales.core.services import audit_record
from aftersales.customers.models import ContactPoint, Customer
from aftersales.customers.services import (
    customer_create,
    customer_require_live,
    customer_tier_recompute,
    customers_tier_recompute,
)

from .models import ProductLine, ProductModel, SalesChannel, Unit, UnitImport, normalize_serial
from .reasons import FieldInvalid, reason

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
MAX_WARRANTY_MONTHS = 240
DEFAULT_CURRENCY = "CNY"

REQUIRED_COLUMNS = ("serial_number", "model_code", "purchase_date", "amount", "sales_channel")
OPTIONAL_COLUMNS = (
    "currency",
    "retailer",
    "customer_name",
    "customer_phone",
    "province",
    "city",
    "district",
)
CUSTOMER_COLUMNS = ("customer_name", "province", "city", "district")
# Row-level problems that belong to no single column are reported under this key.
ROW_KEY = "row"

_SERIAL_MAX = Unit._meta.get_field("serial_number").max_length or 60
_AMOUNT_MAX = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
_CENT = Decimal("0.01")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_BLANK_INSIDE = re.compile(r"\s")
# Large `IN (...)` lists are split so SQLite's bound-parameter limit is never reached.
_CHUNK = 500
_TEXT_LIMITS = {"retailer": 200, "customer_name": 200, "province": 50, "city": 50, "district": 50}

T = TypeVar("T")


# --- field rules shared by registration and import ----------------------------------------------


def serial_clean(raw: str) -> str:
    """The stored form of a serial number, or `invalid_serial`."""
    serial = normalize_serial(raw)
    if not serial:
        raise FieldInvalid("serial_number", "required", "serial_required")
    if len(serial) > _SERIAL_MAX or _BLANK_INSIDE.search(serial):
        raise FieldInvalid(
            "serial_number", "invalid_serial", "serial_invalid", value=serial, max=_SERIAL_MAX
        )
    return serial


def purchase_date_check(day: dt.date) -> dt.date:
    """A purchase date cannot lie in the future (local calendar day)."""
    if day > clock.today():
        raise FieldInvalid(
            "purchase_date", "future_purchase_date", "purchase_date_future", date=day.isoformat()
        )
    return day


def amount_clean(value: Decimal) -> Decimal:
    """A purchase amount: a finite, non-negative `Decimal` with at most two decimal places."""
    if not isinstance(value, Decimal):
        # Floats lose cents; callers must parse money into Decimal themselves.
        raise TypeError("purchase_amount must be a Decimal")
    if not value.is_finite() or value > _AMOUNT_MAX:
        raise FieldInvalid("amount", "invalid_amount", "amount_invalid", value=str(value))
    if value < 0:
        raise FieldInvalid("amount", "negative_amount", "amount_negative")
    if value != value.quantize(_CENT):
        raise FieldInvalid("amount", "invalid_amount", "amount_decimals")
    return value.quantize(_CENT)


def currency_clean(raw: str) -> str:
    """An ISO 4217-style three-letter currency code, upper case."""
    currency = (raw or "").strip().upper()
    if not _CURRENCY.match(currency):
        raise FieldInvalid("currency", "invalid_currency", "currency_invalid", value=raw)
    return currency


def sales_channel_clean(raw: str) -> str:
    """One of the sales channels (online, retail, dealer, project, other)."""
    channel = (raw or "").strip().lower()
    if not channel:
        raise FieldInvalid("sales_channel", "required", "sales_channel_required")
    if channel not in SalesChannel.values:
        raise FieldInvalid(
            "sales_channel",
            "invalid_sales_channel",
            "sales_channel_invalid",
            value=raw,
            choices=", ".join(SalesChannel.values),
        )
    return channel


def _months_check(field_name: str, months: int) -> None:
    if not 0 <= months <= MAX_WARRANTY_MONTHS:
        raise FieldInvalid(
            field_name,
            "invalid_warranty_months",
            "warranty_months_invalid",
            max=MAX_WARRANTY_MONTHS,
        )


# --- product lines and models -------------------------------------------------------------------


@transaction.atomic
def product_line_create(*, actor: User, code: str, name_zh: str, name_en: str) -> ProductLine:
    """Add a product line (产品线), e.g. fridges or air conditioners; `duplicate_code` if taken."""
    require_perm(actor, "catalog.add_productline")
    code = code.strip().lower()
    if ProductLine.objects.filter(code=code).exists():
        raise Conflict(
            "duplicate_code",
            _("A product line %(code)r already exists.") % {"code": code},
            details={"code": code},
        )
    line = ProductLine(code=code, name_zh=name_zh.strip(), name_en=name_en.strip())
    line.full_clean()
    line.save()
    audit_record(
        actor=actor,
        action="catalog.product_line_created",
        entity="product_line",
        entity_id=line.pk,
        data={"code": line.code},
    )
    return line


@transaction.atomic
def product_model_create(
    *,
    actor: User,
    line: ProductLine,
    code: str,
    name: str,
    parts_warranty_months: int = 12,
    labour_warranty_months: int = 12,
    launched_on: dt.date | None = None,
    is_active: bool = True,
) -> ProductModel:
    """Add a sellable model (产品型号) with its standard parts and labour warranty terms.

    Model codes are unique regardless of case, because sales exports spell them either way.
    """
    require_perm(actor, "catalog.add_productmodel")
    code = code.strip()
    _months_check("parts_warranty_months", parts_warranty_months)
    _months_check("labour_warranty_months", labour_warranty_months)
    if ProductModel.objects.filter(code__iexact=code).exists():
        raise Conflict(
            "duplicate_code",
            _("A product model %(code)r already exists.") % {"code": code},
            details={"code": code},
        )
    model = ProductModel(
        line=line,
        code=code,
        name=name.strip(),
        parts_warranty_months=parts_warranty_months,
        labour_warranty_months=labour_warranty_months,
        launched_on=launched_on,
        is_active=is_active,
    )
    model.full_clean()
    model.save()
    audit_record(
        actor=actor,
        action="catalog.product_model_created",
        entity="product_model",
        entity_id=model.pk,
        data={
            "code": model.code,
            "line": line.code,
            "parts_warranty_months": parts_warranty_months,
            "labour_warranty_months": labour_warranty_months,
        },
    )
    return model


class ProductModelChanges(TypedDict, total=False):
    """What `product_model_update` may change; the code is fixed (units and exports use it)."""

    line: ProductLine
    name: str
    parts_warranty_months: int
    labour_warranty_months: int
    launched_on: dt.date | None
    is_active: bool


_MODEL_UPDATABLE = frozenset(ProductModelChanges.__annotations__)


def _audit_value(value: Any) -> Any:
    if isinstance(value, ProductLine):
        return value.code
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@transaction.atomic
def product_model_update(
    *, actor: User, product_model: ProductModel, **changes: Unpack[ProductModelChanges]
) -> ProductModel:
    """Change a model's name, line, warranty terms, launch date or whether it is still sold.

    Warranty positions are computed from the model's terms, so changing the months changes the
    warranty of every unit of the model already sold; the audit row keeps before and after.
    """
    require_perm(actor, "catalog.change_productmodel")
    not_allowed = set(changes) - _MODEL_UPDATABLE
    if not_allowed:
        raise ApplicationError(
            "field_not_updatable",
            _("These fields cannot be changed."),
            details={"fields": sorted(not_allowed)},
            status=422,
        )
    for months_field in ("parts_warranty_months", "labour_warranty_months"):
        if months_field in changes:
            _months_check(months_field, changes[months_field])
    model = ProductModel.objects.select_for_update().select_related("line").get(pk=product_model.pk)
    diff: dict[str, dict[str, Any]] = {}
    for name, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        before = getattr(model, name)
        if before != value:
            diff[name] = {"before": _audit_value(before), "after": _audit_value(value)}
            setattr(model, name, value)
    if not diff:
        return model
    model.full_clean()
    model.save(update_fields=[*diff])
    audit_record(
        actor=actor,
        action="catalog.product_model_updated",
        entity="product_model",
        entity_id=model.pk,
        data={"code": model.code, "changes": diff},
    )
    return model


# --- units ---------------------------------------------------------------------------------------


@transaction.atomic
def unit_register(
    *,
    actor: User | None,
    model: ProductModel,
    serial_number: str,
    customer: Customer | None = None,
    purchase_date: dt.date,
    purchase_amount: Decimal,
    currency: str = DEFAULT_CURRENCY,
    sales_channel: str,
    retailer: str = "",
) -> Unit:
    """Register a sold unit (登记产品) by model and serial number, optionally with its owner.

    The serial is stored trimmed and upper-case; a serial already registered for the model is
    `duplicate_serial` (409), also when two registrations race.
    """
    require_perm(actor, "catalog.add_unit", system_allowed=True)
    serial = serial_clean(serial_number)
    purchase_date_check(purchase_date)
    amount = amount_clean(purchase_amount)
    currency = currency_clean(currency)
    channel = sales_channel_clean(sales_channel)
    if customer is not None:
        customer_require_live(customer)
    duplicate = Conflict(
        "duplicate_serial",
        _("Serial number %(serial)s is already registered for model %(model)s.")
        % {"serial": serial, "model": model.code},
        details={"model_code": model.code, "serial_number": serial},
    )
    if Unit.objects.filter(model=model, serial_number=serial).exists():
        raise duplicate
    unit = Unit(
        model=model,
        serial_number=serial,
        customer=customer,
        purchase_date=purchase_date,
        purchase_amount=amount,
        currency=currency,
        sales_channel=channel,
        retailer=retailer.strip(),
        registered_at=clock.now(),
    )
    unit.full_clean()
    try:
        with transaction.atomic():
            unit.save()
    except IntegrityError as exc:  # a concurrent registration won between check and insert
        raise duplicate from exc
    audit_record(
        actor=actor,
        action="unit.registered",
        entity="unit",
        entity_id=unit.pk,
        data={
            "model_code": model.code,
            "serial_number": serial,
            "customer_id": customer.pk if customer else None,
        },
    )
    if customer is not None:
        # A purchase moves the buyer's value tier; re-scored once the registration is committed,
        # and a scoring failure never undoes the registration.
        owner = customer
        transaction.on_commit(lambda: customer_tier_recompute(customer=owner), robust=True)
    return unit


@transaction.atomic
def unit_assign_customer(*, actor: User, unit: Unit, customer: Customer) -> Unit:
    """Record who owns a unit (e.g. an imported unit whose buyer calls in, or a resale).

    The audit row keeps the previous owner.
    """
    require_perm(actor, "catalog.change_unit")
    customer_require_live(customer)
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = unit.customer_id
    if before == customer.pk:
        return unit
    unit.customer = customer
    unit.full_clean()
    unit.save(update_fields=["customer"])
    audit_record(
        actor=actor,
        action="unit.customer_assigned",
        entity="unit",
        entity_id=unit.pk,
        data={"before": before, "after": customer.pk},
    )
    return unit


@transaction.atomic
def unit_warranty_extend(*, actor: User, unit: Unit, months: int, reason: str) -> Unit:
    """Extend both warranties of a unit by `months` (e.g. granted as complaint compensation).

    `invalid_warranty_months` (400) unless 1 to 60 months and the total stays within the
    maximum; the audit row keeps before, after and the reason.
    """
    require_perm(actor, "catalog.change_unit")
    reason = reason.strip()[:200]
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = unit.warranty_extension_months
    if not 1 <= months <= 60 or before + months > MAX_WARRANTY_MONTHS:
        raise ApplicationError(
            "invalid_warranty_months",
            _("A warranty is extended by 1 to 60 months, up to %(max)d in all.")
            % {"max": MAX_WARRANTY_MONTHS},
            details={"months": months, "extended": before},
        )
    unit.warranty_extension_months = before + months
    unit.save(update_fields=["warranty_extension_months"])
    audit_record(
        actor=actor,
        action="unit.warranty_extended",
        entity="unit",
        entity_id=unit.pk,
        customer_id=unit.customer_id,
        data={"before": before, "after": unit.warranty_extension_months, "reason": reason},
    )
    return unit


# --- CSV import of sales records -----------------------------------------------------------------

# {column: reason}, each reason as built by `reasons.reason` (code, message, message_id, params).
RowErrors = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Sheet:
    """The decoded file: data rows as {column: trimmed text}, keyed by spreadsheet row number."""

    rows: list[tuple[int, dict[str, str]]]
    # Rows that had cells beyond the header: refused whatever their columns say.
    ragged: frozenset[int]


@dataclass(frozen=True)
class _SaleRecord:
    """A row whose columns all passed their checks."""

    row: int
    serial_number: str
    model: ProductModel
    purchase_date: dt.date
    amount: Decimal
    currency: str
    sales_channel: str
    retailer: str
    customer_name: str
    phone_hash: str  # blind index of the E.164 number; "" when the row names no customer
    phone: str
    province: str
    city: str
    district: str


@dataclass
class _Outcome:
    created: list[Unit] = field(default_factory=list)
    unchanged: int = 0
    customers_created: int = 0
    errors: dict[int, RowErrors] = field(default_factory=dict)

    def reject(self, row: int, column: str, code: str, message_id: str, **params: Any) -> None:
        self.errors.setdefault(row, {}).setdefault(column, reason(code, message_id, **params))


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _decode(content: bytes) -> str:
    text: str | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    # Binary files (an .xlsx, a picture) often decode as GB18030, but with NUL characters.
    if text is None or "\x00" in text:
        raise ApplicationError(
            "invalid_encoding",
            _("The file is not text in UTF-8 or GB18030; save it as CSV UTF-8 and try again."),
            status=422,
        )
    return text.removeprefix("\ufeff")  # GB18030 files can carry a BOM too


def _header(cells: list[str]) -> list[str]:
    header = [c.strip().lower() for c in cells]
    named = [h for h in header if h]
    if not named:
        raise ApplicationError("empty_file", _("The file has no header row."), status=422)
    repeated = sorted({h for h in named if named.count(h) > 1})
    if repeated:
        raise ApplicationError(
            "duplicate_columns",
            _("Columns appear more than once: %(columns)s.") % {"columns": ", ".join(repeated)},
            details={"columns": repeated},
            status=422,
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in named]
    if missing:
        raise ApplicationError(
            "missing_columns",
            _("The header lacks required columns: %(columns)s.") % {"columns": ", ".join(missing)},
            details={"missing": missing, "required": list(REQUIRED_COLUMNS)},
            status=422,
        )
    unknown = [c for c in named if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise ApplicationError(
            "unknown_columns",
            _("The header has columns this import does not know: %(columns)s.")
            % {"columns": ", ".join(unknown)},
            details={"unknown": unknown, "allowed": [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]},
            status=422,
        )
    return header


def _sheet_read(content: bytes) -> _Sheet:
    """Decode and split the file; refuse it whole if it is too big or not a usable CSV."""
    if len(content) > MAX_IMPORT_BYTES:
        raise ApplicationError(
            "file_too_large",
            _("The file is larger than %(mb)d MB; split it.")
            % {"mb": MAX_IMPORT_BYTES // (1024 * 1024)},
            details={"max_bytes": MAX_IMPORT_BYTES},
            status=413,
        )
    reader = csv.reader(io.StringIO(_decode(content), newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    ragged: set[int] = set()
    try:
        first = next(reader, None)
        if first is None:
            raise ApplicationError("empty_file", _("The file is empty."), status=422)
        header = _header(first)
        # Row numbers count records, as a spreadsheet shows them; the header is row 1.
        for number, cells in enumerate(reader, start=2):
            values = [c.strip() for c in cells]
            if not any(values):
                continue
            if len(rows) == MAX_IMPORT_ROWS:
                raise ApplicationError(
                    "too_many_rows",
                    _("The file has more than %(n)d rows; split it.") % {"n": MAX_IMPORT_ROWS},
                    details={"max_rows": MAX_IMPORT_ROWS},
                    status=413,
                )
            # Cells beyond the header, or under a blank header cell, would be lost silently.
            if any(v and (i >= len(header) or not header[i]) for i, v in enumerate(values)):
                ragged.add(number)
            rows.append(
                (number, {h: (values[i] if i < len(values) else "") for i, h in enumerate(header)})
            )
    except csv.Error as exc:
        raise ApplicationError(
            "invalid_csv",
            _("The file is not valid CSV near line %(line)d: %(error)s.")
            % {"line": reader.line_num, "error": exc},
            details={"line": reader.line_num},
            status=422,
        ) from exc
    if not rows:
        raise ApplicationError("empty_file", _("The file has a header but no rows."), status=422)
    return _Sheet(rows=rows, ragged=frozenset(ragged))


def _models_by_code(sheet: _Sheet) -> dict[str, ProductModel]:
    codes = sorted({values["model_code"].upper() for _, values in sheet.rows})
    found: dict[str, ProductModel] = {}
    for chunk in _chunks(codes):
        for model in ProductModel.objects.annotate(code_upper=Upper("code")).filter(
            code_upper__in=chunk
        ):
            found[model.code.upper()] = model
    return found


def _row_check(
    number: int,
    values: dict[str, str],
    models: dict[str, ProductModel],
    outcome: _Outcome,
) -> _SaleRecord | None:
    """Every column's own rules; problems go to `outcome`, one reason per column."""

    def attempt(column: str, check: Callable[[str], Any], text: str) -> Any:
        try:
            return check(text)
        except FieldInvalid as exc:
            outcome.reject(number, column, exc.code, exc.message_id, **exc.params)
            return None

    serial = attempt("serial_number", serial_clean, values["serial_number"])
    model = models.get(values["model_code"].upper())
    if not values["model_code"]:
        outcome.reject(number, "model_code", "required", "model_code_required")
    elif model is None:
        outcome.reject(
            number, "model_code", "unknown_model", "model_unknown", value=values["model_code"]
        )
    purchase_date = attempt("purchase_date", _date_parse, values["purchase_date"])
    amount = attempt("amount", _amount_parse, values["amount"])
    currency = attempt("currency", currency_clean, values.get("currency") or DEFAULT_CURRENCY)
    channel = attempt("sales_channel", sales_channel_clean, values["sales_channel"])
    for column, limit in _TEXT_LIMITS.items():
        if len(values.get(column, "")) > limit:
            outcome.reject(number, column, "too_long", "text_too_long", n=limit)
    phone_raw = values.get("customer_phone", "")
    phone = attempt("customer_phone", _phone_parse, phone_raw) if phone_raw else ""
    if not phone_raw and any(values.get(c) for c in CUSTOMER_COLUMNS):
        outcome.reject(number, "customer_phone", "required", "phone_required")
    province, city = values.get("province", ""), values.get("city", "")
    if (province or city or values.get("district")) and not (province and city):
        outcome.reject(
            number,
            "city" if province else "province",
            "address_incomplete",
            "address_incomplete",
        )
    if number in outcome.errors:
        return None
    assert serial is not None and model is not None  # no error recorded means both passed
    return _SaleRecord(
        row=number,
        serial_number=serial,
        model=model,
        purchase_date=purchase_date,
        amount=amount,
        currency=currency,
        sales_channel=channel,
        retailer=values.get("retailer", ""),
        customer_name=values.get("customer_name", ""),
        phone=phone or "",
        phone_hash=blind_index(phone, purpose="phone") if phone else "",
        province=province,
        city=city,
        district=values.get("district", ""),
    )


def _date_parse(text: str) -> dt.date:
    if not text:
        raise FieldInvalid("purchase_date", "required", "purchase_date_required")
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise FieldInvalid(
            "purchase_date", "invalid_date", "purchase_date_invalid", value=text
        ) from exc
    return purchase_date_check(day)


def _amount_parse(text: str) -> Decimal:
    if not text:
        raise FieldInvalid("amount", "required", "amount_required")
    try:
        if not _AMOUNT.match(text):
            raise InvalidOperation(text)
        value = Decimal(text)
    except InvalidOperation as exc:
        raise FieldInvalid("amount", "invalid_amount", "amount_format", value=text) from exc
    return amount_clean(value)


def _phone_parse(text: str) -> str:
    """E.164 form of a row's phone; an unusable one is reported as `invalid_phone`."""
    try:
        return normalize_phone(text)
    except ApplicationError as exc:
        raise FieldInvalid("customer_phone", exc.code, "phone_invalid", value=text) from exc


def _duplicates_mark(sheet: _Sheet, outcome: _Outcome) -> None:
    """A unit listed twice is refused in every row: the file does not say which row is right."""
    rows_of: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for number, values in sheet.rows:
        serial = normalize_serial(values["serial_number"])
        if serial and values["model_code"]:
            rows_of[(values["model_code"].upper(), serial)].append(number)
    for (code, serial), numbers in rows_of.items():
        if len(numbers) < 2:
            continue
        listed = ", ".join(str(n) for n in numbers)
        for number in numbers:
            outcome.reject(
                number,
                "serial_number",
                "duplicate_in_file",
                "duplicate_in_file",
                model=code,
                serial=serial,
                rows=listed,
            )


def _existing_units(records: list[_SaleRecord]) -> dict[tuple[int, str], Unit]:
    serials = sorted({r.serial_number for r in records})
    wanted = {(r.model.pk, r.serial_number) for r in records}
    found: dict[tuple[int, str], Unit] = {}
    for chunk in _chunks(serials):
        for unit in Unit.objects.select_related("customer").filter(serial_number__in=chunk):
            key = (unit.model_id, unit.serial_number)
            if key in wanted:
                found[key] = unit
    return found


def _phone_owners(records: Iterable[_SaleRecord]) -> dict[str, dict[int, Customer]]:
    """Live customers by phone blind index; a number on a merged record means the survivor."""
    hashes = sorted({r.phone_hash for r in records if r.phone_hash})
    owners: dict[str, dict[int, Customer]] = defaultdict(dict)
    for chunk in _chunks(hashes):
        contacts = ContactPoint.objects.select_related("customer__merged_into").filter(
            kind=ContactPoint.Kind.PHONE, lookup_hash__in=chunk
        )
        for contact in contacts:
            customer = contact.customer
            while customer.merged_into is not None:
                customer = customer.merged_into
            owners[contact.lookup_hash][customer.pk] = customer
    return owners


def _differences(
    unit: Unit, record: _SaleRecord, owners: dict[str, dict[int, Customer]]
) -> RowErrors:
    """Columns in which the row disagrees with the unit already registered."""
    diffs: RowErrors = {}

    def differ(column: str, registered: object, given: object) -> None:
        diffs[column] = reason(
            "registered_differently",
            "registered_differently",
            registered=str(registered),
            given=str(given),
        )

    if unit.purchase_date != record.purchase_date:
        differ("purchase_date", unit.purchase_date.isoformat(), record.purchase_date.isoformat())
    if unit.purchase_amount != record.amount:
        differ("amount", unit.purchase_amount, record.amount)
    if unit.currency != record.currency:
        differ("currency", unit.currency, record.currency)
    if unit.sales_channel != record.sales_channel:
        differ("sales_channel", unit.sales_channel, record.sales_channel)
    if unit.retailer != record.retailer:
        differ("retailer", repr(unit.retailer), repr(record.retailer))
    # A row without customer columns says nothing about the owner; one with a phone must match.
    if record.phone_hash:
        owner = unit.customer
        owner_id = (owner.merged_into_id or owner.pk) if owner else None
        if owner_id is None:
            diffs["customer_phone"] = reason(
                "registered_differently", "registered_without_customer"
            )
        elif owner_id not in owners.get(record.phone_hash, {}):
            diffs["customer_phone"] = reason(
                "registered_differently", "registered_to_other_customer"
            )
    return diffs


def _customer_for(
    *,
    actor: User | None,
    record: _SaleRecord,
    owners: dict[str, dict[int, Customer]],
    outcome: _Outcome,
) -> tuple[Customer | None, bool]:
    """(customer, usable) for a new unit: found by phone, opened if new, or the row rejected."""
    if not record.phone_hash:
        return None, True
    known = owners.get(record.phone_hash, {})
    if len(known) == 1:
        return next(iter(known.values())), True
    if len(known) > 1:
        same_name = [c for c in known.values() if c.name == record.customer_name]
        if len(same_name) == 1:
            return same_name[0], True
        outcome.reject(
            record.row,
            "customer_phone",
            "ambiguous_customer",
            "ambiguous_customer",
        )
        return None, False
    if not record.customer_name:
        outcome.reject(
            record.row,
            "customer_name",
            "required",
            "customer_name_required",
        )
        return None, False
    address = {
        "province": record.province,
        "city": record.city,
        "district": record.district,
        "street": "",
    }
    customer = customer_create(
        actor=actor,
        name=record.customer_name,
        phones=[record.phone],
        addresses=[address] if record.province else [],
    )
    # Later rows with the same number belong to the customer just opened.
    owners[record.phone_hash] = {customer.pk: customer}
    outcome.customers_created += 1
    return customer, True


@transaction.atomic
def _import_apply(
    *, actor: User | None, filename: str, content: bytes, sheet: _Sheet
) -> UnitImport:
    outcome = _Outcome()
    models = _models_by_code(sheet)
    records = [
        record
        for number, values in sheet.rows
        if (record := _row_check(number, values, models, outcome)) is not None
    ]
    for number in sheet.ragged:
        outcome.reject(number, ROW_KEY, "extra_cells", "extra_cells")
    _duplicates_mark(sheet, outcome)
    records = [r for r in records if r.row not in outcome.errors]
    existing = _existing_units(records)
    owners = _phone_owners(records)
    now = clock.now()
    for record in records:
        unit = existing.get((record.model.pk, record.serial_number))
        if unit is not None:
            diffs = _differences(unit, record, owners)
            if diffs:
                outcome.errors[record.row] = diffs
            else:
                outcome.unchanged += 1
            continue
        customer, usable = _customer_for(actor=actor, record=record, owners=owners, outcome=outcome)
        if not usable:
            continue
        unit = Unit(
            model=record.model,
            serial_number=record.serial_number,
            customer=customer,
            purchase_date=record.purchase_date,
            purchase_amount=record.amount,
            currency=record.currency,
            sales_channel=record.sales_channel,
            retailer=record.retailer,
            registered_at=now,
        )
        # Uniqueness and the foreign keys were settled above; re-querying them per row is waste.
        unit.full_clean(
            exclude=["model", "customer", "import_batch"],
            validate_unique=False,
            validate_constraints=False,
        )
        outcome.created.append(unit)

    serial_of = {number: values["serial_number"] for number, values in sheet.rows}
    rejected = [
        {"row": number, "serial_number": serial_of[number], "errors": errors}
        for number, errors in sorted(outcome.errors.items())
    ]
    batch = UnitImport(
        filename=filename.strip()[:255] or "upload.csv",
        sha256=hashlib.sha256(content).hexdigest(),
        rows_total=len(sheet.rows),
        rows_created=len(outcome.created),
        rows_unchanged=outcome.unchanged,
        rows_rejected=len(rejected),
        customers_created=outcome.customers_created,
        rejected=rejected,
        created_at=now,
        created_by=actor,
    )
    batch.full_clean()
    batch.save()
    for unit in outcome.created:
        unit.import_batch = batch
    Unit.objects.bulk_create(outcome.created, batch_size=_CHUNK)
    # The buyers' value tiers are re-scored once, together, after the import is committed.
    buyers = sorted({u.customer_id for u in outcome.created if u.customer_id is not None})
    if buyers:
        transaction.on_commit(lambda: customers_tier_recompute(customer_ids=buyers), robust=True)
    audit_record(
        actor=actor,
        action="units.imported",
        entity="unit_import",
        entity_id=batch.pk,
        data={
            "filename": batch.filename,
            "sha256": batch.sha256,
            "rows_total": batch.rows_total,
            "rows_created": batch.rows_created,
            "rows_unchanged": batch.rows_unchanged,
            "rows_rejected": batch.rows_rejected,
            "customers_created": batch.customers_created,
        },
    )
    return batch


def units_import_csv(*, actor: User | None, filename: str, content: bytes) -> UnitImport:
    """Import a CSV of sales records (导入销售记录): register every valid row, report the rest.

    The file as a whole is refused (nothing written) when it is too large, has too many rows, is
    not UTF-8/GB18030 CSV, or its header lacks or misnames columns. Otherwise every row is
    checked, the valid ones are imported in one transaction, and the returned `UnitImport` holds
    the counts and each rejected row's number and reasons per column. Rows already imported
    with identical data count as unchanged, so importing a file twice creates nothing new.
    See the module docstring for the format. Needs `catalog.import_units`.
    """
    require_perm(actor, "catalog.import_units", system_allowed=True)
    sheet = _sheet_read(content)
    try:
        return _import_apply(actor=actor, filename=filename, content=content, sheet=sheet)
    except IntegrityError as exc:
        # Only a registration running at the same time can collide with a checked row.
        raise Conflict(
            "import_conflict",
            _("Some of these units were registered while the file was imported; import it again."),
        ) from exc
