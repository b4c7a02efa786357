"""Spare parts (备品配件管理): catalogue, stock ledger, allocation, classification, forecasting
and replenishment.

Stock is an append-only ledger of movements (`StockMovement`); `StockBalance` holds the running
quantities per part, location and stock kind, with the invariants backed by database
constraints (`on_hand >= 0`, `0 <= reserved <= on_hand`, `in_transit >= 0`). Every change of a
balance goes through `parts.services`, which locks the balance rows in primary-key order and
writes the movement in the same transaction, so stock is never oversold and never lost.

Requests that stock cannot cover wait as `Backorder`s, served by tier (VIP first) and then by
the case's SLA due time whenever stock arrives or is released.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aftersales.customers.models import Tier


class Part(models.Model):
    """A spare part (备件) that can be stocked, reserved and issued to service work.

    A part `superseded_by` a newer one is no longer bought; its demand history counts as the
    newer part's (forecasts and classification follow the chain to its end).
    """

    number = models.CharField(_("part number"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    compatible_models = models.ManyToManyField(
        "catalog.ProductModel",
        blank=True,
        related_name="parts",
        verbose_name=_("compatible product models"),
    )
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supersedes",
        verbose_name=_("superseded by"),
    )
    is_critical = models.BooleanField(
        pgettext_lazy("part", "critical"),
        default=False,
        help_text=_("A repair cannot be finished without it."),
    )
    is_repairable = models.BooleanField(
        _("repairable"),
        default=False,
        help_text=_("Defective returns can be refurbished and stocked again."),
    )
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    # Parts a repair of these models needs per failure, for the installed-base forecast.
    usage_per_repair = models.DecimalField(
        _("parts per repair"), max_digits=6, decimal_places=2, default=Decimal("1")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    # Classification (recomputed on a schedule; `ClassificationChange` keeps the history).
    abc_class = models.CharField(_("ABC class"), max_length=1, blank=True)
    xyz_class = models.CharField(_("XYZ class"), max_length=1, blank=True)
    sbc_class = models.CharField(_("demand pattern"), max_length=12, blank=True)
    classified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        permissions = [
            ("reserve_part", "Can reserve parts for cases and issue them"),
            ("move_stock", "Can receive, transfer, adjust, scrap and count stock"),
            ("plan_parts", "Can run forecasts and classification, enter events and overrides"),
            ("approve_replenishment", "Can approve purchase orders and transfer suggestions"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="parts_part_cost"),
            models.CheckConstraint(
                condition=~Q(superseded_by=F("pk")), name="parts_part_not_self_superseded"
            ),
            models.CheckConstraint(
                condition=Q(usage_per_repair__gt=0), name="parts_part_usage_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name_en}"


class Supplier(models.Model):
    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class PartSupplier(models.Model):
    """Who sells a part, at what price, how fast and in what quantities."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="sources")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="parts")
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"))
    min_order_qty = models.PositiveIntegerField(_("minimum order quantity"), default=1)
    order_multiple = models.PositiveIntegerField(_("order multiple"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    is_preferred = models.BooleanField(_("preferred"), default=False)

    class Meta:
        ordering = ["part", "-is_preferred", "lead_time_days"]
        constraints = [
            models.UniqueConstraint(fields=["part", "supplier"], name="parts_one_source_each"),
            models.UniqueConstraint(
                fields=["part"], condition=Q(is_preferred=True), name="parts_one_preferred"
            ),
            models.CheckConstraint(
                condition=Q(min_order_qty__gte=1, order_multiple__gte=1, unit_price__gte=0),
                name="parts_source_quantities",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_id}@{self.supplier_id}"


class LocationKind(models.TextChoices):
    CENTRAL = "central", _("Central warehouse")
    REGIONAL = "regional", _("Regional warehouse")
    OUTLET = "outlet", _("Service outlet")
    VAN = "van", _("Technician's van")


class Location(models.Model):
    """A place stock is kept: the central warehouse, regional warehouses, outlets, vans.

    `supplied_from` is where it is replenished from (transfers); a location without one buys
    from suppliers.
    """

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=LocationKind.choices)
    region = models.CharField(_("region"), max_length=10, blank=True)
    supplied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supplies",
        verbose_name=_("replenished from"),
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The technician whose van this is.
    keeper = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vans",
    )
    # Days a transfer from `supplied_from` takes.
    transfer_days = models.PositiveSmallIntegerField(_("transfer time (days)"), default=2)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(supplied_from=F("pk")), name="parts_location_not_own_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StockKind(models.TextChoices):
    NEW = "new", pgettext_lazy("stock kind", "New")
    REFURBISHED = "refurbished", _("Refurbished")
    LOAN = "loan", _("Loan pool")
    DEFECTIVE = "defective", _("Defective, awaiting return")


class StockBalance(models.Model):
    """Running quantities of one part, at one location, of one stock kind.

    `available` = `on_hand - reserved`. `in_transit` is stock shipped to this location and not
    yet received. Only `parts.services` changes these rows, always with a ledger movement.
    """

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="balances")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="balances")
    kind = models.CharField(max_length=12, choices=StockKind.choices)
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    in_transit = models.IntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["part", "location", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["part", "location", "kind"], name="parts_one_balance_each"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="parts_on_hand_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="parts_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="parts_reserved_within_on_hand"
            ),
            models.CheckConstraint(
                condition=Q(in_transit__gte=0), name="parts_in_transit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_id}@{self.location_id}/{self.kind}: {self.on_hand}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class AdjustmentReason(models.TextChoices):
    CYCLE_COUNT = "cycle_count", _("Cycle count")
    FOUND = "found", _("Found")
    LOST = "lost", _("Lost")
    DAMAGED = "damaged", _("Damaged in storage")
    CORRECTION = "correction", _("Booking error corrected")
    OPENING = "opening", _("Opening balance")


class StockMovement(models.Model):
    """One line of the append-only stock ledger (库存流水): what changed, where, by whom, why.

    `quantity` is the change of `on_hand`, `reserved_change` of `reserved` and
    `in_transit_change` of `in_transit` on the balance row; the `*_after` columns are that row
    after the movement. Rows are never updated or deleted.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        RESERVE = "reserve", _("Reservation")
        RELEASE = "release", _("Reservation released")
        EXPIRE = "expire", _("Reservation expired")
        ISSUE = "issue", _("Issue to a case")
        RETURN = "return", _("Return from a case")
        TRANSFER_OUT = "transfer_out", _("Transfer shipped")
        TRANSFER_IN = "transfer_in", _("Transfer received")
        ADJUSTMENT = "adjustment", _("Adjustment")
        SCRAP = "scrap", _("Scrap")
        DEFECTIVE_IN = "defective_in", _("Defective part taken back")
        DEFECTIVE_OUT = "defective_out", _("Defective part returned to supplier")
        REFURBISH = "refurbish", _("Refurbished")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    stock_kind = models.CharField(max_length=12, choices=StockKind.choices)
    quantity = models.IntegerField(default=0)
    reserved_change = models.IntegerField(default=0)
    in_transit_change = models.IntegerField(default=0)
    on_hand_after = models.IntegerField()
    reserved_after = models.IntegerField()
    in_transit_after = models.IntegerField()
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="part_movements"
    )
    reservation = models.ForeignKey(
        "Reservation", null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    transfer = models.ForeignKey(
        "Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    purchase_order = models.ForeignKey(
        "PurchaseOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    count = models.ForeignKey(
        "CycleCount", null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    reason = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["part", "kind", "occurred_at"], name="parts_mv_demand"),
            models.Index(fields=["location", "occurred_at"], name="parts_mv_location"),
            # The ledger newest first, and its first day (go-live for weekly demand).
            models.Index(fields=["occurred_at", "id"], name="parts_mv_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(quantity=0, reserved_change=0, in_transit_change=0),
                name="parts_movement_changes_something",
            ),
            models.CheckConstraint(
                condition=Q(on_hand_after__gte=0, reserved_after__gte=0, in_transit_after__gte=0),
                name="parts_movement_after_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.part_id}@{self.location_id} {self.quantity:+d}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("stock movements are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("stock movements are append-only")


class DemandHistory(models.Model):
    """Monthly demand brought over from the system used before this one (a go-live import).

    Forecasting and classification read it together with the ledger's own issues, so planning
    works from the first day; months the ledger covers are taken from the ledger.
    """

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="history")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    quantity = models.PositiveIntegerField()
    imported_at = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["part", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["part", "location", "month"],
                name="parts_one_history_month",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="parts_history_month_start"),
        ]

    def __str__(self) -> str:
        return f"{self.part_id} {self.month:%Y-%m}: {self.quantity}"


# Which stock kinds a request may use, in the order tried, by the customer's value tier
# (PRODUCT.md §3: VIP new parts first on scarce stock; low-value customers are offered
# refurbished or loan parts first).
KIND_PREFERENCE: dict[str, list[str]] = {
    Tier.VIP: [StockKind.NEW],
    Tier.REGULAR: [StockKind.NEW, StockKind.REFURBISHED],
    Tier.LOW: [StockKind.REFURBISHED, StockKind.LOAN, StockKind.NEW],
}
TIER_RANK = {Tier.VIP: 0, Tier.REGULAR: 1, Tier.LOW: 2}


class TargetMode(models.TextChoices):
    CLASS = "class", _("Each class policy's target")
    SYSTEM = "system", _("One network fill rate, allocated by cost")


class PartsSettings(models.Model):
    """The parts department's settings (one row)."""

    reservation_hours = models.PositiveSmallIntegerField(
        _("reservations expire after (hours)"), default=48
    )
    periods_per_year = models.PositiveSmallIntegerField(default=12, editable=False)
    forecast_horizon = models.PositiveSmallIntegerField(_("forecast horizon (months)"), default=12)
    history_months = models.PositiveSmallIntegerField(_("history used (months)"), default=36)
    # ABC by share of annual usage value; XYZ by the coefficient of variation of monthly demand.
    abc_a_share = models.DecimalField(
        _("A: top share of usage value"), max_digits=4, decimal_places=2, default=Decimal("0.80")
    )
    abc_b_share = models.DecimalField(
        _("B: up to share of usage value"), max_digits=4, decimal_places=2, default=Decimal("0.95")
    )
    xyz_x_cv = models.DecimalField(
        _("X: variation at most"), max_digits=4, decimal_places=2, default=Decimal("0.50")
    )
    xyz_y_cv = models.DecimalField(
        _("Y: variation at most"), max_digits=4, decimal_places=2, default=Decimal("1.00")
    )
    # Syntetos-Boylan-Croston cut-offs.
    sbc_adi = models.DecimalField(
        _("ADI cut-off"), max_digits=4, decimal_places=2, default=Decimal("1.32")
    )
    sbc_cv2 = models.DecimalField(
        _("CV² cut-off"), max_digits=4, decimal_places=2, default=Decimal("0.49")
    )
    # Yearly cost of holding stock, as a share of its value (the stock-cost curve).
    holding_rate = models.DecimalField(
        _("holding cost per year (share of value)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.25"),
    )
    # Stock targets: each class policy's own service target, or one network fill rate spent
    # where it fills the most units per yuan (the curve's allocation; critical parts keep at
    # least their class target).
    target_mode = models.CharField(
        _("stock targets from"),
        max_length=10,
        choices=TargetMode.choices,
        default=TargetMode.CLASS,
    )
    system_fill_rate = models.DecimalField(
        _("network fill rate (system allocation)"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.950"),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("parts settings")
        verbose_name_plural = _("parts settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(abc_a_share__gt=0, abc_a_share__lt=F("abc_b_share"), abc_b_share__lt=1),
                name="parts_settings_abc",
            ),
            models.CheckConstraint(
                condition=Q(xyz_x_cv__gt=0, xyz_x_cv__lt=F("xyz_y_cv")), name="parts_settings_xyz"
            ),
            models.CheckConstraint(
                condition=Q(reservation_hours__gte=1, forecast_horizon__gte=1),
                name="parts_settings_positive",
            ),
            models.CheckConstraint(
                condition=Q(system_fill_rate__gt=Decimal("0.5"), system_fill_rate__lt=1),
                name="parts_settings_system_fill_rate",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Parts settings"))


class Reservation(models.Model):
    """Stock held for a case until it is issued, released or expires."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Reserved")
        ISSUED = "issued", _("Issued")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Expired")

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="reservations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="reservations")
    stock_kind = models.CharField(max_length=12, choices=StockKind.choices)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    issued_quantity = models.PositiveIntegerField(default=0)
    # Issued parts brought back unused.
    returned_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    backorder = models.OneToOneField(
        "Backorder", null=True, blank=True, on_delete=models.PROTECT, related_name="reservation"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="active"), name="parts_res_expiry"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="parts_res_quantity"),
            models.CheckConstraint(
                condition=Q(issued_quantity__lte=F("quantity")), name="parts_res_issued_within"
            ),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("issued_quantity")),
                name="parts_res_returned_within",
            ),
        ]

    def __str__(self) -> str:
        return f"reservation {self.pk} ({self.status})"

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.issued_quantity


class Backorder(models.Model):
    """A request stock could not cover, waiting its turn: VIP first, then the earliest SLA due
    time, then the earliest request."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        FILLED = "filled", _("Filled")
        CANCELLED = "cancelled", _("Cancelled")

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="backorders")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="backorders")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="backorders")
    quantity = models.PositiveIntegerField()
    tier = models.CharField(max_length=10, choices=Tier.choices)
    tier_rank = models.PositiveSmallIntegerField()
    # The case's earliest running SLA due time when the request was made (none: last).
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Stock kinds acceptable for this request, in order of preference.
    kinds = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tier_rank", F("sla_due_at").asc(nulls_last=True), "created_at", "id"]
        indexes = [
            models.Index(
                fields=["part", "location", "tier_rank", "sla_due_at", "created_at"],
                condition=Q(status="waiting"),
                name="parts_backorder_queue",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="parts_bo_quantity"),
        ]

    def __str__(self) -> str:
        return f"backorder {self.pk} ({self.status})"


class Transfer(models.Model):
    """Stock moved between two locations: shipped (in transit), then received."""

    class Status(models.TextChoices):
        SUGGESTED = "suggested", _("Suggested")
        IN_TRANSIT = "in_transit", _("In transit")
        RECEIVED = "received", pgettext_lazy("goods", "Received")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(max_length=20, unique=True)
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(max_length=12, choices=Status.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Why the system suggested it (positions, targets), for the approver.
    reason = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=F("destination")), name="parts_transfer_two_places"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    stock_kind = models.CharField(max_length=12, choices=StockKind.choices, default="new")
    quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="parts_tl_quantity"),
            models.UniqueConstraint(
                fields=["transfer", "part", "stock_kind"], name="parts_tl_one_line_each"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.part_id} x{self.quantity}"


class CycleCount(models.Model):
    """A count of some parts at one location; posting it books the differences."""

    class Status(models.TextChoices):
        OPEN = "open", _("Counting")
        POSTED = "posted", _("Posted")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(max_length=20, unique=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="counts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class CycleCountLine(models.Model):
    count = models.ForeignKey(CycleCount, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    stock_kind = models.CharField(max_length=12, choices=StockKind.choices, default="new")
    # The book quantity when the count started, and what was found.
    expected = models.IntegerField()
    counted = models.IntegerField(null=True, blank=True)
    counted_at = models.DateTimeField(null=True, blank=True)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["count", "part", "stock_kind"], name="parts_ccl_one_line_each"
            ),
            models.CheckConstraint(
                condition=Q(counted__isnull=True) | Q(counted__gte=0), name="parts_ccl_counted"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.count_id}: {self.part_id} {self.counted}/{self.expected}"


# --- classification and policies ------------------------------------------------------------


class SbcClass(models.TextChoices):
    SMOOTH = "smooth", _("Smooth")
    ERRATIC = "erratic", _("Erratic")
    INTERMITTENT = "intermittent", _("Intermittent")
    LUMPY = "lumpy", _("Lumpy")
    INSUFFICIENT = "insufficient", _("Too little history")


class ClassificationRun(models.Model):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parts = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"classification {self.started_at:%Y-%m-%d %H:%M}"


class ClassificationChange(models.Model):
    """A part moving between classes (append-only history)."""

    run = models.ForeignKey(ClassificationRun, on_delete=models.CASCADE, related_name="changes")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="class_changes")
    dimension = models.CharField(max_length=3)  # abc, xyz, sbc
    old = models.CharField(max_length=12, blank=True)
    new = models.CharField(max_length=12)
    # The figures behind the new class (usage value, share, ADI, CV², CV).
    figures = models.JSONField(default=dict)

    class Meta:
        ordering = ["-run_id", "part_id", "dimension"]

    def __str__(self) -> str:
        return f"{self.part_id} {self.dimension}: {self.old}->{self.new}"


class StockPolicy(models.Model):
    """How one class of parts is managed; the first active match by rank wins.

    A blank `abc_class` / `sbc_class` or a null `critical` matches any part.
    """

    class Measure(models.TextChoices):
        FILL_RATE = "fill_rate", _("Fill rate")
        CYCLE = "cycle", _("Cycle service level")

    class Method(models.TextChoices):
        ORDER_UP_TO = "order_up_to", _("Periodic review, order up to (R, S)")
        REORDER_POINT = "reorder_point", _("Reorder point, order up to (s, S)")
        ON_DEMAND = "on_demand", _("Order on demand, no stock")

    class Storage(models.TextChoices):
        CENTRAL = "central", _("Central warehouse only")
        REGIONAL = "regional", _("Regional warehouses")
        FORWARD = "forward", _("Forward: outlets and vans")

    name = models.CharField(pgettext_lazy("thing", "name"), max_length=100)
    rank = models.PositiveIntegerField(_("rank"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    abc_class = models.CharField(_("ABC class"), max_length=1, blank=True)
    sbc_class = models.CharField(
        _("demand pattern"), max_length=12, choices=SbcClass.choices, blank=True
    )
    critical = models.BooleanField(pgettext_lazy("part", "critical"), null=True, blank=True)
    service_measure = models.CharField(
        _("service measure"), max_length=10, choices=Measure.choices, default=Measure.FILL_RATE
    )
    service_target = models.DecimalField(
        _("service target"), max_digits=4, decimal_places=3, default=Decimal("0.950")
    )
    forecast_method = models.CharField(_("forecasting"), max_length=30, default="auto")
    review_days = models.PositiveSmallIntegerField(_("review period (days)"), default=30)
    method = models.CharField(
        _("replenishment"), max_length=14, choices=Method.choices, default=Method.ORDER_UP_TO
    )
    storage = models.CharField(
        _("storage"), max_length=10, choices=Storage.choices, default=Storage.REGIONAL
    )

    class Meta:
        ordering = ["rank", "id"]
        verbose_name_plural = _("stock policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(service_target__gt=Decimal("0.5"), service_target__lt=1),
                name="parts_policy_target",
            ),
            models.CheckConstraint(condition=Q(review_days__gte=1), name="parts_policy_review"),
        ]

    def __str__(self) -> str:
        return self.name


# --- forecasting ----------------------------------------------------------------------------


class DemandEvent(models.Model):
    """A known cause that moves demand (a recall, a model launch, a promotion) and its expected
    effect on the parts it touches, applied to forecasts for the months it covers."""

    class Kind(models.TextChoices):
        RECALL = "recall", _("Recall")
        LAUNCH = "launch", _("New model launch")
        PROMOTION = "promotion", _("Promotion")
        OTHER = "other", _("Other")

    name = models.CharField(pgettext_lazy("thing", "name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    part = models.ForeignKey(
        Part, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    product_model = models.ForeignKey(
        "catalog.ProductModel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    # Demand multiplied by `factor`, plus `extra_units` per month.
    factor = models.DecimalField(_("factor"), max_digits=6, decimal_places=2, default=Decimal("1"))
    extra_units = models.DecimalField(
        _("extra units per month"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(part__isnull=False) | Q(product_model__isnull=False),
                name="parts_event_has_target",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="parts_event_period"
            ),
            models.CheckConstraint(condition=Q(factor__gte=0), name="parts_event_factor"),
        ]

    def __str__(self) -> str:
        return self.name


class ForecastOverride(models.Model):
    """A planner's quantity for some months of a part's forecast, with a reason, until expiry."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="overrides")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    starts_on = models.DateField(_("from month"))
    ends_on = models.DateField(_("until month"))
    quantity = models.DecimalField(_("units per month"), max_digits=10, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=500)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(_("expires"))
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="parts_override_quantity"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="parts_override_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_id} {self.starts_on}..{self.ends_on}: {self.quantity}"


class ForecastRun(models.Model):
    """One forecasting run over every active part; its progress is shown while it runs."""

    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("forecast run", "Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The first month forecast, and the number of months.
    origin = models.DateField()
    horizon = models.PositiveSmallIntegerField()
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"forecast {self.origin:%Y-%m} ({self.status})"


class Forecast(models.Model):
    """A part's forecast from one run, network-wide (`location` null) or for one location.

    `months` holds one entry per month from the run's origin:
    `{"month": "2026-12-01", "base": 1.2, "mean": 1.5, "p50": 1, "p90": 3, "p95": 4}` where
    `base` is the statistical forecast and `mean` the one after events and overrides.
    """

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="forecasts")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="forecasts")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    method = models.CharField(max_length=60)
    sbc_class = models.CharField(max_length=12, blank=True)
    months = models.JSONField(default=list)
    # Backtest scores per candidate method, and the spread of its errors (the distribution).
    backtest = models.JSONField(default=dict)
    dispersion = models.FloatField(default=0)
    installed_base = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["part_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "part", "location"], name="parts_one_forecast_per_run"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_id}@{self.location_id or 'all'} ({self.method})"


class ForecastAccuracy(models.Model):
    """How a forecast made at `made_on` for `month` compared with what was issued."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="accuracy")
    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    lead_months = models.PositiveSmallIntegerField()
    forecast = models.FloatField()
    actual = models.FloatField()
    abc_class = models.CharField(max_length=1, blank=True)
    sbc_class = models.CharField(max_length=12, blank=True)
    method = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["month", "part_id"]
        constraints = [
            models.UniqueConstraint(fields=["part", "run", "month"], name="parts_one_accuracy_row"),
        ]

    def __str__(self) -> str:
        return f"{self.part_id} {self.month}: {self.forecast} vs {self.actual}"


# --- replenishment --------------------------------------------------------------------------


class StockTarget(models.Model):
    """Reorder point and order-up-to level of a part at a location, from the latest forecast's
    lead-time demand distribution and the class policy's service target."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="targets")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="targets")
    policy = models.ForeignKey(
        StockPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reorder_point = models.PositiveIntegerField()
    order_up_to = models.PositiveIntegerField()
    lead_time_days = models.PositiveSmallIntegerField()
    service_target = models.DecimalField(max_digits=4, decimal_places=3)
    expected_fill_rate = models.FloatField(default=0)
    forecast = models.ForeignKey(
        Forecast, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["part", "location"]
        constraints = [
            models.UniqueConstraint(fields=["part", "location"], name="parts_one_target_each"),
            models.CheckConstraint(
                condition=Q(order_up_to__gte=F("reorder_point")), name="parts_target_levels"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.part_id}@{self.location_id}: {self.reorder_point}/{self.order_up_to}"


class PurchaseOrder(models.Model):
    """An order to a supplier: drafted by replenishment (or by hand), approved by a warehouse
    user, then received line by line."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")
        RECEIVED = "received", pgettext_lazy("goods", "Received")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(max_length=20, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expected_on = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    received_quantity = models.PositiveIntegerField(default=0)
    # Why replenishment asked for it: position, reorder point, order-up-to, MOQ rounding.
    reason = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="parts_pol_quantity"),
            models.CheckConstraint(
                condition=Q(received_quantity__lte=F("quantity")), name="parts_pol_received"
            ),
            models.UniqueConstraint(fields=["order", "part"], name="parts_pol_one_line_each"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.part_id} x{self.quantity}"
