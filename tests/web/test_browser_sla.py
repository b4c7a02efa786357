"""The SLA clocks on the case page in a real Chromium: remaining time counts down live in the
browser from the stored due time, and turns into "overdue" when it passes."""

import datetime as dt
from typing import Any

import pytest

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create, team_create
from aftersales.cases.services import case_open
from aftersales.core import clock
from aftersales.customers.services import customer_create
from aftersales.sla.models import SlaClock
from tests.web.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Browser-pass-2026"


def test_vip_complaint_clock_counts_down_live(page: Any) -> None:
    desk = team_create(code="desk-sz", name="深圳受理台", kind="frontline")
    agent = staff_create(
        username="agent",
        password=PASSWORD,
        display_name="李娜",
        roles=[Role.FRONTLINE_AGENT],
        teams=[desk],
    )
    vip = customer_create(actor=None, name="王芳", tier="vip", phones=["13800138000"])
    opened = clock.now() - dt.timedelta(minutes=24)
    with clock.frozen_at(opened):
        case, _ = case_open(
            actor=agent,
            customer=vip,
            channel="email",
            subject="投诉：售后响应太慢",
            kind="complaint",
            team=desk,
        )
    due = SlaClock.objects.get(case=case, metric="first_response").due_at
    assert due is not None and due == opened + dt.timedelta(minutes=30)

    login(page, "agent", PASSWORD)
    page.clock.install(time=clock.now())
    page.goto(f"/cases/{case.number}/")
    badge = page.locator('#sla-clocks .clock[data-metric="first_response"] .sla-remaining')
    # 24 of 30 minutes used: about 6 minutes left, past the 75 % warning.
    text = badge.inner_text()
    assert text.endswith("min left"), text
    assert int(text.split()[0]) in (5, 6)
    assert "warn" in (badge.get_attribute("class") or "")
    assert page.locator("#case-kind").inner_text() == "Complaint"

    # Move the browser's clock past the due time: the page updates itself, no reload.
    page.clock.set_system_time(due + dt.timedelta(minutes=2))
    page.clock.run_for(16_000)
    page.wait_for_function(
        "() => document.querySelector('#sla-clocks .clock[data-metric=first_response] "
        ".sla-remaining').textContent.startsWith('overdue')"
    )
    assert "bad" in (badge.get_attribute("class") or "")
