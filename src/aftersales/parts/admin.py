"""Administration of the parts catalogue, suppliers, locations, stock policies, the parts
settings and demand events; the stock ledger can be read here, never written."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from aftersales.core import clock

from . import forecasting
from .models import (
    DemandEvent,
    Location,
    Part,
    PartsSettings,
    PartSupplier,
    StockMovement,
    StockPolicy,
    Supplier,
)
from .planning import AUTO, INSTALLED_BASE


class PartSupplierInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PartSupplier
    extra = 0
    fields = (
        "supplier",
        "lead_time_days",
        "min_order_qty",
        "order_multiple",
        "unit_price",
        "is_preferred",
    )
    autocomplete_fields = ("supplier",)


@admin.register(Part)
class PartAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "number",
        "name_zh",
        "name_en",
        "unit_cost",
        "is_critical",
        "is_repairable",
        "abc_class",
        "xyz_class",
        "sbc_class",
        "is_active",
    )
    list_filter = ("is_active", "is_critical", "is_repairable", "abc_class", "sbc_class")
    search_fields = ("number", "name_zh", "name_en")
    filter_horizontal = ("compatible_models",)
    inlines = (PartSupplierInline,)
    # Classes come from classification runs; supersession goes through `part_supersede`, which
    # refuses cycles.
    readonly_fields = (
        "superseded_by",
        "abc_class",
        "xyz_class",
        "sbc_class",
        "classified_at",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("number", "name_zh", "name_en", "is_active", "superseded_by")}),
        (
            _("Use"),
            {
                "fields": (
                    "compatible_models",
                    "usage_per_repair",
                    "is_critical",
                    "is_repairable",
                    "unit_cost",
                    "currency",
                )
            },
        ),
        (
            _("Classification"),
            {"fields": ("abc_class", "xyz_class", "sbc_class", "classified_at", "created_at")},
        ),
    )

    def save_model(self, request: HttpRequest, obj: Part, form: Any, change: bool) -> None:
        if not change:
            obj.created_at = clock.now()
        super().save_model(request, obj, form, change)


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "email", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "kind", "region", "supplied_from", "transfer_days", "is_active")
    list_filter = ("kind", "is_active", "region")
    search_fields = ("code", "name")
    autocomplete_fields = ("supplied_from", "team", "keeper")


def _forecast_methods() -> list[tuple[str, str]]:
    return [
        (AUTO, str(_("Automatic (best by backtest)"))),
        (INSTALLED_BASE, str(_("Installed base"))),
        *((c, c) for c in forecasting.CANDIDATES),
    ]


class StockPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    # A free-text method would silently fall back to the automatic choice: offer the known ones.
    forecast_method = forms.ChoiceField(label=_("forecasting"), choices=_forecast_methods)

    class Meta:
        model = StockPolicy
        fields = (
            "name",
            "rank",
            "is_active",
            "abc_class",
            "sbc_class",
            "critical",
            "service_measure",
            "service_target",
            "method",
            "review_days",
            "storage",
            "forecast_method",
        )


@admin.register(StockPolicy)
class StockPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = StockPolicyForm
    list_display = (
        "rank",
        "name",
        "is_active",
        "abc_class",
        "sbc_class",
        "critical",
        "service_measure",
        "service_target",
        "method",
        "storage",
        "forecast_method",
    )
    list_display_links = ("name",)
    list_editable = ("rank", "is_active")
    list_filter = ("is_active", "abc_class", "sbc_class", "method", "storage")
    ordering = ("rank", "id")
    fieldsets = (
        (None, {"fields": ("name", "rank", "is_active")}),
        (_("Matches (blank: any)"), {"fields": ("abc_class", "sbc_class", "critical")}),
        (
            _("Policy"),
            {
                "fields": (
                    "service_measure",
                    "service_target",
                    "method",
                    "review_days",
                    "storage",
                    "forecast_method",
                )
            },
        ),
    )


@admin.register(PartsSettings)
class PartsSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One row: it can be changed, never added twice or deleted."""

    list_display = (
        "__str__",
        "reservation_hours",
        "forecast_horizon",
        "history_months",
        "abc_a_share",
        "abc_b_share",
        "holding_rate",
    )
    # Where targets come from is chosen on the service-curve page (audited, recomputes).
    readonly_fields = ("updated_at", "target_mode", "system_fill_rate")
    fieldsets = (
        (_("Reservations"), {"fields": ("reservation_hours",)}),
        (_("Forecasting"), {"fields": ("forecast_horizon", "history_months")}),
        (
            _("Classification"),
            {
                "fields": (
                    "abc_a_share",
                    "abc_b_share",
                    "xyz_x_cv",
                    "xyz_y_cv",
                    "sbc_adi",
                    "sbc_cv2",
                )
            },
        ),
        (_("Stock cost"), {"fields": ("holding_rate",)}),
        (_("Stock targets"), {"fields": ("target_mode", "system_fill_rate")}),
        (None, {"fields": ("updated_at",)}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not PartsSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DemandEvent)
class DemandEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "kind",
        "part",
        "product_model",
        "starts_on",
        "ends_on",
        "factor",
        "extra_units",
        "is_active",
    )
    list_filter = ("is_active", "kind")
    search_fields = ("name", "part__number")
    autocomplete_fields = ("part",)
    readonly_fields = ("created_at", "created_by")
    fields = (
        "name",
        "kind",
        "part",
        "product_model",
        "starts_on",
        "ends_on",
        "factor",
        "extra_units",
        "is_active",
        "created_at",
        "created_by",
    )

    def save_model(self, request: HttpRequest, obj: DemandEvent, form: Any, change: bool) -> None:
        if not change:
            obj.created_at = clock.now()
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The ledger is append-only: readable here, written only by the stock services."""

    list_display = (
        "occurred_at",
        "kind",
        "part",
        "location",
        "stock_kind",
        "quantity",
        "reserved_change",
        "in_transit_change",
        "on_hand_after",
        "case",
        "actor",
    )
    list_filter = ("kind", "stock_kind", "location")
    search_fields = ("part__number", "note")
    date_hierarchy = "occurred_at"
    list_select_related = ("part", "location", "case", "actor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
