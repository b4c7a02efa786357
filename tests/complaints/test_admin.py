"""The complaint rules in the admin site: editable; complaints themselves read-only."""

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.complaints.models import ApprovalLevel, Complaint, LetterTemplate
from tests.auth import sign_in


@pytest.fixture
def admin_client(manager: User) -> Client:
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    return sign_in(Client(), manager)


def test_rule_pages_open(admin_client: Client, handled: Complaint) -> None:
    for path in (
        "/admin/complaints/reviewpolicy/",
        "/admin/complaints/approvallevel/",
        "/admin/complaints/lettertemplate/",
        f"/admin/complaints/approvallevel/{ApprovalLevel.objects.get(rank=2).pk}/change/",
        f"/admin/complaints/complaint/{handled.pk}/change/",
    ):
        assert admin_client.get(path).status_code == 200, path


def test_a_limit_is_edited(admin_client: Client) -> None:
    level = ApprovalLevel.objects.get(rank=2)
    response = admin_client.post(
        f"/admin/complaints/approvallevel/{level.pk}/change/",
        {"rank": 2, "name": level.name, "roles": ["supervisor"], "limit": "3000"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    level.refresh_from_db()
    assert (level.roles, str(level.limit)) == (["supervisor"], "3000.00")


def test_a_letter_with_an_unknown_placeholder_is_refused(admin_client: Client) -> None:
    template = LetterTemplate.objects.get(code="complaint_answer", language="en")
    response = admin_client.post(
        f"/admin/complaints/lettertemplate/{template.pk}/change/",
        {
            "code": "complaint_answer",
            "language": "en",
            "subject": "Re: $complaint_number",
            "body": "Dear $customer, sorry.",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "$customer" in response.content.decode()
    template.refresh_from_db()
    assert template.subject == "Our answer to your complaint $complaint_number"


def test_complaints_cannot_be_changed_here(admin_client: Client, handled: Complaint) -> None:
    response = admin_client.post(
        f"/admin/complaints/complaint/{handled.pk}/change/", {"status": "closed"}
    )
    assert response.status_code == 403
    handled.refresh_from_db()
    assert handled.status == "handling"
    assert admin_client.get("/admin/complaints/complaint/add/").status_code == 403
