"""Tests of aftersales.catalog.selectors: warranty position, unit look-ups and visibility."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from aftersales.accounts.models import Team, User
from aftersales.accounts.services import staff_create
from aftersales.catalog import selectors
from aftersales.catalog.models import ProductLine, ProductModel, Unit
from aftersales.catalog.selectors import EXPIRING_WITHIN_DAYS, warranty_status
from tests import factories


def _unit(purchased: dt.date, *, parts: int = 12, labour: int = 12) -> Unit:
    """An unsaved unit: warranty arithmetic needs no database."""
    model = ProductModel(
        code="X", name="X", parts_warranty_months=parts, labour_warranty_months=labour
    )
    return Unit(model=model, serial_number="SN1", purchase_date=purchased)


class TestWarrantyStatus:
    def test_end_day_is_still_covered(self) -> None:
        unit = _unit(dt.date(2025, 11, 20))

        w = warranty_status(unit, on=dt.date(2026, 11, 20))

        assert w.parts_end == dt.date(2026, 11, 20)
        assert w.in_parts_warranty and w.in_labour_warranty
        assert w.days_left == 0
        assert w.status == "expiring"

    def test_day_after_end_is_expired_with_negative_days(self) -> None:
        unit = _unit(dt.date(2025, 11, 20))

        w = warranty_status(unit, on=dt.date(2026, 11, 21))

        assert w.status == "expired"
        assert w.days_left == -1
        assert not w.in_parts_warranty and not w.in_labour_warranty

    def test_expiring_window_starts_thirty_days_before_parts_end(self) -> None:
        unit = _unit(dt.date(2025, 11, 20))
        end = dt.date(2026, 11, 20)

        outside = warranty_status(unit, on=end - dt.timedelta(days=EXPIRING_WITHIN_DAYS + 1))
        inside = warranty_status(unit, on=end - dt.timedelta(days=EXPIRING_WITHIN_DAYS))

        assert EXPIRING_WITHIN_DAYS == 30
        assert (outside.status, outside.days_left) == ("in_warranty", 31)
        assert (inside.status, inside.days_left) == ("expiring", 30)

    def test_labour_can_end_before_parts(self) -> None:
        unit = _unit(dt.date(2025, 1, 10), parts=36, labour=12)

        w = warranty_status(unit, on=dt.date(2026, 1, 11))

        assert w.labour_end == dt.date(2026, 1, 10)
        assert w.parts_end == dt.date(2028, 1, 10)
        assert w.status == "in_warranty"
        assert w.in_parts_warranty and not w.in_labour_warranty

    @pytest.mark.parametrize(
        ("purchased", "months", "end"),
        [
            (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),  # clamped to February's end
            (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),  # leap year
            (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),  # leap day, next year has none
            (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),  # and four years on it has
            (dt.date(2025, 8, 31), 6, dt.date(2026, 2, 28)),
            (dt.date(2025, 3, 31), 1, dt.date(2025, 4, 30)),
        ],
    )
    def test_month_ends_clamp(self, purchased: dt.date, months: int, end: dt.date) -> None:
        w = warranty_status(_unit(purchased, parts=months, labour=months), on=purchased)

        assert w.parts_end == end
        assert w.labour_end == end

    def test_clamped_end_day_is_covered_and_next_day_is_not(self) -> None:
        unit = _unit(dt.date(2024, 1, 31), parts=1, labour=1)

        assert warranty_status(unit, on=dt.date(2024, 2, 29)).in_parts_warranty
        assert warranty_status(unit, on=dt.date(2024, 3, 1)).status == "expired"

    def test_zero_month_warranty_covers_only_the_purchase_day(self) -> None:
        unit = _unit(dt.date(2026, 5, 1), parts=0, labour=0)

        assert warranty_status(unit, on=dt.date(2026, 5, 1)).status == "expiring"
        assert warranty_status(unit, on=dt.date(2026, 5, 2)).status == "expired"


@pytest.mark.django_db
class TestUnitQueries:
    def test_units_visible_to_roles_with_view_unit_only(
        self, agent: User, warehouse_user: User, technician: User, fridge: ProductModel
    ) -> None:
        unit = factories.unit(model=fridge)
        nobody = staff_create(username="norole", password="x-Pass-2026", display_name="n", roles=[])

        for user in (agent, warehouse_user, technician):
            assert list(selectors.unit_queryset_for(user)) == [unit]
        assert list(selectors.unit_queryset_for(nobody)) == []

    def test_unit_find_normalises_the_serial_and_filters_by_model(
        self, fridge: ProductModel, tv: ProductModel
    ) -> None:
        in_fridge = factories.unit(model=fridge, serial_number="AB12345")
        in_tv = factories.unit(model=tv, serial_number="AB12345")
        factories.unit(model=fridge, serial_number="AB123456")

        assert set(selectors.unit_find(serial="  ab12345 ")) == {in_fridge, in_tv}
        assert list(selectors.unit_find(serial="AB12345", model_code="tv-55q")) == [in_tv]
        assert list(selectors.unit_find(serial="AB1234")) == []

    def test_units_of_customer_newest_purchase_first(self, fridge: ProductModel) -> None:
        owner = factories.customer()
        old = factories.unit(model=fridge, customer=owner, purchase_date=dt.date(2024, 5, 1))
        new = factories.unit(model=fridge, customer=owner, purchase_date=dt.date(2026, 5, 1))
        factories.unit(model=fridge)

        assert list(selectors.units_of_customer(owner)) == [new, old]

    def test_unit_search_matches_part_of_serial_or_model(
        self, agent: User, fridge: ProductModel, tv: ProductModel
    ) -> None:
        a = factories.unit(model=fridge, serial_number="FR2026A001")
        b = factories.unit(model=tv, serial_number="TV2026B002")

        assert list(selectors.unit_search(agent, q="2026a")) == [a]
        assert list(selectors.unit_search(agent, q="qled")) == [b]
        assert list(selectors.unit_search(agent, q="bcd-520")) == [a]
        assert set(selectors.unit_search(agent, q="")) == {a, b}

    def test_product_models_by_line(
        self, fridge: ProductModel, tv: ProductModel, fridge_line: ProductLine
    ) -> None:
        assert list(selectors.product_models_list()) == [fridge, tv]
        assert list(selectors.product_models_list(line="tv")) == [tv]
        assert list(selectors.product_models_list(line="washer")) == []

    def test_cases_of_a_unit_are_limited_to_the_case_scope(
        self,
        agent: User,
        desk_team: Team,
        other_team: Team,
        fridge: ProductModel,
        make_case: Callable[..., Any],
    ) -> None:
        owner = factories.customer()
        unit = factories.unit(model=fridge, customer=owner)
        mine = make_case(owner, unit, team=desk_team)
        make_case(owner, unit, team=other_team)

        assert list(selectors.unit_cases_for(user=agent, unit=unit)) == [mine]
