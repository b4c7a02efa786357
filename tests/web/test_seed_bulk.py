"""The bulk writer behind `aftersales seed --scale` writes what the services write, on both
engines (it is how the large benchmark databases are built)."""

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from aftersales.accounts.models import User
from aftersales.callbacks.models import CallbackRule
from aftersales.cases.models import Case
from aftersales.core import clock
from aftersales.customers.models import Customer
from aftersales.customers.selectors import customers_by_phone
from aftersales.web import demo
from tests.seeding import committed_seed

CASE_NUMBER = re.compile(r"^SR(\d{6})\d{7}$")


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """A small demo (teams, staff, 80 customers, 40 cases), seeded once for the module."""
    with committed_seed(django_db_blocker, customers=80, cases=40) as report:
        yield report


pytestmark = pytest.mark.django_db


def test_bulk_writer_writes_what_the_services_write(seeded: str) -> None:
    """The --scale path replays the same plans as rows; both must give the same cases.

    The bulk writer writes no return visits: with no callback rule active, the services
    schedule none either and the calls are the contacts and closing both write."""
    CallbackRule.objects.update(is_active=False)
    sample = [*Customer.objects.filter(tier="vip")[:15], *Customer.objects.exclude(tier="vip")[:15]]
    refs = demo.customer_refs(sample)
    plans = demo.case_plans(random.Random("bulk-vs-services"), clock.now(), refs, 40)
    before = set(Case.objects.values_list("id", flat=True))
    demo.write_cases(plans, bulk=False)
    through_services = _snapshot(Case.objects.exclude(id__in=before))
    before |= set(Case.objects.values_list("id", flat=True))
    demo.write_cases(plans, bulk=True)
    in_bulk = _snapshot(Case.objects.exclude(id__in=before))
    assert len(in_bulk) == len(through_services) == 40
    for got, expected in zip(in_bulk, through_services, strict=True):
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert a == b, (i, a, b)


def test_bulk_customers_are_what_the_services_write(seeded: str) -> None:
    """Customers, contacts (encrypted, blind-indexed), addresses and units match too."""
    now = clock.now()
    specs = {
        bulk: demo.customer_specs(
            random.Random("customers"), now, 12, with_demo=False, serial_start=start
        )[0]
        for bulk, start in ((False, 10_000_000), (True, 20_000_000))
    }
    written = {bulk: demo.write_customers(specs[bulk], bulk=bulk) for bulk in (False, True)}
    views = {bulk: [_customer_view(ref.pk) for ref in written[bulk]] for bulk in (False, True)}
    assert len(views[True]) == len(views[False]) == 12
    for bulk_view, service_view in zip(views[True], views[False], strict=True):
        for part, (got, expected) in enumerate(zip(bulk_view, service_view, strict=True)):
            assert got == expected, (service_view[0], part)
    phone = specs[True][0].phones[0]
    found = customers_by_phone(user=User.objects.get(username="agent"), raw=phone).customers
    assert {c.pk for c in found} == {written[False][0].pk, written[True][0].pk}


def _customer_view(pk: int) -> tuple[Any, ...]:
    customer = Customer.objects.get(pk=pk)
    assert re.match(r"^C\d{13}$", customer.number)
    return (
        customer.name, customer.kind, customer.company_name, customer.tier,
        customer.preferred_channel, customer.consent_contact, customer.notes,
        customer.created_at, customer.created_by_id,
        [(c.kind, c.value, c.lookup_hash, c.label, c.is_primary, c.created_at)
         for c in customer.contacts.order_by("kind", "-is_primary", "id")],
        [(a.province, a.city, a.district, a.street, a.postal_code, a.is_default)
         for a in customer.addresses.all()],
        [(u.model_id, u.serial_number[-7:], u.purchase_date, u.purchase_amount, u.currency,
          u.sales_channel, u.retailer, u.registered_at)
         for u in customer.units.order_by("registered_at", "id")],
    )  # fmt: skip


def _snapshot(cases: Any) -> list[tuple[Any, ...]]:
    fields = [
        "customer_id", "unit_id", "product_line_id", "channel", "subject", "description",
        "nature", "subcategory", "urgency", "priority", "status", "team_id", "assignee_id",
        "solution_type", "solution_notes", "classified_by_id", "created_at", "created_by_id",
        "updated_at", "first_response_at", "resolved_at", "closed_at",
        "first_contact_resolution", "reopen_count",
    ]  # fmt: skip
    rows = []
    for case in cases.order_by("created_at", "id"):
        # SLA clocks are derived from the events: compare the clocks, not the bookkeeping
        # events the services write while the history unfolds.
        events = [
            (e.kind, e.occurred_at, e.actor_id, e.from_status, e.to_status, e.channel,
             e.direction, e.body, e.data)
            for e in case.events.exclude(kind="sla").order_by("occurred_at", "id")
        ]  # fmt: skip
        clocks = [
            (k.metric, k.state, k.policy_id, k.budget, k.elapsed, k.started_at, k.due_at,
             k.warn_at, k.stopped_at, k.breached_at if k.state != "running" else None)
            for k in case.clocks.order_by("metric")
        ]  # fmt: skip
        assert CASE_NUMBER.match(case.number)
        rows.append((*[getattr(case, f) for f in fields], events, clocks))
    return rows
