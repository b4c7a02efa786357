import pytest
from django.contrib.auth.models import Group

from aftersales.accounts.roles import ROLE_PERMISSIONS, Role, Scope, widest_scope
from aftersales.accounts.selectors import user_scope
from aftersales.accounts.services import roles_sync

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_with_exactly_its_permissions() -> None:
    roles_sync()
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert granted == set(perms), role


def test_widest_scope_wins() -> None:
    assert widest_scope(["technician", "frontline_agent"]) == Scope.TEAM
    assert widest_scope(["frontline_agent", "supervisor"]) == Scope.LED_TEAMS
    assert widest_scope(["aftersales_manager", "technician"]) == Scope.ALL
    assert widest_scope(["not_a_role"]) == Scope.NONE


def test_scopes_of_fixture_users(agent, technician, supervisor, manager, warehouse_user) -> None:  # type: ignore[no-untyped-def]
    assert user_scope(agent) == Scope.TEAM
    assert user_scope(technician) == Scope.OWN
    assert user_scope(supervisor) == Scope.LED_TEAMS
    assert user_scope(manager) == Scope.ALL
    assert user_scope(warehouse_user) == Scope.NONE
    assert not warehouse_user.has_perm("customers.view_customer")
    assert Role.WAREHOUSE.value == "warehouse_staff"
