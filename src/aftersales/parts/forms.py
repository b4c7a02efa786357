"""HTML forms of the spare-parts pages: parse what staff type; the services decide the rules.

Quantities carry no `min_value`: zero or a negative number reaches the service, which refuses it
with its own code (`invalid_quantity`) and message, the same answer the API gives.
"""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import (
    AdjustmentReason,
    DemandEvent,
    Location,
    SbcClass,
    StockKind,
    TargetMode,
)

MAX_QUANTITY = 1_000_000


def _blank(choices: Any, label: Any = "—") -> list[tuple[str, Any]]:
    return [("", label), *choices]


def _quantity(label: Any = None) -> forms.IntegerField:
    return forms.IntegerField(
        label=label or _("Quantity"), min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY
    )


def _locations() -> Any:
    return Location.objects.filter(is_active=True).order_by("code")


class PartSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label=_("Part number or name"))
    critical = forms.ChoiceField(
        required=False,
        label=pgettext_lazy("part", "Critical"),
        choices=[("", _("Any")), ("yes", _("Critical only")), ("no", _("Not critical"))],
    )
    abc = forms.ChoiceField(
        required=False,
        label=_("ABC class"),
        choices=[("", _("Any")), ("A", "A"), ("B", "B"), ("C", "C")],
    )
    pattern = forms.ChoiceField(
        required=False, label=_("Demand pattern"), choices=_blank(SbcClass.choices, _("Any"))
    )
    page = forms.IntegerField(required=False, min_value=1)


class DemandViewForm(forms.Form):
    """Which demand the part page charts: per week or month, network-wide or one location."""

    bucket = forms.ChoiceField(
        required=False,
        label=_("Per"),
        choices=[("week", _("Week")), ("month", _("Month"))],
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(),
        required=False,
        to_field_name="code",
        label=_("Location"),
        empty_label=_("Whole network"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.order_by("code")  # type: ignore[attr-defined]


class StockForm(forms.Form):
    """Receive, adjust or scrap at one location: where, which stock kind, how many."""

    location = forms.ModelChoiceField(queryset=Location.objects.none(), label=_("Location"))
    kind = forms.ChoiceField(choices=StockKind.choices, label=_("Stock kind"))
    quantity = _quantity()
    note = forms.CharField(required=False, max_length=500, label=_("Note"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()  # type: ignore[attr-defined]


class ReceiveForm(StockForm):
    unit_cost = forms.DecimalField(
        required=False, max_digits=12, decimal_places=2, label=_("Unit cost")
    )


class AdjustForm(StockForm):
    reason = forms.ChoiceField(choices=AdjustmentReason.choices, label=_("Reason"))
    quantity = _quantity(_("Change (+ found, − missing)"))


class ScrapForm(StockForm):
    pass


class DemandEventForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    kind = forms.ChoiceField(choices=DemandEvent.Kind.choices, label=_("Kind"))
    starts_on = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    factor = forms.DecimalField(
        max_digits=6, decimal_places=2, initial=1, label=_("Demand multiplied by")
    )
    extra_units = forms.DecimalField(
        max_digits=10, decimal_places=2, initial=0, label=_("Extra units per month")
    )


class OverrideForm(forms.Form):
    """A planner's quantity per month for the whole network, or for one location's share."""

    location = forms.ModelChoiceField(
        queryset=Location.objects.none(),
        required=False,
        label=_("Location"),
        empty_label=_("Whole network"),
    )
    starts_on = forms.DateField(
        label=_("From month"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label=_("Until month"), widget=forms.DateInput(attrs={"type": "date"})
    )
    quantity = forms.DecimalField(max_digits=10, decimal_places=2, label=_("Units per month"))
    reason = forms.CharField(max_length=500, label=_("Reason"))
    expires_on = forms.DateField(label=_("Expires"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()  # type: ignore[attr-defined]


class ReserveForm(forms.Form):
    """A reservation for a case, from the case page."""

    part = forms.CharField(max_length=40, label=_("Part number"))
    location = forms.ModelChoiceField(queryset=Location.objects.none(), label=_("Location"))
    quantity = _quantity()
    backorder = forms.BooleanField(
        required=False, initial=True, label=_("Wait for stock if short (backorder)")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()  # type: ignore[attr-defined]


class TransferForm(forms.Form):
    """A transfer of one part between two locations (shipped at once unless unticked)."""

    source = forms.ModelChoiceField(queryset=Location.objects.none(), label=_("From"))
    destination = forms.ModelChoiceField(queryset=Location.objects.none(), label=_("To"))
    part = forms.CharField(max_length=40, label=_("Part number"))
    kind = forms.ChoiceField(choices=StockKind.choices, label=_("Stock kind"))
    quantity = _quantity()
    ship = forms.BooleanField(required=False, initial=True, label=_("Ship now"))
    note = forms.CharField(required=False, max_length=500, label=_("Note"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("source", "destination"):
            self.fields[name].queryset = _locations()  # type: ignore[attr-defined]


class CountOpenForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.none(), label=_("Location"))
    parts = forms.CharField(
        required=False,
        max_length=2000,
        label=_("Part numbers (blank: every part stocked there)"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()  # type: ignore[attr-defined]

    def part_numbers(self) -> list[str]:
        return [n.strip() for n in self.cleaned_data["parts"].replace(",", " ").split()]


class LineQuantityForm(forms.Form):
    """A draft purchase-order line's new quantity."""

    line = forms.IntegerField(min_value=1)
    quantity = _quantity()


class TargetModeForm(forms.Form):
    """Where stock targets come from: the class policies, or one network fill rate."""

    mode = forms.ChoiceField(
        choices=TargetMode.choices, widget=forms.RadioSelect, label=_("Stock targets from")
    )
    fill_rate = forms.DecimalField(
        required=False,
        max_digits=4,
        decimal_places=3,
        label=_("Network fill rate"),
        help_text=_("Between 0.5 and 1, for example 0.95."),
    )
