from collections.abc import Callable
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.cases.models import Case, CaseEvent
from tests import factories
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_api(api: Callable[[User], ApiClient], agent: User) -> ApiClient:
    return api(agent)


def _open(client: ApiClient, customer: Any, **extra: Any) -> Any:
    body = {"customer_id": customer.pk, "channel": "phone", "subject": "电视无法开机", **extra}
    return client.post("/cases", body)


class TestIntake:
    def test_open_case(self, agent_api: ApiClient, customer: Any, desk_team: Team) -> None:
        response = _open(
            agent_api,
            customer,
            description="按电源键无反应",
            nature="hardware",
            subcategory="no_power",
            urgency="high",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["number"].startswith("SR")
        assert body["status"] == "triaged"
        assert body["team"]["id"] == desk_team.pk
        assert body["customer"]["id"] == customer.pk
        assert "cancel" in body["allowed_actions"]
        assert Case.objects.get(number=body["number"]).description == "按电源键无反应"

    def test_idempotency_key_header(self, agent_api: ApiClient, customer: Any) -> None:
        first = agent_api.post(
            "/cases",
            {"customer_id": customer.pk, "channel": "app", "subject": "s"},
            Idempotency_Key="abc",
        )
        second = agent_api.post(
            "/cases",
            {"customer_id": customer.pk, "channel": "app", "subject": "s"},
            Idempotency_Key="abc",
        )
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["number"] == second.json()["number"]
        assert Case.objects.count() == 1

    def test_reused_key_for_other_request_is_409(self, agent_api: ApiClient, customer: Any) -> None:
        agent_api.post(
            "/cases",
            {"customer_id": customer.pk, "channel": "app", "subject": "a"},
            Idempotency_Key="k",
        )
        again = agent_api.post(
            "/cases",
            {"customer_id": customer.pk, "channel": "app", "subject": "b"},
            Idempotency_Key="k",
        )
        assert again.status_code == 409
        assert again.json()["code"] == "idempotency_key_reused"

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"channel": "phone", "subject": "s"}, 422, "invalid_input"),  # no customer
            ({"customer_id": "x", "channel": "phone", "subject": "s"}, 422, "invalid_input"),
            ({"customer_id": 999999, "channel": "phone", "subject": "s"}, 422, "unknown_customer"),
            ({"customer_id": 0, "channel": "fax", "subject": "s"}, 422, "invalid_input"),
            ({"channel": "phone", "subject": "", "customer_id": 1}, 422, "invalid_input"),
            ({"channel": "phone", "subject": "s" * 201, "customer_id": 1}, 422, "invalid_input"),
            (
                {"channel": "phone", "subject": "s", "customer_id": 1, "status": "closed"},
                422,
                "invalid_input",
            ),
            (
                {"channel": "phone", "subject": "s", "customer_id": 1, "priority": 1},
                422,
                "invalid_input",
            ),
            (
                {
                    "channel": "phone",
                    "subject": "s",
                    "customer_id": 1,
                    "nature": "hardware",
                    "subcategory": "app",
                },
                400,
                "invalid_classification",
            ),
            (
                {"channel": "phone", "subject": "s", "customer_id": 1, "unit_id": 424242},
                422,
                "unknown_unit",
            ),
        ],
    )
    def test_bad_input_rejected_and_nothing_changes(
        self, agent_api: ApiClient, customer: Any, body: dict[str, Any], status: int, code: str
    ) -> None:
        if body.get("customer_id") == 1:
            body["customer_id"] = customer.pk
        response = agent_api.post("/cases", body)
        assert response.status_code == status, response.content
        payload = response.json()
        assert payload["code"] == code
        assert payload["message"]
        assert "details" in payload
        assert not Case.objects.exists() and not CaseEvent.objects.exists()

    def test_malformed_json(self, agent_api: ApiClient) -> None:
        response = agent_api.client.post(
            "/api/v1/cases", "{not json", content_type="application/json"
        )
        assert response.status_code in (400, 422)
        assert "code" in response.json()
        assert not Case.objects.exists()

    def test_unauthenticated(self, client: Any, customer: Any) -> None:
        response = client.post(
            "/api/v1/cases", {"customer_id": customer.pk}, content_type="application/json"
        )
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"

    def test_role_without_permission_gets_403(
        self, api: Callable[[User], ApiClient], warehouse_user: User, customer: Any
    ) -> None:
        response = _open(api(warehouse_user), customer)
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert not Case.objects.exists()


class TestLifecycle:
    def test_full_flow(
        self, agent_api: ApiClient, agent: User, customer: Any, desk_team: Team
    ) -> None:
        number = _open(agent_api, customer).json()["number"]
        r = agent_api.post(
            f"/cases/{number}/classify",
            {"nature": "hardware", "subcategory": "no_power", "urgency": "normal"},
        )
        assert r.status_code == 200 and r.json()["status"] == "triaged"
        r = agent_api.post(f"/cases/{number}/assign", {"assignee_id": agent.pk})
        assert r.status_code == 200 and r.json()["status"] == "assigned"
        assert (
            agent_api.post(f"/cases/{number}/transitions", {"action": "start"}).json()["status"]
            == "in_progress"
        )
        r = agent_api.post(
            f"/cases/{number}/contacts",
            {"direction": "out", "channel": "phone", "body": "指导重置"},
        )
        assert r.status_code == 201 and r.json()["kind"] == "contact"
        r = agent_api.post(
            f"/cases/{number}/transitions", {"action": "resolve", "solution_type": "remote"}
        )
        assert r.json()["status"] == "resolved"
        assert r.json()["first_response_at"] is not None
        r = agent_api.post(f"/cases/{number}/transitions", {"action": "close"})
        assert r.json()["status"] == "closed"
        events = agent_api.get(f"/cases/{number}/events").json()
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "created" and kinds.count("status") == 5
        assert all(e["actor"]["id"] == agent.pk for e in events)

    def test_refused_transition_is_409_and_changes_nothing(
        self, agent_api: ApiClient, customer: Any
    ) -> None:
        number = _open(agent_api, customer).json()["number"]
        before = CaseEvent.objects.count()
        r = agent_api.post(f"/cases/{number}/transitions", {"action": "close"})
        assert r.status_code == 409
        assert r.json()["code"] == "invalid_transition"
        assert r.json()["details"] == {"status": "new", "action": "close"}
        assert Case.objects.get(number=number).status == "new"
        assert CaseEvent.objects.count() == before

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("transitions", {"action": "fly"}),
            ("transitions", {"action": "start", "extra": 1}),
            ("classify", {"nature": "nonsense"}),
            ("assign", {"assignee_id": -1}),
            ("contacts", {"direction": "up", "channel": "phone", "body": "x"}),
            ("contacts", {"direction": "in", "channel": "phone", "body": ""}),
            ("notes", {}),
        ],
    )
    def test_bad_action_input(
        self, agent_api: ApiClient, customer: Any, path: str, body: dict[str, Any]
    ) -> None:
        number = _open(agent_api, customer).json()["number"]
        before = CaseEvent.objects.count()
        r = agent_api.post(f"/cases/{number}/{path}", body)
        assert 400 <= r.status_code < 500
        assert set(r.json()) == {"code", "message", "details"}
        assert CaseEvent.objects.count() == before


class TestScope:
    def test_other_team_agent_gets_404_everywhere(
        self,
        api: Callable[[User], ApiClient],
        agent_api: ApiClient,
        other_agent: User,
        customer: Any,
    ) -> None:
        number = _open(agent_api, customer).json()["number"]
        other = api(other_agent)
        assert other.get(f"/cases/{number}").status_code == 404
        assert other.get(f"/cases/{number}/events").status_code == 404
        for path, body in [
            ("transitions", {"action": "cancel", "reason": "x"}),
            ("classify", {"nature": "usage"}),
            ("contacts", {"direction": "in", "channel": "phone", "body": "x"}),
            ("notes", {"body": "x"}),
            ("assign", {}),
        ]:
            r = other.post(f"/cases/{number}/{path}", body)
            assert r.status_code == 404, path
            assert r.json()["code"] == "not_found"
        assert other.get("/cases").json()["count"] == 0
        assert Case.objects.get(number=number).status == "new"

    def test_supervisor_and_manager_see_team_case(
        self,
        api: Callable[[User], ApiClient],
        agent_api: ApiClient,
        supervisor: User,
        manager: User,
        customer: Any,
    ) -> None:
        number = _open(agent_api, customer).json()["number"]
        assert api(supervisor).get(f"/cases/{number}").status_code == 200
        assert api(manager).get(f"/cases/{number}").status_code == 200

    def test_technician_sees_only_assigned(
        self,
        api: Callable[[User], ApiClient],
        manager: User,
        technician: User,
        tech_team: Team,
        customer: Any,
    ) -> None:
        mgr = api(manager)
        number = _open(mgr, customer).json()["number"]
        tech = api(technician)
        assert tech.get(f"/cases/{number}").status_code == 404
        r = mgr.post(
            f"/cases/{number}/assign", {"team_id": tech_team.pk, "assignee_id": technician.pk}
        )
        assert r.status_code == 200, r.content
        assert tech.get(f"/cases/{number}").status_code == 200
        assert tech.get("/cases").json()["count"] == 1


class TestQueue:
    def test_filters_and_search(self, agent_api: ApiClient, customer: Any) -> None:
        unit = factories.unit(customer=customer, serial_number="SNQUEUE001")
        a = _open(
            agent_api, customer, nature="software", subcategory="app", unit_id=unit.pk
        ).json()["number"]
        _open(agent_api, customer, urgency="critical")
        assert agent_api.get("/cases", nature="software").json()["items"][0]["number"] == a
        items = agent_api.get("/cases").json()["items"]
        assert items[0]["urgency"] == "critical"  # most urgent first
        assert agent_api.post("/cases/search", {"q": a}).json()["count"] == 1
        assert agent_api.post("/cases/search", {"q": "snqueue001"}).json()["count"] == 1
        assert agent_api.post("/cases/search", {"q": customer.name}).json()["count"] == 2
        found = agent_api.post("/cases/search", {"q": customer.name, "urgency": "critical"})
        assert found.json()["count"] == 1  # the search takes the queue's filters too
        assert agent_api.get("/cases", status="open").json()["count"] == 2
        assert agent_api.get("/cases", status="closed").json()["count"] == 0

    @pytest.mark.parametrize(
        "params",
        [
            {"status": "nope"},
            {"limit": 0},
            {"limit": 1000},
            {"date_from": "yesterday"},
            # Past a 64-bit integer: no id or row can match, and the database refused to compare.
            {"offset": 2**63},
            {"team": 2**63},
            {"assignee": 2**63},
            {"product_line": 2**63},
        ],
    )
    def test_bad_filters(self, agent_api: ApiClient, params: dict[str, Any]) -> None:
        r = agent_api.get("/cases", **params)
        assert r.status_code == 422
        assert r.json()["code"] == "invalid_input"

    def test_search_term_in_the_url_is_refused(self, agent_api: ApiClient) -> None:
        # A phone number or a name is personal data: it goes in a POST body, not a URL.
        r = agent_api.get("/cases", q="13800138000")
        assert (r.status_code, r.json()["code"]) == (422, "search_in_url")

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"q": "SR\x00"}, 400, "bad_request"),  # PostgreSQL cannot take a NUL character
            ({"q": ""}, 422, "invalid_input"),
            ({"q": "x" * 101}, 422, "invalid_input"),
            ({}, 422, "invalid_input"),
            ({"q": "SR1", "status": "nope"}, 422, "invalid_input"),
        ],
    )
    def test_bad_search(
        self, agent_api: ApiClient, body: dict[str, Any], status: int, code: str
    ) -> None:
        r = agent_api.post("/cases/search", body)
        assert (r.status_code, r.json()["code"]) == (status, code)

    def test_calendar_ends_as_dates_bound_nothing(
        self, agent_api: ApiClient, customer: Any
    ) -> None:
        # Their local midnights, converted to UTC, used to overflow into a 500.
        _open(agent_api, customer)
        r = agent_api.get("/cases", date_from="0001-01-01", date_to="9999-12-31")
        assert r.status_code == 200, r.content
        assert r.json()["count"] == 1

    def test_largest_offset_is_an_empty_page(self, agent_api: ApiClient, customer: Any) -> None:
        _open(agent_api, customer)
        r = agent_api.get("/cases", offset=2**63 - 1)
        assert r.status_code == 200, r.content
        assert r.json() == {"count": 1, "items": []}

    @pytest.mark.parametrize("number", ["SR\x00", "SR2026110000001\x00", "not-a-number"])
    def test_malformed_case_number_is_404(self, agent_api: ApiClient, number: str) -> None:
        r = agent_api.get(f"/cases/{number}")
        assert r.status_code == 404
        assert r.json() == {"code": "not_found", "message": "No such record.", "details": {}}


def test_openapi_lists_case_operations(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/{number}/transitions",
        "/api/v1/cases/{number}/classify",
        "/api/v1/cases/{number}/assign",
        "/api/v1/cases/{number}/contacts",
        "/api/v1/cases/{number}/events",
    ]:
        assert path in paths, path


@pytest.mark.parametrize("key", ["k" * 81, "bad\x01key"])
def test_bad_idempotency_key_is_refused(
    api: Callable[[User], ApiClient], agent: User, customer: Any, key: str
) -> None:
    response = api(agent).post(
        "/cases",
        {"customer_id": customer.pk, "channel": "app", "subject": "s"},
        Idempotency_Key=key,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not Case.objects.exists()


def test_callback_agent_follows_up_resolved_cases_of_any_team(
    api: Callable[[User], ApiClient], make_staff: Any, agent: User, customer: Any
) -> None:
    from aftersales.accounts.roles import Role
    from aftersales.accounts.services import team_create

    callback_team = team_create(code="callback", name="回访组", kind="callback")
    caller = make_staff(Role.CALLBACK_AGENT, teams=[callback_team])
    desk = api(agent)
    number = _open(desk, customer).json()["number"]
    callback = api(caller)
    assert callback.get(f"/cases/{number}").status_code == 404  # still open: the desk's work
    desk.post(f"/cases/{number}/assign", {"assignee_id": agent.pk})
    desk.post(f"/cases/{number}/transitions", {"action": "start"})
    desk.post(f"/cases/{number}/transitions", {"action": "resolve", "solution_type": "remote"})
    assert callback.get(f"/cases/{number}").status_code == 200
    r = callback.post(
        f"/cases/{number}/contacts",
        {"direction": "out", "channel": "phone", "body": "回访确认已解决"},
    )
    assert r.status_code == 201
    assert callback.post(f"/cases/{number}/transitions", {"action": "close"}).json()["status"] == (
        "closed"
    )
    assert callback.get(f"/cases/{number}").status_code == 404  # closed: out of the worklist
