"""Disabling a member of staff takes effect at once; a removed role on the next request."""

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.test import Client

from aftersales.accounts.models import ApiToken, Team, User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_set_active
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from tests import factories
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.ADMINISTRATOR, username="admin")


def actions_about(user: User) -> list[str]:
    return list(
        AuditEvent.objects.filter(entity="user", entity_id=user.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_disabling_revokes_tokens_and_ends_sessions_at_once(
    agent: User, administrator: User, api: Callable[[User], Any]
) -> None:
    integration = api(agent)
    page = sign_in(Client(), agent)
    assert integration.get("/auth/me").status_code == 200
    assert page.get("/cases/").status_code == 200

    staff_set_active(actor=administrator, user=agent, active=False)

    refused = integration.get("/auth/me")
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
    response = page.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in page.session
    assert not ApiToken.objects.filter(user=agent, revoked_at__isnull=True).exists()
    assert actions_about(agent)[-3:] == [
        "staff.disabled",
        "auth.tokens_revoked",
        "auth.sessions_ended",
    ]
    revoked = AuditEvent.objects.get(action="auth.tokens_revoked")
    assert revoked.data == {"count": 1, "reason": "disabled"} and revoked.actor == administrator


def test_enabling_again_brings_back_neither_tokens_nor_sessions(
    agent: User, administrator: User, api: Callable[[User], Any]
) -> None:
    integration = api(agent)
    page = sign_in(Client(), agent)
    staff_set_active(actor=administrator, user=agent, active=False)
    staff_set_active(actor=administrator, user=agent, active=True)
    assert integration.get("/auth/me").status_code == 401
    assert page.get("/cases/").status_code == 302
    assert actions_about(agent)[-1] == "staff.enabled"
    assert sign_in(Client(), agent).get("/cases/").status_code == 200


def test_only_administrators_disable_accounts(agent: User, supervisor: User) -> None:
    with pytest.raises(PermissionDenied):
        staff_set_active(actor=supervisor, user=agent, active=False)
    agent.refresh_from_db()
    assert agent.is_active
    assert "staff.disabled" not in actions_about(agent)


def test_nobody_disables_their_own_account(administrator: User) -> None:
    with pytest.raises(ApplicationError) as refused:
        staff_set_active(actor=administrator, user=administrator, active=False)
    assert refused.value.code == "cannot_disable_self"
    administrator.refresh_from_db()
    assert administrator.is_active


def test_a_disabled_account_cannot_sign_in_or_get_a_token(agent: User, administrator: User) -> None:
    from tests.conftest import PASSWORD

    staff_set_active(actor=administrator, user=agent, active=False)
    client = Client()
    assert client.post("/login/", {"username": "agent", "password": PASSWORD}).status_code == 401
    token = client.post(
        "/api/v1/auth/token",
        {"username": "agent", "password": PASSWORD},
        content_type="application/json",
    )
    assert token.status_code == 401


# --- the admin site -------------------------------------------------------------------------


class _FormFields(HTMLParser):
    """What a browser would submit from the page's main form (inputs, selects, textareas)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.append((name, a.get("value") or "on"))
            else:
                self.data.append((name, a.get("value", "")))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = name
            self.data.append((name, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _form_data(html: str) -> dict[str, Any]:
    parser = _FormFields()
    parser.feed(html)
    data: dict[str, Any] = {}
    for name, value in parser.data:
        data.setdefault(name, []).append(value)
    return {k: v if len(v) > 1 else v[0] for k, v in data.items()}


@pytest.fixture
def admin_client(administrator: User) -> Client:
    administrator.is_superuser = True
    administrator.save()
    return sign_in(Client(), administrator)


def test_unticking_active_in_the_admin_revokes_tokens_and_ends_sessions(
    agent: User, admin_client: Client, api: Callable[[User], Any]
) -> None:
    integration = api(agent)
    page = sign_in(Client(), agent)
    url = f"/admin/accounts/user/{agent.pk}/change/"
    data = _form_data(admin_client.get(url).content.decode())
    assert data.pop("is_active") == "on"
    data["display_name"] = "Agent renamed"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    agent.refresh_from_db()
    assert not agent.is_active and agent.display_name == "Agent renamed"
    assert integration.get("/auth/me").status_code == 401
    assert page.get("/cases/").status_code == 302
    assert "staff.disabled" in actions_about(agent)


def test_the_admin_action_disables_the_selected_accounts(
    agent: User, other_agent: User, admin_client: Client
) -> None:
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "disable_users", "_selected_action": [agent.pk, other_agent.pk]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[agent.pk, other_agent.pk], is_active=True).exists()
    assert AuditEvent.objects.filter(action="staff.disabled").count() == 2


def test_a_password_set_in_the_admin_is_audited_and_ends_sessions(
    agent: User, admin_client: Client
) -> None:
    page = sign_in(Client(), agent)
    new = "violet mountain ferry 88"
    response = admin_client.post(
        f"/admin/accounts/user/{agent.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password(new)
    assert "auth.password_changed" in actions_about(agent)
    assert page.get("/cases/").status_code == 302


# --- roles ----------------------------------------------------------------------------------


def test_a_removed_role_takes_effect_on_the_next_request(
    agent: User, desk_team: Team, api: Callable[[User], Any]
) -> None:
    case = factories.case(factories.customer(), team=desk_team, assignee=agent)
    integration = api(agent)
    page = sign_in(Client(), agent)
    assert integration.get(f"/cases/{case.number}").status_code == 200
    assert page.get(f"/cases/{case.number}/").status_code == 200
    agent.groups.remove(Group.objects.get(name=Role.FRONTLINE_AGENT.value))
    # No role: no scope and no permission, from the very next request (nothing is cached).
    assert integration.get(f"/cases/{case.number}").status_code in (403, 404)
    assert page.get(f"/cases/{case.number}/").status_code in (403, 404)
    assert page.get("/cases/").status_code == 403
