"""Install the parts settings row and the default stock policies by class (see
`aftersales.parts.defaults`)."""

from django.db import migrations

from aftersales.parts.defaults import parts_defaults_ensure


def install(apps, schema_editor):
    parts_defaults_ensure(
        settings_model=apps.get_model("parts", "PartsSettings"),
        policy_model=apps.get_model("parts", "StockPolicy"),
    )


class Migration(migrations.Migration):
    dependencies = [("parts", "0002_ledger_append_only")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
