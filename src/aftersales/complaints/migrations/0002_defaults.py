"""Install the default review policy, approval chain and answer letters (see
`aftersales.complaints.defaults`)."""

from django.db import migrations

from aftersales.complaints.defaults import APPROVAL_LEVELS, LETTERS, complaints_defaults_install


def install(apps, schema_editor):
    complaints_defaults_install(
        policy_model=apps.get_model("complaints", "ReviewPolicy"),
        level_model=apps.get_model("complaints", "ApprovalLevel"),
        template_model=apps.get_model("complaints", "LetterTemplate"),
    )


def remove(apps, schema_editor):
    apps.get_model("complaints", "LetterTemplate").objects.filter(
        code__in=[code for code, *_ in LETTERS]
    ).delete()
    apps.get_model("complaints", "ApprovalLevel").objects.filter(
        rank__in=[rank for rank, *_ in APPROVAL_LEVELS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
