from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartsConfig(AppConfig):
    """Spare parts (备品配件管理): stock ledger, allocation, forecasting, replenishment."""

    name = "aftersales.parts"
    verbose_name = _("Spare parts")
