from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import ApiToken, User
from aftersales.accounts.services import api_token_revoke
from tests.auth import totp_code, totp_device
from tests.conftest import PASSWORD, ApiClient

pytestmark = pytest.mark.django_db


def _post(client: Client, body: Any) -> Any:
    return client.post("/api/v1/auth/token", body, content_type="application/json")


def test_token_for_credentials_authenticates_api_calls(client: Client, agent: User) -> None:
    code = totp_code(totp_device(agent))
    response = _post(
        client, {"username": "agent", "password": PASSWORD, "otp": code, "name": "crm"}
    )
    assert response.status_code == 201
    key = response.json()["token"]
    assert key.startswith("ast_")
    stored = ApiToken.objects.get(user=agent)
    assert stored.name == "crm" and key not in stored.key_hash  # only the hash is kept
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert me["username"] == "agent" and me["roles"] == ["frontline_agent"]
    assert me["scope"] == "team"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "agent", "password": "wrong"}, 401, "invalid_credentials"),
        ({"username": "nobody", "password": "x"}, 401, "invalid_credentials"),
        ({"username": "agent"}, 422, "invalid_input"),
        ({"username": "agent", "password": PASSWORD, "is_superuser": True}, 422, "invalid_input"),
    ],
)
def test_bad_credentials(
    client: Client, agent: User, body: dict[str, Any], status: int, code: str
) -> None:
    response = _post(client, body)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert not ApiToken.objects.exists()


def test_revoked_token_and_disabled_user_are_refused_at_once(
    api: Callable[[User], ApiClient], agent: User
) -> None:
    client = api(agent)
    assert client.get("/auth/me").status_code == 200
    api_token_revoke(token=ApiToken.objects.get(user=agent))
    assert client.get("/auth/me").status_code == 401

    other = api(agent)
    User.objects.filter(pk=agent.pk).update(is_active=False)
    assert other.get("/auth/me").status_code == 401


def test_removed_role_takes_effect_on_next_request(
    api: Callable[[User], ApiClient], agent: User
) -> None:
    client = api(agent)
    assert client.get("/cases").status_code == 200
    agent.groups.clear()
    response = client.post("/cases", {"customer_id": 1, "channel": "phone", "subject": "s"})
    assert response.status_code == 403
    assert client.get("/auth/me").json()["scope"] == "none"


def test_token_use_is_recorded_at_minute_precision(agent: User) -> None:
    import datetime as dt

    from aftersales.accounts.services import api_token_authenticate, api_token_create
    from aftersales.core import clock

    token, key = api_token_create(user=agent, name="crm")
    t0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    with clock.frozen_at(t0):
        assert api_token_authenticate(key=key) == agent
    with clock.frozen_at(t0 + dt.timedelta(seconds=30)):
        api_token_authenticate(key=key)
    token.refresh_from_db()
    assert token.last_used_at == t0
    with clock.frozen_at(t0 + dt.timedelta(minutes=2)):
        api_token_authenticate(key=key)
    token.refresh_from_db()
    assert token.last_used_at == t0 + dt.timedelta(minutes=2)
