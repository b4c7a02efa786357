"""Tests of aftersales.customers.views: the staff pages, through a logged-in Django client."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from aftersales.accounts.models import Team, User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case
from aftersales.catalog.models import Unit
from aftersales.core.models import AuditEvent
from aftersales.customers.models import Customer
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined,no-any-return]


def _lookup(client: Client, phone: str) -> Any:
    """Post a number to the caller look-up and follow to its result page (`?s=<id>`)."""
    posted = client.post(reverse("web:caller_lookup"), {"phone": phone})
    assert posted.status_code == 302, posted.content
    return client.get(posted["Location"])


class TestSearch:
    def test_page_and_htmx_partial(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        li = make_customer("李伟", phones=["13800138000"])
        make_customer("王芳")
        client = _client(agent)
        url = reverse("web:customer_search")

        posted = client.post(url, {"q": "138 0013 8000"})
        page = client.get(posted["Location"])
        partial = client.post(url, {"q": "李"}, headers={"HX-Request": "true"})

        # The term is posted; the page it leads to is addressed by an opaque search id.
        assert posted.status_code == 302
        assert "138" not in posted["Location"] and "?s=" in posted["Location"]
        assert page.status_code == 200
        assert 'hx-post="/customers/"' in _html(page)
        assert li.number in _html(page) and "王芳" not in _html(page)
        assert "+86 138****8000" in _html(page)
        assert "13800138000" not in _html(page)
        assert "<html" not in _html(partial)
        assert f'href="/customers/{li.pk}/"' in _html(partial)
        assert "?s=" in partial["HX-Push-Url"] and "李" not in partial["HX-Push-Url"]

    def test_pages_of_a_search_carry_its_id_not_its_term(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        for i in range(30):
            make_customer(f"王{i}")
        client = _client(agent)
        url = reverse("web:customer_search")

        first = client.get(client.post(url, {"q": "王"})["Location"])
        search_id = first.wsgi_request.GET["s"]
        second = client.get(url, {"s": search_id, "page": 2})

        assert "30 customers" in _html(first)
        assert f'href="?s={search_id}&amp;page=2"' in _html(first)
        assert "王" not in first.wsgi_request.get_full_path()
        assert second.status_code == 200 and "page 2 of 2" in _html(second)

    def test_a_search_id_of_another_session_finds_nothing(
        self, agent: User, other_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        make_customer("李伟")
        make_customer("王芳")
        url = reverse("web:customer_search")
        location = _client(agent).post(url, {"q": "李伟"})["Location"]

        html = _html(_client(other_agent).get(location))

        # Not this session's search: the plain list, with an empty search box.
        assert "王芳" in html
        assert 'name="q" value=""' in html

    def test_needs_the_view_permission(self, warehouse_user: User) -> None:
        assert _client(warehouse_user).get(reverse("web:customer_search")).status_code == 403

    def test_anonymous_is_sent_to_login(self) -> None:
        response = Client().get(reverse("web:customer_search"))
        assert response.status_code == 302
        assert "/login/" in response["Location"]


class TestCallerLookup:
    def test_one_match_shows_the_card_with_units_and_open_case(
        self,
        agent: User,
        make_customer: Callable[..., Customer],
        make_unit: Callable[..., Unit],
    ) -> None:
        customer = make_customer("李伟", phones=["13800138000"])
        unit = make_unit(customer)

        response = _lookup(_client(agent), "+86 138 0013 8000")

        html = _html(response)
        assert response.status_code == 200
        assert "+8613800138000" in html
        assert "李伟" in html and unit.serial_number in html
        assert "In warranty" in html
        assert (
            f'href="/cases/new/?customer={customer.pk}&amp;unit={unit.pk}&amp;channel=phone"'
            in html
        )

    def test_several_matches_are_all_listed(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        a = make_customer("李伟", phones=["13800138000"])
        b = make_customer("王芳", phones=["138-0013-8000"])

        html = _html(_lookup(_client(agent), "13800138000"))

        assert "2 customers use this number" in html
        assert f"/customers/{a.pk}/" in html and f"/customers/{b.pk}/" in html

    def test_no_match_offers_to_create_with_the_number(self, agent: User) -> None:
        client = _client(agent)
        response = _lookup(client, "0755-8888 6666")
        html = _html(response)
        new_url = f"{reverse('web:customer_new')}?s={response.wsgi_request.GET['s']}"

        assert "No customer is known under this number." in html
        assert f'href="{new_url}"' in html
        assert "+8675588886666" in _html(client.get(new_url))  # the form is filled in

    def test_the_number_never_reaches_a_url(self, agent: User) -> None:
        client = _client(agent)
        response = client.post(reverse("web:caller_lookup"), {"phone": "13800138000"})

        assert response.status_code == 302
        assert "13800138000" not in response["Location"]
        assert "8000" not in response["Location"]
        # The old address with the number in it no longer looks anybody up.
        old = client.get(reverse("web:caller_lookup"), {"phone": "13800138000"})
        assert "phone-e164" not in _html(old)

    def test_garbage_number_shows_an_error(self, agent: User) -> None:
        response = _client(agent).post(reverse("web:caller_lookup"), {"phone": "hello"})

        assert response.status_code == 422
        assert 'role="alert"' in _html(response)

    def test_empty_screen(self, agent: User) -> None:
        response = _client(agent).get(reverse("web:caller_lookup"))

        assert response.status_code == 200
        assert 'name="phone"' in _html(response)


class TestCustomerNew:
    def test_creates_and_redirects(self, agent: User) -> None:
        response = _client(agent).post(
            reverse("web:customer_new"),
            {
                "name": "李伟",
                "kind": "person",
                "phones": "138-0013-8000\n0755 8888 6666",
                "email": "Li@Example.com",
                "province": "广东省",
                "city": "深圳市",
                "street": "科技园路1号",
                "preferred_channel": "phone",
                "consent_contact": "on",
            },
        )

        customer = Customer.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("web:customer_detail", args=[customer.pk])
        assert sorted(c.value for c in customer.contacts.all()) == [
            "+8613800138000",
            "+8675588886666",
            "li@example.com",
        ]
        assert customer.addresses.get().street == "科技园路1号"

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"phones": "13800138000\nnot a phone"}, "not a phone is not a phone number."),
            ({"phones": "13800138000\n+8613800138000"}, "The same number is listed twice."),
            ({"name": ""}, "This field is required."),
            ({"street": "科技园路1号", "city": "深圳市"}, "Needed for an address."),
            ({"email": "nobody"}, "Enter a valid email address."),
        ],
    )
    def test_bad_input_shows_errors_and_saves_nothing(
        self, agent: User, data: dict[str, str], message: str
    ) -> None:
        form = {"name": "李伟", "kind": "person", "preferred_channel": "phone"}
        form.update(data)

        response = _client(agent).post(reverse("web:customer_new"), form)

        assert response.status_code == 422
        assert message in _html(response)
        assert not Customer.objects.exists()

    def test_phone_is_prefilled_from_the_call_screen(self, agent: User) -> None:
        client = _client(agent)
        search_id = _lookup(client, "138 0013 8000").wsgi_request.GET["s"]

        html = _html(client.get(reverse("web:customer_new"), {"s": search_id}))

        assert "+8613800138000</textarea>" in html
        # A number in the URL is not taken: it would sit in access logs and browser history.
        html = _html(client.get(reverse("web:customer_new"), {"phone": "+8613800138000"}))
        assert "+8613800138000</textarea>" not in html

    def test_needs_the_add_permission(self, technician: User) -> None:
        assert _client(technician).get(reverse("web:customer_new")).status_code == 403


class TestCustomerDetail:
    def test_shows_masked_contacts_units_cases_and_timeline(
        self,
        agent: User,
        desk_team: Team,
        other_team: Team,
        make_customer: Callable[..., Customer],
        make_unit: Callable[..., Unit],
        make_case: Callable[..., Case],
    ) -> None:
        customer = make_customer(
            "李伟",
            actor=agent,
            phones=["13800138000"],
            addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        )
        unit = make_unit(customer)
        visible = make_case(customer, team=desk_team, subject="Fridge not cooling")
        hidden = make_case(customer, team=other_team, subject="Other desk case")

        html = _html(_client(agent).get(reverse("web:customer_detail", args=[customer.pk])))

        assert "+86 138****8000" in html
        assert "13800138000" not in html and "科技园路" not in html
        assert unit.serial_number in html and "In warranty" in html
        assert f'href="/cases/{visible.number}/"' in html and "Fridge not cooling" in html
        assert hidden.number not in html
        assert "Customer file opened" in html
        assert f'hx-post="{reverse("web:customer_reveal", args=[customer.pk])}"' in html

    def test_outside_scope_is_404(
        self,
        technician: User,
        make_customer: Callable[..., Customer],
    ) -> None:
        customer = make_customer()

        response = _client(technician).get(reverse("web:customer_detail", args=[customer.pk]))

        assert response.status_code == 404


class TestReveal:
    def test_htmx_reveal_returns_clear_contacts_and_audits(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(
            phones=["13800138000"],
            addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        )

        response = _client(agent).post(
            reverse("web:customer_reveal", args=[customer.pk]), headers={"HX-Request": "true"}
        )

        html = _html(response)
        assert response.status_code == 200
        assert "+8613800138000" in html and "科技园路1号" in html
        assert "<html" not in html
        audit = AuditEvent.objects.get(action="customer.contact_revealed")
        assert (audit.actor, audit.entity_id) == (agent, customer.pk)

    def test_without_htmx_renders_a_page(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(phones=["13800138000"])

        html = _html(_client(agent).post(reverse("web:customer_reveal", args=[customer.pk])))

        assert "<html" in html and "+8613800138000" in html

    def test_refused_without_permission_or_scope(
        self,
        warehouse_user: User,
        make_staff: Callable[..., User],
        make_customer: Callable[..., Customer],
    ) -> None:
        customer = make_customer(phones=["13800138000"])
        reviewer = make_staff(Role.COMPLAINT_REVIEWER)
        url = reverse("web:customer_reveal", args=[customer.pk])

        assert _client(warehouse_user).post(url).status_code == 404
        assert _client(reviewer).post(url).status_code == 403
        assert _client(reviewer).get(url).status_code == 405
        assert not AuditEvent.objects.filter(action="customer.contact_revealed").exists()


class TestMerge:
    def test_preview_then_confirm(
        self,
        senior_agent: User,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        survivor = make_customer("李伟")
        duplicate = make_customer("李 伟", phones=["13900139000"])
        case = make_case(duplicate)
        client = _client(senior_agent)
        url = reverse("web:customer_merge", args=[survivor.pk])

        assert client.get(url).status_code == 200
        preview = client.post(url, {"duplicate_number": duplicate.number, "reason": "same"})
        assert preview.status_code == 200
        assert 'name="confirm" value="yes"' in _html(preview)
        duplicate.refresh_from_db()
        assert duplicate.merged_into is None

        done = client.post(
            url, {"duplicate_number": duplicate.number, "reason": "same", "confirm": "yes"}
        )

        assert done.status_code == 302
        assert done["Location"] == reverse("web:customer_detail", args=[survivor.pk])
        duplicate.refresh_from_db()
        case.refresh_from_db()
        assert duplicate.merged_into == survivor
        assert case.customer == survivor
        assert AuditEvent.objects.get(action="customer.merged").data["reason"] == "same"

    def test_errors_are_shown_and_nothing_changes(
        self, senior_agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        survivor = make_customer("李伟")
        client = _client(senior_agent)
        url = reverse("web:customer_merge", args=[survivor.pk])

        unknown = client.post(url, {"duplicate_number": "C000", "confirm": "yes"})
        itself = client.post(url, {"duplicate_number": survivor.number, "confirm": "yes"})

        assert unknown.status_code == 422
        assert "No live customer has that number." in _html(unknown)
        assert itself.status_code == 422
        assert "cannot be merged into itself" in _html(itself)
        assert not Customer.objects.filter(merged_into__isnull=False).exists()

    def test_needs_the_merge_permission(
        self, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        url = reverse("web:customer_merge", args=[make_customer().pk])

        assert _client(agent).get(url).status_code == 403
