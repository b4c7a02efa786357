"""Forms of the privacy pages: recording a consent, confirming an erasure."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ConsentSource, ErasureReason, Purpose


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    granted = forms.TypedChoiceField(
        label=_("Answer"),
        choices=[("yes", _("Grants consent")), ("no", _("Withdraws / refuses"))],
        coerce=lambda v: v == "yes",
    )
    source = forms.ChoiceField(label=_("Said via"), choices=ConsentSource.choices)
    note = forms.CharField(
        label=_("Evidence"),
        max_length=500,
        required=False,
        help_text=_("Where the proof is, e.g. the call recording number."),
    )


class ErasureForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ErasureReason.choices)
    confirm_number = forms.CharField(label=_("Type the customer number to confirm"), max_length=20)

    def __init__(self, *args: Any, number: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.number = number

    def clean_confirm_number(self) -> str:
        typed = str(self.cleaned_data["confirm_number"]).strip()
        if typed.upper() != self.number.upper():
            raise forms.ValidationError(_("That is not this customer's number."))
        return typed
