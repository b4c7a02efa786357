"""Product lines, models with warranty terms, and registered units (serial numbers)."""

import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _


class ProductLine(models.Model):
    """Fridge, air conditioner, TV, washing machine, smart watch, band, ..."""

    code = models.SlugField(max_length=30, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_en

    def localized_name(self, language: str) -> str:
        return self.name_zh if language.startswith("zh") else self.name_en


class ProductModel(models.Model):
    """A sellable model with its standard warranty terms."""

    line = models.ForeignKey(ProductLine, on_delete=models.PROTECT, related_name="models")
    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    parts_warranty_months = models.PositiveSmallIntegerField(default=12)
    labour_warranty_months = models.PositiveSmallIntegerField(default=12)
    launched_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            # Sales exports spell model codes in any case; "bcd-520" and "BCD-520" are one model.
            models.UniqueConstraint(Upper("code"), name="catalog_model_code_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SalesChannel(models.TextChoices):
    ONLINE = "online", _("Online store")
    RETAIL = "retail", _("Retail store")
    DEALER = "dealer", _("Dealer")
    PROJECT = "project", _("Corporate / project sale")
    OTHER = "other", _("Other")


class Unit(models.Model):
    """A registered unit (serial number) in a customer's hands."""

    model = models.ForeignKey(ProductModel, on_delete=models.PROTECT, related_name="units")
    serial_number = models.CharField(max_length=60, db_index=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="units"
    )
    purchase_date = models.DateField()
    purchase_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="CNY")
    sales_channel = models.CharField(
        max_length=10, choices=SalesChannel.choices, default=SalesChannel.RETAIL
    )
    retailer = models.CharField(max_length=200, blank=True)
    registered_at = models.DateTimeField()
    import_batch = models.ForeignKey(
        "UnitImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="units"
    )
    # Months added to both warranties, e.g. granted as compensation for a complaint.
    warranty_extension_months = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "serial_number"], name="catalog_unit_serial"),
            models.CheckConstraint(
                condition=models.Q(purchase_amount__gte=0), name="catalog_unit_amount_nonneg"
            ),
        ]
        permissions = [("import_units", "Can import units from sales records")]

    def __str__(self) -> str:
        return f"{self.model.code} #{self.serial_number}"

    @property
    def parts_warranty_end(self) -> dt.date:
        months = self.model.parts_warranty_months + self.warranty_extension_months
        return add_months(self.purchase_date, months)

    @property
    def labour_warranty_end(self) -> dt.date:
        months = self.model.labour_warranty_months + self.warranty_extension_months
        return add_months(self.purchase_date, months)


class UnitImport(models.Model):
    """One import of a CSV of sales records, with its report of rejected rows."""

    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    customers_created = models.PositiveIntegerField(default=0)
    # [{"row": n, "serial_number": "...", "errors": {column: reason}}], each reason
    # {"code", "message" (English), "message_id", "params"} as `reasons.reason` builds it.
    rejected = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    rows_total=models.F("rows_created")
                    + models.F("rows_unchanged")
                    + models.F("rows_rejected")
                ),
                name="catalog_import_rows_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.created_at:%Y-%m-%d})"


def normalize_serial(raw: str) -> str:
    """The stored form of a serial number: no surrounding blanks, upper case (labels vary)."""
    return (raw or "").strip().upper()


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    result: dt.date = day + relativedelta(months=months)
    return result
