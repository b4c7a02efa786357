"""Install the default retention rules (see `privacy.defaults`)."""

from django.db import migrations

from aftersales.privacy.defaults import DEFAULT_RULES, retention_defaults_install


def install(apps, schema_editor):
    retention_defaults_install(rule_model=apps.get_model("privacy", "RetentionRule"))


def remove(apps, schema_editor):
    RetentionRule = apps.get_model("privacy", "RetentionRule")
    RetentionRule.objects.filter(kind__in=[str(kind) for kind, *_ in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_consent_erasure_retention")]

    operations = [migrations.RunPython(install, remove)]
