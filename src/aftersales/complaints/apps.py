from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    """Complaints and disputes (投诉/纠纷): evaluation, independent review, compensation."""

    name = "aftersales.complaints"
    verbose_name = _("Complaints")
