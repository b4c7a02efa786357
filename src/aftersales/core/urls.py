"""Staff pages of the shared kernel, included under the `web` namespace at /audit/."""

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("", views.audit_log, name="audit_log"),
]
