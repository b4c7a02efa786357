"""Install the default SLA policies and escalation rules (see `aftersales.sla.defaults`)."""

from django.db import migrations

from aftersales.sla.defaults import sla_defaults_install


def create(apps, schema_editor):
    sla_defaults_install(
        calendar_model=apps.get_model("core", "BusinessCalendar"),
        policy_model=apps.get_model("sla", "SlaPolicy"),
        target_model=apps.get_model("sla", "SlaTarget"),
        rule_model=apps.get_model("sla", "EscalationRule"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("core", "0003_default_calendars"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
