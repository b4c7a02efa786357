from typing import Any

import pytest
from django.test import Client

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.cases.services import case_open
from tests import factories
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    return sign_in(Client(), user)


def test_queue_lists_team_cases_and_filters_by_htmx(agent: User, customer: Any) -> None:
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
    client = _client(agent)
    page = client.get("/cases/")
    assert page.status_code == 200
    assert hw.number in page.content.decode() and sw.number in page.content.decode()
    partial = client.get("/cases/", {"nature": "software"}, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert sw.number in body and hw.number not in body
    assert "<html" not in body  # only the results fragment


def test_queue_search_by_phone_through_blind_index(agent: User) -> None:
    from aftersales.customers.services import customer_create

    caller = customer_create(actor=agent, name="王芳", phones=["13900139000"])
    case, _ = case_open(actor=agent, customer=caller, channel="phone", subject="洗衣机漏水")
    client = _client(agent)
    posted = client.post("/cases/", {"q": "139-0013-9000", "status": "open"})
    # The number is posted; the queue's URL holds the filters and an opaque search id only.
    assert posted.status_code == 302
    assert "139" not in posted["Location"] and "status=open" in posted["Location"]
    body = client.get(posted["Location"]).content.decode()
    assert case.number in body
    assert 'value="139-0013-9000"' in body  # the search box still shows what was searched
    partial = client.post("/cases/", {"q": "139-0013-9000"}, headers={"HX-Request": "true"})
    assert case.number in partial.content.decode()
    assert "139" not in partial["HX-Push-Url"] and "s=" in partial["HX-Push-Url"]


def test_other_team_agent_gets_404_on_case_page_and_actions(
    agent: User, other_agent: User, customer: Any
) -> None:
    case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="s")
    client = _client(other_agent)
    assert client.get(f"/cases/{case.number}/").status_code == 404
    response = client.post(f"/cases/{case.number}/transition/", {"action": "cancel", "reason": "x"})
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).status == "new"
    assert case.number not in client.get("/cases/").content.decode()


def test_supervisor_sees_case_page_with_timeline(
    agent: User, supervisor: User, customer: Any
) -> None:
    case, _ = case_open(
        actor=agent,
        customer=customer,
        channel="phone",
        subject="电视花屏",
        description="开机后屏幕花屏",
    )
    body = _client(supervisor).get(f"/cases/{case.number}/").content.decode()
    assert "电视花屏" in body and "开机后屏幕花屏" in body


def test_actions_through_the_page(agent: User, customer: Any, desk_team: Any) -> None:
    unit = factories.unit(customer=customer)
    client = _client(agent)
    response = client.post(
        "/cases/new/",
        {
            "customer": customer.pk,
            "unit": unit.pk,
            "channel": "phone",
            "subject": "冰箱不制冷",
            "urgency": "normal",
            "nature": "hardware",
            "subcategory": "cooling",
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/"
    assert case.unit == unit and case.status == "triaged"
    client.post(f"/cases/{case.number}/assign/", {"team": desk_team.pk, "to_me": "1"})
    client.post(f"/cases/{case.number}/transition/", {"action": "start"})
    client.post(
        f"/cases/{case.number}/contact/",
        {"direction": "out", "channel": "phone", "body": "远程指导"},
    )
    client.post(
        f"/cases/{case.number}/transition/", {"action": "resolve", "solution_type": "remote"}
    )
    client.post(f"/cases/{case.number}/transition/", {"action": "close"})
    case.refresh_from_db()
    assert (case.status, case.assignee) == ("closed", agent)
    assert list(case.events.filter(kind="status").values_list("to_status", flat=True)) == [
        "triaged",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
    ]


def test_refused_action_shows_error_and_changes_nothing(agent: User, customer: Any) -> None:
    case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="s")
    client = _client(agent)
    response = client.post(f"/cases/{case.number}/transition/", {"action": "close"})
    assert response.status_code == 409
    assert "“Close” is not possible while the case is New." in response.content.decode()
    assert Case.objects.get(pk=case.pk).status == "new"
    assert list(case.events.values_list("kind", flat=True)) == ["created", "sla"]


def test_new_case_form_errors_keep_nothing(agent: User, customer: Any) -> None:
    response = _client(agent).post(
        "/cases/new/",
        {"customer": customer.pk, "channel": "fax", "subject": "", "urgency": "normal"},
    )
    assert response.status_code == 422
    assert not Case.objects.exists()


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_durations_and_labels_read_as_people_read_them() -> None:
    import datetime as dt

    from aftersales.cases.templatetags.case_labels import duration, status_label, subcategory_label

    assert duration(dt.timedelta(hours=2, minutes=29, seconds=19)) == "2 h 29 min"
    assert duration(dt.timedelta(days=1, hours=3, minutes=5)) == "1 d 3 h"
    assert duration(dt.timedelta(minutes=12, seconds=59)) == "12 min"
    assert duration(None) == "—"
    assert status_label("waiting_parts") == "Waiting for parts"
    assert subcategory_label("cooling", "hardware") == "Cooling / heating failure"


def test_queue_shows_open_cases_by_default(agent: User, customer: Any) -> None:
    open_case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="开着的")
    done, _ = case_open(actor=agent, customer=customer, channel="phone", subject="已关闭的")
    Case.objects.filter(pk=done.pk).update(status="closed")
    client = _client(agent)
    default = client.get("/cases/").content.decode()
    assert open_case.number in default and done.number not in default
    everything = client.get("/cases/", {"status": "all"}).content.decode()
    assert open_case.number in everything and done.number in everything


def test_new_case_with_a_unit_out_of_reach_is_refused(agent: User, customer: Any) -> None:
    response = _client(agent).post(
        "/cases/new/",
        {
            "customer": customer.pk,
            "unit": 987654,
            "channel": "phone",
            "subject": "s",
            "urgency": "normal",
        },
    )
    assert response.status_code == 422
    assert "No such product." in response.content.decode()
    assert not Case.objects.exists()


def test_queue_filter_that_does_not_parse_is_reported(agent: User, customer: Any) -> None:
    case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="s")
    response = _client(agent).get("/cases/", {"date_from": "yesterday"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "Some filters were not understood" in body and "date_from" in body
    assert case.number in body  # the valid view of the queue is still shown
