"""Administration of outgoing webhooks and their delivery log (read-only).

A new or changed URL runs the outbound guard, so an internal address is refused on the form;
saving goes through the services, which check the role and the URL again and write the audit row.
"""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.models import User

from .models import EventKind, Webhook, WebhookDelivery, validate_outbound_url
from .services import MAX_URL, MIN_SECRET, webhook_create, webhook_update


class WebhookForm(forms.ModelForm):  # type: ignore[type-arg]
    event_kinds = forms.MultipleChoiceField(
        label=_("events"), choices=EventKind.choices, widget=forms.CheckboxSelectMultiple
    )
    new_secret = forms.CharField(
        label=_("signing secret"),
        min_length=MIN_SECRET,
        strip=True,
        help_text=_(
            "Give the same secret to the receiving system: it checks the "
            "X-Aftersales-Signature header (HMAC-SHA256) with it."
        ),
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "event_kinds", "is_active"]
        widgets = {"url": forms.TextInput(attrs={"size": 80})}

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"].strip()
        if len(url) > MAX_URL:
            raise forms.ValidationError(_("At most %(n)d characters.") % {"n": MAX_URL})
        if self.instance.pk is None or url != self.instance.url:
            validate_outbound_url(url)
        return url

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # An existing secret is never shown again; blank keeps it.
            field = self.fields["new_secret"]
            field.required = False
            field.widget = forms.PasswordInput(render_value=False)
            field.help_text = _("Leave blank to keep the current secret.")


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = WebhookForm
    list_display = ["name", "host", "events", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    fields = ["name", "url", "event_kinds", "new_secret", "is_active"]

    @admin.display(description=_("host"))
    def host(self, obj: Webhook) -> str:
        return urlsplit(obj.url).hostname or ""

    @admin.display(description=_("events"))
    def events(self, obj: Webhook) -> str:
        return ", ".join(obj.event_kinds)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A strong random secret offered on the add form, to copy to the receiving system.
        return {
            **super().get_changeform_initial_data(request),
            "new_secret": secrets.token_urlsafe(32),
        }

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: the delivery log stays

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        actor = request.user
        assert isinstance(actor, User)
        data = form.cleaned_data
        if change:
            webhook_update(
                actor=actor,
                webhook=obj,
                name=data["name"],
                url=data["url"],
                event_kinds=list(data["event_kinds"]),
                is_active=data["is_active"],
                secret=data["new_secret"] or None,
            )
        else:
            created, _secret = webhook_create(
                actor=actor,
                name=data["name"],
                url=data["url"],
                event_kinds=list(data["event_kinds"]),
                secret=data["new_secret"],
                is_active=data["is_active"],
            )
            obj.pk = created.pk


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "created_at",
        "webhook",
        "event_kind",
        "status",
        "attempts",
        "response_code",
        "last_attempt_at",
        "delivered_at",
        "error",
    ]
    list_filter = ["status", "event_kind", "webhook"]
    list_select_related = ["webhook"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.get_fields() if f.concrete]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
