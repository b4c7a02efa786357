import pytest
from django.test import Client

from aftersales.accounts.models import User
from tests.auth import sign_in, totp_code, totp_device
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_wrong_password_is_401_and_signs_nobody_in(client: Client, agent: User) -> None:
    response = client.post("/login/", {"username": "agent", "password": "not-it"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_lands_on_the_queue(client: Client, agent: User) -> None:
    device = totp_device(agent)
    response = client.post("/login/", {"username": "agent", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/")
    response = client.post(response["Location"], {"code": totp_code(device)})
    assert client.get(response["Location"], follow=True).request["PATH_INFO"] == "/cases/"


def test_language_switch(client: Client, agent: User) -> None:
    sign_in(client, agent)
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/cases/"})
    assert "工单队列" in client.get("/cases/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/cases/"})
    assert "Case queue" in client.get("/cases/").content.decode()
