"""Administration of the complaint rules: review policy, approval chain, answer letters.

Complaints themselves are read-only here: every change to one goes through
`complaints.services`, which writes its event on the case timeline.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.roles import ROLE_LABELS, Role

from .letters import PLACEHOLDERS, letter_template_errors
from .models import ApprovalLevel, Complaint, LetterTemplate, ReviewPolicy


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "__str__",
        "min_severity",
        "amount_threshold",
        "repeat_threshold",
        "repeat_window_days",
        "vip",
        "media",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: the services read the first one.
        return super().has_add_permission(request) and not ReviewPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ApprovalLevelForm(forms.ModelForm):  # type: ignore[type-arg]
    roles = forms.MultipleChoiceField(
        label=_("roles"),
        choices=[(role.value, label) for role, label in ROLE_LABELS.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApprovalLevel
        fields = ["rank", "name", "roles", "limit"]
        help_texts = {"limit": _("Blank: no limit.")}

    def clean_roles(self) -> list[str]:
        return [Role(r).value for r in self.cleaned_data["roles"]]


@admin.register(ApprovalLevel)
class ApprovalLevelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ApprovalLevelForm
    list_display = ["rank", "name", "roles", "limit"]
    ordering = ["rank"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # proposals and decisions point at their level


class LetterTemplateForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = LetterTemplate
        fields = ["code", "language", "subject", "body", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = _(
            "Placeholders: %(names)s. Write $$ for a dollar sign."
        ) % {"names": ", ".join(f"${name} ({label})" for name, label in PLACEHOLDERS.items())}

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        errors = letter_template_errors(
            subject=cleaned.get("subject") or "", body=cleaned.get("body") or ""
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


@admin.register(LetterTemplate)
class LetterTemplateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = LetterTemplateForm
    list_display = ["code", "language", "subject", "is_active"]
    list_filter = ["code", "language", "is_active"]


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: changes go through the services (and leave events)."""

    list_display = ["case", "status", "nature", "severity", "review_required", "received_at"]
    list_filter = ["status", "nature", "severity", "review_required"]
    readonly_fields = (
        "case",
        "related_case",
        "status",
        "nature",
        "severity",
        "concerns_user",
        "concerns_team",
        "amount_at_stake",
        "media_exposure",
        "earlier_complaints",
        "review_required",
        "review_reasons",
        "root_cause",
        "communication_error",
        "received_at",
        "evaluated_at",
        "answered_at",
        "closed_at",
        "reopen_count",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
