"""Case events reach the webhooks that want them: signed, after the commit, retried, and with
no personal data."""

import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from aftersales.accounts.models import User
from aftersales.cases.models import Case, CaseEvent
from aftersales.cases.services import case_assign, case_note_add, case_open, case_transition
from aftersales.core import clock
from aftersales.integrations.models import Webhook, WebhookDelivery
from aftersales.integrations.services import (
    webhook_create,
    webhooks_case_event,
    webhooks_dispatch,
)
from aftersales.integrations.tasks import webhooks_retry
from aftersales.sla.services import sla_sweep
from tests.integrations.receiver import Hit, Receiver

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SH)


def subscribe(admin: User, receiver: Receiver, *kinds: str) -> tuple[Webhook, str]:
    return webhook_create(
        actor=admin,
        name="ERP",
        url=f"http://127.0.0.1:{receiver.port}/hooks/aftersales",
        event_kinds=list(kinds),
    )


def open_case(agent: User, customer: Any, capture: Any) -> Case:
    with capture(execute=True):
        case, _ = case_open(
            actor=agent,
            customer=customer,
            channel="phone",
            subject="冰箱不制冷，王小明 13800138000",
            description="住址：深圳市南山区科技园 1 号",
        )
    return case


def verify(hit: Hit, secret: str) -> dict[str, Any]:
    """What a receiving system does: check the signature over timestamp and body."""
    timestamp = hit.headers["X-Aftersales-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + hit.body, hashlib.sha256)
    assert hmac.compare_digest(
        hit.headers["X-Aftersales-Signature"], f"sha256={expected.hexdigest()}"
    )
    document: dict[str, Any] = json.loads(hit.body)
    return document


def test_an_opened_case_is_delivered_signed_to_a_real_receiver(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _, secret = subscribe(administrator, receiver, "case.opened")
    with clock.frozen_at(T0):
        case = open_case(agent, customer, django_capture_on_commit_callbacks)
    [hit] = receiver.hits
    assert (hit.method, hit.path) == ("POST", "/hooks/aftersales")
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-Aftersales-Event"] == "case.opened"
    assert hit.headers["X-Aftersales-Timestamp"] == str(int(T0.timestamp()))
    document = verify(hit, secret)
    delivery = WebhookDelivery.objects.get()
    assert document["id"] == str(delivery.uid) == hit.headers["X-Aftersales-Delivery"]
    assert document["event"] == "case.opened"
    assert document["data"]["case"]["number"] == case.number
    assert document["data"]["case"]["status"] == "new"
    assert document["data"]["case"]["tier"] == "vip"
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 1, 200)
    assert delivery.next_attempt_at is None and delivery.delivered_at is not None

    # A signature made with another secret does not verify.
    with pytest.raises(AssertionError):
        verify(hit, "not-the-secret-at-all")


def test_the_payload_carries_no_personal_data(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(administrator, receiver, "case.opened")
    open_case(agent, customer, django_capture_on_commit_callbacks)
    [hit] = receiver.hits
    body = hit.body.decode()
    for personal in ("王小明", "13800138000", "深圳", "冰箱不制冷", customer.number, "agent"):
        assert personal not in body
    data = json.loads(body)["data"]
    assert set(data) == {"case", "event"}
    assert set(data["case"]) == {
        "id", "number", "kind", "status", "urgency", "priority", "tier", "channel", "team_id",
        "created_at",
    }  # fmt: skip
    assert set(data["event"]) == {"kind", "occurred_at"}


def test_resolving_sends_case_resolved_only_to_its_subscribers(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(administrator, receiver, "case.resolved")
    case = open_case(agent, customer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        case_assign(actor=agent, case=case, assignee=agent)
        case_transition(actor=agent, case=case, action="start")
        case_note_add(actor=agent, case=case, body="客户电话 13800138000")
    assert receiver.hits == []  # opened, assigned, started, noted: not subscribed
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(actor=agent, case=case, action="resolve", solution_type="remote")
    [hit] = receiver.hits
    event = json.loads(hit.body)["data"]["event"]
    assert (event["kind"], event["from_status"], event["to_status"]) == (
        "case.resolved",
        "in_progress",
        "resolved",
    )


def test_nothing_is_sent_when_the_change_rolls_back(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(administrator, receiver, "case.opened")
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        case_open(actor=agent, customer=customer, channel="phone", subject="冰箱不制冷")
        raise RuntimeError("the request failed after the case was written")
    assert not WebhookDelivery.objects.exists()
    assert receiver.hits == []


def test_inactive_webhooks_get_nothing(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    webhook, _ = subscribe(administrator, receiver, "case.opened")
    Webhook.objects.filter(pk=webhook.pk).update(is_active=False)
    open_case(agent, customer, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists() and receiver.hits == []


def test_without_webhooks_case_events_cost_at_most_one_query(
    agent: User, customer: Any, django_assert_num_queries: Any
) -> None:
    case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="冰箱不制冷")
    note = CaseEvent(case=case, kind=CaseEvent.Kind.NOTE, occurred_at=clock.now())
    with django_assert_num_queries(0):
        webhooks_case_event(case=case, event=note)  # not an event webhooks can want
    with django_assert_num_queries(1):
        assert webhooks_dispatch(event_kind="case.opened", payload={"case": {"id": 1}}) == []


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    receiver.replies = [(500, {}, b"down"), (200, {}, b"ok")]
    _, secret = subscribe(administrator, receiver, "case.opened")
    with clock.frozen_at(T0):
        open_case(agent, customer, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert delivery.error.startswith("http_error")
    assert delivery.next_attempt_at == T0 + dt.timedelta(minutes=1)
    with clock.frozen_at(T0 + dt.timedelta(seconds=30)):
        assert webhooks_retry() == 0  # not due yet
    with clock.frozen_at(T0 + dt.timedelta(seconds=61)):
        assert webhooks_retry() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 2, 200)
    assert delivery.error == ""
    first, second = receiver.hits
    assert verify(first, secret)["id"] == verify(second, secret)["id"] == str(delivery.uid)


def test_a_delivery_fails_after_five_attempts(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    receiver.replies = [(503, {}, b"down")]
    subscribe(administrator, receiver, "case.opened")
    with clock.frozen_at(T0):
        open_case(agent, customer, django_capture_on_commit_callbacks)
    moment = T0
    for wait in (1, 5, 30, 120):  # minutes of back-off after attempts 1 to 4
        moment += dt.timedelta(minutes=wait, seconds=1)
        with clock.frozen_at(moment):
            assert webhooks_retry() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 5, 503)
    assert delivery.next_attempt_at is None
    with clock.frozen_at(moment + dt.timedelta(days=1)):
        assert webhooks_retry() == 0
    assert len(receiver.hits) == 5


def test_the_guard_runs_again_at_delivery_time(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A receiver whose address is no longer allowed (e.g. its name now points inward) gets
    nothing; the refusal is recorded and retried like any failure."""
    subscribe(administrator, receiver, "case.opened")
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    open_case(agent, customer, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.error == "url_not_allowed: loopback"
    assert receiver.hits == []


def test_an_sla_breach_is_sent_as_sla_breached(
    administrator: User,
    agent: User,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscribe(administrator, receiver, "sla.breached")
    with clock.frozen_at(T0):
        case, _ = case_open(actor=agent, customer=customer, channel="email", subject="发票")
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=T0 + dt.timedelta(days=30))
    assert receiver.hits, "the sweep recorded no breach"
    events = [json.loads(hit.body)["data"] for hit in receiver.hits]
    assert {e["event"]["kind"] for e in events} == {"sla.breached"}
    assert {e["case"]["number"] for e in events} == {case.number}
    assert {e["event"]["metric"] for e in events} <= {
        "first_response",
        "preliminary_solution",
        "resolution",
    }
    breaches = CaseEvent.objects.filter(case=case, kind="sla", data__change="breached").count()
    assert len(receiver.hits) == breaches
