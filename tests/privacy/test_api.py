"""Tests of aftersales.privacy.api: /api/v1/privacy, its validation, permissions and scope."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Customer
from aftersales.privacy.models import Consent, ErasureRecord
from tests import factories

from .conftest import PHONE_E164

pytestmark = pytest.mark.django_db


class TestConsents:
    def test_record_then_read_in_force_and_history(
        self, api: Callable[[User], Any], agent: User, customer: Customer
    ) -> None:
        client = api(agent)
        response = client.post(
            f"/privacy/customers/{customer.pk}/consents",
            {"purpose": "surveys", "granted": True, "source": "portal", "note": "ticket 88"},
        )
        assert response.status_code == 201, response.content
        assert response.json()["purpose"] == "surveys"
        assert response.json()["recorded_by"] == "agent"

        body = client.get(f"/privacy/customers/{customer.pk}/consents").json()

        in_force = {s["purpose"]: s for s in body["in_force"]}
        assert in_force["surveys"]["granted"] is True and in_force["surveys"]["recorded"] is True
        assert in_force["marketing"] == {
            "purpose": "marketing",
            "label": "Marketing",
            "granted": False,
            "recorded": False,
            "recorded_at": None,
        }
        assert in_force["contact_phone"]["granted"] is True
        assert [h["note"] for h in body["history"]] == ["ticket 88"]

    def test_a_bad_purpose_is_422_and_nothing_saved(
        self, api: Callable[[User], Any], agent: User, customer: Customer
    ) -> None:
        response = api(agent).post(
            f"/privacy/customers/{customer.pk}/consents",
            {"purpose": "spam", "granted": True, "source": "phone"},
        )

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"
        assert ["body", "payload", "purpose"] in [
            e["loc"] for e in response.json()["details"]["errors"]
        ]
        assert not Consent.objects.exists()

    def test_an_unknown_customer_is_404(self, api: Callable[[User], Any], agent: User) -> None:
        client = api(agent)
        assert client.get("/privacy/customers/999999/consents").status_code == 404
        response = client.post(
            "/privacy/customers/999999/consents",
            {"purpose": "surveys", "granted": True, "source": "phone"},
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found")

    def test_a_customer_outside_the_scope_is_404(
        self, api: Callable[[User], Any], technician: User, customer: Customer
    ) -> None:
        response = api(technician).get(f"/privacy/customers/{customer.pk}/consents")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")

    def test_recording_needs_the_right_to_change_customers(
        self, api: Callable[[User], Any], technician: User
    ) -> None:
        mine = factories.customer()
        factories.case(mine, assignee=technician)

        response = api(technician).post(
            f"/privacy/customers/{mine.pk}/consents",
            {"purpose": "surveys", "granted": True, "source": "phone"},
        )

        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        assert not Consent.objects.exists()


class TestExport:
    def test_downloads_a_json_file_with_the_clear_phone(
        self, api: Callable[[User], Any], manager: User, customer: Customer
    ) -> None:
        response = api(manager).get(f"/privacy/customers/{customer.pk}/export")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response["Content-Disposition"].startswith(
            f'attachment; filename="customer-{customer.number}-'
        )
        document = json.loads(response.content)
        assert PHONE_E164 in {c["value"] for c in document["contacts"]}
        assert AuditEvent.objects.filter(action="privacy.export", customer_id=customer.pk).exists()

    def test_agents_may_not_export(
        self, api: Callable[[User], Any], agent: User, customer: Customer
    ) -> None:
        response = api(agent).get(f"/privacy/customers/{customer.pk}/export")
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")

    def test_an_unknown_customer_is_404(self, api: Callable[[User], Any], manager: User) -> None:
        assert api(manager).get("/privacy/customers/999999/export").status_code == 404


class TestErase:
    def test_erases_and_answers_with_the_record(
        self, api: Callable[[User], Any], manager: User, customer: Customer
    ) -> None:
        response = api(manager).post(
            f"/privacy/customers/{customer.pk}/erase", {"reason": "subject_request"}
        )

        assert response.status_code == 201, response.content
        body = response.json()
        assert body["customer_id"] == customer.pk and body["reason"] == "subject_request"
        assert body["counts"]["customers.ContactPoint.value"] == 2
        customer.refresh_from_db()
        assert customer.name == "[erased]"

    def test_open_cases_409_and_nothing_changes(
        self, api: Callable[[User], Any], manager: User, customer: Customer, desk_team: Any
    ) -> None:
        factories.case(customer, team=desk_team)

        response = api(manager).post(
            f"/privacy/customers/{customer.pk}/erase", {"reason": "subject_request"}
        )

        assert (response.status_code, response.json()["code"]) == (409, "open_cases")
        customer.refresh_from_db()
        assert customer.name == "李伟"
        assert not ErasureRecord.objects.exists()

    def test_twice_is_409_already_erased(
        self, api: Callable[[User], Any], manager: User, customer: Customer
    ) -> None:
        client = api(manager)
        client.post(f"/privacy/customers/{customer.pk}/erase", {"reason": "subject_request"})

        again = client.post(f"/privacy/customers/{customer.pk}/erase", {"reason": "unlawful"})

        assert (again.status_code, again.json()["code"]) == (409, "already_erased")

    def test_supervisors_may_not_erase(
        self, api: Callable[[User], Any], supervisor: User, customer: Customer, closed_case: Case
    ) -> None:
        response = api(supervisor).post(
            f"/privacy/customers/{customer.pk}/erase", {"reason": "subject_request"}
        )

        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        customer.refresh_from_db()
        assert customer.name == "李伟"

    def test_a_bad_reason_is_422(
        self, api: Callable[[User], Any], manager: User, customer: Customer
    ) -> None:
        response = api(manager).post(
            f"/privacy/customers/{customer.pk}/erase", {"reason": "because"}
        )
        assert response.status_code == 422
        assert not ErasureRecord.objects.exists()
