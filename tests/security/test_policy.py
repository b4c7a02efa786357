"""The region scope, the field rules of `aftersales.core.policy`, and the write allowlists."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role, Scope, widest_scope
from aftersales.accounts.selectors import user_region_team_ids, user_scope
from aftersales.accounts.services import team_create
from aftersales.cases.models import Case
from aftersales.cases.selectors import case_queryset_for
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.api import api as ninja_api
from aftersales.customers.models import Customer, TierScore
from tests import factories
from tests.auth import sign_in

from .world import FOREIGN_PHONE, FOREIGN_SERIAL, build_world

pytestmark = pytest.mark.django_db

AMOUNT = "8765.43"  # the foreign unit's purchase amount in `build_world`


# --- the region scope -------------------------------------------------------------------------


def test_regional_manager_sees_every_team_of_their_region_and_no_other() -> None:
    world = build_world(Role.REGIONAL_MANAGER)
    customer = factories.customer()
    sibling_case = factories.case(customer, team=world.sibling, subject="same region")
    home_case = factories.case(customer, team=world.home, subject="own team")
    blank = team_create(code="no-region", name="No region", kind="frontline")
    blank_case = factories.case(customer, team=blank, subject="no region")

    visible = set(case_queryset_for(world.user).values_list("pk", flat=True))

    assert user_scope(world.user) == Scope.REGION
    assert {sibling_case.pk, home_case.pk} <= visible
    assert world.case.pk not in visible  # Beijing
    assert blank_case.pk not in visible  # a blank region is not a region everyone shares
    assert blank.pk not in user_region_team_ids(world.user)


def test_a_supervisor_of_the_same_region_sees_only_the_teams_they_lead() -> None:
    world = build_world(Role.SUPERVISOR)
    sibling_case = factories.case(factories.customer(), team=world.sibling)
    home_case = factories.case(factories.customer(), team=world.home)

    visible = set(case_queryset_for(world.user).values_list("pk", flat=True))

    assert home_case.pk in visible
    assert sibling_case.pk not in visible


def test_a_regional_manager_of_two_regions_sees_both(make_staff: Callable[..., User]) -> None:
    gd = team_create(code="gd", name="GD", kind="frontline", region="广东")
    bj = team_create(code="bj", name="BJ", kind="frontline", region="北京")
    bj2 = team_create(code="bj2", name="BJ 2", kind="field", region="北京")
    sh = team_create(code="sh", name="SH", kind="frontline", region="上海")
    manager = make_staff(Role.REGIONAL_MANAGER, teams=[gd, bj])
    cases = {t.code: factories.case(factories.customer(), team=t) for t in (gd, bj, bj2, sh)}

    visible = set(case_queryset_for(manager).values_list("pk", flat=True))

    assert visible == {cases["gd"].pk, cases["bj"].pk, cases["bj2"].pk}


def test_region_is_wider_than_led_teams_and_narrower_than_all() -> None:
    assert widest_scope(["regional_manager", "supervisor"]) == Scope.REGION
    assert widest_scope(["regional_manager", "aftersales_manager"]) == Scope.ALL


def test_a_regional_manager_opens_a_case_of_their_region_over_the_api(
    api: Callable[[User], Any],
) -> None:
    world = build_world(Role.REGIONAL_MANAGER)
    case = factories.case(factories.customer(), team=world.sibling, subject="区域内的工单")

    assert api(world.user).get(f"/cases/{case.number}").json()["subject"] == "区域内的工单"
    assert api(world.user).get(f"/cases/{world.case.number}").status_code == 404


# --- field rules --------------------------------------------------------------------------------


def _give_case(world: Any, user: User) -> Case:
    """Assign the foreign customer's case to `user` (a technician's own work order)."""
    Case.objects.filter(pk=world.case.pk).update(assignee=user)
    return world.case


@pytest.mark.parametrize(
    ("role", "sees_amount", "sees_owner"),
    [
        (Role.FRONTLINE_AGENT, True, True),
        (Role.SUPERVISOR, True, True),
        (Role.TECHNICIAN, False, False),
        (Role.WAREHOUSE, False, False),
    ],
)
def test_unit_amount_and_owner_follow_the_field_rules(
    api: Callable[[User], Any], role: Role, sees_amount: bool, sees_owner: bool
) -> None:
    world = build_world(role)

    body = api(world.user).get(f"/catalog/units/{world.unit.pk}").json()
    listed = api(world.user).get("/catalog/units", serial=FOREIGN_SERIAL).json()["items"][0]
    page = sign_in(Client(), world.user).get(f"/units/{world.unit.pk}/").content.decode()

    for shown in (body, listed):
        assert shown["serial_number"] == FOREIGN_SERIAL
        assert shown["purchase_amount"] == (AMOUNT if sees_amount else None)
        assert (shown["customer"] is not None) == sees_owner
    assert (AMOUNT in page) == sees_amount
    assert (world.customer.number in page) == sees_owner


def test_a_technician_sees_the_owner_of_their_own_work_order_but_never_the_amount(
    api: Callable[[User], Any],
) -> None:
    world = build_world(Role.TECHNICIAN)
    _give_case(world, world.user)

    body = api(world.user).get(f"/catalog/units/{world.unit.pk}").json()
    page = sign_in(Client(), world.user).get(f"/units/{world.unit.pk}/").content.decode()

    assert body["customer"]["number"] == world.customer.number
    assert body["purchase_amount"] is None
    assert world.customer.number in page
    assert AMOUNT not in page


def _score(customer: Customer) -> TierScore:
    return TierScore.objects.create(
        customer=customer,
        purchase_amount=Decimal("54321.00"),
        usage_count=3,
        feedback_count=1,
        purchase_score=Decimal("0.9"),
        usage_score=Decimal("0.5"),
        feedback_score=Decimal("0.2"),
        score=Decimal("0.7"),
        tier="vip",
        computed_at=clock.now(),
    )


@pytest.mark.parametrize(
    ("role", "sees_value"), [(Role.FRONTLINE_AGENT, True), (Role.TECHNICIAN, False)]
)
def test_customer_value_figures_need_their_permission(
    api: Callable[[User], Any], role: Role, sees_value: bool
) -> None:
    world = build_world(role)
    _give_case(world, world.user)  # the technician's own customer: visible, but not its value
    _score(world.customer)

    body = api(world.user).get(f"/customers/{world.customer.pk}/tier").json()
    page = sign_in(Client(), world.user).get(f"/customers/{world.customer.pk}/")

    assert page.status_code == 200
    assert (body["score"] is not None) == sees_value
    assert ("54321" in page.content.decode()) == sees_value


def test_contacts_are_shown_by_permission_not_by_role_name(api: Callable[[User], Any]) -> None:
    world = build_world(Role.FRONTLINE_AGENT)
    before = api(world.user).get(f"/customers/{world.customer.pk}").json()
    # The same role without the field permission: the file stays visible, the contacts go.
    Group.objects.get(name=Role.FRONTLINE_AGENT.value).permissions.remove(
        Permission.objects.get(content_type__app_label="customers", codename="view_contact")
    )
    reader = User.objects.get(pk=world.user.pk)  # a fresh permission cache

    after = api(reader).get(f"/customers/{world.customer.pk}").json()
    page = sign_in(Client(), reader).get(f"/customers/{world.customer.pk}/").content.decode()

    assert before["contacts"][0]["masked"]
    assert after["name"] == world.customer.name
    assert (after["contacts"], after["addresses"]) == ([], [])
    assert before["contacts"][0]["masked"] not in page


def test_no_response_but_the_reveal_carries_a_clear_phone_number(
    api: Callable[[User], Any],
) -> None:
    world = build_world(Role.FRONTLINE_AGENT)
    Case.objects.filter(pk=world.case.pk).update(team=world.home)
    client = api(world.user)
    page_client = sign_in(Client(), world.user)
    clear = FOREIGN_PHONE[-8:]  # any run of the digits beyond the masked ones

    answers = [
        client.get(f"/customers/{world.customer.pk}"),
        client.get("/customers"),
        client.get(f"/customers/{world.customer.pk}/timeline"),
        client.get(f"/cases/{world.case.number}"),
        client.get(f"/cases/{world.case.number}/events"),
        page_client.get(f"/customers/{world.customer.pk}/"),
        page_client.get(f"/cases/{world.case.number}/"),
        page_client.post("/customers/", {"q": world.customer.number}, follow=True),
    ]
    revealed = client.post(f"/customers/{world.customer.pk}/reveal")

    for answer in answers:
        assert answer.status_code == 200, answer.request
        assert clear not in answer.content.decode(), answer.request
    assert clear in revealed.content.decode()


# --- write allowlists ---------------------------------------------------------------------------


def test_every_json_body_of_the_api_refuses_unknown_fields() -> None:
    """Generated: each operation's JSON body schema says `additionalProperties: false`."""
    schema = ninja_api.get_openapi_schema()
    components = schema["components"]["schemas"]
    checked = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = content["application/json"]["schema"]
            # An optional body is `anyOf: [{$ref}, {type: null}]`.
            refs = (
                [body["$ref"]]
                if "$ref" in body
                else [s["$ref"] for s in body["anyOf"] if "$ref" in s]
            )
            assert refs, f"{method} {path}"
            checked.append(f"{method.upper()} {path}")
            for ref in refs:
                name = ref.rsplit("/", 1)[-1]
                assert components[name].get("additionalProperties") is False, f"{method} {path}"
    assert len(checked) >= 20  # the JSON writes of every router


def _refused(response: Any) -> None:
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_input"


def test_customers_refuse_fields_a_client_may_not_set(
    api: Callable[[User], Any], agent: User, manager: User
) -> None:
    customer = factories.customer(name="李雷")
    before = Customer.objects.count()

    _refused(api(agent).post("/customers", {"name": "韩梅梅", "tier": "vip"}))
    _refused(api(manager).post("/customers", {"name": "韩梅梅", "number": "C1"}))
    _refused(api(manager).patch(f"/customers/{customer.pk}", {"tier": "vip"}))
    _refused(api(manager).patch(f"/customers/{customer.pk}", {"merged_into": 1}))
    _refused(api(manager).patch(f"/customers/{customer.pk}", {"created_by": manager.pk}))

    customer.refresh_from_db()
    assert Customer.objects.count() == before
    assert (customer.tier, customer.merged_into_id, customer.name) == ("regular", None, "李雷")


def test_cases_refuse_fields_a_client_may_not_set(
    api: Callable[[User], Any], agent: User, other_agent: User, desk_team: Team
) -> None:
    customer = factories.customer()
    case = factories.case(customer, team=desk_team)
    opened = Case.objects.count()
    intake = {"customer_id": customer.pk, "channel": "phone", "subject": "不制冷"}

    for extra in (
        {"status": "closed"},
        {"assignee_id": other_agent.pk},
        {"number": "SR2026110000001"},
        {"created_by": agent.pk},
        {"priority": 1},
    ):
        _refused(api(agent).post("/cases", {**intake, **extra}))
    _refused(
        api(agent).post(
            f"/cases/{case.number}/classify", {"nature": "hardware", "status": "resolved"}
        )
    )
    _refused(api(agent).post(f"/cases/{case.number}/notes", {"body": "x", "actor": other_agent.pk}))
    _refused(
        api(agent).post(
            f"/cases/{case.number}/transitions", {"action": "start", "to_status": "closed"}
        )
    )

    case.refresh_from_db()
    assert Case.objects.count() == opened
    assert (case.status, case.assignee_id, case.nature) == ("new", None, "")
    assert case.events.count() == 1  # only `created`


def test_catalog_and_accounts_refuse_fields_a_client_may_not_set(
    api: Callable[[User], Any], manager: User, agent: User
) -> None:
    model = factories.product_model(code="KFR-35")
    unit_in = {
        "model_code": "KFR-35",
        "serial_number": "SN-NEW-1",
        "purchase_date": "2026-03-01",
        "purchase_amount": "100.00",
        "sales_channel": "online",
    }

    _refused(
        api(manager).post("/catalog/units", {**unit_in, "registered_at": "2020-01-01T00:00:00Z"})
    )
    _refused(api(manager).post("/catalog/units", {**unit_in, "import_batch_id": 1}))
    _refused(api(manager).patch(f"/catalog/product-models/{model.pk}", {"code": "NEW-CODE"}))
    _refused(
        api(agent).client.put(
            "/api/v1/auth/me/availability",
            {"accepting_cases": False, "is_superuser": True},
            content_type="application/json",
        )
    )

    model.refresh_from_db()
    agent.refresh_from_db()
    assert model.code == "KFR-35"
    assert not Unit.objects.filter(model=model).exists()
    assert (agent.accepting_cases, agent.is_superuser) == (True, False)
