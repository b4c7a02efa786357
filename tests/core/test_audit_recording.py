"""What the audit log records, through real requests: sign-in, sign-out and failed sign-in,
refused requests, every view of personal data, case events and admin-site changes."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.cases.services import case_open
from aftersales.core.audit import username_hash
from aftersales.core.models import AuditEvent
from aftersales.customers.services import customer_create
from tests import factories
from tests.auth import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- sign-in ---------------------------------------------------------------------------------


def test_a_sign_in_is_recorded_with_the_address(client: Client, agent: User) -> None:
    client.post("/login/", {"username": "agent", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")
    [row] = _rows("auth.login")
    assert (row.actor_id, row.entity, row.entity_id, row.ip) == (
        agent.pk,
        "user",
        agent.pk,
        "10.0.0.7",
    )


def test_a_failed_sign_in_keeps_only_a_keyed_hash_of_the_name(client: Client, agent: User) -> None:
    response = client.post("/login/", {"username": "agent", "password": "wrong-password-1"})
    assert response.status_code == 401
    [row] = _rows("auth.login_failed")
    assert (row.actor_id, row.entity_id, row.ip) == (None, agent.pk, "127.0.0.1")
    assert row.data == {"username_hash": username_hash("agent")}
    assert "agent" not in json.dumps(row.data)


def test_a_failed_sign_in_with_an_unknown_name_names_no_account(
    client: Client, agent: User
) -> None:
    client.post("/login/", {"username": "nobody-here", "password": "wrong-password-1"})
    [row] = _rows("auth.login_failed")
    assert row.entity_id == 0
    assert row.data["username_hash"] == username_hash("Nobody-Here ")


def test_a_sign_out_is_recorded(client: Client, agent: User) -> None:
    sign_in(client, agent)
    client.post("/logout/")
    [row] = _rows("auth.logout")
    assert (row.actor_id, row.entity_id) == (agent.pk, agent.pk)


# --- refusals --------------------------------------------------------------------------------


def test_a_forbidden_page_is_recorded_without_its_query_string(client: Client, agent: User) -> None:
    sign_in(client, agent)
    assert client.get("/audit/?person=manager").status_code == 403
    [row] = _rows("access.denied")
    assert row.actor_id == agent.pk
    assert row.data == {"method": "GET", "path": "/audit/", "status": 403, "view": "web:audit_log"}


def test_a_record_outside_the_scope_is_recorded(
    client: Client, agent: User, other_team: Team, api: Callable[[User], Any]
) -> None:
    case = factories.case(factories.customer(), team=other_team)
    sign_in(client, agent)
    assert client.get(f"/cases/{case.number}/").status_code == 404
    assert api(agent).get(f"/cases/{case.number}").status_code == 404
    page, endpoint = _rows("access.denied")
    assert page.data["path"] == f"/cases/{case.number}/"
    assert page.data["status"] == 404
    assert endpoint.data["path"] == f"/api/v1/cases/{case.number}"
    assert endpoint.actor_id == agent.pk


def test_a_probe_with_control_characters_is_recorded_without_them(
    agent: User, api: Callable[[User], Any]
) -> None:
    # A NUL in the path cannot be stored in PostgreSQL's JSON: the refusal is still recorded.
    assert api(agent).get("/cases/SR2026%00%0a1").status_code == 404
    [row] = _rows("access.denied")
    assert row.data["path"] == "/api/v1/cases/SR20261"


def test_a_mistyped_address_is_not_a_refusal(client: Client, agent: User) -> None:
    sign_in(client, agent)
    assert client.get("/no-such-page/").status_code == 404
    assert _rows("access.denied") == []


def test_anonymous_requests_are_not_recorded_as_refusals(client: Client) -> None:
    client.get("/audit/")
    Client().get("/api/v1/audit")
    assert _rows("access.denied") == []


# --- views of personal data --------------------------------------------------------------------


def _viewed() -> list[tuple[str, int, int | None, str]]:
    return [
        (r.entity, r.entity_id, r.customer_id, r.data["via"]) for r in _rows("personal_data.viewed")
    ]


def test_the_customer_page_and_api_record_who_looked(
    client: Client, agent: User, api: Callable[[User], Any]
) -> None:
    customer = factories.customer()
    sign_in(client, agent)
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
    assert api(agent).get(f"/customers/{customer.pk}").status_code == 200
    assert api(agent).get(f"/customers/{customer.pk}/timeline").status_code == 200
    c = customer.pk
    assert _viewed() == [
        ("customer", c, c, "customer.page"),
        ("customer", c, c, "customer.api"),
        ("customer", c, c, "customer.timeline.api"),
    ]
    assert {r.actor_id for r in _rows("personal_data.viewed")} == {agent.pk}
    assert _rows("personal_data.viewed")[0].ip == "127.0.0.1"


def test_views_do_not_flood_the_customer_timeline(client: Client, agent: User) -> None:
    customer = factories.customer()
    sign_in(client, agent)
    client.get(f"/customers/{customer.pk}/")
    response = client.get(f"/api/v1/customers/{customer.pk}/timeline")
    assert "personal_data.viewed" not in response.content.decode()


def test_the_case_page_and_api_record_who_looked(
    client: Client, agent: User, desk_team: Team, api: Callable[[User], Any]
) -> None:
    customer = factories.customer()
    case = factories.case(customer, team=desk_team)
    sign_in(client, agent)
    assert client.get(f"/cases/{case.number}/").status_code == 200
    assert api(agent).get(f"/cases/{case.number}").status_code == 200
    assert api(agent).get(f"/cases/{case.number}/events").status_code == 200
    assert _viewed() == [
        ("case", case.pk, customer.pk, "case.page"),
        ("case", case.pk, customer.pk, "case.api"),
        ("case", case.pk, customer.pk, "case.events.api"),
    ]


def test_each_customer_a_caller_look_up_shows_is_recorded(
    agent: User, api: Callable[[User], Any]
) -> None:
    first = customer_create(actor=agent, name="张三", phones=["13800138000"])
    second = customer_create(actor=agent, name="张四", phones=["13800138000"])
    other = customer_create(actor=agent, name="李四", phones=["13900139000"])
    response = api(agent).post("/customers/lookup", {"phone": "138 0013 8000"})
    assert response.status_code == 200
    assert sorted(_viewed()) == [
        ("customer", first.pk, first.pk, "caller_lookup.api"),
        ("customer", second.pk, second.pk, "caller_lookup.api"),
    ]
    assert other.pk not in {row[1] for row in _viewed()}


def test_the_caller_look_up_page_records_the_customers_shown(client: Client, agent: User) -> None:
    customer = customer_create(actor=agent, name="张三", phones=["13800138000"])
    sign_in(client, agent)
    response = client.post("/customers/call/", {"phone": "13800138000"}, follow=True)
    assert response.status_code == 200
    assert _viewed() == [("customer", customer.pk, customer.pk, "caller_lookup.page")]


# --- changes ---------------------------------------------------------------------------------


def test_case_events_are_mirrored_without_their_free_text(agent: User) -> None:
    customer = factories.customer()
    case, _ = case_open(
        actor=agent, customer=customer, channel="phone", subject="张三家的冰箱不制冷"
    )
    [row] = _rows("case.created")
    assert (row.entity, row.entity_id, row.customer_id, row.actor_id) == (
        "case",
        case.pk,
        customer.pk,
        agent.pk,
    )
    assert row.data["number"] == case.number
    assert row.data["event_id"] == case.events.get(kind="created").pk
    assert "张三" not in json.dumps(row.data, ensure_ascii=False)


def test_admin_site_changes_are_mirrored_without_the_object_text(manager: User) -> None:
    customer = factories.customer(name="王五")
    LogEntry.objects.log_actions(
        manager.pk,
        [customer],
        CHANGE,
        change_message=[{"changed": {"fields": ["Notes"]}}],
        single_object=True,
    )
    [row] = _rows("admin.changed")
    assert (row.actor_id, row.entity, row.entity_id, row.customer_id) == (
        manager.pk,
        "customer",
        customer.pk,
        customer.pk,
    )
    assert row.data["change_message"] == '[{"changed": {"fields": ["Notes"]}}]'
    assert "王五" not in json.dumps(row.data, ensure_ascii=False)
