"""Tests of aftersales.catalog.views: unit list and search, unit page, CSV import pages."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from aftersales.accounts.models import Team, User
from aftersales.accounts.services import staff_create
from aftersales.catalog import services
from aftersales.catalog.models import ProductModel, Unit, UnitImport
from aftersales.core import clock
from aftersales.customers.models import Customer
from tests import factories
from tests.auth import sign_in
from tests.catalog.conftest import sale, sales_csv

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _upload(client: Client, content: bytes, *, language: str = "en") -> Any:
    return client.post(
        "/units/import/",
        {"file": SimpleUploadedFile("sales.csv", content, "text/csv")},
        headers={"Accept-Language": language},
    )


class TestUnitList:
    def test_table_with_customer_link_and_warranty_badge(
        self, agent: User, fridge: ProductModel
    ) -> None:
        owner = factories.customer(name="李伟")
        factories.unit(
            model=fridge,
            serial_number="FR2026A001",
            customer=owner,
            purchase_date=dt.date(2023, 12, 1),  # parts end 2026-12-01: 11 days left
        )
        factories.unit(model=fridge, serial_number="FR2020Z999", purchase_date=dt.date(2020, 1, 1))

        page = _client(agent).get("/units/").content.decode()

        assert f'href="/customers/{owner.pk}/">李伟</a>' in page
        assert "FR2026A001" in page and "2023-12-01" in page
        assert "Expires in 11 days" in page
        assert "Out of warranty" in page

    def test_htmx_search_returns_only_matching_rows(
        self, agent: User, fridge: ProductModel, tv: ProductModel
    ) -> None:
        factories.unit(model=fridge, serial_number="FR2026A001")
        factories.unit(model=tv, serial_number="TV2026B002")
        client = _client(agent)

        by_serial = client.get("/units/", {"q": "a001"}, headers={"HX-Request": "true"})
        by_model = client.get("/units/", {"q": "TV-55"}).content.decode()

        partial = by_serial.content.decode()
        assert "<html" not in partial
        assert "FR2026A001" in partial and "TV2026B002" not in partial
        assert "TV2026B002" in by_model and "FR2026A001" not in by_model

    def test_warehouse_sees_units_but_not_their_owners(
        self, warehouse_user: User, fridge: ProductModel
    ) -> None:
        owner = factories.customer(name="李伟")
        unit = factories.unit(model=fridge, customer=owner)

        page = _client(warehouse_user).get("/units/").content.decode()

        assert unit.serial_number in page
        assert "李伟" not in page
        assert f"/customers/{owner.pk}/" not in page

    def test_without_view_unit_is_403(self) -> None:
        nobody = staff_create(username="norole", password="x-Pass-2026", display_name="n", roles=[])

        assert _client(nobody).get("/units/").status_code == 403


class TestUnitDetail:
    def test_warranty_dates_and_visible_cases(
        self,
        agent: User,
        desk_team: Team,
        other_team: Team,
        fridge: ProductModel,
        make_case: Callable[..., Any],
    ) -> None:
        owner = factories.customer(name="李伟")
        unit = factories.unit(model=fridge, customer=owner, purchase_date=dt.date(2025, 2, 28))
        mine = make_case(owner, unit, team=desk_team, subject="冰箱不制冷")
        hidden = make_case(owner, unit, team=other_team, subject="门封条脱落")

        response = _client(agent).get(f"/units/{unit.pk}/")

        page = response.content.decode()
        assert response.status_code == 200
        assert "2028-02-28" in page  # parts: 36 months
        assert "2026-02-28" in page  # labour: 12 months, already over
        assert "In warranty" in page
        assert f'href="/cases/{mine.number}/"' in page and "冰箱不制冷" in page
        assert hidden.number not in page and "门封条脱落" not in page
        assert f'href="/customers/{owner.pk}/"' in page

    def test_missing_unit_is_404(self, agent: User) -> None:
        assert _client(agent).get("/units/999999/").status_code == 404


class TestUnitImport:
    def test_agent_without_import_units_gets_403(self, agent: User, fridge: ProductModel) -> None:
        client = _client(agent)

        assert client.get("/units/import/").status_code == 403
        assert _upload(client, sales_csv([sale("FR1")])).status_code == 403
        assert not Unit.objects.exists()

    def test_upload_then_report_with_counts_and_rejected_rows(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        client = _client(supervisor)
        assert client.get("/units/import/").status_code == 200
        content = sales_csv(
            [
                sale("FR1", customer_name="李伟", customer_phone="13800138000"),
                sale("FR2", model_code="NOPE-1"),
                sale("FR3", purchase_date="2026-12-01"),
            ]
        )

        response = _upload(client, content)

        batch = UnitImport.objects.get()
        assert response.status_code == 302
        assert response["Location"] == f"/units/import/{batch.pk}/"
        report = client.get(response["Location"]).content.decode()
        assert "Units registered</dt><dd>1</dd>" in report
        assert "Rows rejected</dt><dd>2</dd>" in report
        assert "New customers</dt><dd>1</dd>" in report
        assert "No product model &#x27;NOPE-1&#x27; in the catalog." in report
        assert "The purchase date 2026-12-01 is in the future." in report
        assert Unit.objects.get().serial_number == "FR1"

    def test_report_shows_rejections_in_the_readers_language(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        client = _client(supervisor)
        content = sales_csv(
            [
                sale("FR2", model_code="NOPE-1"),
                sale("FR3", purchase_date="2026-12-01"),
                sale("FR4", customer_phone="12345"),
            ]
        )
        # The file is uploaded from the Chinese UI: what is stored stays English, for the API.
        location = _upload(client, content, language="zh-hans")["Location"]
        reason = UnitImport.objects.get().rejected[0]["errors"]["model_code"]
        assert reason == {
            "code": "unknown_model",
            "message": "No product model 'NOPE-1' in the catalog.",
            "message_id": "model_unknown",
            "params": {"value": "NOPE-1"},
        }

        with translation.override("zh-hans"):
            chinese = client.get(location, headers={"Accept-Language": "zh-hans"}).content.decode()
        english = client.get(location, headers={"Accept-Language": "en"}).content.decode()

        assert "产品目录中没有型号 &#x27;NOPE-1&#x27;。" in chinese
        assert "购买日期 2026-12-01 不能晚于今天。" in chinese
        assert "&#x27;12345&#x27; 不是有效的电话号码。" in chinese
        assert "No product model" not in chinese and "in the future" not in chinese
        assert "No product model &#x27;NOPE-1&#x27; in the catalog." in english
        assert "&#x27;12345&#x27; is not a valid phone number." in english

    def test_report_stored_without_message_ids_shows_the_stored_message(
        self, supervisor: User
    ) -> None:
        batch = UnitImport.objects.create(
            filename="old.csv",
            sha256="0" * 64,
            rows_total=1,
            rows_rejected=1,
            rejected=[
                {
                    "row": 2,
                    "serial_number": "FR1",
                    "errors": {"amount": {"code": "invalid_amount", "message": "Stored text."}},
                }
            ],
            created_at=clock.now(),
        )

        report = _client(supervisor).get(
            f"/units/import/{batch.pk}/", headers={"Accept-Language": "zh-hans"}
        )

        assert report.status_code == 200
        assert "Stored text." in report.content.decode()

    def test_reupload_reports_rows_as_unchanged(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        client = _client(supervisor)
        content = sales_csv([sale("FR1", customer_name="李伟", customer_phone="13800138000")])
        _upload(client, content)

        response = _upload(client, content)

        report = client.get(response["Location"]).content.decode()
        assert "Already registered, unchanged</dt><dd>1</dd>" in report
        assert (Unit.objects.count(), Customer.objects.count()) == (1, 1)

    def test_refused_file_shows_the_reason_and_saves_nothing(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        too_big = sales_csv([sale("FR1")]) + b"#" * services.MAX_IMPORT_BYTES

        response = _upload(_client(supervisor), too_big)

        assert response.status_code == 422
        assert "The file is larger than 5 MB" in response.content.decode()
        assert not UnitImport.objects.exists() and not Unit.objects.exists()
