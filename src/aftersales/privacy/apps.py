from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Data-subject rights (PIPL/GDPR): export, erasure, retention, consent."""

    name = "aftersales.privacy"
    verbose_name = _("Privacy")
