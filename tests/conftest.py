"""Named fixture users per role, teams, and an authenticated API client."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.accounts.services import api_token_create, staff_create, team_create

PASSWORD = "Demo-pass-2026"


@pytest.fixture(autouse=True)
def _reference_data_after_flush(request: pytest.FixtureRequest) -> None:
    """Put back what the migrations install (roles, calendars, SLA policies, routing rules)
    for tests that commit: an earlier such test ends by emptying every table."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    if not marker.kwargs.get("serialized_rollback"):
        # Without it Django's flush re-runs post_migrate (roles, calendars...) and the next
        # serialized test's restore collides with those rows.
        pytest.fail("tests that commit need django_db(transaction=True, serialized_rollback=True)")
    request.getfixturevalue("transactional_db")
    from django.db import connection

    if getattr(connection, "_test_serialized_contents", None):
        return  # the serialized rollback has just restored the migrated state
    reference_data_reinstall()


def reference_data_reinstall() -> None:
    """What the migrations install (content types, permissions, roles, calendars, SLA policies,
    routing rules, callback, complaint and parts defaults), into an emptied database."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.management import create_contenttypes

    from aftersales.accounts.services import roles_sync
    from aftersales.callbacks.defaults import callbacks_defaults_ensure
    from aftersales.cases.routing_defaults import default_rules_install
    from aftersales.complaints.defaults import complaints_defaults_ensure
    from aftersales.core.calendars import default_calendars_ensure
    from aftersales.parts.defaults import parts_defaults_ensure
    from aftersales.sla.defaults import sla_defaults_ensure

    if not Permission.objects.exists():
        for app_config in apps.get_app_configs():
            create_contenttypes(app_config, verbosity=0)
            create_permissions(app_config, verbosity=0)
    roles_sync()
    default_calendars_ensure()
    sla_defaults_ensure()
    default_rules_install()
    callbacks_defaults_ensure()
    complaints_defaults_ensure()
    parts_defaults_ensure()


@pytest.fixture
def desk_team(db: Any) -> Team:
    return team_create(
        code="desk-sz", name="Front-line desk Shenzhen", kind="frontline", region="广东"
    )


@pytest.fixture
def other_team(db: Any) -> Team:
    return team_create(
        code="desk-bj", name="Front-line desk Beijing", kind="frontline", region="北京"
    )


@pytest.fixture
def tech_team(db: Any) -> Team:
    return team_create(code="tech", name="Technical support", kind="tech_support")


@pytest.fixture
def make_staff(db: Any) -> Callable[..., User]:
    counter = {"n": 0}

    def make(
        role: Role,
        *,
        teams: list[Team] | None = None,
        leads: list[Team] | None = None,
        username: str | None = None,
    ) -> User:
        counter["n"] += 1
        name = username or f"{role.value}{counter['n']}"
        return staff_create(
            username=name,
            password=PASSWORD,
            display_name=name,
            roles=[role],
            teams=teams,
            leads=leads,
        )

    return make


@pytest.fixture
def agent(make_staff: Callable[..., User], desk_team: Team) -> User:
    return make_staff(Role.FRONTLINE_AGENT, teams=[desk_team], username="agent")


@pytest.fixture
def other_agent(make_staff: Callable[..., User], other_team: Team) -> User:
    return make_staff(Role.FRONTLINE_AGENT, teams=[other_team], username="other_agent")


@pytest.fixture
def senior_agent(make_staff: Callable[..., User], desk_team: Team) -> User:
    return make_staff(Role.SENIOR_AGENT, teams=[desk_team], username="senior")


@pytest.fixture
def supervisor(make_staff: Callable[..., User], desk_team: Team) -> User:
    return make_staff(Role.SUPERVISOR, leads=[desk_team], username="supervisor")


@pytest.fixture
def manager(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.MANAGER, username="manager")


@pytest.fixture
def technician(make_staff: Callable[..., User], tech_team: Team) -> User:
    return make_staff(Role.TECHNICIAN, teams=[tech_team], username="tech")


@pytest.fixture
def review_team(db: Any) -> Team:
    return team_create(code="review", name="Complaint review group", kind="review")


@pytest.fixture
def reviewer(make_staff: Callable[..., User], review_team: Team) -> User:
    """A member of the independent complaint review group (and of no service team)."""
    return make_staff(Role.COMPLAINT_REVIEWER, teams=[review_team], username="reviewer")


@pytest.fixture
def callback_team(db: Any) -> Team:
    return team_create(code="callback", name="Callback team", kind="callback")


@pytest.fixture
def callback_agent(make_staff: Callable[..., User], callback_team: Team) -> User:
    """A member of the callback team (回访组), who works the return-visit worklist."""
    return make_staff(Role.CALLBACK_AGENT, teams=[callback_team], username="callback")


@pytest.fixture
def warehouse_user(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.WAREHOUSE, username="warehouse")


class ApiClient:
    """JSON client for /api/v1 authenticated with a real bearer token."""

    def __init__(self, user: User) -> None:
        _, key = api_token_create(user=user, name="tests")
        self.user = user
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def _url(self, path: str) -> str:
        return "/api/v1" + path

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(self._url(path), params)

    def post(self, path: str, data: Any = None, **headers: Any) -> Any:
        return self.client.post(
            self._url(path), data or {}, content_type="application/json", headers=headers
        )

    def patch(self, path: str, data: Any = None) -> Any:
        return self.client.patch(self._url(path), data or {}, content_type="application/json")

    def put(self, path: str, data: Any = None) -> Any:
        return self.client.put(self._url(path), data or {}, content_type="application/json")

    def delete(self, path: str) -> Any:
        return self.client.delete(self._url(path))


@pytest.fixture
def api() -> Callable[[User], ApiClient]:
    return ApiClient
