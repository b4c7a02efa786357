from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "aftersales.catalog"
    label = "catalog"
    verbose_name = "Products and warranty"
