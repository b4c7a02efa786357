"""Tests of customers.selectors: scope, caller recognition, search, warranty, timeline."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.http import Http404
from django.utils import timezone

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.core.clock import frozen_at
from aftersales.core.errors import ApplicationError
from aftersales.customers import selectors, services
from aftersales.customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def li(make_customer: Callable[..., Customer]) -> Customer:
    return make_customer(
        "李伟", phones=["13800138000", "0755 8888 6666", "+85251234567"], emails=["li@example.com"]
    )


class TestCustomerQuerysetFor:
    def test_desk_roles_see_every_live_customer(
        self,
        agent: User,
        other_agent: User,
        other_team: Team,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        theirs = make_customer("Beijing caller")
        make_case(theirs, team=other_team, assignee=other_agent)

        assert list(selectors.customer_queryset_for(agent)) == [theirs]

    def test_merged_records_are_not_listed(
        self, agent: User, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        survivor, duplicate = make_customer("A"), make_customer("B")
        services.customer_merge(actor=senior_agent, survivor=survivor, duplicate=duplicate)

        assert list(selectors.customer_queryset_for(agent)) == [survivor]
        assert selectors.customer_get_for(agent, pk=duplicate.pk, include_merged=True) == duplicate
        with pytest.raises(Http404):
            selectors.customer_get_for(agent, pk=duplicate.pk)

    def test_technician_sees_only_customers_of_own_cases(
        self,
        technician: User,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        mine, unrelated = make_customer("Mine"), make_customer("Unrelated")
        make_case(mine, assignee=technician)
        make_case(unrelated)

        assert list(selectors.customer_queryset_for(technician)) == [mine]
        with pytest.raises(Http404):
            selectors.customer_get_for(technician, pk=unrelated.pk)

    def test_without_the_view_permission_nothing(
        self, warehouse_user: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()

        assert not selectors.customer_queryset_for(warehouse_user).exists()
        with pytest.raises(Http404):
            selectors.customer_get_for(warehouse_user, pk=customer.pk)


class TestCustomersByPhone:
    @pytest.mark.parametrize(
        ("raw", "e164"),
        [
            ("+86 138 0013 8000", "+8613800138000"),
            ("13800138000", "+8613800138000"),
            ("138-0013-8000", "+8613800138000"),
            ("008613800138000", "+8613800138000"),
            ("0755-8888 6666", "+8675588886666"),
            ("(0755) 88886666", "+8675588886666"),
            ("+852 5123 4567", "+85251234567"),
            ("00852 51234567", "+85251234567"),
        ],
    )
    def test_recognises_every_usual_form(
        self, agent: User, li: Customer, raw: str, e164: str
    ) -> None:
        match = selectors.customers_by_phone(user=agent, raw=raw)

        assert match.phone_e164 == e164
        assert match.customers == [li]

    def test_units_come_prefetched(
        self,
        agent: User,
        li: Customer,
        make_unit: Callable[..., Unit],
        django_assert_num_queries: Any,
    ) -> None:
        make_unit(li)
        make_unit(li)
        match = selectors.customers_by_phone(user=agent, raw="13800138000")

        with django_assert_num_queries(0):
            serials = [u.serial_number for u in match.customers[0].units.all()]
            models = [u.model.code for u in match.customers[0].units.all()]
        assert len(serials) == 2
        assert models == ["BCD-520", "BCD-520"]

    def test_several_customers_share_a_number(
        self, agent: User, li: Customer, make_customer: Callable[..., Customer]
    ) -> None:
        wife = make_customer("王芳", phones=["+86 138 0013 8000"])

        match = selectors.customers_by_phone(user=agent, raw="138 0013 8000")

        assert {c.pk for c in match.customers} == {li.pk, wife.pk}

    def test_unknown_number_matches_nobody(self, agent: User, li: Customer) -> None:
        match = selectors.customers_by_phone(user=agent, raw="13700137000")

        assert (match.phone_e164, match.customers) == ("+8613700137000", [])

    @pytest.mark.parametrize("raw", ["", "hello", "12345", "+86 000", "1380013800012345678"])
    def test_garbage_is_invalid_phone(self, agent: User, raw: str) -> None:
        with pytest.raises(ApplicationError) as exc:
            selectors.customers_by_phone(user=agent, raw=raw)

        assert (exc.value.code, exc.value.status_code) == ("invalid_phone", 422)

    def test_merged_record_answers_with_its_survivor_once(
        self, agent: User, senior_agent: User, li: Customer, make_customer: Callable[..., Customer]
    ) -> None:
        duplicate = make_customer("李 伟", phones=["13800138000", "13900139000"])
        services.customer_merge(actor=senior_agent, survivor=li, duplicate=duplicate)

        assert selectors.customers_by_phone(user=agent, raw="13800138000").customers == [li]
        assert selectors.customers_by_phone(user=agent, raw="13900139000").customers == [li]

    def test_scope_applies(
        self,
        technician: User,
        li: Customer,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        mine = make_customer("王芳", phones=["13800138000"])
        make_case(mine, assignee=technician)

        assert selectors.customers_by_phone(user=technician, raw="13800138000").customers == [mine]


class TestCustomerSearch:
    def test_by_number_name_phone_and_email(
        self, agent: User, li: Customer, make_customer: Callable[..., Customer]
    ) -> None:
        other = make_customer("王芳", company_name="深圳电器有限公司", emails=["wf@example.com"])

        assert list(selectors.customer_search(user=agent, q=li.number.lower())) == [li]
        assert list(selectors.customer_search(user=agent, q="李")) == [li]
        assert list(selectors.customer_search(user=agent, q="电器")) == [other]
        assert list(selectors.customer_search(user=agent, q="138-0013-8000")) == [li]
        assert list(selectors.customer_search(user=agent, q="WF@example.com")) == [other]
        assert list(selectors.customer_search(user=agent, q="nobody@example.com")) == []

    def test_names_match_in_full_or_by_surname_never_by_part(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        wang_fang = make_customer("王芳")
        wang_wei = make_customer("王伟")
        ouyang = make_customer("欧阳修")
        smith = make_customer("Ｊｏｈｎ  Smith")  # full-width, doubled space, mixed case

        def search(q: str) -> list[Customer]:
            return list(selectors.customer_search(user=agent, q=q))

        assert search("王芳") == [wang_fang]
        assert search(" 王 ") == [wang_fang, wang_wei]  # by surname, in number order
        assert search("欧阳") == [ouyang] and search("欧") == []
        assert search("john smith") == [smith] and search("JOHN") == [smith]
        # Names are encrypted: no substring or given-name match.
        assert search("芳") == [] and search("王芳芳") == [] and search("smith") == []

    def test_name_search_follows_a_rename(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer("王芳")

        services.customer_update(actor=agent, customer=customer, name="李芳")

        assert list(selectors.customer_search(user=agent, q="李芳")) == [customer]
        assert list(selectors.customer_search(user=agent, q="王芳")) == []
        assert list(selectors.customer_search(user=agent, q="王")) == []

    def test_empty_query_lists_newest_first(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        first, second = make_customer("A"), make_customer("B")

        assert list(selectors.customer_search(user=agent, q="  ")) == [second, first]

    def test_by_email_is_case_insensitive_and_validates(self, agent: User, li: Customer) -> None:
        assert selectors.customers_by_email(user=agent, raw=" LI@Example.com ") == [li]
        with pytest.raises(ApplicationError) as exc:
            selectors.customers_by_email(user=agent, raw="li.example.com")
        assert exc.value.code == "invalid_email"


class TestCustomerUnits:
    def test_pairs_each_unit_with_its_warranty_position(
        self, agent: User, li: Customer, make_unit: Callable[..., Unit]
    ) -> None:
        today = dt.date(2026, 11, 24)
        current = make_unit(li, purchase_date=today - dt.timedelta(days=100))
        old = make_unit(li, purchase_date=today - dt.timedelta(days=4 * 365))
        customer = selectors.customer_get_for(agent, pk=li.pk)

        units = selectors.customer_units(customer, on=today)

        assert [(u.unit, u.warranty.status) for u in units] == [
            (current, "in_warranty"),
            (old, "expired"),
        ]
        assert units[0].warranty.parts_end == current.parts_warranty_end


class TestCustomerTimeline:
    def test_merges_case_events_and_audit_rows_in_time_order(
        self,
        agent: User,
        manager: User,
        desk_team: Team,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        t0 = timezone.make_aware(dt.datetime(2026, 11, 1, 9, 0))
        with frozen_at(t0):
            customer = make_customer(actor=agent, phones=["13800138000"])
        with frozen_at(t0 + dt.timedelta(hours=1)):
            case = make_case(customer, team=desk_team)
        CaseEvent.objects.create(
            case=case,
            kind=CaseEvent.Kind.CONTACT,
            occurred_at=t0 + dt.timedelta(hours=3),
            actor=agent,
            channel="phone",
            direction="out",
            body="Called back, engineer booked",
        )
        with frozen_at(t0 + dt.timedelta(hours=2)):
            services.contact_reveal(actor=agent, customer=customer)
        with frozen_at(t0 + dt.timedelta(hours=4)):
            services.customer_set_tier(
                actor=manager,
                customer=customer,
                tier="vip",
                reason="Key",
                expires_at=t0 + dt.timedelta(days=90),
            )

        items = selectors.customer_timeline(user=agent, customer=customer)

        assert [i.kind for i in items[:4]] == [
            "customer.created",
            "case.created",
            "customer.contact_revealed",
            "case.contact",
        ]
        # The tier change, the re-prioritisation of the open case and the recomputation of its
        # SLA due times happen at the same moment.
        assert {i.kind for i in items[4:]} == {"customer.tier_changed", "case.priority", "case.sla"}
        assert [i.case_number for i in items[:4]] == ["", case.number, "", case.number]
        assert items[2].actor == agent.label
        assert "Called back, engineer booked" in items[3].text
        tier_item = next(i for i in items if i.kind == "customer.tier_changed")
        assert tier_item.text == "Tier changed from Regular to VIP (high value): Key"

    def test_hides_events_of_cases_outside_scope_and_includes_merged_records(
        self,
        agent: User,
        senior_agent: User,
        other_team: Team,
        desk_team: Team,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        customer, duplicate = make_customer("A"), make_customer("B")
        mine = make_case(duplicate, team=desk_team)
        make_case(customer, team=other_team)
        services.customer_merge(actor=senior_agent, survivor=customer, duplicate=duplicate)

        items = selectors.customer_timeline(user=agent, customer=customer)

        assert {i.case_number for i in items if i.case_number} == {mine.number}
        kinds = [i.kind for i in items]
        assert kinds.count("customer.created") == 2  # the survivor's and the duplicate's
        assert "case.merged" in kinds and "customer.merged" in kinds

    def test_audit_rows_show_to_any_viewer_of_the_customer(
        self, make_staff: Callable[..., User], make_customer: Callable[..., Customer]
    ) -> None:
        reviewer = make_staff(Role.COMPLAINT_REVIEWER)
        customer = make_customer()

        assert [i.kind for i in selectors.customer_timeline(user=reviewer, customer=customer)] == [
            "customer.created"
        ]
