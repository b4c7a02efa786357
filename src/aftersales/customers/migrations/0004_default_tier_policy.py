"""The default tier policy: purchase 0.5, usage 0.3, feedback 0.2; 28% VIP, 30% low."""

from typing import Any

from django.db import migrations
from django.utils import timezone


def create_policy(apps: Any, schema_editor: Any) -> None:
    TierPolicy = apps.get_model("customers", "TierPolicy")
    if not TierPolicy.objects.filter(is_active=True).exists():
        TierPolicy.objects.create(is_active=True, updated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_value_tiers")]

    operations = [migrations.RunPython(create_policy, migrations.RunPython.noop)]
