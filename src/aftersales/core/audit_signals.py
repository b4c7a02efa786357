"""Receivers that feed the audit log: sign-in, sign-out, failed sign-in, admin-site changes.

Connected in `CoreConfig.ready()`.
"""

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.http import HttpRequest

from aftersales.accounts.models import User

from .audit import admin_change_mirrored, login_failed, login_succeeded, logout_recorded, request_ip


def _ip(request: HttpRequest | None) -> str | None:
    return request_ip(request) if request is not None else None


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):
        login_succeeded(user=user, ip=_ip(request))


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # `user` is None when the session had already expired: nobody to record.
    if isinstance(user, User):
        logout_recorded(user=user, ip=_ip(request))


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    login_failed(username=str(credentials.get(User.USERNAME_FIELD) or ""), ip=_ip(request))


def on_admin_log_entry(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        admin_change_mirrored(entry=instance)


def connect() -> None:
    """Connect the receivers (idempotent: each has a dispatch uid)."""
    user_logged_in.connect(on_logged_in, dispatch_uid="core_audit_logged_in")
    user_logged_out.connect(on_logged_out, dispatch_uid="core_audit_logged_out")
    user_login_failed.connect(on_login_failed, dispatch_uid="core_audit_login_failed")
    post_save.connect(on_admin_log_entry, sender=LogEntry, dispatch_uid="core_audit_admin_log")
