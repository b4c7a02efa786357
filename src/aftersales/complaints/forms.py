"""HTML forms of the complaint pages: parse what staff type; the services decide the rules."""

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.models import Team, User
from aftersales.cases.models import SolutionType
from aftersales.catalog.models import Unit
from aftersales.customers.models import Channel

from .models import (
    ApprovalDecision,
    CompensationKind,
    ComplaintNature,
    ComplaintReview,
    ComplaintStatus,
    Responsibility,
    RootCause,
    Severity,
)

MAX_AMOUNT = Decimal("9999999999.99")  # the columns' 12 digits, 2 after the point

# How many compensation lines the proposal form offers.
PROPOSAL_LINES = 3


def _blank(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


def _amount(*, required: bool, label: Any) -> forms.DecimalField:
    # No min_value: a negative amount reaches the service, which refuses it with its own code.
    return forms.DecimalField(
        required=required, max_digits=12, decimal_places=2, max_value=MAX_AMOUNT, label=label
    )


class ComplaintFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", _("Any status")), *ComplaintStatus.choices]
    )
    nature = forms.ChoiceField(required=False, choices=_blank(ComplaintNature.choices))
    review = forms.ChoiceField(
        required=False,
        choices=[
            ("", _("Any")),
            ("required", _("Review required")),
            ("none", _("No review required")),
            *((f"review_{value}", label) for value, label in ComplaintReview.Status.choices),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1)

    def review_filter(self) -> bool | str | None:
        """The review filter as `complaint_list_for` takes it."""
        value = self.cleaned_data.get("review") or ""
        if value in ("required", "none"):
            return value == "required"
        return value.removeprefix("review_") or None


class ComplaintRaiseForm(forms.Form):
    related_case = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    customer = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    channel = forms.ChoiceField(choices=Channel.choices, label=_("Channel"))
    subject = forms.CharField(max_length=200, label=_("Subject"))
    description = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea, label=_("What the customer says")
    )
    nature = forms.ChoiceField(choices=ComplaintNature.choices, label=_("Nature"))
    severity = forms.ChoiceField(
        choices=Severity.choices, initial=Severity.MODERATE, label=_("Severity")
    )
    amount_at_stake = _amount(required=False, label=_("Amount at stake (CNY)"))
    media_exposure = forms.BooleanField(required=False, label=_("Media exposure"))


class StaffChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.label)


def _staff(label: Any) -> StaffChoiceField:
    return StaffChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("display_name", "username"),
        required=False,
        label=label,
    )


def _team(label: Any) -> Any:
    return forms.ModelChoiceField(
        queryset=Team.objects.filter(is_active=True).order_by("name"), required=False, label=label
    )


class EvaluateForm(forms.Form):
    nature = forms.ChoiceField(choices=ComplaintNature.choices, label=_("Nature"))
    severity = forms.ChoiceField(choices=Severity.choices, label=_("Severity"))
    concerns_user = _staff(_("Concerns staff member"))
    concerns_team = _team(_("Concerns team"))
    amount_at_stake = _amount(required=False, label=_("Amount at stake (CNY)"))
    media_exposure = forms.BooleanField(required=False, label=_("Media exposure"))


class HandleForm(forms.Form):
    handler = _staff(_("Handler (blank: me)"))


class ProposalLineForm(forms.Form):
    kind = forms.ChoiceField(
        required=False, choices=_blank(CompensationKind.choices), label=_("Kind")
    )
    amount = _amount(required=False, label=_("Amount (CNY)"))
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False, label=_("Product"))
    months = forms.IntegerField(required=False, min_value=0, max_value=32767, label=_("Months"))
    note = forms.CharField(required=False, max_length=200, label=_("Note"))

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            field = self.fields["unit"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = units


ProposalLineFormSet = forms.formset_factory(
    ProposalLineForm, extra=PROPOSAL_LINES, max_num=10, absolute_max=10
)


class ProposalForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea, label=_("Reason")
    )


class DecideForm(forms.Form):
    proposal = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[
            (ApprovalDecision.Decision.APPROVE, _("Approve")),
            (ApprovalDecision.Decision.REJECT, _("Reject")),
            (ApprovalDecision.Decision.FORWARD, _("Endorse and forward")),
        ]
    )
    note = forms.CharField(required=False, max_length=500, label=_("Note"))


class ProposalRefForm(forms.Form):
    proposal = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class ActionCompleteForm(forms.Form):
    action = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reference = forms.CharField(required=False, max_length=100, label=_("Reference"))


class ReviewRefForm(forms.Form):
    review = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class ReviewCompleteForm(forms.Form):
    review = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    findings = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea, label=_("Findings")
    )
    responsibility = forms.ChoiceField(choices=Responsibility.choices, label=_("Responsibility"))
    recommendation = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea, label=_("Recommendation")
    )


class AnswerForm(forms.Form):
    template = forms.SlugField(max_length=40, initial="complaint_answer", label=_("Letter"))
    message = forms.CharField(
        required=False, max_length=20_000, widget=forms.Textarea, label=_("Message")
    )
    solution_type = forms.ChoiceField(
        choices=[
            (SolutionType.EXPLANATION, SolutionType.EXPLANATION.label),
            (SolutionType.COMPENSATION, SolutionType.COMPENSATION.label),
        ],
        label=_("Solution"),
    )


class RootCauseForm(forms.Form):
    root_cause = forms.ChoiceField(choices=RootCause.choices, label=_("Root cause"))
    communication_error = forms.BooleanField(
        required=False, label=_("Internal communication error")
    )


class CloseForm(forms.Form):
    root_cause = forms.ChoiceField(
        required=False, choices=_blank(RootCause.choices), label=_("Root cause")
    )
    communication_error = forms.ChoiceField(
        required=False,
        choices=[("", _("Unchanged")), ("1", _("Yes")), ("0", _("No"))],
        label=_("Internal communication error"),
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(max_length=2000, label=_("Reason"))
