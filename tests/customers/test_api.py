"""Tests of aftersales.customers.api through real HTTP requests with bearer tokens."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.cases.models import Case, CaseEvent
from aftersales.catalog.models import Unit
from aftersales.core import clock
from aftersales.core.models import AuditEvent
from aftersales.customers.models import ContactPoint, Customer

pytestmark = pytest.mark.django_db

ApiFactory = Callable[[User], Any]

VALID = {
    "name": "李伟",
    "phones": ["138-0013-8000"],
    "emails": ["Li@Example.com"],
    "addresses": [{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
}


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["message"]
    assert isinstance(body["details"], dict)
    return body


class TestCreate:
    def test_creates_with_masked_contacts_only(self, api: ApiFactory, agent: User) -> None:
        response = api(agent).post("/customers", VALID)

        assert response.status_code == 201, response.content
        body = response.json()
        assert body["number"].startswith("C")
        assert {c["masked"] for c in body["contacts"]} == {"+86 138****8000", "l***@example.com"}
        assert body["addresses"][0]["has_street"] is True
        text = response.content.decode()
        for secret in ("13800138000", "li@example.com", "科技园路"):
            assert secret not in text
        assert Customer.objects.get().created_by == agent

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ({**VALID, "nickname": "Lao Li"}, "invalid_input"),
            ({k: v for k, v in VALID.items() if k != "name"}, "invalid_input"),
            ({**VALID, "name": "   "}, "invalid_input"),
            ({**VALID, "name": "x" * 201}, "invalid_input"),
            ({**VALID, "tier": "gold"}, "invalid_input"),
            ({**VALID, "preferred_channel": "pigeon"}, "invalid_input"),
            ({**VALID, "phones": ["1" * 41]}, "invalid_input"),
            ({**VALID, "phones": ["13800138000"] * 6}, "invalid_input"),
            (
                {**VALID, "addresses": [{"province": "广东省", "city": "深圳", "floor": 3}]},
                "invalid_input",
            ),
            ({**VALID, "phones": ["not a phone"]}, "invalid_phone"),
            ({**VALID, "phones": ["13800138000", "008613800138000"]}, "duplicate_contact"),
            ({**VALID, "emails": ["nobody"]}, "invalid_email"),
        ],
    )
    def test_bad_input_is_a_4xx_with_a_code_and_creates_nothing(
        self, api: ApiFactory, agent: User, payload: dict[str, Any], code: str
    ) -> None:
        response = api(agent).post("/customers", payload)

        assert 400 <= response.status_code < 500
        _assert_error(response, response.status_code, code)
        assert not Customer.objects.exists()
        assert not ContactPoint.objects.exists()

    def test_role_without_add_permission_is_forbidden(
        self, api: ApiFactory, technician: User
    ) -> None:
        _assert_error(api(technician).post("/customers", VALID), 403, "forbidden")
        assert not Customer.objects.exists()

    def test_unauthenticated_is_401(self) -> None:
        response = Client().post("/api/v1/customers", VALID, content_type="application/json")

        _assert_error(response, 401, "unauthenticated")


class TestListAndGet:
    def test_search_and_pagination(
        self, api: ApiFactory, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        for i in range(3):
            make_customer(f"客户{i}")
        make_customer("李伟", phones=["13800138000"])
        client = api(agent)

        page = client.get("/customers", limit=2, offset=0).json()
        assert (page["count"], len(page["items"])) == (4, 2)
        found = client.post("/customers/search", {"q": "+86 138 0013 8000"}).json()
        assert [c["name"] for c in found["items"]] == ["李伟"]
        by_surname = client.post("/customers/search?limit=2", {"q": "客"}).json()
        assert (by_surname["count"], len(by_surname["items"])) == (3, 2)
        _assert_error(client.get("/customers", limit=101), 422, "invalid_input")
        _assert_error(client.post("/customers/search", {"q": "x" * 101}), 422, "invalid_input")
        _assert_error(client.post("/customers/search", {"q": ""}), 422, "invalid_input")
        # A search term in the URL is refused: it would end up in access logs.
        _assert_error(client.get("/customers", q="李伟"), 422, "search_in_url")
        # Past a 64-bit integer the database refused the OFFSET (a 500); the largest is empty.
        _assert_error(client.get("/customers", offset=2**63), 422, "invalid_input")
        assert client.get("/customers", offset=2**63 - 1).json() == {"items": [], "count": 4}
        # PostgreSQL cannot take a NUL character: refused before the search.
        _assert_error(client.post("/customers/search", {"q": "李\x00"}), 400, "bad_request")

    def test_get_outside_scope_is_404(
        self,
        api: ApiFactory,
        technician: User,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        mine, unrelated = make_customer("Mine"), make_customer("Unrelated")
        make_case(mine, assignee=technician)
        client = api(technician)

        assert client.get(f"/customers/{mine.pk}").status_code == 200
        _assert_error(client.get(f"/customers/{unrelated.pk}"), 404, "not_found")
        assert [c["id"] for c in client.get("/customers").json()["items"]] == [mine.pk]


class TestLookup:
    @pytest.mark.parametrize(
        "raw",
        [
            "+86 138 0013 8000",
            "13800138000",
            "138-0013-8000",
            "008613800138000",
            "0755-8888 6666",
            "+852 5123 4567",
        ],
    )
    def test_recognises_the_caller(
        self,
        api: ApiFactory,
        agent: User,
        make_customer: Callable[..., Customer],
        make_unit: Callable[..., Unit],
        raw: str,
    ) -> None:
        customer = make_customer(phones=["13800138000", "075588886666", "+85251234567"])
        unit = make_unit(customer)

        response = api(agent).post("/customers/lookup", {"phone": raw})

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["phone_e164"].startswith("+")
        [match] = body["matches"]
        assert match["id"] == customer.pk
        assert match["units"][0]["serial_number"] == unit.serial_number
        assert match["units"][0]["warranty_status"] == "in_warranty"
        assert all("*" in c["masked"] for c in match["contacts"] if c["kind"] == "phone")

    def test_none_and_several(
        self, api: ApiFactory, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        make_customer("A", phones=["13800138000"])
        make_customer("B", phones=["13800138000"])
        client = api(agent)

        assert (
            len(client.post("/customers/lookup", {"phone": "13800138000"}).json()["matches"]) == 2
        )
        assert client.post("/customers/lookup", {"phone": "13700137000"}).json() == {
            "phone_e164": "+8613700137000",
            "matches": [],
        }

    @pytest.mark.parametrize("raw", ["garbage", "12345", "+86 000"])
    def test_garbage_is_422_invalid_phone(self, api: ApiFactory, agent: User, raw: str) -> None:
        _assert_error(api(agent).post("/customers/lookup", {"phone": raw}), 422, "invalid_phone")

    def test_missing_phone_is_422(self, api: ApiFactory, agent: User) -> None:
        _assert_error(api(agent).post("/customers/lookup", {}), 422, "invalid_input")
        # The number in the URL (where access logs keep it) is no longer accepted.
        assert api(agent).get("/customers/lookup", phone="13800138000").status_code == 405


class TestUpdateAndContacts:
    def test_patch_changes_only_what_is_sent(
        self, api: ApiFactory, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(notes="keep")

        response = api(agent).patch(f"/customers/{customer.pk}", {"name": "李伟伟"})

        assert response.status_code == 200, response.content
        assert (response.json()["name"], response.json()["notes"]) == ("李伟伟", "keep")

    @pytest.mark.parametrize(
        "payload",
        [{"tier": "vip"}, {"name": None}, {"name": ""}, {"preferred_channel": "fax"}, {"x": 1}],
    )
    def test_patch_refuses_bad_input(
        self,
        api: ApiFactory,
        agent: User,
        make_customer: Callable[..., Customer],
        payload: dict[str, Any],
    ) -> None:
        customer = make_customer()

        _assert_error(api(agent).patch(f"/customers/{customer.pk}", payload), 422, "invalid_input")
        customer.refresh_from_db()
        assert (customer.name, customer.tier, customer.preferred_channel) == (
            "李伟",
            "regular",
            "phone",
        )

    def test_add_contact_and_duplicate(
        self, api: ApiFactory, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(phones=["13800138000"])
        client = api(agent)

        created = client.post(
            f"/customers/{customer.pk}/contacts", {"kind": "email", "value": "A@B.cn"}
        )
        assert created.status_code == 201
        assert created.json()["masked"] == "a***@b.cn"
        dup = client.post(
            f"/customers/{customer.pk}/contacts", {"kind": "phone", "value": "13800138000"}
        )
        _assert_error(dup, 409, "duplicate_contact")
        bad = client.post(f"/customers/{customer.pk}/contacts", {"kind": "fax", "value": "1"})
        _assert_error(bad, 422, "invalid_input")
        nul = client.post(
            f"/customers/{customer.pk}/contacts", {"kind": "email", "value": "a\x00@b.cn"}
        )
        _assert_error(nul, 400, "bad_request")  # PostgreSQL cannot store a NUL character
        assert customer.contacts.count() == 2


class TestReveal:
    def test_reveals_and_audits(
        self, api: ApiFactory, agent: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer(
            phones=["13800138000"],
            addresses=[{"province": "广东省", "city": "深圳市", "street": "科技园路1号"}],
        )

        response = api(agent).post(f"/customers/{customer.pk}/reveal")

        assert response.status_code == 200
        body = response.json()
        assert body["contacts"][0]["value"] == "+8613800138000"
        assert body["addresses"][0]["street"] == "科技园路1号"
        audit = AuditEvent.objects.get(action="customer.contact_revealed")
        assert (audit.actor, audit.entity_id) == (agent, customer.pk)

    def test_without_permission_nothing_is_revealed(
        self,
        api: ApiFactory,
        warehouse_user: User,
        make_staff: Callable[..., User],
        make_customer: Callable[..., Customer],
    ) -> None:
        customer = make_customer(phones=["13800138000"])
        reviewer = make_staff(Role.COMPLAINT_REVIEWER)  # sees customers, may not reveal

        _assert_error(
            api(warehouse_user).post(f"/customers/{customer.pk}/reveal"), 404, "not_found"
        )
        forbidden = api(reviewer).post(f"/customers/{customer.pk}/reveal")
        _assert_error(forbidden, 403, "forbidden")
        assert "13800138000" not in forbidden.content.decode()
        assert not AuditEvent.objects.filter(action="customer.contact_revealed").exists()


class TestMergeAndTier:
    def test_merge(
        self,
        api: ApiFactory,
        senior_agent: User,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        survivor, duplicate = make_customer("A"), make_customer("B", phones=["13900139000"])
        case = make_case(duplicate)

        response = api(senior_agent).post(
            f"/customers/{survivor.pk}/merge", {"duplicate_id": duplicate.pk, "reason": "same"}
        )

        assert response.status_code == 200, response.content
        assert [c["masked"] for c in response.json()["contacts"]] == ["+86 139****9000"]
        case.refresh_from_db()
        assert case.customer == survivor
        assert case.events.filter(kind=CaseEvent.Kind.MERGED).count() == 1

    def test_merge_refusals(
        self,
        api: ApiFactory,
        agent: User,
        senior_agent: User,
        make_customer: Callable[..., Customer],
    ) -> None:
        a, b, c = make_customer("A"), make_customer("B"), make_customer("C")
        client = api(senior_agent)
        client.post(f"/customers/{b.pk}/merge", {"duplicate_id": a.pk})

        _assert_error(
            client.post(f"/customers/{c.pk}/merge", {"duplicate_id": c.pk}),
            422,
            "merge_same_customer",
        )
        _assert_error(
            client.post(f"/customers/{c.pk}/merge", {"duplicate_id": a.pk}),
            409,
            "duplicate_already_merged",
        )
        _assert_error(
            client.post(f"/customers/{a.pk}/merge", {"duplicate_id": c.pk}), 409, "survivor_merged"
        )
        _assert_error(
            client.post(f"/customers/{c.pk}/merge", {"duplicate_id": 0}), 422, "invalid_input"
        )
        _assert_error(
            client.post(f"/customers/{c.pk}/merge", {"duplicate_id": b.pk, "force": True}),
            422,
            "invalid_input",
        )
        _assert_error(
            api(agent).post(f"/customers/{c.pk}/merge", {"duplicate_id": b.pk}), 403, "forbidden"
        )
        assert list(Customer.objects.filter(merged_into__isnull=False)) == [a]

    def test_tier(
        self, api: ApiFactory, agent: User, manager: User, make_customer: Callable[..., Customer]
    ) -> None:
        customer = make_customer()
        url = f"/customers/{customer.pk}/tier"
        until = (clock.now() + dt.timedelta(days=30)).isoformat()

        _assert_error(
            api(agent).post(url, {"tier": "vip", "reason": "x", "expires_at": until}),
            403,
            "forbidden",
        )
        _assert_error(
            api(manager).post(url, {"tier": "gold", "reason": "x", "expires_at": until}),
            422,
            "invalid_input",
        )
        _assert_error(
            api(manager).post(url, {"tier": "vip", "expires_at": until}), 422, "invalid_input"
        )
        # An override without an expiry is refused: it must end some day.
        _assert_error(api(manager).post(url, {"tier": "vip", "reason": "x"}), 422, "invalid_input")
        response = api(manager).post(
            url, {"tier": "vip", "reason": "Key account", "expires_at": until}
        )

        assert response.status_code == 200
        assert response.json()["tier"] == "vip"
        assert AuditEvent.objects.filter(action="customer.tier_changed").count() == 1


class TestTimeline:
    def test_lists_events(
        self,
        api: ApiFactory,
        agent: User,
        desk_team: Any,
        make_customer: Callable[..., Customer],
        make_case: Callable[..., Case],
    ) -> None:
        customer = make_customer(actor=agent)
        case = make_case(customer, team=desk_team)

        response = api(agent).get(f"/customers/{customer.pk}/timeline")

        assert response.status_code == 200
        items = response.json()
        assert [(i["kind"], i["case_number"]) for i in items] == [
            ("customer.created", ""),
            ("case.created", case.number),
        ]
        assert items[0]["actor"] == agent.label


def test_documented_bodies_are_this_apps_own(client: Client) -> None:
    """The cases API has a contact body and a unit output too; names must not collide."""
    schema = client.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]

    def ref(op: dict[str, Any]) -> str:
        return str(op["requestBody"]["content"]["application/json"]["schema"]["$ref"])

    contact_add = schema["paths"]["/api/v1/customers/{customer_id}/contacts"]["post"]
    body = components[ref(contact_add).rsplit("/", 1)[1]]
    assert set(body["properties"]) == {"kind", "value", "label", "is_primary"}
    unit = components["CustomerMatchOut"]["properties"]["units"]["items"]["$ref"]
    assert "warranty_status" in components[unit.rsplit("/", 1)[1]]["properties"]


def test_operations_are_documented(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = [
        op
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1/customers")
        for op in ops.values()
    ]
    assert len(operations) == 15  # 11 of the customer file, 4 of the value tiers
    assert all(op.get("operationId", "").startswith("customers_") for op in operations)
    assert all(op.get("summary") for op in operations)
