"""Planning: classification runs, policy matching, demand events and overrides, forecast runs
with the installed base, and forecast accuracy once the months are over."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from aftersales.accounts.models import User
from aftersales.cases.models import Case, Nature
from aftersales.catalog.models import ProductModel, Unit, add_months
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict
from aftersales.core.models import AuditEvent
from aftersales.parts import forecasting, planning, selectors
from aftersales.parts.defaults import parts_defaults_ensure
from aftersales.parts.models import (
    ClassificationChange,
    DemandEvent,
    Forecast,
    ForecastAccuracy,
    ForecastOverride,
    ForecastRun,
    Location,
    LocationKind,
    Part,
    StockMovement,
    StockPolicy,
)
from tests import factories

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 11, 20, 10, 0))
# The 12 complete months before NOW's month.
LAST_YEAR = [dt.date(2025, 11, 1), dt.date(2025, 12, 1)] + [
    dt.date(2026, m, 1) for m in range(1, 11)
]

Book = Callable[[Part, dict[dt.date, int]], None]


@pytest.fixture(autouse=True)
def _defaults(db: Any) -> None:
    parts_defaults_ensure()


@pytest.fixture
def central(db: Any) -> Location:
    return Location.objects.create(code="WH-SH", name="Central", kind=LocationKind.CENTRAL)


@pytest.fixture
def issues_inserted_directly(central: Location) -> Book:
    """Book demand history as ISSUE ledger rows written straight into the table (the stock
    services' reservations and cases are not what these tests are about)."""

    def book(part: Part, quantities: dict[dt.date, int]) -> None:
        StockMovement.objects.bulk_create(
            StockMovement(
                kind=StockMovement.Kind.ISSUE,
                part=part,
                location=central,
                stock_kind="new",
                quantity=-quantity,
                reserved_change=-quantity,
                on_hand_after=0,
                reserved_after=0,
                in_transit_after=0,
                unit_cost=part.unit_cost,
                occurred_at=timezone.make_aware(dt.datetime(month.year, month.month, 15, 12)),
            )
            for month, quantity in quantities.items()
            if quantity
        )

    return book


def _part(number: str, cost: str = "10.00", **fields: Any) -> Part:
    return Part.objects.create(
        number=number,
        name_zh=number,
        name_en=number,
        unit_cost=Decimal(cost),
        created_at=NOW - dt.timedelta(days=1000),
        **fields,
    )


def _months(values: list[int], last: dt.date = dt.date(2026, 10, 1)) -> dict[dt.date, int]:
    """The values as consecutive months ending with `last`."""
    start = add_months(last, 1 - len(values))
    return {add_months(start, i): v for i, v in enumerate(values)}


# --- classification ---------------------------------------------------------------------------


@pytest.fixture
def classified_parts(issues_inserted_directly: Book) -> dict[str, Part]:
    parts = {
        "smooth": _part("SMOOTH", "100.00"),
        "erratic": _part("ERRATIC"),
        "intermittent": _part("INTERMIT"),
        "lumpy": _part("LUMPY", "1.00"),
        "none": _part("NONE"),
    }
    issues_inserted_directly(parts["smooth"], _months([10] * 12))
    issues_inserted_directly(parts["erratic"], _months([1, 20] * 6))
    issues_inserted_directly(parts["intermittent"], _months([0, 0, 5] * 4))
    issues_inserted_directly(parts["lumpy"], _months([0, 0, 30, 0, 0, 2] * 2))
    return parts


def _classes(part: Part) -> tuple[str, str, str]:
    part.refresh_from_db()
    return part.abc_class, part.xyz_class, part.sbc_class


def test_classification_sets_abc_xyz_and_demand_pattern(
    classified_parts: dict[str, Part], warehouse_user: User
) -> None:
    seen: list[tuple[int, int]] = []
    with clock.frozen_at(NOW):
        run = planning.classification_run(
            actor=warehouse_user, progress=lambda d, t: seen.append((d, t))
        )

    # Usage values 12000, 1260, 200, 64, 0: A takes the first 80%, B up to 95%.
    assert _classes(classified_parts["smooth"]) == ("A", "X", "smooth")
    assert _classes(classified_parts["erratic"]) == ("B", "Y", "erratic")
    assert _classes(classified_parts["intermittent"]) == ("C", "Z", "intermittent")
    assert _classes(classified_parts["lumpy"]) == ("C", "Z", "lumpy")
    assert _classes(classified_parts["none"]) == ("C", "Z", "insufficient")
    assert classified_parts["smooth"].classified_at == NOW
    assert (run.parts, run.changed) == (5, 5)
    assert seen[-1] == (5, 5)
    change = ClassificationChange.objects.get(
        run=run, part=classified_parts["intermittent"], dimension="sbc"
    )
    assert (change.old, change.new) == ("", "intermittent")
    # ADI from the first month with demand: 10 months, 4 with demand.
    assert change.figures["adi"] == 2.5
    assert change.figures["usage_value"] == "200.00"


def test_only_class_moves_are_recorded(classified_parts: dict[str, Part]) -> None:
    with clock.frozen_at(NOW):
        planning.classification_run()
        again = planning.classification_run()
    assert again.changed == 0
    assert not ClassificationChange.objects.filter(run=again).exists()

    # The lumpy part becomes the most valuable: it moves to A and pushes the others down.
    Part.objects.filter(pk=classified_parts["lumpy"].pk).update(unit_cost=Decimal("1000"))
    with clock.frozen_at(NOW):
        third = planning.classification_run()

    moves = {
        (c.part.number, c.dimension, c.old, c.new)
        for c in ClassificationChange.objects.filter(run=third)
    }
    assert moves == {
        ("LUMPY", "abc", "C", "A"),
        ("SMOOTH", "abc", "A", "B"),
        ("ERRATIC", "abc", "B", "C"),
    }
    assert third.changed == 3


def test_classification_matrix_counts_parts_and_value(classified_parts: dict[str, Part]) -> None:
    with clock.frozen_at(NOW):
        planning.classification_run()
        matrix = selectors.classification_matrix()

    cell = next(c for c in matrix["abc_sbc"] if (c["abc"], c["other"]) == ("C", "lumpy"))
    assert (cell["parts"], cell["usage_value"]) == (1, Decimal("64.00"))
    assert matrix["usage_value"] == Decimal("13524.00")
    assert sum(c["parts"] for c in matrix["abc_xyz"]) == 5
    assert selectors.classification_changes(limit=3)[0].run_id is not None


def test_classification_needs_the_planning_permission(agent: User) -> None:
    with pytest.raises(PermissionDenied):
        planning.classification_run(actor=agent)


# --- policies ---------------------------------------------------------------------------------


def test_the_first_active_matching_policy_by_rank_wins() -> None:
    part = Part(number="P", abc_class="A", sbc_class="smooth", is_critical=False)
    assert planning.policy_for(part).abc_class == "A"  # type: ignore[union-attr]

    special = StockPolicy.objects.create(
        name="A smooth", rank=15, abc_class="A", sbc_class="smooth"
    )
    assert planning.policy_for(part) == special
    special.is_active = False
    special.save()
    assert planning.policy_for(part).name != "A smooth"  # type: ignore[union-attr]
    StockPolicy.objects.create(name="not critical", rank=1, critical=False)
    assert planning.policy_for(part).name == "not critical"  # type: ignore[union-attr]
    part.is_critical = True
    assert planning.policy_for(part).critical is True  # type: ignore[union-attr]


# --- events and overrides ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"name": "  "}, "invalid_name"),
        ({"kind": "storm"}, "invalid_kind"),
        ({"part": None}, "event_target_missing"),
        ({"ends_on": dt.date(2026, 11, 30)}, "invalid_period"),
        ({"factor": Decimal("-0.5")}, "invalid_factor"),
    ],
)
def test_bad_events_are_refused_and_write_nothing(
    warehouse_user: User, changes: dict[str, Any], code: str
) -> None:
    args: dict[str, Any] = {
        "name": "Recall",
        "kind": DemandEvent.Kind.RECALL,
        "part": _part("EV-1"),
        "starts_on": dt.date(2026, 12, 1),
        "ends_on": dt.date(2027, 1, 31),
        "factor": Decimal("1.5"),
    }
    args.update(changes)
    with pytest.raises(ApplicationError) as refused:
        planning.demand_event_create(actor=warehouse_user, **args)
    assert (refused.value.code, refused.value.status_code) == (code, 400)
    assert not DemandEvent.objects.exists()
    assert not AuditEvent.objects.filter(entity="demand_event").exists()


def test_events_are_created_audited_and_withdrawn_once(warehouse_user: User, agent: User) -> None:
    model = factories.product_model()
    with pytest.raises(PermissionDenied):
        planning.demand_event_create(
            actor=agent,
            name="Launch",
            kind="launch",
            product_model=model,
            starts_on=dt.date(2026, 12, 1),
            ends_on=dt.date(2026, 12, 31),
        )
    event = planning.demand_event_create(
        actor=warehouse_user,
        name="Launch",
        kind="launch",
        product_model=model,
        starts_on=dt.date(2026, 12, 1),
        ends_on=dt.date(2026, 12, 31),
        extra_units=3,
    )
    assert AuditEvent.objects.filter(
        entity="demand_event", entity_id=event.pk, action="parts.demand_event_created"
    ).exists()

    planning.demand_event_withdraw(actor=warehouse_user, event=event)
    event.refresh_from_db()
    assert event.is_active is False
    with pytest.raises(Conflict) as twice:
        planning.demand_event_withdraw(actor=warehouse_user, event=event)
    assert twice.value.code == "event_withdrawn"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"reason": " "}, "reason_required"),
        ({"quantity": Decimal("-1")}, "invalid_quantity"),
        ({"ends_on": dt.date(2026, 10, 1)}, "invalid_period"),
        ({"expires_at": NOW - dt.timedelta(minutes=1)}, "invalid_expiry"),
    ],
)
def test_bad_overrides_are_refused_and_write_nothing(
    warehouse_user: User, changes: dict[str, Any], code: str
) -> None:
    args: dict[str, Any] = {
        "part": _part("OV-1"),
        "starts_on": dt.date(2026, 12, 1),
        "ends_on": dt.date(2027, 1, 1),
        "quantity": Decimal("4"),
        "reason": "Dealer promotion",
        "expires_at": NOW + dt.timedelta(days=60),
    }
    args.update(changes)
    with clock.frozen_at(NOW), pytest.raises(ApplicationError) as refused:
        planning.forecast_override_create(actor=warehouse_user, **args)
    assert (refused.value.code, refused.value.status_code) == (code, 400)
    assert not ForecastOverride.objects.exists()


def test_overrides_are_stored_as_months_and_withdrawn_once(warehouse_user: User) -> None:
    with clock.frozen_at(NOW):
        override = planning.forecast_override_create(
            actor=warehouse_user,
            part=_part("OV-2"),
            starts_on=dt.date(2026, 12, 15),
            ends_on=dt.date(2027, 1, 20),
            quantity=4,
            reason="Dealer promotion",
            expires_at=NOW + dt.timedelta(days=60),
        )
        planning.forecast_override_withdraw(actor=warehouse_user, override=override)
        with pytest.raises(Conflict):
            planning.forecast_override_withdraw(actor=warehouse_user, override=override)
    override.refresh_from_db()
    assert (override.starts_on, override.ends_on) == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    assert override.withdrawn_at == NOW
    assert AuditEvent.objects.filter(
        entity="forecast_override", action="parts.forecast_override_withdrawn"
    ).exists()


# --- forecast runs ----------------------------------------------------------------------------


@pytest.fixture
def fleet(db: Any) -> ProductModel:
    """20 units of one model bought in January 2026 and four hardware failures since (plus a
    software case that is not a failure): 4 failures / 200 unit-months = 0.02 a month."""
    model = factories.product_model(code="BCD-IB")
    Unit.objects.bulk_create(
        Unit(
            model=model,
            serial_number=f"IB{i:04d}",
            purchase_date=dt.date(2026, 1, 10),
            registered_at=NOW,
        )
        for i in range(20)
    )
    customer = factories.customer()
    units = list(Unit.objects.filter(model=model))
    for month, nature in (
        (3, Nature.HARDWARE),
        (5, Nature.HARDWARE),
        (6, Nature.SOFTWARE),
        (7, Nature.HARDWARE),
        (9, Nature.HARDWARE),
    ):
        with clock.frozen_at(timezone.make_aware(dt.datetime(2026, month, 10, 9))):
            case = factories.case(customer, unit=units[month])
        Case.objects.filter(pk=case.pk).update(nature=nature)
    return model


@pytest.fixture
def forecast_parts(issues_inserted_directly: Book, fleet: ProductModel) -> dict[str, Part]:
    parts = {f"P{i}": _part(f"P{i}") for i in range(8)}
    for i, part in enumerate(parts.values()):
        # Two years of steady demand with some noise, a different level per part.
        issues_inserted_directly(part, _months([i + 1 + (m * 7 % 3) for m in range(24)]))
    parts["new"] = _part("NEW", usage_per_repair=Decimal("1"))
    parts["new"].compatible_models.add(fleet)
    parts["old"] = _part("OLD", is_active=False)
    return parts


def _path(part: Part) -> list[dict[str, Any]]:
    return Forecast.objects.get(part=part, run__status="done").months  # type: ignore[no-any-return]


def test_forecast_run_stores_a_forecast_per_part_with_ordered_quantiles(
    forecast_parts: dict[str, Part], warehouse_user: User
) -> None:
    seen: list[tuple[int, int]] = []
    with clock.frozen_at(NOW):
        run = planning.forecast_run(actor=warehouse_user, progress=lambda d, t: seen.append((d, t)))

    assert (run.status, run.origin, run.horizon) == ("done", dt.date(2026, 11, 1), 12)
    assert (run.total, run.done) == (9, 9)
    assert seen[-1] == (9, 9)
    assert Forecast.objects.filter(run=run).count() == 9  # the inactive part is left out
    steady = Forecast.objects.get(run=run, part=forecast_parts["P3"])
    assert steady.method in forecasting.CANDIDATES
    assert steady.backtest["scores"]
    assert steady.months[0]["month"] == "2026-11-01"
    for fc in Forecast.objects.filter(run=run):
        assert len(fc.months) == 12
        for month in fc.months:
            assert month["p50"] <= month["p90"] <= month["p95"]
    # Level about 5 a month (4 + 0..2): the forecast follows it.
    assert 4 <= steady.months[0]["mean"] <= 6.5


def test_a_part_without_history_gets_the_installed_base_forecast(
    forecast_parts: dict[str, Part],
) -> None:
    with clock.frozen_at(NOW):
        planning.forecast_run()
    fc = Forecast.objects.get(part=forecast_parts["new"])

    # 20 units x 0.02 failures a unit-month x 1 part per repair; ageing into their second year
    # the units keep the fleet's rate (no evidence for older units yet).
    assert fc.method == planning.INSTALLED_BASE
    assert fc.sbc_class == "insufficient"
    assert [m["mean"] for m in fc.months] == pytest.approx([0.4] * 12, abs=0.001)
    assert fc.installed_base[0] == {"month": "2026-11-01", "mean": 0.4}
    assert Forecast.objects.get(part=forecast_parts["P1"]).installed_base == []


def test_events_and_overrides_adjust_the_forecast(
    forecast_parts: dict[str, Part], fleet: ProductModel, warehouse_user: User
) -> None:
    with clock.frozen_at(NOW):
        planning.demand_event_create(
            actor=warehouse_user,
            name="Recall",
            kind="recall",
            part=forecast_parts["P2"],
            starts_on=dt.date(2026, 12, 5),
            ends_on=dt.date(2027, 1, 10),
            factor=2,
        )
        planning.demand_event_create(
            actor=warehouse_user,
            name="Launch promotion",
            kind="promotion",
            product_model=fleet,
            starts_on=dt.date(2026, 11, 1),
            ends_on=dt.date(2026, 11, 30),
            extra_units=5,
        )
        planning.forecast_override_create(
            actor=warehouse_user,
            part=forecast_parts["P4"],
            starts_on=dt.date(2027, 2, 1),
            ends_on=dt.date(2027, 2, 1),
            quantity=7,
            reason="Service campaign",
            expires_at=NOW + dt.timedelta(days=120),
        )
        withdrawn = planning.forecast_override_create(
            actor=warehouse_user,
            part=forecast_parts["P4"],
            starts_on=dt.date(2027, 3, 1),
            ends_on=dt.date(2027, 3, 1),
            quantity=70,
            reason="Mistake",
            expires_at=NOW + dt.timedelta(days=120),
        )
        planning.forecast_override_withdraw(actor=warehouse_user, override=withdrawn)
        planning.forecast_run()

    recall = _path(forecast_parts["P2"])
    assert [m["mean"] for m in recall[1:3]] == pytest.approx(
        [2 * m["base"] for m in recall[1:3]], abs=0.002
    )
    assert recall[0]["mean"] == recall[0]["base"] and recall[3]["mean"] == recall[3]["base"]
    promoted = _path(forecast_parts["new"])
    assert promoted[0]["mean"] == pytest.approx(promoted[0]["base"] + 5, abs=0.002)
    assert promoted[1]["mean"] == promoted[1]["base"]
    overridden = _path(forecast_parts["P4"])
    assert (overridden[3]["mean"], overridden[4]["mean"]) == (7, overridden[4]["base"])

    with clock.frozen_at(NOW):
        chart = selectors.part_forecast_chart(forecast_parts["P2"])
    assert chart["forecast"][1][1] == pytest.approx(recall[1]["mean"])
    assert [e["name"] for e in chart["events"]] == ["Recall"]
    assert chart["history"][-1] == (dt.date(2026, 10, 1), 3 + (23 * 7 % 3))


def test_a_class_policy_can_fix_the_method(forecast_parts: dict[str, Part]) -> None:
    StockPolicy.objects.create(name="All by TSB", rank=1, forecast_method="TSB")
    with clock.frozen_at(NOW):
        planning.forecast_run()
    assert Forecast.objects.get(part=forecast_parts["P1"]).method == "TSB"
    assert Forecast.objects.get(part=forecast_parts["P1"]).backtest["fixed"] is True


def test_a_failed_run_says_so(
    forecast_parts: dict[str, Part], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(forecasting, "forecast_batch", broken)
    with clock.frozen_at(NOW), pytest.raises(RuntimeError):
        planning.forecast_run()
    run = ForecastRun.objects.get()
    assert run.status == ForecastRun.Status.FAILED
    assert "solver exploded" in run.error
    assert selectors.forecast_latest(forecast_parts["P1"]) is None


def test_a_run_without_parts_finishes(db: Any) -> None:
    with clock.frozen_at(NOW):
        run = planning.forecast_run()
    assert (run.status, run.total, run.done) == ("done", 0, 0)


@pytest.mark.parametrize("horizon", [0, 37])
def test_horizon_out_of_range_is_refused(horizon: int) -> None:
    with pytest.raises(ApplicationError) as refused:
        planning.forecast_run(horizon=horizon)
    assert refused.value.code == "invalid_horizon"
    assert not ForecastRun.objects.exists()


# --- accuracy ---------------------------------------------------------------------------------


def test_accuracy_is_recorded_once_the_months_are_over(
    forecast_parts: dict[str, Part], issues_inserted_directly: Book
) -> None:
    with clock.frozen_at(NOW):
        first = planning.forecast_run(horizon=3)
    issues_inserted_directly(
        forecast_parts["P1"], {dt.date(2026, 11, 1): 6, dt.date(2026, 12, 1): 1}
    )
    january = timezone.make_aware(dt.datetime(2027, 1, 8, 9))
    with clock.frozen_at(january):
        planning.forecast_run(horizon=3)
        rows = {
            (r.month, r.lead_months): r
            for r in ForecastAccuracy.objects.filter(part=forecast_parts["P1"])
        }
        assert set(rows) == {(dt.date(2026, 11, 1), 0), (dt.date(2026, 12, 1), 1)}
        november = rows[(dt.date(2026, 11, 1), 0)]
        assert november.actual == 6
        made = Forecast.objects.get(run=first, part=forecast_parts["P1"])
        assert november.forecast == made.months[0]["mean"]
        assert november.run_id == first.pk
        assert ForecastAccuracy.objects.count() == 2 * 9

        planning.forecast_run(horizon=3)
        assert ForecastAccuracy.objects.count() == 2 * 9

        summary = selectors.accuracy_summary(by="method", months=3)
    assert summary["months"] == [dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)]
    ib = next(g for g in summary["groups"] if g["key"] == planning.INSTALLED_BASE)
    # Nothing issued for the new part: no percentage can be given.
    assert ib["total"]["wape"] is None and ib["total"]["forecast"] == pytest.approx(0.4)
    assert all(g["total"]["rows"] >= 1 for g in summary["groups"])


def test_accuracy_summary_measures_wape_and_bias(db: Any) -> None:
    part = _part("ACC")
    run = ForecastRun.objects.create(
        started_at=NOW, origin=dt.date(2026, 9, 1), horizon=2, status="done"
    )
    for month, forecast, actual in ((9, 4.0, 2.0), (10, 0.0, 2.0)):
        ForecastAccuracy.objects.create(
            part=part,
            run=run,
            month=dt.date(2026, month, 1),
            lead_months=0,
            forecast=forecast,
            actual=actual,
            sbc_class="smooth",
        )
    with clock.frozen_at(NOW):
        summary = selectors.accuracy_summary(by="sbc", months=3)
        with pytest.raises(ApplicationError):
            selectors.accuracy_summary(by="colour")

    total = summary["groups"][0]["total"]
    # |4-2| + |0-2| = 4 against 4 issued: WAPE 100%, accuracy 0, no bias overall.
    assert (total["wape"], total["accuracy"], total["bias"]) == (1.0, 0.0, 0.0)
    september = summary["groups"][0]["by_month"][0]
    assert (september["wape"], september["bias"]) == (1.0, 1.0)


# --- commands and tasks -----------------------------------------------------------------------


def test_commands_run_the_services(classified_parts: dict[str, Part]) -> None:
    with clock.frozen_at(NOW):
        call_command("parts_classify", verbosity=0)
        call_command("parts_forecast", "--horizon", "2", verbosity=0)
    assert _classes(classified_parts["smooth"])[0] == "A"
    assert ForecastRun.objects.get().horizon == 2


def test_tasks_are_thin_wrappers(classified_parts: dict[str, Part]) -> None:
    from aftersales.parts.tasks import parts_classify_task, parts_forecast_task

    with clock.frozen_at(NOW):
        assert parts_classify_task() == 5
        run_id = parts_forecast_task()
    assert ForecastRun.objects.get(pk=run_id).status == "done"
