"""Install the callback defaults: settings, return-visit rules, offers (see
`aftersales.callbacks.defaults`)."""

from django.db import migrations

from aftersales.callbacks.defaults import OFFERS, RULES, callbacks_defaults_install


def install(apps, schema_editor):
    callbacks_defaults_install(
        settings_model=apps.get_model("callbacks", "CallbackSettings"),
        rule_model=apps.get_model("callbacks", "CallbackRule"),
        offer_model=apps.get_model("callbacks", "Offer"),
        line_model=apps.get_model("catalog", "ProductLine"),
    )


def remove(apps, schema_editor):
    apps.get_model("callbacks", "Offer").objects.filter(
        code__in=[code for code, *_ in OFFERS], recommendations__isnull=True
    ).delete()
    apps.get_model("callbacks", "CallbackRule").objects.filter(
        name__in=[name for _, name, *_ in RULES]
    ).delete()
    apps.get_model("callbacks", "CallbackSettings").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("callbacks", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
