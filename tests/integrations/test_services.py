"""Registering webhooks: administrators only, and never with an internal address."""

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from aftersales.accounts.models import User
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.integrations.models import Webhook
from aftersales.integrations.services import webhook_create, webhook_update
from tests.integrations.receiver import Receiver

pytestmark = pytest.mark.django_db


def hook_url(receiver: Receiver) -> str:
    return f"http://127.0.0.1:{receiver.port}/bot/send?key=tok-4711"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://10.0.0.1/erp", "private"),
        ("https://localhost/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("http://8.8.8.8/", "scheme"),
        ("https://admin:pw@8.8.8.8/", "credentials"),
        ("https://8.8.8.8:6379/", "port"),
    ],
)
def test_a_webhook_to_a_refused_url_is_not_saved(
    administrator: User, url: str, reason: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        webhook_create(actor=administrator, name="ERP", url=url, event_kinds=["case.opened"])
    assert (caught.value.code, caught.value.status_code) == ("url_not_allowed", 422)
    assert caught.value.details["reason"] == reason
    assert not Webhook.objects.exists()
    assert not AuditEvent.objects.filter(entity="webhook").exists()


def test_administrator_registers_a_webhook_with_secret_and_url_encrypted(
    administrator: User, receiver: Receiver
) -> None:
    webhook, secret = webhook_create(
        actor=administrator,
        name="IM bot",
        url=hook_url(receiver),
        event_kinds=["case.opened", "sla.breached", "case.opened"],
    )
    assert len(secret) >= 32
    webhook.refresh_from_db()
    assert (webhook.secret, webhook.url) == (secret, hook_url(receiver))
    assert webhook.event_kinds == ["case.opened", "sla.breached"]
    assert webhook.created_by == administrator
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, url FROM integrations_webhook")
        raw_secret, raw_url = cursor.fetchone()
    assert secret not in raw_secret and "tok-4711" not in raw_url
    audit = AuditEvent.objects.get(entity="webhook", entity_id=webhook.pk)
    assert (audit.action, audit.actor_id) == ("webhook.created", administrator.pk)
    assert audit.data == {
        "host": "127.0.0.1",
        "event_kinds": ["case.opened", "sla.breached"],
        "is_active": True,
    }
    assert "tok-4711" not in str(audit.data) and secret not in str(audit.data)


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"event_kinds": []}, "event_kinds"),
        ({"event_kinds": ["case.deleted"]}, "event_kinds"),
        ({"name": "  "}, "name"),
        ({"secret": "short"}, "secret"),
    ],
)
def test_bad_fields_are_refused(
    administrator: User, receiver: Receiver, fields: dict[str, Any], key: str
) -> None:
    args: dict[str, Any] = {
        "name": "ERP",
        "url": hook_url(receiver),
        "event_kinds": ["case.opened"],
    }
    with pytest.raises(ApplicationError) as caught:
        webhook_create(actor=administrator, **(args | fields))
    assert caught.value.code == "invalid_webhook"
    assert key in caught.value.details
    assert not Webhook.objects.exists()


def test_only_administrators_manage_webhooks(
    manager: User, supervisor: User, administrator: User, receiver: Receiver
) -> None:
    for user in (manager, supervisor):
        with pytest.raises(PermissionDenied):
            webhook_create(
                actor=user, name="ERP", url=hook_url(receiver), event_kinds=["case.opened"]
            )
    webhook, _ = webhook_create(
        actor=administrator, name="ERP", url=hook_url(receiver), event_kinds=["case.opened"]
    )
    with pytest.raises(PermissionDenied):
        webhook_update(actor=manager, webhook=webhook, is_active=False)
    assert Webhook.objects.get().is_active


def test_changing_the_url_to_an_internal_address_is_refused(
    administrator: User, receiver: Receiver
) -> None:
    webhook, _ = webhook_create(
        actor=administrator, name="ERP", url=hook_url(receiver), event_kinds=["case.opened"]
    )
    with pytest.raises(ApplicationError) as caught:
        webhook_update(
            actor=administrator, webhook=webhook, url="https://169.254.169.254/computeMetadata/"
        )
    assert (caught.value.code, caught.value.status_code) == ("url_not_allowed", 422)
    webhook.refresh_from_db()
    assert webhook.url == hook_url(receiver)
    assert AuditEvent.objects.filter(entity="webhook", action="webhook.updated").count() == 0


def test_update_records_what_changed_without_the_secret(
    administrator: User, receiver: Receiver
) -> None:
    webhook, _ = webhook_create(
        actor=administrator, name="ERP", url=hook_url(receiver), event_kinds=["case.opened"]
    )
    new_secret = "n3w-shared-secret-for-erp"
    webhook_update(
        actor=administrator,
        webhook=webhook,
        event_kinds=["case.resolved"],
        is_active=False,
        secret=new_secret,
    )
    webhook.refresh_from_db()
    assert (webhook.event_kinds, webhook.is_active, webhook.secret) == (
        ["case.resolved"],
        False,
        new_secret,
    )
    audit = AuditEvent.objects.get(entity="webhook", action="webhook.updated")
    assert audit.data["before"] == {"event_kinds": ["case.opened"], "is_active": True}
    assert audit.data["after"] == {"event_kinds": ["case.resolved"], "is_active": False}
    assert audit.data["secret_changed"] is True and audit.data["url_changed"] is False
    assert new_secret not in str(audit.data)


def test_a_webhook_whose_receiver_is_gone_can_still_be_switched_off(
    administrator: User, receiver: Receiver, settings: Any
) -> None:
    webhook, _ = webhook_create(
        actor=administrator, name="ERP", url=hook_url(receiver), event_kinds=["case.opened"]
    )
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # its address is no longer allowed
    webhook_update(actor=administrator, webhook=webhook, url=hook_url(receiver), is_active=False)
    webhook.refresh_from_db()
    assert webhook.is_active is False
    with pytest.raises(ApplicationError) as caught:
        webhook_update(actor=administrator, webhook=webhook, url=hook_url(receiver) + "2")
    assert caught.value.code == "url_not_allowed"
