"""Administration of the retention rules; consents and erasures are shown, never edited."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from aftersales.accounts.permissions import request_user

from .models import Consent, ErasureRecord, RetentionRule
from .services import retention_rule_update


@admin.register(RetentionRule)
class RetentionRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One rule per kind of record (installed by a migration): periods are edited, kinds are
    neither added nor removed here. Saving goes through the audited service."""

    list_display = ["kind", "keep_days", "action", "enabled", "last_run_at", "last_run_count"]
    fields = ["kind", "keep_days", "action", "enabled", "last_run_at", "last_run_count"]
    readonly_fields = ["kind", "last_run_at", "last_run_count"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RetentionRule, form: Any, change: bool) -> None:
        retention_rule_update(
            actor=request_user(request),
            rule=obj,
            keep_days=obj.keep_days,
            action=obj.action,
            enabled=obj.enabled,
        )


class _ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Consent)
class ConsentAdmin(_ReadOnlyAdmin):
    list_display = ["customer", "purpose", "granted", "source", "recorded_by", "recorded_at"]
    list_filter = ["purpose", "granted", "source"]
    list_select_related = ["customer", "recorded_by"]


@admin.register(ErasureRecord)
class ErasureRecordAdmin(_ReadOnlyAdmin):
    list_display = ["customer", "erased_at", "actor", "reason"]
    list_filter = ["reason"]
    list_select_related = ["customer", "actor"]
