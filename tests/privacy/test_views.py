"""Tests of aftersales.privacy.views and the privacy panel on the customer page."""

import json

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Customer
from aftersales.privacy.models import Consent, ErasureRecord
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


class TestCustomerPanel:
    def test_agents_see_consents_and_may_record_but_not_export_or_erase(
        self, client: Client, agent: User, customer: Customer
    ) -> None:
        page = sign_in(client, agent).get(f"/customers/{customer.pk}/").content.decode()

        assert "Satisfaction surveys" in page
        assert f"/privacy/customers/{customer.pk}/consents/" in page
        assert f"/privacy/customers/{customer.pk}/export/" not in page
        assert f"/privacy/customers/{customer.pk}/erase/" not in page

    def test_managers_get_export_and_erase(
        self, client: Client, manager: User, customer: Customer
    ) -> None:
        page = sign_in(client, manager).get(f"/customers/{customer.pk}/").content.decode()

        assert f"/privacy/customers/{customer.pk}/export/" in page
        assert f"/privacy/customers/{customer.pk}/erase/" in page

    def test_recording_a_consent_from_the_page(
        self, client: Client, agent: User, customer: Customer
    ) -> None:
        response = sign_in(client, agent).post(
            f"/privacy/customers/{customer.pk}/consents/",
            {"purpose": "marketing", "granted": "yes", "source": "outlet", "note": "form 12"},
        )

        assert response.status_code == 302
        consent = Consent.objects.get()
        assert (consent.purpose, consent.granted, consent.recorded_by) == ("marketing", True, agent)
        page = client.get(f"/customers/{customer.pk}/").content.decode()
        assert "Consent granted: Marketing" in page

    def test_a_bad_consent_form_is_422_and_saves_nothing(
        self, client: Client, agent: User, customer: Customer
    ) -> None:
        response = sign_in(client, agent).post(
            f"/privacy/customers/{customer.pk}/consents/",
            {"purpose": "spam", "granted": "yes", "source": "outlet"},
        )
        assert response.status_code == 422
        assert not Consent.objects.exists()


class TestExportAndErase:
    def test_export_downloads_a_file(
        self, client: Client, manager: User, customer: Customer
    ) -> None:
        response = sign_in(client, manager).post(f"/privacy/customers/{customer.pk}/export/")

        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert json.loads(response.content)["customers"][0]["name"] == "李伟"
        assert AuditEvent.objects.filter(action="privacy.export").count() == 1

    def test_erasure_asks_for_the_number_first(
        self, client: Client, manager: User, customer: Customer
    ) -> None:
        sign_in(client, manager)
        url = f"/privacy/customers/{customer.pk}/erase/"
        assert client.get(url).status_code == 200

        wrong = client.post(url, {"reason": "subject_request", "confirm_number": "C000"})
        assert wrong.status_code == 422
        assert not ErasureRecord.objects.exists()

        done = client.post(url, {"reason": "subject_request", "confirm_number": customer.number})
        assert done.status_code == 302
        customer.refresh_from_db()
        assert customer.name == "[erased]"
        page = client.get(f"/customers/{customer.pk}/").content.decode()
        assert "Personal data erased on" in page

    def test_agents_may_not_open_the_erasure_page(
        self, client: Client, agent: User, customer: Customer
    ) -> None:
        response = sign_in(client, agent).get(f"/privacy/customers/{customer.pk}/erase/")
        assert response.status_code == 403


class TestPrivacyHome:
    def test_managers_see_rules_and_erasures(self, client: Client, manager: User) -> None:
        page = sign_in(client, manager).get("/privacy/").content.decode()
        assert "Inactive customers (no open cases)" in page
        assert 'href="/privacy/"' in page  # in the navigation
        assert "No erasures yet." in page

    def test_agents_are_refused(self, client: Client, agent: User) -> None:
        assert sign_in(client, agent).get("/privacy/").status_code == 403
