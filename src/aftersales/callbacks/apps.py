from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallbacksConfig(AppConfig):
    """Return visits (回访), satisfaction surveys and recommendations."""

    name = "aftersales.callbacks"
    verbose_name = _("Return visits")

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects to the case lifecycle signals)
