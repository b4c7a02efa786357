"""HTML forms of the callback pages and the public survey: parse what people type; the services
decide the rules (score ranges, retry rules, follow-ups)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Offer, Recommendation, Repurchase, VisitAttempt

CSAT_CHOICES = [(str(n), str(n)) for n in range(1, 6)]
NPS_CHOICES = [(str(n), str(n)) for n in range(0, 11)]
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _blank(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


class AttemptForm(forms.Form):
    result = forms.ChoiceField(choices=VisitAttempt.Result.choices, label=_("Result"))
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label=_("Note")
    )
    callback_at = forms.DateTimeField(
        required=False,
        label=_("Call back at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )


class SurveyForm(forms.Form):
    """The survey's questions, asked on the phone by an agent or answered on the public page.

    Only the shape is checked here (a score is a whole number); ranges and the rest are the
    service's rules, so a phone answer and a link answer are judged the same way.
    """

    csat = forms.TypedChoiceField(
        coerce=int,
        choices=CSAT_CHOICES,
        widget=forms.RadioSelect,
        label=_("Overall, how satisfied are you with how we handled your request?"),
        help_text=_("1 = very unsatisfied, 5 = very satisfied"),
    )
    nps = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        choices=NPS_CHOICES,
        widget=forms.RadioSelect,
        label=_("How likely are you to recommend us to a friend or colleague?"),
        help_text=_("0 = not at all likely, 10 = extremely likely"),
    )
    repurchase = forms.ChoiceField(
        required=False,
        choices=Repurchase.choices,
        widget=forms.RadioSelect,
        label=_("Would you buy our products again?"),
    )
    communication_effective = forms.TypedChoiceField(
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
        choices=YES_NO,
        widget=forms.RadioSelect,
        label=_("Did our staff explain things clearly and understand your problem?"),
    )
    attitude = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        choices=CSAT_CHOICES,
        widget=forms.RadioSelect,
        label=_("How would you rate our staff's service attitude?"),
        help_text=_("1 = very poor, 5 = excellent"),
    )
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Anything else you would like to tell us?"),
    )


class RecommendForm(forms.Form):
    kind = forms.ChoiceField(choices=Offer.Kind.choices)
    offer = forms.IntegerField(required=False, min_value=1)
    unit = forms.IntegerField(required=False, min_value=1)
    outcome = forms.ChoiceField(choices=Recommendation.Outcome.choices)
    value = forms.DecimalField(required=False, max_digits=10, decimal_places=2, min_value=0)


class DecideForm(forms.Form):
    recommendation = forms.IntegerField(min_value=1)
    outcome = forms.ChoiceField(
        choices=[
            c for c in Recommendation.Outcome.choices if c[0] != Recommendation.Outcome.OFFERED
        ]
    )


class CompleteForm(forms.Form):
    solved = forms.TypedChoiceField(
        coerce=lambda v: v == "yes",
        choices=[("yes", _("Solved")), ("no", _("Not solved"))],
        widget=forms.RadioSelect,
        label=_("Is the problem solved?"),
    )
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Why not (reopens the case)"),
    )


class ReportPeriodForm(forms.Form):
    since = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
