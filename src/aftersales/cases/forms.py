"""HTML forms: parse and validate what staff type; the services decide the rules."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from aftersales.customers.models import Channel

from .models import CaseKind, Nature, SolutionType, Status, Urgency


def _blank(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


class QueueFilterForm(forms.Form):
    # The queue is a worklist: open cases unless the user asks for another status or "all".
    status = forms.ChoiceField(
        required=False,
        initial="open",
        choices=[("open", _("Open")), ("all", _("Any status")), *Status.choices],
    )
    nature = forms.ChoiceField(required=False, choices=_blank(Nature.choices))
    urgency = forms.ChoiceField(required=False, choices=_blank(Urgency.choices))
    channel = forms.ChoiceField(required=False, choices=_blank(Channel.choices))
    team = forms.IntegerField(required=False, min_value=1)
    assignee = forms.IntegerField(required=False, min_value=1)
    product_line = forms.IntegerField(required=False, min_value=1)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, max_length=100)
    page = forms.IntegerField(required=False, min_value=1)


class CaseOpenForm(forms.Form):
    customer = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    unit = forms.IntegerField(required=False, min_value=1)
    channel = forms.ChoiceField(choices=Channel.choices, label=_("Channel"))
    kind = forms.ChoiceField(
        required=False, choices=CaseKind.choices, initial=CaseKind.SERVICE, label=_("Type")
    )
    subject = forms.CharField(max_length=200, label=_("Subject"))
    description = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea, label=_("Description")
    )
    nature = forms.ChoiceField(required=False, choices=_blank(Nature.choices), label=_("Nature"))
    subcategory = forms.CharField(required=False, max_length=30, label=_("Sub-category"))
    urgency = forms.ChoiceField(choices=Urgency.choices, initial=Urgency.NORMAL, label=_("Urgency"))


class ClassifyForm(forms.Form):
    nature = forms.ChoiceField(choices=Nature.choices, label=_("Nature"))
    subcategory = forms.CharField(required=False, max_length=30, label=_("Sub-category"))
    urgency = forms.ChoiceField(choices=Urgency.choices, label=_("Urgency"))


class AssignForm(forms.Form):
    team = forms.IntegerField(required=False, min_value=1)
    assignee = forms.IntegerField(required=False, min_value=1)
    reason = forms.CharField(required=False, max_length=2000)


class TransitionForm(forms.Form):
    action = forms.CharField(max_length=20)
    reason = forms.CharField(required=False, max_length=2000)
    solution_type = forms.ChoiceField(required=False, choices=_blank(SolutionType.choices))
    solution_notes = forms.CharField(required=False, max_length=20_000)


class ContactForm(forms.Form):
    direction = forms.ChoiceField(choices=[("in", _("Inbound")), ("out", _("Outbound"))])
    channel = forms.ChoiceField(choices=Channel.choices)
    body = forms.CharField(max_length=20_000, widget=forms.Textarea)


class NoteForm(forms.Form):
    body = forms.CharField(max_length=20_000, widget=forms.Textarea)


class FeedbackForm(forms.Form):
    useful = forms.ChoiceField(choices=[("1", _("Useful")), ("0", _("Not useful"))])
