"""Webhooks in the admin: the URL field runs the outbound guard; the delivery log is read-only."""

from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.core.models import AuditEvent
from aftersales.integrations.models import Webhook, WebhookDelivery
from aftersales.integrations.services import webhook_create, webhooks_dispatch
from tests.auth import sign_in
from tests.integrations.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(administrator: User) -> Client:
    return sign_in(Client(), administrator)


def form(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "ERP",
        "url": url,
        "event_kinds": ["case.opened", "case.resolved"],
        "new_secret": "a-shared-secret-of-some-length",
        "is_active": "on",
        **extra,
    }


def test_the_add_form_refuses_an_internal_url(admin_client: Client) -> None:
    for url in ("https://169.254.169.254/latest/meta-data/", "https://10.1.2.3/", "gopher://x/"):
        response = admin_client.post("/admin/integrations/webhook/add/", form(url))
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "url" in errors, url
    assert not Webhook.objects.exists()


def test_administrator_adds_and_edits_a_webhook_through_the_services(
    admin_client: Client, administrator: User, receiver: Receiver
) -> None:
    page = admin_client.get("/admin/integrations/webhook/add/")
    assert page.status_code == 200
    offered = page.context["adminform"].form.initial["new_secret"]
    assert len(offered) >= 32

    url = f"http://127.0.0.1:{receiver.port}/hook"
    response = admin_client.post("/admin/integrations/webhook/add/", form(url))
    assert response.status_code == 302, response.context["adminform"].form.errors
    webhook = Webhook.objects.get()
    assert (webhook.url, webhook.secret, webhook.created_by) == (
        url,
        "a-shared-secret-of-some-length",
        administrator,
    )
    assert AuditEvent.objects.filter(action="webhook.created", entity_id=webhook.pk).exists()

    change = f"/admin/integrations/webhook/{webhook.pk}/change/"
    page = admin_client.get(change)
    assert "a-shared-secret-of-some-length" not in page.content.decode()
    response = admin_client.post(change, form(url, new_secret="", is_active=""))
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.secret == "a-shared-secret-of-some-length"  # blank keeps it
    assert webhook.is_active is False
    assert AuditEvent.objects.filter(action="webhook.updated", entity_id=webhook.pk).exists()

    response = admin_client.post(change, form("https://[::ffff:10.0.0.1]/"))
    assert response.status_code == 200 and "url" in response.context["adminform"].form.errors
    webhook.refresh_from_db()
    assert webhook.url == url


def test_the_delivery_log_is_read_only(
    admin_client: Client, administrator: User, receiver: Receiver
) -> None:
    webhook_create(
        actor=administrator,
        name="ERP",
        url=f"http://127.0.0.1:{receiver.port}/hook",
        event_kinds=["case.opened"],
    )
    [delivery] = webhooks_dispatch(event_kind="case.opened", payload={"case": {"id": 7}})
    listing = admin_client.get("/admin/integrations/webhookdelivery/")
    assert listing.status_code == 200 and "case.opened" in listing.content.decode()
    assert (
        admin_client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/").status_code
        == 200
    )
    assert admin_client.get("/admin/integrations/webhookdelivery/add/").status_code == 403
    response = admin_client.post(
        f"/admin/integrations/webhookdelivery/{delivery.pk}/change/", {"status": "delivered"}
    )
    assert response.status_code == 403
    assert WebhookDelivery.objects.get().status == "pending"


def test_other_roles_do_not_see_webhooks(manager: User) -> None:
    manager.is_staff = True
    manager.save()
    client = sign_in(Client(), manager)
    assert client.get("/admin/integrations/webhook/").status_code == 403
