"""Value tier services: full computation, re-scoring after purchases, the manager's override."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.workflow import priority_for
from aftersales.catalog.models import ProductModel, Unit
from aftersales.catalog.services import unit_register, units_import_csv
from aftersales.core import clock
from aftersales.core.errors import ApplicationError
from aftersales.core.models import AuditEvent
from aftersales.customers import services, tasks
from aftersales.customers.contacts import customer_name_condition
from aftersales.customers.models import (
    Customer,
    TierChange,
    TierOverride,
    TierPolicy,
    TierRun,
    TierScore,
)
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def buyer(product_model: ProductModel) -> Callable[..., Customer]:
    """A customer who bought units worth `amounts` in the last months, and opened `cases`."""

    def make(*amounts: str, cases: int = 0, name: str = "客户") -> Customer:
        customer = factories.customer(name=name)
        for i, amount in enumerate(amounts):
            factories.unit(
                model=product_model,
                customer=customer,
                purchase_amount=D(amount),
                purchase_date=clock.today() - dt.timedelta(days=30 + i),
            )
        for _ in range(cases):
            factories.case(customer)
        return customer

    return make


@pytest.fixture
def ten(buyer: Callable[..., Customer]) -> list[Customer]:
    """Ten customers, each buying more than the one before; the top three are VIP material."""
    return [buyer(str(1000 * (i + 1)), name=f"客户{i}") for i in range(10)]


def _tiers(customers: list[Customer]) -> list[str]:
    return [Customer.objects.get(pk=c.pk).tier for c in customers]


class TestTiersRecompute:
    def test_tiers_every_live_customer_and_records_who_moved(self, ten: list[Customer]) -> None:
        run = services.tiers_recompute()

        # 28% of 10 rounds to 3 VIP, 30% to 3 low; everyone started regular.
        assert _tiers(ten) == ["low"] * 3 + ["regular"] * 4 + ["vip"] * 3
        assert (run.customers, run.vip, run.regular, run.low, run.changed) == (10, 3, 4, 3, 6)
        assert run.finished_at is not None
        changes = TierChange.objects.filter(run=run)
        assert changes.count() == 6
        top = changes.get(customer=ten[9])
        assert (top.before, top.after, top.source, top.reason_code) == (
            "regular",
            "vip",
            "computed",
            "score",
        )
        assert top.params["score"] == "0.500000"  # the highest purchase rank, weight 0.5
        assert top.params["cutoff"] == top.params["vip_cutoff"] == str(run.vip_cutoff)
        assert D(top.params["score"]) >= D(top.params["cutoff"])
        bottom = changes.get(customer=ten[0])
        assert (bottom.after, bottom.params["cutoff"]) == ("low", str(run.low_cutoff))
        assert AuditEvent.objects.filter(
            action="customer.tiers_recomputed", entity_id=run.pk
        ).exists()

    def test_keeps_scores_and_cut_offs_for_later_single_scores(self, ten: list[Customer]) -> None:
        run = services.tiers_recompute()

        score = TierScore.objects.get(customer=ten[9])
        assert (score.purchase_amount, score.usage_count, score.feedback_count) == (
            D("10000.00"),
            0,
            0,
        )
        assert (score.purchase_score, score.score, score.tier) == (D("1"), D("0.5"), "vip")
        policy = TierPolicy.objects.get(is_active=True)
        assert (policy.vip_cutoff, policy.low_cutoff) == (run.vip_cutoff, run.low_cutoff)
        assert set(policy.rank_tables) == {"purchase", "usage", "feedback"}
        assert policy.scored_at == run.started_at

    def test_running_again_moves_nobody(self, ten: list[Customer]) -> None:
        services.tiers_recompute()
        again = services.tiers_recompute()

        assert again.changed == 0
        assert TierChange.objects.count() == 6

    def test_counts_cases_and_inbound_contacts_as_usage(
        self, buyer: Callable[..., Customer]
    ) -> None:
        quiet, busy = buyer("5000"), buyer("5000", cases=2)
        case = Case.objects.filter(customer=busy).first()
        assert case is not None
        for direction in ("in", "in", "out"):
            CaseEvent.objects.create(
                case=case, kind="contact", direction=direction, occurred_at=clock.now()
            )
        # Outside the 12-month window: not counted.
        old = factories.case(busy)
        Case.objects.filter(pk=old.pk).update(created_at=clock.now() - dt.timedelta(days=400))

        services.tiers_recompute()

        assert TierScore.objects.get(customer=busy).usage_count == 2 + 2
        assert TierScore.objects.get(customer=quiet).usage_count == 0

    def test_counts_useful_feedback(self, buyer: Callable[..., Customer]) -> None:
        customer = buyer("100", cases=3)
        Case.objects.filter(pk=Case.objects.filter(customer=customer).first().pk).update(  # type: ignore[union-attr]
            useful_feedback=True
        )

        services.tiers_recompute()

        assert TierScore.objects.get(customer=customer).feedback_count == 1

    def test_purchases_older_than_the_purchase_window_do_not_count(
        self, buyer: Callable[..., Customer], product_model: ProductModel
    ) -> None:
        customer = buyer("1000")
        factories.unit(
            model=product_model,
            customer=customer,
            purchase_amount=D("50000"),
            purchase_date=clock.today() - dt.timedelta(days=365 * 3 + 40),
        )

        services.tiers_recompute()

        assert TierScore.objects.get(customer=customer).purchase_amount == D("1000")

    def test_merged_records_are_not_scored(self, ten: list[Customer], senior_agent: User) -> None:
        services.customer_merge(actor=senior_agent, survivor=ten[9], duplicate=ten[0])

        run = services.tiers_recompute()

        assert run.customers == 9
        assert not TierScore.objects.filter(customer=ten[0]).exists()

    def test_reprioritises_open_cases_of_customers_who_moved(
        self, ten: list[Customer], manager: User
    ) -> None:
        case = factories.case(ten[9])
        assert case.priority == priority_for(urgency=case.urgency, tier="regular")

        run = services.tiers_recompute(actor=manager)

        case.refresh_from_db()
        assert case.priority == priority_for(urgency=case.urgency, tier="vip")
        event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.PRIORITY)
        assert event.data["tier"] == "vip"
        assert event.data["after"] == case.priority
        assert event.actor == manager
        assert TierChange.objects.get(customer=ten[9]).actor == manager
        assert run.actor == manager

    def test_threshold_mode_uses_the_policy_thresholds(self, ten: list[Customer]) -> None:
        TierPolicy.objects.filter(is_active=True).update(
            cutoff_mode="threshold", vip_threshold=D("0.44"), low_threshold=D("0.05")
        )

        run = services.tiers_recompute()

        # Purchase ranks 0, 1/9, ..., 1 weighted by 0.5: scores 0, 0.056, ..., 0.444, 0.5.
        assert _tiers(ten) == ["low"] + ["regular"] * 7 + ["vip"] * 2
        assert (run.vip_cutoff, run.low_cutoff) == (D("0.44"), D("0.05"))

    def test_progress_is_reported_and_needs_a_manager_or_the_system(
        self, ten: list[Customer], agent: User
    ) -> None:
        seen: list[tuple[int, int]] = []

        services.tiers_recompute(progress=lambda done, total: seen.append((done, total)))

        assert seen[0] == (0, 10) and seen[-1] == (10, 10)
        with pytest.raises(PermissionDenied):
            services.tiers_recompute(actor=agent)

    def test_command_and_task_run_the_same_computation(self, ten: list[Customer]) -> None:
        out = StringIO()
        call_command("tiers_recompute", stdout=out, stderr=StringIO())

        assert "10 customers: 3 VIP, 4 regular, 3 low" in out.getvalue()
        result = tasks.tiers_recompute.delay().get()
        assert result["customers"] == 10 and result["changed"] == 0
        assert TierRun.objects.count() == 2


class TestOverride:
    def _expiry(self, days: int = 30) -> dt.datetime:
        return clock.now() + dt.timedelta(days=days)

    def test_manager_override_with_reason_and_expiry(
        self, ten: list[Customer], manager: User
    ) -> None:
        customer = ten[0]
        case = factories.case(customer)
        expires = self._expiry()

        services.customer_set_tier(
            actor=manager, customer=customer, tier="vip", reason="Key account", expires_at=expires
        )

        customer.refresh_from_db()
        assert customer.tier == "vip"
        override = TierOverride.objects.get(customer=customer, ended_at__isnull=True)
        assert (override.tier, override.reason, override.expires_at, override.set_by) == (
            "vip",
            "Key account",
            expires,
            manager,
        )
        change = TierChange.objects.get(customer=customer)
        assert (change.before, change.after, change.source, change.reason, change.actor) == (
            "regular",
            "vip",
            "override",
            "Key account",
            manager,
        )
        audit = AuditEvent.objects.get(action="customer.tier_changed")
        assert audit.data == {
            "before": "regular",
            "after": "vip",
            "reason": "Key account",
            "expires_at": expires.isoformat(),
            "override_id": override.pk,
        }
        assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.PRIORITY).exists()

    def test_override_beats_the_computed_tier_until_it_expires(
        self, ten: list[Customer], manager: User
    ) -> None:
        customer = ten[0]  # the smallest buyer: computed low
        start = clock.now()
        services.customer_set_tier(
            actor=manager,
            customer=customer,
            tier="vip",
            reason="Strategic partner",
            expires_at=start + dt.timedelta(days=7),
        )

        run = services.tiers_recompute()

        assert _tiers([customer]) == ["vip"]
        assert run.kept_by_override == 1
        assert TierScore.objects.get(customer=customer).tier == "low"
        assert not TierChange.objects.filter(customer=customer, source="computed").exists()

        with clock.frozen_at(start + dt.timedelta(days=7, minutes=1)):
            later = services.tiers_recompute()

        assert _tiers([customer]) == ["low"]
        assert later.overrides_expired == 1
        reverted = TierChange.objects.get(customer=customer, source="override_expired")
        assert (reverted.before, reverted.after, reverted.reason_code) == (
            "vip",
            "low",
            "override_expired",
        )
        assert reverted.params["cutoff"] == str(later.low_cutoff)
        override = TierOverride.objects.get(customer=customer)
        assert override.end_reason == "expired" and override.ended_at is not None

    def test_a_newer_override_replaces_the_active_one(
        self, ten: list[Customer], manager: User
    ) -> None:
        customer = ten[5]
        services.customer_set_tier(
            actor=manager, customer=customer, tier="vip", reason="A", expires_at=self._expiry()
        )
        services.customer_set_tier(
            actor=manager, customer=customer, tier="low", reason="B", expires_at=self._expiry(60)
        )

        active = TierOverride.objects.get(customer=customer, ended_at__isnull=True)
        assert (active.tier, active.reason) == ("low", "B")
        assert TierOverride.objects.get(reason="A").end_reason == "replaced"
        assert _tiers([customer]) == ["low"]

    def test_confirming_the_current_tier_pins_it_without_a_move(
        self, ten: list[Customer], manager: User
    ) -> None:
        services.customer_set_tier(
            actor=manager, customer=ten[5], tier="regular", reason="Hold", expires_at=self._expiry()
        )

        assert TierOverride.objects.filter(customer=ten[5], ended_at__isnull=True).exists()
        assert not TierChange.objects.exists()
        assert AuditEvent.objects.filter(action="customer.tier_override_set").count() == 1
        services.tiers_recompute()
        assert _tiers([ten[5]]) == ["regular"]

    @pytest.mark.parametrize(
        ("kwargs", "code"),
        [
            ({"reason": "  "}, "reason_required"),
            ({"tier": "gold"}, "invalid_tier"),
            ({"expires_at": dt.timedelta(days=-1)}, "expiry_in_past"),
            ({"expires_at": dt.timedelta(0)}, "expiry_in_past"),
            ({"expires_at": dt.timedelta(days=731)}, "expiry_too_far"),
        ],
    )
    def test_bad_input_is_refused_and_changes_nothing(
        self, ten: list[Customer], manager: User, kwargs: dict[str, Any], code: str
    ) -> None:
        now = clock.now()
        given = dict(kwargs)
        offset = given.pop("expires_at", dt.timedelta(days=30))
        args = {"tier": "vip", "reason": "Key account", **given, "expires_at": now + offset}

        with clock.frozen_at(now), pytest.raises(ApplicationError) as exc:
            services.customer_set_tier(actor=manager, customer=ten[0], **args)

        assert exc.value.code == code
        assert exc.value.status_code == 422
        assert _tiers([ten[0]]) == ["regular"]
        assert not TierOverride.objects.exists()
        assert not TierChange.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="customer.tier").exists()

    def test_naive_expiry_is_refused(self, ten: list[Customer], manager: User) -> None:
        with pytest.raises(ApplicationError) as exc:
            services.customer_set_tier(
                actor=manager,
                customer=ten[0],
                tier="vip",
                reason="x",
                expires_at=dt.datetime(2099, 1, 1),
            )

        assert exc.value.code == "expiry_required"

    @pytest.mark.parametrize("role", ["agent", "senior_agent", "supervisor", "technician"])
    def test_only_managers_may_override(
        self, ten: list[Customer], role: str, request: pytest.FixtureRequest
    ) -> None:
        user: User = request.getfixturevalue(role)

        with pytest.raises(PermissionDenied):
            services.customer_set_tier(
                actor=user, customer=ten[0], tier="vip", reason="x", expires_at=self._expiry()
            )

        assert not TierOverride.objects.exists()


class TestInitialTier:
    def test_a_tier_chosen_at_opening_is_recorded(self, manager: User) -> None:
        customer = services.customer_create(actor=manager, name="王总", tier="vip")

        change = TierChange.objects.get(customer=customer)
        assert (change.before, change.after, change.source, change.reason_code, change.actor) == (
            "",
            "vip",
            "manual_initial",
            "initial",
            manager,
        )

    def test_the_default_tier_records_nothing(self, agent: User) -> None:
        services.customer_create(actor=agent, name="李伟")

        assert not TierChange.objects.exists()


class TestPurchaseRescore:
    def test_registering_a_purchase_rescores_the_buyer_after_commit(
        self,
        ten: list[Customer],
        agent: User,
        product_model: ProductModel,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        services.tiers_recompute()
        customer = ten[0]
        assert _tiers([customer]) == ["low"]

        with django_capture_on_commit_callbacks(execute=True):
            unit_register(
                actor=agent,
                model=product_model,
                serial_number="BIG-ORDER-1",
                customer=customer,
                purchase_date=clock.today(),
                purchase_amount=D("20000"),
                sales_channel="retail",
            )

        assert _tiers([customer]) == ["vip"]
        score = TierScore.objects.get(customer=customer)
        assert score.purchase_amount == D("21000")
        assert score.purchase_score == D("1")
        change = TierChange.objects.get(customer=customer, run__isnull=True)
        assert (change.before, change.after, change.source, change.reason_code) == (
            "low",
            "vip",
            "computed",
            "score",
        )

    def test_before_any_full_run_a_purchase_scores_nobody(
        self,
        agent: User,
        product_model: ProductModel,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = factories.customer()

        with django_capture_on_commit_callbacks(execute=True):
            unit_register(
                actor=agent,
                model=product_model,
                serial_number="FIRST-1",
                customer=customer,
                purchase_date=clock.today(),
                purchase_amount=D("20000"),
                sales_channel="retail",
            )

        assert Unit.objects.filter(customer=customer).exists()
        assert not TierScore.objects.exists()
        assert _tiers([customer]) == ["regular"]

    def test_an_import_rescores_its_buyers_once(
        self,
        ten: list[Customer],
        supervisor: User,
        product_model: ProductModel,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        services.tiers_recompute()
        day = clock.today().isoformat()
        content = (
            "serial_number,model_code,purchase_date,amount,sales_channel,customer_name,"
            "customer_phone\n"
            f"IMP-1,{product_model.code},{day},30000.00,retail,张三,13800138001\n"
            f"IMP-2,{product_model.code},{day},9000.00,retail,张三,13800138001\n"
            f"IMP-3,{product_model.code},{day},50.00,online,李四,13800138002\n"
        ).encode()

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            batch = units_import_csv(actor=supervisor, filename="sales.csv", content=content)

        assert batch.rows_created == 3
        assert len(callbacks) == 1
        # Names are encrypted: found through their blind index.
        big = Customer.objects.get(customer_name_condition("张三"))
        small = Customer.objects.get(customer_name_condition("李四"))
        assert TierScore.objects.get(customer=big).purchase_amount == D("39000")
        assert (big.tier, small.tier) == ("vip", "low")
