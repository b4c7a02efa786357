"""The phone-call scenario in a real Chromium: recognise the caller, open and work a case to
closure, then check who can see it."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create, team_create
from aftersales.cases.models import Case
from aftersales.catalog.models import ProductLine, ProductModel, Unit
from aftersales.core import clock
from aftersales.customers.services import customer_create
from tests.web.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Browser-pass-2026"


@pytest.fixture
def call_centre() -> dict[str, Any]:
    desk = team_create(code="desk-sz", name="深圳受理台", kind="frontline")
    other = team_create(code="desk-bj", name="北京受理台", kind="frontline")
    agent = staff_create(
        username="agent",
        password=PASSWORD,
        display_name="李娜",
        roles=[Role.FRONTLINE_AGENT],
        teams=[desk],
    )
    other_agent = staff_create(
        username="agent2",
        password=PASSWORD,
        display_name="赵强",
        roles=[Role.FRONTLINE_AGENT],
        teams=[other],
    )
    supervisor = staff_create(
        username="supervisor",
        password=PASSWORD,
        display_name="陈主管",
        roles=[Role.SUPERVISOR],
        leads=[desk],
    )
    customer = customer_create(actor=agent, name="张伟", phones=["13800138000"])
    line = ProductLine.objects.create(code="fridge", name_zh="冰箱", name_en="Fridge")
    model = ProductModel.objects.create(
        line=line,
        code="BCD-501W",
        name="十字对开门冰箱",
        parts_warranty_months=36,
        labour_warranty_months=12,
    )
    unit = Unit.objects.create(
        model=model,
        serial_number="FR2025A0001",
        customer=customer,
        purchase_date=clock.today() - dt.timedelta(days=200),
        purchase_amount=Decimal("5999.00"),
        registered_at=clock.now(),
    )
    return {
        "agent": agent,
        "other_agent": other_agent,
        "supervisor": supervisor,
        "customer": customer,
        "unit": unit,
    }


def test_phone_call_from_known_number_to_closed_case(
    page: Any, browser: Any, live_server: Any, call_centre: dict[str, Any]
) -> None:
    login(page, "agent", PASSWORD)

    # The call comes in: the number is typed as the customer says it.
    page.goto("/customers/call/")
    page.fill("input[name=phone]", "+86 138 0013 8000")
    page.click("form.filters button[type=submit]")
    card = page.locator(".caller-card")
    card.wait_for()
    assert "张伟" in card.inner_text()
    row = card.locator("tr", has_text="FR2025A0001")
    assert row.locator(".badge.ok").inner_text() == "In warranty"

    # Open a case for that unit.
    row.get_by_role("link", name="Open case").click()
    page.wait_for_url("**/cases/new/**")
    page.fill("input[name=subject]", "冰箱冷藏室不制冷")
    page.fill("textarea[name=description]", "客户反映冷藏室温度 15 度")
    page.select_option("select[name=nature]", "hardware")
    page.select_option("select[name=subcategory]", "cooling")
    page.select_option("select[name=urgency]", "high")
    page.click("#case-new-form button[type=submit]")
    page.wait_for_url("**/cases/SR*/")
    number = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert page.locator("#case-status").get_attribute("data-status") == "triaged"
    assert page.locator("#warranty-badge").inner_text() == "In warranty"

    # Assign to myself, work it, resolve, close.
    page.click("#assign-form button[name=to_me]")
    page.wait_for_load_state()
    assert page.locator("#case-status").get_attribute("data-status") == "assigned"
    page.get_by_role("button", name="Start work").click()
    page.wait_for_load_state()
    page.locator("form", has=page.locator("textarea[name=body]")).first.locator("textarea").fill(
        "指导客户检查温控设置并重启"
    )
    page.get_by_role("button", name="Record contact").click()
    page.wait_for_load_state()
    page.select_option("select[name=solution_type]", "remote")
    page.fill("textarea[name=solution_notes]", "温控设定错误，已远程指导恢复")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state()
    assert page.locator("#case-status").get_attribute("data-status") == "resolved"
    page.get_by_role("button", name="Close").click()
    page.wait_for_load_state()
    assert page.locator("#case-status").get_attribute("data-status") == "closed"

    case = Case.objects.get(number=number)
    assert case.status == "closed" and case.assignee == call_centre["agent"]
    assert case.unit == call_centre["unit"] and case.nature == "hardware"
    assert list(case.events.filter(kind="status").values_list("to_status", flat=True)) == [
        "triaged",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
    ]

    # The supervisor of the desk sees the case and its timeline.
    supervisor_ctx = browser.new_context(base_url=live_server.url, locale="en-US")
    sup = supervisor_ctx.new_page()
    login(sup, "supervisor", PASSWORD)
    response = sup.goto(f"/cases/{number}/")
    assert response.status == 200
    timeline = sup.locator("#timeline").inner_text()
    assert "指导客户检查温控设置并重启" in timeline and "温控设定错误" in timeline
    supervisor_ctx.close()

    # An agent of another desk does not: 404, and it is not in their queue.
    other_ctx = browser.new_context(base_url=live_server.url, locale="en-US")
    other = other_ctx.new_page()
    login(other, "agent2", PASSWORD)
    assert other.goto(f"/cases/{number}/").status == 404
    other.goto("/cases/")
    assert number not in other.locator("#queue-results").inner_text()
    other_ctx.close()


def test_unknown_number_offers_to_create_customer(page: Any, call_centre: dict[str, Any]) -> None:
    login(page, "agent", PASSWORD)
    page.goto("/customers/call/")
    page.fill("input[name=phone]", "0755-8888 6666")
    page.click("form.filters button[type=submit]")
    assert page.locator(".phone-e164").inner_text() == "+8675588886666"
    # Posted: the number is in no URL, neither the page's nor the link's.
    assert "8888" not in page.url and "?s=" in page.url
    create = page.get_by_role("link", name="Create customer")
    assert create.is_visible() and "8888" not in (create.get_attribute("href") or "")
    create.click()
    assert page.locator("textarea[name=phones]").input_value() == "+8675588886666"


def test_queue_filters_without_reload(page: Any, call_centre: dict[str, Any]) -> None:
    from aftersales.cases.services import case_open

    agent, customer = call_centre["agent"], call_centre["customer"]
    hw, _ = case_open(
        actor=agent,
        customer=customer,
        channel="phone",
        subject="压缩机异响",
        nature="hardware",
        subcategory="noise",
    )
    sw, _ = case_open(
        actor=agent,
        customer=customer,
        channel="app",
        subject="APP 无法绑定",
        nature="software",
        subcategory="app",
    )
    login(page, "agent", PASSWORD)
    page.goto("/cases/")
    results = page.locator("#queue-results")
    assert hw.number in results.inner_text() and sw.number in results.inner_text()
    page.select_option("form.filters select[name=nature]", "software")
    page.wait_for_function(
        "n => !document.querySelector('#queue-results').innerText.includes(n)", arg=hw.number
    )
    assert sw.number in results.inner_text()
    page.wait_for_url(lambda url: "nature=software" in url)  # the filter is in the address
