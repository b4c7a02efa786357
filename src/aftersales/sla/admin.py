"""Administration of SLA policies, their targets and the escalation rules.

Saving a policy re-derives the clocks of every open case on commit (in a worker when one is
configured), so an edited target applies to work in progress, with each change recorded.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from aftersales.cases.models import Status

from .models import PAUSABLE_STATUSES, EscalationFiring, EscalationRule, SlaPolicy, SlaTarget
from .tasks import policy_reapply


class SlaPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    pause_statuses = forms.MultipleChoiceField(
        label=_("pause in statuses"),
        choices=[(s, Status(s).label) for s in PAUSABLE_STATUSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "rank",
            "is_active",
            "case_kind",
            "tier",
            "urgency",
            "channel",
            "product_line",
            "pause_statuses",
            "warn_percent",
        ]


class SlaTargetInline(admin.TabularInline):  # type: ignore[type-arg]
    model = SlaTarget
    extra = 0


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = SlaPolicyForm
    inlines = [SlaTargetInline]
    list_display = ["name", "rank", "case_kind", "tier", "urgency", "channel", "is_active"]
    list_editable = ["rank", "is_active"]
    ordering = ["rank"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        actor_id = request.user.pk
        transaction.on_commit(lambda: policy_reapply.delay(actor_id=actor_id))


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "trigger",
        "metric",
        "policy",
        "notify_assignee",
        "notify_supervisor",
        "raise_priority",
        "move_to_team",
        "move_to_team_kind",
        "is_active",
    ]
    list_filter = ["trigger", "metric", "is_active"]


@admin.register(EscalationFiring)
class EscalationFiringAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["rule", "clock", "fired_at"]
    readonly_fields = ["rule", "clock", "fired_at", "actions"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
