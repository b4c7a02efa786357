import pytest
from django.test import Client

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


def test_administrator_manages_staff_and_teams(desk_team) -> None:  # type: ignore[no-untyped-def]
    admin = staff_create(
        username="root",
        password="Admin-pass-2026",
        display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )
    admin.is_superuser = True
    admin.save()
    client = Client()
    sign_in(client, admin)
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/team/").status_code == 200
    assert (
        desk_team.name
        in client.get(f"/admin/accounts/team/{desk_team.pk}/change/").content.decode()
    )
    assert client.get("/admin/catalog/productmodel/").status_code == 200


def test_agents_do_not_get_the_admin_site(agent) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    sign_in(client, agent)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
