"""Tests of aftersales.customers.services: every write, its guards and its audit row."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import translation

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.customers import services
from aftersales.customers.models import Address, ContactPoint, Customer

pytestmark = pytest.mark.django_db


def _raw_rows(table: str) -> str:
    """Every cell of a table as the database stores it, in one string."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # fixed table names only
        return " ".join(str(cell) for row in cursor.fetchall() for cell in row)


def _audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


class TestCustomerCreate:
    def test_contacts_are_normalised_encrypted_and_indexed(self, agent: User) -> None:
        customer = services.customer_create(
            actor=agent,
            name="李伟",
            phones=["138-0013-8000", "+86 139 0013 9000"],
            emails=["Li.Wei@Example.COM"],
            addresses=[
                {
                    "province": "广东省",
                    "city": "深圳市",
                    "district": "南山区",
                    "street": "科技园路1号",
                }
            ],
        )

        assert customer.number.startswith("C")
        assert customer.created_by == agent
        phones = list(customer.contacts.filter(kind="phone").order_by("id"))
        assert [p.value for p in phones] == ["+8613800138000", "+8613900139000"]
        assert [p.is_primary for p in phones] == [True, False]
        assert phones[0].lookup_hash == blind_index("+8613800138000", purpose="phone")
        email = customer.contacts.get(kind="email")
        assert email.value == "li.wei@example.com"
        assert email.is_primary
        assert email.lookup_hash == blind_index("li.wei@example.com", purpose="email")
        address = customer.addresses.get()
        assert (address.street, address.is_default) == ("科技园路1号", True)
        audit = _audits("customer.created")[0]
        assert (audit.entity, audit.entity_id, audit.actor) == ("customer", customer.pk, agent)

    def test_no_plaintext_contact_reaches_the_database(self, agent: User) -> None:
        services.customer_create(
            actor=agent,
            name="王芳",
            phones=["13800138000"],
            emails=["wang.fang@example.com"],
            addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        )

        contacts = _raw_rows("customers_contactpoint")
        addresses = _raw_rows("customers_address")
        for secret in ("13800138000", "8613800138000", "wang.fang", "example.com"):
            assert secret not in contacts
        assert "科技园路" not in addresses
        assert "深圳市" in addresses  # the region stays plain for routing and reports

    def test_same_number_twice_is_refused_and_nothing_saved(self, agent: User) -> None:
        with pytest.raises(ApplicationError) as exc:
            services.customer_create(
                actor=agent, name="李伟", phones=["13800138000", "+86 138 0013 8000"]
            )

        assert exc.value.code == "duplicate_contact"
        assert not Customer.objects.exists()
        assert not ContactPoint.objects.exists()

    @pytest.mark.parametrize(
        ("kwargs", "code"),
        [
            ({"phones": ["not a phone"]}, "invalid_phone"),
            ({"phones": ["12345"]}, "invalid_phone"),
            ({"emails": ["nobody-at-example"]}, "invalid_email"),
            ({"kind": "robot"}, "invalid_kind"),
            ({"preferred_channel": "pigeon"}, "invalid_preferred_channel"),
            ({"tier": "gold"}, "invalid_tier"),
        ],
    )
    def test_bad_input_is_refused_with_a_code(
        self, agent: User, kwargs: dict[str, Any], code: str
    ) -> None:
        with pytest.raises(ApplicationError) as exc:
            services.customer_create(actor=agent, name="李伟", **kwargs)

        assert exc.value.code == code
        assert exc.value.status_code == 422
        assert not Customer.objects.exists()

    def test_starting_on_a_vip_tier_needs_the_tier_permission(
        self, agent: User, manager: User
    ) -> None:
        with pytest.raises(PermissionDenied):
            services.customer_create(actor=agent, name="李伟", tier="vip")

        assert services.customer_create(actor=manager, name="李伟", tier="vip").tier == "vip"

    def test_a_role_without_add_permission_cannot_create(self, warehouse_user: User) -> None:
        with pytest.raises(PermissionDenied):
            services.customer_create(actor=warehouse_user, name="李伟")
        assert not Customer.objects.exists()


class TestCustomerUpdate:
    def test_changes_fields_and_audits_their_names(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(actor=agent, notes="old")

        updated = services.customer_update(
            actor=agent, customer=customer, name=" 李伟伟 ", consent_contact=False, notes="new"
        )

        updated.refresh_from_db()
        assert (updated.name, updated.consent_contact, updated.notes) == ("李伟伟", False, "new")
        audit = _audits("customer.updated")[0]
        assert audit.data == {
            "fields": ["consent_contact", "name", "notes"],
            "consent_contact": {"before": True, "after": False},
        }

    def test_no_change_writes_no_audit_row(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(actor=agent)

        services.customer_update(actor=agent, customer=customer, name=customer.name)

        assert _audits("customer.updated") == []

    def test_tier_is_not_updatable_here(
        self, manager: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        with pytest.raises(ApplicationError) as exc:
            services.customer_update(actor=manager, customer=customer, tier="vip")  # type: ignore[call-arg]

        assert exc.value.code == "field_not_updatable"
        customer.refresh_from_db()
        assert customer.tier == "regular"

    def test_merged_record_cannot_be_changed(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        survivor, duplicate = make_customer("A"), make_customer("B")
        services.customer_merge(actor=senior_agent, survivor=survivor, duplicate=duplicate)

        with pytest.raises(ApplicationError) as exc:
            services.customer_update(actor=senior_agent, customer=duplicate, name="C")

        assert exc.value.code == "customer_merged"

    def test_technician_cannot_change(
        self, technician: User, make_customer: Callable[..., Customer]
    ) -> None:
        with pytest.raises(PermissionDenied):
            services.customer_update(actor=technician, customer=make_customer(), name="X")


class TestContacts:
    def test_add_moves_the_primary_flag_when_asked(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(phones=["13800138000"])

        second = services.contact_add(
            actor=agent, customer=customer, kind="phone", value="139 0013 9000", is_primary=True
        )

        assert second.value == "+8613900139000"
        primaries = customer.contacts.filter(kind="phone", is_primary=True)
        assert [c.pk for c in primaries] == [second.pk]
        assert _audits("customer.contact_added")[0].data["contact_id"] == second.pk

    def test_first_contact_of_a_kind_is_primary(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(phones=["13800138000"])

        email = services.contact_add(
            actor=agent, customer=customer, kind="email", value="A@B.CN", is_primary=False
        )

        assert (email.value, email.is_primary) == ("a@b.cn", True)

    def test_adding_a_number_the_customer_has_is_a_conflict(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(phones=["13800138000"])

        with pytest.raises(ApplicationError) as exc:
            services.contact_add(
                actor=agent, customer=customer, kind="phone", value="008613800138000"
            )

        assert (exc.value.code, exc.value.status_code) == ("duplicate_contact", 409)
        assert customer.contacts.count() == 1

    def test_removing_the_primary_promotes_the_next(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(phones=["13800138000", "13900139000"])
        primary = customer.contacts.get(is_primary=True)

        services.contact_remove(actor=agent, contact=primary)

        remaining = customer.contacts.get()
        assert (remaining.value, remaining.is_primary) == ("+8613900139000", True)
        assert _audits("customer.contact_removed")[0].data["was_primary"] is True

    def test_address_add_keeps_one_default(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        first = services.address_add(
            actor=agent, customer=customer, province="北京市", city="北京市"
        )
        second = services.address_add(
            actor=agent,
            customer=customer,
            province="广东省",
            city="深圳市",
            street="深南大道100号",
            is_default=True,
        )

        first.refresh_from_db()
        assert (first.is_default, second.is_default) == (False, True)
        assert "深南大道" not in _raw_rows("customers_address")
        assert _audits("customer.address_added")[1].data["region"] == "广东省 深圳市"


class TestSetTier:
    """The manager's override; its interplay with computed tiers is in test_tiers_services."""

    def test_manager_sets_tier_with_before_after_and_expiry(
        self, manager: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()
        expires = clock.now() + dt.timedelta(days=90)

        services.customer_set_tier(
            actor=manager,
            customer=customer,
            tier="vip",
            reason="Corporate key account",
            expires_at=expires,
        )

        customer.refresh_from_db()
        assert customer.tier == "vip"
        audit = _audits("customer.tier_changed")[0]
        assert audit.actor == manager
        assert audit.data == {
            "before": "regular",
            "after": "vip",
            "reason": "Corporate key account",
            "expires_at": expires.isoformat(),
            "override_id": audit.data["override_id"],
        }

    def test_needs_the_permission(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        with pytest.raises(PermissionDenied):
            services.customer_set_tier(
                actor=agent,
                customer=customer,
                tier="vip",
                reason="x",
                expires_at=clock.now() + dt.timedelta(days=1),
            )

        customer.refresh_from_db()
        assert customer.tier == "regular"

    @pytest.mark.parametrize(
        ("tier", "reason", "days", "code"),
        [
            ("gold", "x", 30, "invalid_tier"),
            ("vip", "  ", 30, "reason_required"),
            ("vip", "x", -1, "expiry_in_past"),
        ],
    )
    def test_refuses_bad_input(
        self,
        manager: User,
        make_customer: Callable[..., Customer],
        tier: str,
        reason: str,
        days: int,
        code: str,
    ) -> None:
        customer = make_customer()

        with pytest.raises(ApplicationError) as exc:
            services.customer_set_tier(
                actor=manager,
                customer=customer,
                tier=tier,
                reason=reason,
                expires_at=clock.now() + dt.timedelta(days=days),
            )

        assert exc.value.code == code
        assert _audits("customer.tier_changed") == []


class TestContactReveal:
    def test_returns_clear_values_and_audits_without_them(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(
            phones=["13800138000"],
            emails=["li@example.com"],
            addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        )

        revealed = services.contact_reveal(actor=agent, customer=customer)

        assert sorted(value for _, value in revealed.contacts) == [
            "+8613800138000",
            "li@example.com",
        ]
        assert [street for _, street in revealed.addresses] == ["科技园路1号"]
        audit = _audits("customer.contact_revealed")[0]
        assert (audit.actor, audit.entity_id) == (agent, customer.pk)
        stored = str(audit.data)
        for secret in ("13800138000", "li@example.com", "科技园路"):
            assert secret not in stored

    def test_needs_the_permission(
        self, warehouse_user: User, make_customer: Callable[..., Customer]
    ) -> None:
        with pytest.raises(PermissionDenied):
            services.contact_reveal(actor=warehouse_user, customer=make_customer())
        assert _audits("customer.contact_revealed") == []


class TestCustomerMerge:
    def test_moves_all_history_to_the_survivor(
        self,
        senior_agent: User,
        desk_team: Team,
        make_customer: Callable[..., Customer],
        make_unit: Callable[..., Unit],
        make_case: Callable[..., Case],
    ) -> None:
        survivor = make_customer("李伟", phones=["13800138000"])
        duplicate = make_customer(
            "李 伟",
            phones=["13800138000", "13900139000"],
            emails=["li@example.com"],
            addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        )
        unit = make_unit(duplicate)
        case = make_case(duplicate, team=desk_team, unit=unit)

        result = services.customer_merge(
            actor=senior_agent, survivor=survivor, duplicate=duplicate, reason="Same person"
        )

        assert result == survivor
        duplicate.refresh_from_db()
        assert duplicate.merged_into == survivor
        assert sorted(c.value for c in survivor.contacts.all()) == [
            "+8613800138000",
            "+8613900139000",
            "li@example.com",
        ]
        # The survivor's own number stays primary; the e-mail it lacked becomes its primary.
        primaries = survivor.contacts.filter(is_primary=True).order_by("kind")
        assert [(c.kind, c.value) for c in primaries] == [
            ("email", "li@example.com"),
            ("phone", "+8613800138000"),
        ]
        # The number both had stays on the duplicate record, so nothing is lost.
        assert [c.value for c in duplicate.contacts.all()] == ["+8613800138000"]
        assert [(a.street, a.is_default) for a in survivor.addresses.all()] == [
            ("科技园路1号", True)
        ]
        unit.refresh_from_db()
        case.refresh_from_db()
        assert unit.customer == survivor
        assert case.customer == survivor
        event = case.events.get(kind=CaseEvent.Kind.MERGED)
        assert event.actor == senior_agent
        assert event.data["from_customer"] == duplicate.number
        assert event.data["to_customer"] == survivor.number
        audit = _audits("customer.merged")[0]
        assert audit.entity_id == survivor.pk
        assert audit.data["survivor"] == survivor.number
        assert audit.data["duplicate"] == duplicate.number
        assert audit.data["reason"] == "Same person"
        assert audit.data["counts"] == {
            "contacts": 2,
            "contacts_skipped": 1,
            "addresses": 1,
            "units": 1,
            "cases": 1,
            "repointed_merges": 0,
        }

    def test_earlier_merges_are_repointed_to_the_new_survivor(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        a, b, c = make_customer("A"), make_customer("B"), make_customer("C")
        services.customer_merge(actor=senior_agent, survivor=b, duplicate=a)

        services.customer_merge(actor=senior_agent, survivor=c, duplicate=b)

        a.refresh_from_db()
        b.refresh_from_db()
        assert (a.merged_into, b.merged_into) == (c, c)

    def test_refuses_merging_into_itself(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        with pytest.raises(ApplicationError) as exc:
            services.customer_merge(actor=senior_agent, survivor=customer, duplicate=customer)

        assert exc.value.code == "merge_same_customer"

    def test_refuses_merged_records_on_either_side(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        a, b, c = make_customer("A"), make_customer("B"), make_customer("C")
        services.customer_merge(actor=senior_agent, survivor=b, duplicate=a)

        with pytest.raises(ApplicationError) as into_merged:
            services.customer_merge(actor=senior_agent, survivor=a, duplicate=c)
        with pytest.raises(ApplicationError) as merged_again:
            services.customer_merge(actor=senior_agent, survivor=c, duplicate=a)

        assert into_merged.value.code == "survivor_merged"
        assert merged_again.value.code == "duplicate_already_merged"
        a.refresh_from_db()
        c.refresh_from_db()
        assert (a.merged_into, c.merged_into) == (b, None)
        assert len(_audits("customer.merged")) == 1

    def test_needs_the_merge_permission(
        self,
        agent: User,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        survivor, duplicate = make_customer("A"), make_customer("B")
        case = make_case(duplicate)

        with pytest.raises(PermissionDenied):
            services.customer_merge(actor=agent, survivor=survivor, duplicate=duplicate)

        duplicate.refresh_from_db()
        case.refresh_from_db()
        assert duplicate.merged_into is None
        assert case.customer == duplicate
        assert not CaseEvent.objects.filter(kind="merged").exists()

    def test_unit_and_addresses_of_survivor_keep_their_defaults(
        self,
        make_staff: Callable[..., User],
        make_customer: Callable[..., Customer],
    ) -> None:
        supervisor = make_staff(Role.SUPERVISOR)
        survivor = make_customer("A", addresses=[{"province": "北京市", "city": "北京市"}])
        duplicate = make_customer("B", addresses=[{"province": "上海市", "city": "上海市"}])

        services.customer_merge(actor=supervisor, survivor=survivor, duplicate=duplicate)

        defaults = Address.objects.filter(customer=survivor, is_default=True)
        assert [a.province for a in defaults] == ["北京市"]
        assert survivor.addresses.count() == 2


class TestMessagesFollowTheLanguage:
    """Rule messages are in the active language; codes and details stay as they are."""

    def test_merging_into_itself_is_refused_in_chinese(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        with translation.override("zh-hans"), pytest.raises(ApplicationError) as exc:
            services.customer_merge(actor=senior_agent, survivor=customer, duplicate=customer)

        assert exc.value.code == "merge_same_customer"
        assert exc.value.message == "不能将客户档案合并到其自身。"

    def test_invalid_phone_and_tier_are_refused_in_chinese(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        with translation.override("zh-hans"):
            with pytest.raises(ApplicationError) as phone:
                services.contact_add(actor=agent, customer=customer, kind="phone", value="12345")
            with pytest.raises(ApplicationError) as tier:
                services.customer_create(actor=agent, name="李伟", tier="gold")

        assert (phone.value.code, phone.value.details) == ("invalid_phone", {"phone": "12345"})
        assert phone.value.message == "'12345' 不是有效的电话号码。"
        assert tier.value.code == "invalid_tier"
        assert tier.value.details == {"tier": "gold", "allowed": ["vip", "regular", "low"]}
        assert tier.value.message == "'gold' 不是有效的客户价值等级。"

    def test_messages_stay_english_in_english(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        with translation.override("en"), pytest.raises(ApplicationError) as exc:
            services.customer_merge(actor=senior_agent, survivor=customer, duplicate=customer)

        assert exc.value.message == "A customer cannot be merged into itself."
