"""Administration of business calendars (工作日历): weekly hours, holidays and make-up days.

Edits are checked with the same rules the arithmetic relies on (`core.calendars`), so a
calendar that saves is a calendar the SLA engine can use.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from aftersales.accounts.permissions import request_user

from . import clock
from .calendars import (
    MANUAL,
    holiday_country_validate,
    holidays_sync,
    time_zone_validate,
    working_periods_validate,
)
from .errors import ApplicationError
from .models import BusinessCalendar, CalendarDay, WorkingPeriod

WEEKDAY_CHOICES = list(WEEKDAYS.items())


class WorkingPeriodForm(forms.ModelForm):  # type: ignore[type-arg]
    weekday = forms.TypedChoiceField(label=_("weekday"), choices=WEEKDAY_CHOICES, coerce=int)

    class Meta:
        model = WorkingPeriod
        fields = ["weekday", "start", "end"]
        help_texts = {"end": _("23:59:59 means until midnight (24:00).")}


class WorkingPeriodFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Checks the periods as a whole: two rows of one weekday must not overlap."""

    def clean(self) -> None:
        super().clean()
        periods = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if data.get("start") is None or data.get("end") is None or data.get("weekday") is None:
                continue  # the field errors are already shown on the row
            periods.append((data["weekday"], data["start"], data["end"]))
        working_periods_validate(periods)


class WorkingPeriodInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WorkingPeriod
    form = WorkingPeriodForm
    formset = WorkingPeriodFormSet
    extra = 0


class CalendarDayForm(forms.ModelForm):  # type: ignore[type-arg]
    works_as_weekday = forms.TypedChoiceField(
        label=_("works as"), choices=WEEKDAY_CHOICES, coerce=int, initial=0
    )

    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name", "works_as_weekday"]


class CalendarDayInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CalendarDay
    form = CalendarDayForm
    extra = 0
    fields = ["date", "kind", "name", "works_as_weekday", "source"]
    readonly_fields = ["source"]


class BusinessCalendarForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = BusinessCalendar
        fields = ["code", "name", "time_zone", "always_open", "holiday_country", "is_active"]

    def clean_time_zone(self) -> str:
        value = str(self.cleaned_data["time_zone"]).strip()
        time_zone_validate(value)
        return value

    def clean_holiday_country(self) -> str:
        value = str(self.cleaned_data["holiday_country"]).strip().upper()
        holiday_country_validate(value)
        return value


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = BusinessCalendarForm
    list_display = ("name", "code", "time_zone", "always_open", "holiday_country", "is_active")
    list_filter = ("is_active", "always_open", "holiday_country", "time_zone")
    search_fields = ("name", "code")
    inlines = [WorkingPeriodInline, CalendarDayInline]
    actions = ["sync_public_holidays"]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # A day edited by hand is the company's own decision: later syncs must keep it.
        if formset.model is CalendarDay:
            for day_form in formset.forms:
                if day_form.has_changed() and not day_form.cleaned_data.get("DELETE"):
                    day_form.instance.source = MANUAL
        super().save_formset(request, form, formset, change)

    @admin.action(
        description=_("Sync public holidays for this year and next"), permissions=["change"]
    )
    def sync_public_holidays(
        self, request: HttpRequest, queryset: QuerySet[BusinessCalendar]
    ) -> None:
        year = clock.today().year
        for calendar in queryset:
            try:
                counts = holidays_sync(
                    calendar=calendar, years=[year, year + 1], actor=request_user(request)
                )
            except ApplicationError as error:
                self.message_user(request, f"{calendar}: {error.message}", messages.WARNING)
                continue
            self.message_user(
                request,
                gettext(
                    "%(calendar)s, %(first)d–%(last)d: %(created)d added, %(updated)d updated, "
                    "%(deleted)d removed, %(kept_manual)d entered by hand kept."
                )
                % {"calendar": calendar, "first": year, "last": year + 1, **counts},
                messages.SUCCESS,
            )


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = CalendarDayForm
    list_display = ("date", "calendar", "kind", "name", "works_as_weekday", "source")
    list_filter = ("calendar", "kind", "source")
    date_hierarchy = "date"
    search_fields = ("name",)
    fields = ["calendar", "date", "kind", "name", "works_as_weekday", "source"]
    readonly_fields = ["source"]

    def save_model(self, request: HttpRequest, obj: CalendarDay, form: Any, change: bool) -> None:
        obj.source = MANUAL  # see BusinessCalendarAdmin.save_formset
        super().save_model(request, obj, form, change)
