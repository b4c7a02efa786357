"""Tests of aftersales.catalog.services: registration, product models, and the sales import."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from aftersales.accounts.models import User
from aftersales.catalog import services
from aftersales.catalog.models import ProductLine, ProductModel, Unit, UnitImport
from aftersales.catalog.selectors import warranty_status
from aftersales.core.crypto import blind_index
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.customers.models import ContactPoint, Customer
from aftersales.customers.services import customer_create, customer_merge
from tests import factories
from tests.catalog.conftest import TODAY, grant, sale, sales_csv

pytestmark = pytest.mark.django_db


def _register(actor: User | None, model: ProductModel, **overrides: Any) -> Unit:
    fields: dict[str, Any] = {
        "serial_number": "fr2026a001",
        "purchase_date": dt.date(2026, 6, 18),
        "purchase_amount": Decimal("4999.00"),
        "sales_channel": "online",
        **overrides,
    }
    return services.unit_register(actor=actor, model=model, **fields)


def _code(excinfo: pytest.ExceptionInfo[ApplicationError]) -> tuple[str, int]:
    return excinfo.value.code, excinfo.value.status_code


class TestUnitRegister:
    def test_registers_with_normalised_serial_and_audit_row(
        self, agent: User, fridge: ProductModel
    ) -> None:
        owner = factories.customer()

        unit = _register(agent, fridge, serial_number="  fr2026a001 ", customer=owner)

        assert unit.serial_number == "FR2026A001"
        assert unit.customer == owner
        assert unit.purchase_amount == Decimal("4999.00")
        assert unit.currency == "CNY"
        event = AuditEvent.objects.get(action="unit.registered")
        assert (event.actor, event.entity_id) == (agent, unit.pk)
        assert event.data["serial_number"] == "FR2026A001"

    def test_same_serial_of_same_model_is_duplicate_serial(
        self, agent: User, fridge: ProductModel, tv: ProductModel
    ) -> None:
        _register(agent, fridge, serial_number="FR2026A001")

        with pytest.raises(ApplicationError) as excinfo:
            _register(agent, fridge, serial_number=" fr2026a001")

        assert _code(excinfo) == ("duplicate_serial", 409)
        assert Unit.objects.count() == 1
        # Another model may carry the same serial.
        assert _register(agent, tv, serial_number="FR2026A001").model == tv

    def test_purchase_date_today_is_fine_tomorrow_is_not(
        self, agent: User, fridge: ProductModel
    ) -> None:
        assert _register(agent, fridge, purchase_date=TODAY).purchase_date == TODAY

        with pytest.raises(ApplicationError) as excinfo:
            _register(agent, fridge, serial_number="B2", purchase_date=TODAY + dt.timedelta(days=1))

        assert _code(excinfo) == ("future_purchase_date", 422)
        assert Unit.objects.count() == 1

    @pytest.mark.parametrize(
        ("overrides", "code"),
        [
            ({"purchase_amount": Decimal("-0.01")}, "negative_amount"),
            ({"purchase_amount": Decimal("10.005")}, "invalid_amount"),
            ({"purchase_amount": Decimal("NaN")}, "invalid_amount"),
            ({"currency": "RMB1"}, "invalid_currency"),
            ({"sales_channel": "shop"}, "invalid_sales_channel"),
            ({"serial_number": "   "}, "required"),
            ({"serial_number": "AB 12"}, "invalid_serial"),
            ({"serial_number": "X" * 61}, "invalid_serial"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_saved(
        self, agent: User, fridge: ProductModel, overrides: dict[str, Any], code: str
    ) -> None:
        with pytest.raises(ApplicationError) as excinfo:
            _register(agent, fridge, **overrides)

        assert _code(excinfo) == (code, 422)
        assert not Unit.objects.exists()
        assert not AuditEvent.objects.filter(action="unit.registered").exists()

    def test_amount_must_be_decimal_never_float(self, agent: User, fridge: ProductModel) -> None:
        with pytest.raises(TypeError):
            _register(agent, fridge, purchase_amount=4999.99)

    def test_currency_is_upper_cased_and_zero_amount_allowed(
        self, agent: User, fridge: ProductModel
    ) -> None:
        unit = _register(agent, fridge, currency="hkd", purchase_amount=Decimal("0"))

        assert (unit.currency, unit.purchase_amount) == ("HKD", Decimal("0.00"))

    def test_merged_customer_is_refused(self, senior_agent: User, fridge: ProductModel) -> None:
        survivor, duplicate = factories.customer(), factories.customer()
        customer_merge(actor=senior_agent, survivor=survivor, duplicate=duplicate)
        duplicate.refresh_from_db()

        with pytest.raises(ApplicationError) as excinfo:
            _register(senior_agent, fridge, customer=duplicate)

        assert excinfo.value.code == "customer_merged"
        assert not Unit.objects.exists()

    def test_role_without_add_unit_is_refused(
        self, warehouse_user: User, fridge: ProductModel
    ) -> None:
        with pytest.raises(PermissionDenied):
            _register(warehouse_user, fridge)
        assert not Unit.objects.exists()


class TestUnitAssignCustomer:
    def test_owner_change_is_audited_with_before_and_after(
        self, agent: User, fridge: ProductModel
    ) -> None:
        first, second = factories.customer(), factories.customer()
        unit = factories.unit(model=fridge, customer=first)
        actor = grant(agent, "catalog.change_unit")

        services.unit_assign_customer(actor=actor, unit=unit, customer=second)

        unit.refresh_from_db()
        assert unit.customer == second
        event = AuditEvent.objects.get(action="unit.customer_assigned")
        assert event.data == {"before": first.pk, "after": second.pk}

    def test_needs_change_unit(self, warehouse_user: User, fridge: ProductModel) -> None:
        unit = factories.unit(model=fridge)

        with pytest.raises(PermissionDenied):
            services.unit_assign_customer(
                actor=warehouse_user, unit=unit, customer=factories.customer()
            )

        unit.refresh_from_db()
        assert unit.customer is None


class TestProductCatalog:
    def test_product_line_needs_add_productline(self, agent: User, manager: User) -> None:
        with pytest.raises(PermissionDenied):
            services.product_line_create(actor=agent, code="ac", name_zh="空调", name_en="AC")

        actor = grant(manager, "catalog.add_productline")
        line = services.product_line_create(
            actor=actor, code=" AC ", name_zh="空调", name_en="Air conditioner"
        )

        assert line.code == "ac"
        with pytest.raises(ApplicationError) as excinfo:
            services.product_line_create(actor=actor, code="ac", name_zh="x", name_en="x")
        assert _code(excinfo) == ("duplicate_code", 409)
        assert AuditEvent.objects.filter(action="catalog.product_line_created").count() == 1

    def test_model_codes_are_unique_in_any_case(
        self, manager: User, fridge: ProductModel, fridge_line: ProductLine
    ) -> None:
        with pytest.raises(ApplicationError) as excinfo:
            services.product_model_create(
                actor=manager, line=fridge_line, code="bcd-520", name="Copy"
            )

        assert _code(excinfo) == ("duplicate_code", 409)
        assert ProductModel.objects.count() == 1

    def test_model_create_with_warranty_terms(
        self, manager: User, agent: User, fridge_line: ProductLine
    ) -> None:
        model = services.product_model_create(
            actor=manager,
            line=fridge_line,
            code="BCD-600",
            name="Fridge 600L",
            parts_warranty_months=120,
            labour_warranty_months=36,
        )

        assert (model.parts_warranty_months, model.labour_warranty_months) == (120, 36)
        with pytest.raises(ApplicationError) as excinfo:
            services.product_model_create(
                actor=manager, line=fridge_line, code="X", name="X", parts_warranty_months=241
            )
        assert _code(excinfo) == ("invalid_warranty_months", 422)
        with pytest.raises(PermissionDenied):
            services.product_model_create(actor=agent, line=fridge_line, code="Y", name="Y")

    def test_warranty_change_applies_to_sold_units_and_is_audited(
        self, manager: User, fridge: ProductModel
    ) -> None:
        unit = factories.unit(model=fridge, purchase_date=dt.date(2024, 1, 1))
        assert warranty_status(unit, on=TODAY).labour_end == dt.date(2025, 1, 1)

        services.product_model_update(
            actor=manager, product_model=fridge, labour_warranty_months=36, name=" Fridge "
        )

        unit = Unit.objects.select_related("model").get(pk=unit.pk)
        assert warranty_status(unit, on=TODAY).labour_end == dt.date(2027, 1, 1)
        event = AuditEvent.objects.get(action="catalog.product_model_updated")
        assert event.data["changes"]["labour_warranty_months"] == {"before": 12, "after": 36}
        assert event.data["changes"]["name"]["after"] == "Fridge"

    def test_code_cannot_be_updated(self, manager: User, fridge: ProductModel) -> None:
        with pytest.raises(ApplicationError) as excinfo:
            services.product_model_update(
                actor=manager,
                product_model=fridge,
                code="NEW",  # type: ignore[call-arg]
            )

        assert excinfo.value.code == "field_not_updatable"
        fridge.refresh_from_db()
        assert fridge.code == "BCD-520"


def _import(actor: User | None, content: bytes, filename: str = "sales.csv") -> UnitImport:
    return services.units_import_csv(actor=actor, filename=filename, content=content)


def _reasons(batch: UnitImport) -> dict[int, dict[str, str]]:
    """Row number -> {column: error code}."""
    return {
        item["row"]: {column: e["code"] for column, e in item["errors"].items()}
        for item in batch.rejected
    }


class TestUnitsImport:
    def test_good_rows_imported_each_bad_row_reported(
        self, supervisor: User, fridge: ProductModel, tv: ProductModel
    ) -> None:
        known = customer_create(actor=supervisor, name="王芳", phones=["13900139000"])
        content = sales_csv(
            [
                # row 2: new customer, opened from the row with the address
                sale(
                    "fr2026a001",
                    customer_name="李伟",
                    customer_phone="138-0013-8000",
                    province="广东省",
                    city="深圳市",
                    district="南山区",
                ),
                # row 3: known customer, found by phone in another form; model in other case
                sale("TV0001", model_code="tv-55q", customer_phone="+86 139 0013 9000"),
                # row 4: no customer at all, currency column left blank
                sale("FR2026A002", currency="", sales_channel="Retail"),
                sale("FR2026A003", model_code="XX-1"),  # 5
                sale("FR2026A004", purchase_date="2026/06/18"),  # 6
                sale("FR2026A005", purchase_date="2026-11-21"),  # 7: tomorrow
                sale("FR2026A006", amount="-1.00"),  # 8
                sale("FR2026A007", amount="abc"),  # 9
                sale("FR2026A008", sales_channel="shop"),  # 10
                sale("FR2026A009", customer_name="赵六", customer_phone="12345"),  # 11
                sale("FR2026A010"),  # 12: twice in the file
                sale("FR2026A010", amount="3999.00"),  # 13
                sale("", purchase_date="2026-02-30", sales_channel=""),  # 14: three problems
                sale("FR2026A011", customer_phone="13700137000"),  # 15: new number, no name
                sale("FR2026A012", customer_name="孙七"),  # 16: a name but no phone
                sale("FR2026A013", customer_phone="13600136000", customer_name="周八", city="x"),
            ]
        )

        batch = _import(supervisor, content)

        assert _reasons(batch) == {
            5: {"model_code": "unknown_model"},
            6: {"purchase_date": "invalid_date"},
            7: {"purchase_date": "future_purchase_date"},
            8: {"amount": "negative_amount"},
            9: {"amount": "invalid_amount"},
            10: {"sales_channel": "invalid_sales_channel"},
            11: {"customer_phone": "invalid_phone"},
            12: {"serial_number": "duplicate_in_file"},
            13: {"serial_number": "duplicate_in_file"},
            14: {
                "serial_number": "required",
                "purchase_date": "invalid_date",
                "sales_channel": "required",
            },
            15: {"customer_name": "required"},
            16: {"customer_phone": "required"},
            17: {"province": "address_incomplete"},
        }
        row12 = next(r for r in batch.rejected if r["row"] == 12)
        assert "rows 12, 13" in row12["errors"]["serial_number"]["message"]
        assert (batch.rows_total, batch.rows_created, batch.rows_unchanged) == (16, 3, 0)
        assert (batch.rows_rejected, batch.customers_created) == (13, 1)

        new_owner = Unit.objects.get(serial_number="FR2026A001").customer
        assert new_owner is not None and new_owner.name == "李伟"
        assert new_owner.contacts.get().lookup_hash == blind_index(
            "+8613800138000", purpose="phone"
        )
        address = new_owner.addresses.get()
        assert (address.province, address.city, address.district) == ("广东省", "深圳市", "南山区")
        tv_unit = Unit.objects.get(serial_number="TV0001")
        assert (tv_unit.model, tv_unit.customer) == (tv, known)
        plain = Unit.objects.get(serial_number="FR2026A002")
        assert (plain.customer, plain.currency, plain.sales_channel) == (None, "CNY", "retail")
        assert plain.purchase_amount == Decimal("4999.00")
        assert set(Unit.objects.values_list("import_batch", flat=True)) == {batch.pk}

        event = AuditEvent.objects.get(action="units.imported")
        assert (event.actor, event.entity, event.entity_id) == (supervisor, "unit_import", batch.pk)
        assert event.data["rows_created"] == 3
        assert event.data["rows_rejected"] == 13
        assert event.data["customers_created"] == 1

    def test_reimporting_the_same_file_changes_nothing(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        content = sales_csv(
            [
                sale("FR1", customer_name="李伟", customer_phone="13800138000"),
                sale("FR2", customer_name="李伟", customer_phone="13800138000"),
                sale("FR3"),
                sale("FR4", amount="-5"),
            ]
        )
        first = _import(supervisor, content)
        units, customers = Unit.objects.count(), Customer.objects.count()

        second = _import(supervisor, content)

        assert (first.rows_created, first.customers_created) == (3, 1)
        assert Unit.objects.count() == units == 3
        assert Customer.objects.count() == customers == 1
        assert second.rows_unchanged == first.rows_created
        assert (second.rows_created, second.customers_created) == (0, 0)
        assert second.rejected == first.rejected
        assert second.sha256 == first.sha256
        assert set(Unit.objects.values_list("import_batch", flat=True)) == {first.pk}

    def test_row_of_a_registered_unit_with_other_data_is_rejected_per_column(
        self, supervisor: User, agent: User, fridge: ProductModel
    ) -> None:
        owner = customer_create(actor=agent, name="王芳", phones=["13900139000"])
        _register(agent, fridge, serial_number="FR1", customer=owner)  # 2026-06-18, 4999.00
        _register(agent, fridge, serial_number="FR2", customer=owner)
        _register(agent, fridge, serial_number="FR3")
        content = sales_csv(
            [
                sale("FR1", amount="4999", retailer="苏宁", purchase_date="2026-06-19"),
                sale("FR2", retailer="", customer_phone="13800138000", customer_name="李伟"),
                sale("FR3", retailer="", customer_phone="13800138000", customer_name="李伟"),
            ],
        )

        batch = _import(supervisor, content)

        assert _reasons(batch) == {
            2: {"purchase_date": "registered_differently", "retailer": "registered_differently"},
            3: {"customer_phone": "registered_differently"},
            4: {"customer_phone": "registered_differently"},
        }
        message = batch.rejected[0]["errors"]["purchase_date"]["message"]
        assert "2026-06-18" in message and "2026-06-19" in message
        assert (batch.rows_created, batch.customers_created) == (0, 0)
        assert Unit.objects.get(serial_number="FR1").purchase_date == dt.date(2026, 6, 18)

    def test_registered_unit_without_customer_columns_is_unchanged(
        self, supervisor: User, agent: User, fridge: ProductModel
    ) -> None:
        """A retailer's export never names the owner the customer registered later."""
        owner = customer_create(actor=agent, name="王芳", phones=["13900139000"])
        _register(agent, fridge, serial_number="FR1", customer=owner, retailer="京东自营")

        batch = _import(supervisor, sales_csv([sale("FR1", amount="4999.0")]))

        assert (batch.rows_unchanged, batch.rows_rejected) == (1, 0)

    def test_phone_on_a_merged_record_means_the_survivor(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        survivor = customer_create(actor=supervisor, name="王芳", phones=["13900139000"])
        duplicate = customer_create(actor=supervisor, name="王 芳", phones=["13900139000"])
        customer_merge(actor=supervisor, survivor=survivor, duplicate=duplicate)
        # The shared number stays on the merged record as well (the survivor already had it).
        assert ContactPoint.objects.filter(customer=duplicate).exists()

        batch = _import(
            supervisor, sales_csv([sale("FR1", customer_phone="13900139000", customer_name="x")])
        )

        assert (batch.rows_created, batch.customers_created) == (1, 0)
        assert Unit.objects.get().customer == survivor

    def test_phone_shared_by_two_customers_needs_the_name_to_decide(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        mother = customer_create(actor=supervisor, name="王芳", phones=["13900139000"])
        customer_create(actor=supervisor, name="李强", phones=["13900139000"])
        content = sales_csv(
            [
                sale("FR1", customer_phone="13900139000", customer_name="王芳"),
                sale("FR2", customer_phone="13900139000", customer_name="someone"),
            ]
        )

        batch = _import(supervisor, content)

        assert Unit.objects.get(serial_number="FR1").customer == mother
        assert _reasons(batch) == {3: {"customer_phone": "ambiguous_customer"}}

    def test_gb18030_file_from_a_chinese_retailer(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        content = sales_csv(
            [
                sale(
                    "FR1",
                    retailer="苏宁易购·南京新街口店",
                    customer_name="欧阳娜娜",
                    customer_phone="13800138000",
                    province="江苏省",
                    city="南京市",
                )
            ],
            encoding="gb18030",
        )
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")

        batch = _import(supervisor, content)

        assert batch.rows_created == 1
        unit = Unit.objects.select_related("customer").get()
        assert unit.retailer == "苏宁易购·南京新街口店"
        assert unit.customer is not None and unit.customer.name == "欧阳娜娜"
        assert unit.customer.addresses.get().city == "南京市"

    def test_utf8_bom_and_header_in_any_case_and_order(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        content = "\ufeffSales_Channel,Serial_Number,Model_Code,Purchase_Date,Amount\r\n"
        content += "dealer,fr1,BCD-520,2026-01-05,1999.5\r\n\r\n,,,,\r\n"

        batch = _import(supervisor, content.encode("utf-8"))

        assert (batch.rows_total, batch.rows_created) == (1, 1)
        unit = Unit.objects.get()
        assert (unit.serial_number, unit.purchase_amount) == ("FR1", Decimal("1999.50"))

    def test_cells_outside_the_header_reject_the_row(
        self, supervisor: User, fridge: ProductModel
    ) -> None:
        content = b"serial_number,model_code,purchase_date,amount,sales_channel\n"
        content += b"FR1,BCD-520,2026-01-05,10,online,surprise\nFR2,BCD-520,2026-01-05,10,online\n"

        batch = _import(supervisor, content)

        assert _reasons(batch) == {2: {"row": "extra_cells"}}
        assert list(Unit.objects.values_list("serial_number", flat=True)) == ["FR2"]

    @pytest.mark.parametrize(
        ("content", "code"),
        [
            (b"", "empty_file"),
            (b"serial_number,model_code,purchase_date,amount,sales_channel\n", "empty_file"),
            (
                b"serial_number,model_code,amount,sales_channel\nFR1,BCD-520,1,online\n",
                "missing_columns",
            ),
            (
                b"serial_number,model_code,purchase_date,amount,sales_channel,custmer_phone\n"
                b"FR1,BCD-520,2026-01-05,1,online,138\n",
                "unknown_columns",
            ),
            (
                b"serial_number,serial_number,model_code,purchase_date,amount,sales_channel\n",
                "duplicate_columns",
            ),
            (b"\xff\xfe\x00\x00binary\x81", "invalid_encoding"),
            # Decodes, but PostgreSQL cannot store the NUL (and binary files look like this).
            (
                b"serial_number,model_code,purchase_date,amount,sales_channel\n"
                b"FR\x001,BCD-520,2026-01-05,1,online\n",
                "invalid_encoding",
            ),
        ],
    )
    def test_unusable_file_is_refused_whole(
        self, supervisor: User, fridge: ProductModel, content: bytes, code: str
    ) -> None:
        with pytest.raises(ApplicationError) as excinfo:
            _import(supervisor, content)

        assert _code(excinfo) == (code, 422)
        assert not UnitImport.objects.exists()
        assert not Unit.objects.exists()

    def test_file_too_large_is_refused(self, supervisor: User, fridge: ProductModel) -> None:
        row = "FR{},BCD-520,2026-01-05,10,online\n"
        content = b"serial_number,model_code,purchase_date,amount,sales_channel\n"
        filler = "".join(row.format(i) for i in range(200_000)).encode()
        assert len(content + filler) > services.MAX_IMPORT_BYTES

        with pytest.raises(ApplicationError) as excinfo:
            _import(supervisor, content + filler)

        assert _code(excinfo) == ("file_too_large", 413)
        assert not Unit.objects.exists() and not UnitImport.objects.exists()

    def test_too_many_rows_is_refused(self, supervisor: User, fridge: ProductModel) -> None:
        header = b"serial_number,model_code,purchase_date,amount,sales_channel\n"
        rows = b"".join(
            f"S{i},BCD-520,2026-01-05,1,online\n".encode()
            for i in range(services.MAX_IMPORT_ROWS + 1)
        )

        with pytest.raises(ApplicationError) as excinfo:
            _import(supervisor, header + rows)

        assert _code(excinfo) == ("too_many_rows", 413)
        assert not Unit.objects.exists()

    def test_needs_import_units(self, agent: User, fridge: ProductModel) -> None:
        with pytest.raises(PermissionDenied):
            _import(agent, sales_csv([sale("FR1")]))

        assert not Unit.objects.exists() and not UnitImport.objects.exists()
