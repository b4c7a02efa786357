from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("mfa/", views.mfa_page, name="mfa"),
    path("mfa/replace/", views.mfa_replace, name="mfa_replace"),
    path("mfa/recovery-codes/", views.recovery_regenerate, name="recovery_regenerate"),
    path("security/", views.security, name="security"),
    path("reauth/", views.reauth, name="reauth"),
]
