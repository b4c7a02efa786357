"""Tests of `aftersales retention_apply`."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from aftersales.accounts.models import User
from aftersales.core import clock
from aftersales.notifications.models import Notification
from aftersales.privacy.models import RetentionRule

pytestmark = pytest.mark.django_db


def _old_read_notification(user: User) -> Notification:
    now = clock.now()
    return Notification.objects.create(
        recipient=user, code="x", created_at=now, read_at=now - dt.timedelta(days=365)
    )


def test_dry_run_reports_and_changes_nothing(agent: User) -> None:
    _old_read_notification(agent)
    out = StringIO()

    call_command("retention_apply", "--dry-run", stdout=out, stderr=StringIO())

    assert "notifications_read: keep 90 days, delete: 1 due (dry run" in out.getvalue()
    assert Notification.objects.count() == 1
    assert not RetentionRule.objects.filter(last_run_at__isnull=False).exists()


def test_a_run_deletes_and_says_so_per_rule(agent: User) -> None:
    _old_read_notification(agent)
    out = StringIO()

    call_command("retention_apply", stdout=out, stderr=StringIO())

    text = out.getvalue()
    assert "notifications_read: keep 90 days, delete: 1 done" in text
    assert "inactive_customers: keep 1095 days, anonymise: 0 done" in text
    assert not Notification.objects.exists()
