"""HTML forms of the customer file: they parse and shape input; the services decide."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Channel, Customer, Tier

MAX_PHONES = 5


class CustomerForm(forms.Form):
    """Opening a customer file (建档) from the desk."""

    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Customer.Kind.choices)
    company_name = forms.CharField(label=_("Company"), max_length=200, required=False)
    phones = forms.CharField(
        label=_("Phone numbers"),
        help_text=_("One per line; the first is the primary number."),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=300,
        required=False,
    )
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    province = forms.CharField(label=_("Province"), max_length=50, required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    district = forms.CharField(label=_("District"), max_length=50, required=False)
    street = forms.CharField(label=_("Street address"), max_length=300, required=False)
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"), choices=Channel.choices, initial=Channel.PHONE
    )
    consent_contact = forms.BooleanField(
        label=_("Consents to be contacted"), required=False, initial=True
    )

    def clean_phones(self) -> list[str]:
        raw: str = self.cleaned_data["phones"]
        phones = [p.strip() for p in re.split(r"[\n,;]+", raw) if p.strip()]
        if len(phones) > MAX_PHONES:
            raise forms.ValidationError(_("At most %(n)d phone numbers.") % {"n": MAX_PHONES})
        return phones

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        has_address = any(data.get(f) for f in ("province", "city", "district", "street"))
        if has_address:
            for field in ("province", "city"):
                if not data.get(field):
                    self.add_error(field, _("Needed for an address."))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned input in the shape `customer_create` takes."""
        data = self.cleaned_data
        address = {k: data[k] for k in ("province", "city", "district", "street") if data.get(k)}
        return {
            "name": data["name"],
            "kind": data["kind"],
            "company_name": data["company_name"],
            "phones": data["phones"],
            "emails": [data["email"]] if data["email"] else [],
            "addresses": [address] if address else [],
            "preferred_channel": data["preferred_channel"],
            "consent_contact": data["consent_contact"],
        }


class MergeForm(forms.Form):
    """Which record is the duplicate, and why they are the same customer."""

    duplicate_number = forms.CharField(label=_("Duplicate customer number"), max_length=20)
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class TierOverrideForm(forms.Form):
    """A manager's tier for a customer, why, and until when (the service checks the rules)."""

    tier = forms.ChoiceField(label=_("Tier"), choices=Tier.choices)
    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    expires_at = forms.DateTimeField(
        label=_("Holds until"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
