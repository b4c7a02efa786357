"""The demo data's shape under computed tiers: about 28% of customers are VIP and bring about
62% of the cases (PRODUCT.md §3), because heavy buyers file most requests.

A property of the generated data (the seeded specifications and case plans, scored with the
real tier maths), so it runs without writing a database; `tests/web/test_seed.py` checks the
same shape on a fully seeded database.
"""

import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from aftersales.catalog.models import add_months
from aftersales.customers.tiers import Activity, Weights, score_population
from aftersales.web import demo

NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEFAULT_WEIGHTS = Weights(purchase=Decimal("0.5"), usage=Decimal("0.3"), feedback=Decimal("0.2"))


def _refs(specs: list[demo.CustomerSpec]) -> list[demo.CustomerRef]:
    refs = []
    for pk, spec in enumerate(specs, start=1):
        units = tuple(
            demo.UnitRef(
                pk=pk * 100 + i,
                line=demo.MODEL_BY_CODE[u.model_code].line,
                line_id=0,
                model_label=u.model_code,
                serial=u.serial,
                purchase_date=u.purchase_date,
                parts_end=add_months(
                    u.purchase_date, demo.MODEL_BY_CODE[u.model_code].parts_months
                ),
            )
            for i, u in enumerate(spec.units)
        )
        refs.append(
            demo.CustomerRef(pk=pk, tier=spec.tier, desk=spec.desk, city=spec.city, units=units)
        )
    return refs


@pytest.mark.parametrize("seed", [826, 2026])
def test_computed_vip_customers_are_about_28_percent_and_bring_about_62_percent_of_cases(
    seed: int,
) -> None:
    specs, _ = demo.customer_specs(random.Random(f"{seed}:customers"), NOW, 300, with_demo=False)
    refs = _refs(specs)
    plans = demo.case_plans(random.Random(f"{seed}:cases"), NOW, refs, 420)
    purchase_since = add_months(NOW.date(), -36)
    cases = Counter(p.customer.pk for p in plans)
    inbound = Counter(
        p.customer.pk
        for p in plans
        for step in p.steps
        if step.action == "contact" and step.params.get("direction") == "in"
    )
    activities = {
        ref.pk: Activity(
            purchase=sum(
                (u.amount for u in spec.units if u.purchase_date >= purchase_since), Decimal("0")
            ),
            usage=cases[ref.pk] + inbound[ref.pk],
        )
        for ref, spec in zip(refs, specs, strict=True)
    }

    population = score_population(
        activities,
        weights=DEFAULT_WEIGHTS,
        percentile=True,
        vip_share=Decimal("0.28"),
        low_share=Decimal("0.30"),
    )

    vip = {pk for pk, s in population.scored.items() if s.tier == "vip"}
    customer_share = len(vip) / len(activities)
    case_share = sum(n for pk, n in cases.items() if pk in vip) / len(plans)
    assert customer_share == pytest.approx(0.28, abs=0.02)
    assert 0.55 <= case_share <= 0.70
