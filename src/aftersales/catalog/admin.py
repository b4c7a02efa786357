"""Administration of the product catalogue: lines and models with their warranty terms."""

from django.contrib import admin

from .models import ProductLine, ProductModel


@admin.register(ProductLine)
class ProductLineAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name_zh", "name_en")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(ProductModel)
class ProductModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "code",
        "name",
        "line",
        "parts_warranty_months",
        "labour_warranty_months",
        "is_active",
    )
    list_filter = ("line", "is_active")
    search_fields = ("code", "name")
