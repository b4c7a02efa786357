"""Privacy pages, included under the `web` namespace at /privacy/."""

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("", views.privacy_home, name="privacy_home"),
    path("customers/<int:pk>/consents/", views.consent_record, name="privacy_consent_record"),
    path("customers/<int:pk>/export/", views.subject_export, name="privacy_export"),
    path("customers/<int:pk>/erase/", views.subject_erase, name="privacy_erase"),
]
