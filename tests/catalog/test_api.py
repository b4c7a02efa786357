"""Tests of aftersales.catalog.api: the /api/v1/catalog endpoints with real bearer tokens."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from aftersales.accounts.models import User
from aftersales.catalog import services
from aftersales.catalog.models import ProductLine, ProductModel, Unit, UnitImport
from aftersales.customers.models import Customer
from aftersales.customers.services import customer_create
from tests import factories
from tests.catalog.conftest import grant, sale, sales_csv
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

Api = Callable[[User], ApiClient]


def _unit_body(**overrides: Any) -> dict[str, Any]:
    return {
        "model_code": "BCD-520",
        "serial_number": "fr2026a001",
        "purchase_date": "2026-06-18",
        "purchase_amount": "4999.00",
        "sales_channel": "online",
        **overrides,
    }


def _upload(client: ApiClient, content: bytes, name: str = "sales.csv") -> Any:
    return client.client.post(
        "/api/v1/catalog/units/import",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


class TestProductCatalog:
    def test_lines_and_models_listed_with_terms(
        self, api: Api, agent: User, fridge: ProductModel, tv: ProductModel
    ) -> None:
        client = api(agent)

        lines = client.get("/catalog/product-lines")
        models = client.get("/catalog/product-models", line="tv")

        assert lines.status_code == 200
        assert [line["code"] for line in lines.json()] == ["fridge", "tv"]
        assert models.json() == [
            {
                "id": tv.pk,
                "line_id": tv.line_id,
                "line_code": "tv",
                "code": "TV-55Q",
                "name": "55-inch QLED TV",
                "parts_warranty_months": 24,
                "labour_warranty_months": 12,
                "launched_on": None,
                "is_active": True,
            }
        ]

    def test_create_line_needs_permission(self, api: Api, agent: User, manager: User) -> None:
        refused = api(agent).post(
            "/catalog/product-lines", {"code": "ac", "name_zh": "空调", "name_en": "AC"}
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")

        client = api(grant(manager, "catalog.add_productline"))
        created = client.post(
            "/catalog/product-lines", {"code": "AC", "name_zh": "空调", "name_en": "AC"}
        )
        again = client.post(
            "/catalog/product-lines", {"code": "ac", "name_zh": "空调", "name_en": "AC"}
        )

        assert created.status_code == 201
        assert created.json()["code"] == "ac"
        assert (again.status_code, again.json()["code"]) == (409, "duplicate_code")
        assert ProductLine.objects.count() == 1

    def test_create_model(self, api: Api, manager: User, fridge_line: ProductLine) -> None:
        response = api(manager).post(
            "/catalog/product-models",
            {
                "line_id": fridge_line.pk,
                "code": "BCD-600",
                "name": "Fridge 600L",
                "parts_warranty_months": 120,
                "labour_warranty_months": 36,
                "launched_on": "2026-03-01",
            },
        )

        assert response.status_code == 201, response.content
        model = ProductModel.objects.get(code="BCD-600")
        assert (model.parts_warranty_months, model.launched_on) == (120, dt.date(2026, 3, 1))

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"colour": "white"}, 422, "invalid_input"),
            ({"parts_warranty_months": -1}, 422, "invalid_input"),
            ({"line_id": 999_999}, 422, "unknown_product_line"),
            ({"code": "bcd-520"}, 409, "duplicate_code"),
        ],
    )
    def test_bad_model_input_creates_nothing(
        self,
        api: Api,
        manager: User,
        fridge: ProductModel,
        body: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        payload = {"line_id": fridge.line_id, "code": "BCD-700", "name": "Fridge", **body}

        response = api(manager).post("/catalog/product-models", payload)

        assert (response.status_code, response.json()["code"]) == (status, code)
        assert ProductModel.objects.count() == 1

    def test_agent_cannot_create_or_change_models(
        self, api: Api, agent: User, fridge: ProductModel
    ) -> None:
        client = api(agent)

        created = client.post(
            "/catalog/product-models", {"line_id": fridge.line_id, "code": "Y", "name": "Y"}
        )
        changed = client.patch(f"/catalog/product-models/{fridge.pk}", {"name": "Renamed"})

        assert (created.status_code, changed.status_code) == (403, 403)
        fridge.refresh_from_db()
        assert fridge.name == "Cross-door fridge 520L"

    def test_change_warranty_terms(self, api: Api, manager: User, fridge: ProductModel) -> None:
        client = api(manager)

        response = client.patch(
            f"/catalog/product-models/{fridge.pk}", {"labour_warranty_months": 24}
        )
        refused = client.patch(f"/catalog/product-models/{fridge.pk}", {"code": "NEW"})

        assert response.status_code == 200
        assert response.json()["labour_warranty_months"] == 24
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_input")
        fridge.refresh_from_db()
        assert (fridge.code, fridge.labour_warranty_months) == ("BCD-520", 24)


class TestUnits:
    def test_register_returns_unit_with_warranty(
        self, api: Api, agent: User, fridge: ProductModel
    ) -> None:
        owner = factories.customer()

        response = api(agent).post(
            "/catalog/units", _unit_body(customer_id=owner.pk, model_code="bcd-520")
        )

        assert response.status_code == 201, response.content
        body = response.json()
        assert body["serial_number"] == "FR2026A001"
        assert body["model_code"] == "BCD-520"
        assert body["purchase_amount"] == "4999.00"
        assert body["customer"] == {"id": owner.pk, "number": owner.number, "name": owner.name}
        assert body["warranty"] == {
            "status": "in_warranty",
            "parts_end": "2029-06-18",
            "labour_end": "2027-06-18",
            "days_left": (dt.date(2029, 6, 18) - dt.date(2026, 11, 20)).days,
            "in_parts_warranty": True,
            "in_labour_warranty": True,
        }
        assert Unit.objects.get().purchase_amount == Decimal("4999.00")

    @pytest.mark.parametrize(
        ("overrides", "status", "code"),
        [
            ({"colour": "white"}, 422, "invalid_input"),
            ({"purchase_amount": "-1.00"}, 422, "invalid_input"),
            ({"purchase_amount": "12.345"}, 422, "invalid_input"),
            ({"purchase_amount": "lots"}, 422, "invalid_input"),
            ({"purchase_date": "2026-13-01"}, 422, "invalid_input"),
            ({"sales_channel": "shop"}, 422, "invalid_input"),
            ({"model_code": "XX-1"}, 422, "unknown_model"),
            ({"customer_id": 999_999}, 422, "unknown_customer"),
            ({"purchase_date": "2026-11-21"}, 422, "future_purchase_date"),
        ],
    )
    def test_bad_input_is_4xx_with_code_and_creates_nothing(
        self,
        api: Api,
        agent: User,
        fridge: ProductModel,
        overrides: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        response = api(agent).post("/catalog/units", _unit_body(**overrides))

        assert response.status_code == status, response.content
        body = response.json()
        assert body["code"] == code
        assert body["message"]
        assert not Unit.objects.exists()

    def test_duplicate_serial_is_409(self, api: Api, agent: User, fridge: ProductModel) -> None:
        client = api(agent)
        client.post("/catalog/units", _unit_body())

        response = client.post("/catalog/units", _unit_body(serial_number=" FR2026A001 "))

        assert (response.status_code, response.json()["code"]) == (409, "duplicate_serial")
        assert Unit.objects.count() == 1

    def test_warehouse_sees_units_but_no_customer_contacts(
        self, api: Api, warehouse_user: User, agent: User, fridge: ProductModel
    ) -> None:
        owner = customer_create(actor=agent, name="李伟", phones=["13800138000"])
        factories.unit(model=fridge, customer=owner)

        response = api(warehouse_user).get("/catalog/units")

        assert response.status_code == 200
        item = response.json()["items"][0]
        # No owner at all for warehouse staff (core.policy), nor what they paid.
        assert (item["customer"], item["purchase_amount"]) == (None, None)
        assert owner.number not in response.content.decode()
        assert "13800138000" not in response.content.decode()
        assert "8000" not in response.content.decode()  # not even a masked number
        refused = api(warehouse_user).post("/catalog/units", _unit_body(serial_number="NEW1"))
        assert refused.status_code == 403

    def test_list_filters_and_pagination(
        self, api: Api, agent: User, fridge: ProductModel, tv: ProductModel
    ) -> None:
        owner = factories.customer()
        mine = factories.unit(model=fridge, serial_number="FR1", customer=owner)
        tv_unit = factories.unit(model=tv, serial_number="FR1")
        for i in range(3):
            factories.unit(model=fridge, serial_number=f"X{i}")
        client = api(agent)

        by_serial = client.get("/catalog/units", serial="fr1")
        by_both = client.get("/catalog/units", serial="FR1", model_code="tv-55q")
        by_owner = client.get("/catalog/units", customer_id=owner.pk)
        page = client.get("/catalog/units", limit=2, offset=0)
        too_big = client.get("/catalog/units", limit=101)
        # Past a 64-bit integer the database refused the comparison and the OFFSET (a 500).
        no_such_owner = client.get("/catalog/units", customer_id=2**63)
        too_far = client.get("/catalog/units", offset=2**63)
        last_page = client.get("/catalog/units", offset=2**63 - 1)

        assert {u["id"] for u in by_serial.json()["items"]} == {mine.pk, tv_unit.pk}
        assert [u["id"] for u in by_both.json()["items"]] == [tv_unit.pk]
        assert [u["id"] for u in by_owner.json()["items"]] == [mine.pk]
        assert page.json()["count"] == 5
        assert len(page.json()["items"]) == 2
        assert (too_big.status_code, too_big.json()["code"]) == (422, "invalid_input")
        assert (no_such_owner.status_code, no_such_owner.json()["code"]) == (422, "invalid_input")
        assert (too_far.status_code, too_far.json()["code"]) == (422, "invalid_input")
        assert last_page.json() == {"items": [], "count": 5}

    def test_get_unit_warranty_today_and_404(
        self, api: Api, agent: User, fridge: ProductModel
    ) -> None:
        unit = factories.unit(model=fridge, purchase_date=dt.date(2023, 12, 1))  # parts 36 months
        client = api(agent)

        found = client.get(f"/catalog/units/{unit.pk}")
        missing = client.get("/catalog/units/999999")

        warranty = found.json()["warranty"]
        assert warranty["status"] == "expiring"
        assert warranty["days_left"] == 11
        assert (warranty["in_parts_warranty"], warranty["in_labour_warranty"]) == (True, False)
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


class TestImport:
    def test_upload_returns_the_report_and_import_can_be_fetched(
        self, api: Api, supervisor: User, fridge: ProductModel
    ) -> None:
        client = api(supervisor)
        content = sales_csv(
            [
                sale("FR1", customer_name="李伟", customer_phone="13800138000"),
                sale("FR2", amount="-3"),
            ]
        )

        response = _upload(client, content)

        assert response.status_code == 201, response.content
        report = response.json()
        assert report["filename"] == "sales.csv"
        assert (report["rows_total"], report["rows_created"], report["rows_rejected"]) == (2, 1, 1)
        assert report["customers_created"] == 1
        assert report["rejected"] == [
            {
                "row": 3,
                "serial_number": "FR2",
                "errors": {
                    "amount": {
                        "code": "negative_amount",
                        "message": "The amount cannot be negative.",
                    }
                },
            }
        ]
        fetched = client.get(f"/catalog/imports/{report['id']}")
        assert fetched.json() == report

        again = _upload(client, content).json()
        assert (again["rows_created"], again["rows_unchanged"]) == (0, 1)
        assert Unit.objects.count() == 1 and Customer.objects.count() == 1

    def test_agent_without_import_units_gets_403(
        self, api: Api, agent: User, fridge: ProductModel
    ) -> None:
        client = api(agent)
        batch = services.units_import_csv(
            actor=None, filename="system.csv", content=sales_csv([sale("FR0")])
        )

        upload = _upload(client, sales_csv([sale("FR1")]))
        report = client.get(f"/catalog/imports/{batch.pk}")

        assert (upload.status_code, upload.json()["code"]) == (403, "forbidden")
        assert report.status_code == 403
        assert list(Unit.objects.values_list("serial_number", flat=True)) == ["FR0"]
        assert UnitImport.objects.count() == 1

    def test_file_too_large_is_413(self, api: Api, supervisor: User, fridge: ProductModel) -> None:
        content = sales_csv([sale("FR1")]) + b"#" * services.MAX_IMPORT_BYTES

        response = _upload(api(supervisor), content)

        assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
        assert not Unit.objects.exists() and not UnitImport.objects.exists()

    def test_missing_file_and_bad_header_are_422(
        self, api: Api, supervisor: User, fridge: ProductModel
    ) -> None:
        client = api(supervisor)

        no_file = client.client.post("/api/v1/catalog/units/import", {})
        bad_header = _upload(client, b"serial,model\nFR1,BCD-520\n")

        assert (no_file.status_code, no_file.json()["code"]) == (422, "invalid_input")
        assert (bad_header.status_code, bad_header.json()["code"]) == (422, "missing_columns")
        assert bad_header.json()["details"]["missing"] == [
            "serial_number",
            "model_code",
            "purchase_date",
            "amount",
            "sales_channel",
        ]
        assert not UnitImport.objects.exists()

    def test_file_with_nul_characters_is_422(
        self, api: Api, supervisor: User, fridge: ProductModel
    ) -> None:
        # PostgreSQL cannot store a NUL: the rejected row's serial number was a 500 there.
        content = sales_csv([sale("FR\x001"), sale("FR2")])

        response = _upload(api(supervisor), content)

        assert (response.status_code, response.json()["code"]) == (422, "invalid_encoding")
        assert not Unit.objects.exists() and not UnitImport.objects.exists()

    def test_unknown_import_is_404(self, api: Api, supervisor: User) -> None:
        response = api(supervisor).get("/catalog/imports/424242")

        assert (response.status_code, response.json()["code"]) == (404, "not_found")
