"""Install the default routing rules (see `cases.routing_defaults`)."""

from django.db import migrations

from aftersales.cases.routing_defaults import DEFAULT_RULES, default_rules_install


def install(apps, schema_editor):
    default_rules_install(rule_model=apps.get_model("cases", "RoutingRule"))


def remove(apps, schema_editor):
    RoutingRule = apps.get_model("cases", "RoutingRule")
    RoutingRule.objects.filter(name__in=[name for _, name, *_ in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_routing_rules")]

    operations = [migrations.RunPython(install, remove)]
