"""The calendars every installation starts with: mainland China office hours (holidays and
make-up days synced from the `holidays` library for 2024-2027) and the 7x24 VIP hotline."""

from django.db import migrations

CODES = ["cn-mainland", "always-open"]


def create_default_calendars(apps, schema_editor):
    from aftersales.core.calendars import DEFAULT_CALENDAR_YEARS, default_calendars_install

    default_calendars_install(
        calendar_model=apps.get_model("core", "BusinessCalendar"),
        period_model=apps.get_model("core", "WorkingPeriod"),
        day_model=apps.get_model("core", "CalendarDay"),
        years=DEFAULT_CALENDAR_YEARS,
    )


def delete_default_calendars(apps, schema_editor):
    apps.get_model("core", "BusinessCalendar").objects.filter(code__in=CODES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_business_calendars"),
    ]

    operations = [
        migrations.RunPython(create_default_calendars, delete_default_calendars),
    ]
