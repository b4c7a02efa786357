"""One's own account and password reset, under /account/ (beside the MFA pages of `urls.py`)."""

from django.urls import path

from . import account_views as views

urlpatterns = [
    path("", views.account_settings, name="account_settings"),
    path("password/", views.password_change_view, name="password_change"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password_reset_sent"),
    path("password-reset/done/", views.password_reset_done, name="password_reset_complete"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetSetView.as_view(),
        name="password_reset_confirm",
    ),
]
