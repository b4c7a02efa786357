"""The supervisor's audit search: the /audit/ page and GET /api/v1/audit (core.audit_search)."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.core import clock
from aftersales.core.models import AuditEvent
from aftersales.core.services import audit_record
from tests import factories
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(agent: User, other_agent: User, desk_team: Team) -> dict[str, Any]:
    """A customer, a case and rows by two agents at known times (oldest first)."""
    customer = factories.customer()
    other_customer = factories.customer()
    case = factories.case(customer, team=desk_team)
    start = clock.now() - dt.timedelta(days=3)
    rows = {}
    for hours, key, actor, action, entity, entity_id, customer_id in [
        (0, "seen", agent, "personal_data.viewed", "customer", customer.pk, customer.pk),
        (1, "case", agent, "case.status", "case", case.pk, customer.pk),
        (2, "other", other_agent, "personal_data.viewed", "customer", other_customer.pk, None),
        (3, "login", other_agent, "auth.login", "user", other_agent.pk, None),
    ]:
        with clock.frozen_at(start + dt.timedelta(hours=hours)):
            rows[key] = audit_record(
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                customer_id=customer_id,
                ip="10.0.0.1",
            )
    return {"customer": customer, "case": case, "start": start, "rows": rows}


def _ids(response: Any) -> list[int]:
    return [row.pk for row in response.context["page"]]


def _page(client: Client, **params: Any) -> Any:
    return client.get("/audit/", params)


def test_manager_searches_by_person_customer_object_action_and_time(
    client: Client, manager: User, history: dict[str, Any]
) -> None:
    sign_in(client, manager)
    rows = history["rows"]
    customer, case, start = history["customer"], history["case"], history["start"]

    # What the browser's datetime-local field sends: local time, no zone.
    local_until = timezone.localtime(start + dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    everything = _page(client, until=local_until)
    assert everything.status_code == 200
    # Newest first.
    assert _ids(everything) == [rows[k].pk for k in ("login", "other", "case", "seen")]
    assert _ids(_page(client, person="agent")) == [rows["case"].pk, rows["seen"].pk]
    assert _ids(_page(client, customer=customer.number.lower())) == [
        rows["case"].pk,
        rows["seen"].pk,
    ]
    assert _ids(_page(client, case=case.number)) == [rows["case"].pk]
    assert _ids(_page(client, entity="customer", entity_id=customer.pk)) == [rows["seen"].pk]
    assert _ids(_page(client, action="auth.", person="other_agent")) == [rows["login"].pk]
    window = _page(
        client,
        since=(start + dt.timedelta(minutes=30)).isoformat(),
        until=(start + dt.timedelta(hours=2, minutes=30)).isoformat(),
    )
    assert _ids(window) == [rows["other"].pk, rows["case"].pk]
    assert _ids(_page(client, customer="CT-NO-SUCH")) == []


def test_the_page_shows_actor_time_action_object_address_and_data(
    client: Client, supervisor: User, history: dict[str, Any]
) -> None:
    sign_in(client, supervisor)
    html = _page(client, case=history["case"].number).content.decode()
    row = history["rows"]["case"]
    assert f'id="audit-{row.pk}"' in html
    for text in ("agent", "case.status", f"case#{history['case'].pk}", "10.0.0.1"):
        assert text in html
    assert 'href="/audit/"' in html  # the navigation entry


def test_searching_the_log_is_itself_recorded(client: Client, supervisor: User) -> None:
    sign_in(client, supervisor)
    _page(client, person="agent", action="auth.")
    [row] = AuditEvent.objects.filter(action="audit.searched")
    assert row.actor_id == supervisor.pk
    assert row.data == {"via": "audit.page", "filters": {"person": "agent", "action": "auth."}}


def test_a_supervisor_reads_only_the_rows_of_their_scope(
    client: Client, supervisor: User, history: dict[str, Any], api: Callable[[User], Any]
) -> None:
    # The supervisor leads the Shenzhen desk: its agent's rows and its case's rows, not what
    # an agent of the Beijing desk did.
    rows = history["rows"]
    sign_in(client, supervisor)
    assert _ids(_page(client, person="agent")) == [rows["case"].pk, rows["seen"].pk]
    assert _ids(_page(client, action="personal_data.")) == [rows["seen"].pk]
    assert _ids(_page(client, person="other_agent")) == []
    items = api(supervisor).get("/audit").json()["items"]
    assert {item["id"] for item in items} >= {rows["case"].pk, rows["seen"].pk}
    assert not {item["id"] for item in items} & {rows["other"].pk, rows["login"].pk}


def test_the_log_pages_newest_first(client: Client, manager: User) -> None:
    for i in range(60):
        audit_record(actor=None, action="test.many", entity="thing", entity_id=i)
    sign_in(client, manager)
    first = _page(client, action="test.many")
    second = _page(client, action="test.many", page=2)
    assert [r.entity_id for r in first.context["page"]][:2] == [59, 58]
    assert len(first.context["page"]) == 50
    assert [r.entity_id for r in second.context["page"]] == list(range(9, -1, -1))


def test_bad_filters_answer_422_and_search_nothing(client: Client, supervisor: User) -> None:
    sign_in(client, supervisor)
    response = _page(client, entity_id="abc", since="yesterday")
    assert response.status_code == 422
    assert response.context["page"] is None
    assert not AuditEvent.objects.filter(action="audit.searched").exists()


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.MANAGER, Role.ADMINISTRATOR])
def test_supervisors_and_up_may_read_the_log(
    client: Client, make_staff: Callable[..., User], role: Role
) -> None:
    sign_in(client, make_staff(role))
    assert _page(client).status_code == 200


@pytest.mark.parametrize(
    "role", [Role.FRONTLINE_AGENT, Role.SENIOR_AGENT, Role.TECHNICIAN, Role.WAREHOUSE]
)
def test_other_roles_are_refused(
    client: Client, make_staff: Callable[..., User], api: Callable[[User], Any], role: Role
) -> None:
    user = make_staff(role)
    sign_in(client, user)
    page = _page(client)
    assert page.status_code == 403
    assert 'href="/audit/"' not in client.get("/notifications/").content.decode()
    response = api(user).get("/audit")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not AuditEvent.objects.filter(action="audit.searched").exists()


# --- the API ---------------------------------------------------------------------------------


def test_api_search_returns_the_rows_newest_first(
    supervisor: User, api: Callable[[User], Any], history: dict[str, Any], agent: User
) -> None:
    response = api(supervisor).get("/audit", person="agent")
    assert response.status_code == 200
    body = response.json()
    rows = history["rows"]
    assert body["count"] == 2
    assert [item["id"] for item in body["items"]] == [rows["case"].pk, rows["seen"].pk]
    item = body["items"][0]
    assert item["actor"] == "agent"
    assert item["actor_id"] == agent.pk
    assert (item["action"], item["entity"], item["entity_id"]) == (
        "case.status",
        "case",
        history["case"].pk,
    )
    assert (item["customer_id"], item["ip"]) == (history["customer"].pk, "10.0.0.1")
    assert item["row_hash"] == rows["case"].row_hash
    searched = AuditEvent.objects.get(action="audit.searched")
    assert searched.data == {"via": "audit.api", "filters": {"person": "agent"}}


def test_api_filters_by_case_customer_and_time(
    manager: User, api: Callable[[User], Any], history: dict[str, Any]
) -> None:
    rows, start = history["rows"], history["start"]
    client = api(manager)

    def ids(**params: Any) -> list[int]:
        response = client.get("/audit", **params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert ids(case=history["case"].number) == [rows["case"].pk]
    assert ids(customer=history["customer"].number) == [rows["case"].pk, rows["seen"].pk]
    assert ids(
        action="personal_data.",
        since=start.isoformat(),
        until=(start + dt.timedelta(hours=3)).isoformat(),
    ) == [rows["other"].pk, rows["seen"].pk]


def test_api_refuses_bad_filters(supervisor: User, api: Callable[[User], Any]) -> None:
    for params in (
        {"since": "soon"},
        {"entity_id": -1},
        {"entity": "Robert'); DROP"},
        {"since": "0001-01-01T00:00:00+23:00"},  # before the first representable instant
    ):
        response = api(supervisor).get("/audit", **params)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"
    assert not AuditEvent.objects.filter(action="audit.searched").exists()


def test_api_schema_describes_the_search(supervisor: User, api: Callable[[User], Any]) -> None:
    schema = api(supervisor).get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/audit"]["get"]
    assert operation["operationId"] == "audit_search"
    names = {p["name"] for p in operation["parameters"]}
    assert {
        "person",
        "customer",
        "case",
        "entity",
        "entity_id",
        "action",
        "since",
        "until",
    } <= names
    assert {"limit", "offset"} <= names
